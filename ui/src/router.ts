import { useSyncExternalStore } from 'react';

/** Hash routing (#/cases/…): the server serves one index.html and needs no fallback route. */
export interface Route { path: string[]; query: URLSearchParams }

function parse(): Route {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [p, q] = raw.split('?');
  return { path: (p ?? '/').split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(q ?? '') };
}

let cached = parse();
let cachedHash = location.hash;
function snapshot(): Route {
  if (location.hash !== cachedHash) {
    cachedHash = location.hash;
    cached = parse();
  }
  return cached;
}

export function useRoute(): Route {
  return useSyncExternalStore((cb) => {
    window.addEventListener('hashchange', cb);
    return () => window.removeEventListener('hashchange', cb);
  }, snapshot);
}

export function navigate(to: string): void {
  location.hash = to.startsWith('#') ? to : `#${to}`;
}

export function href(to: string): string {
  return `#${to}`;
}
