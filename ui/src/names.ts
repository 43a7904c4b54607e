import { useEffect, useSyncExternalStore } from 'react';
import { get, qs, type Page } from './api';
import { t } from './i18n';

/** People by username → display name (the server lets a clerk read their own department's users; others read all). */
let names: Record<string, string> = {};
let loading: Promise<void> | null = null;
const listeners = new Set<() => void>();

async function loadNames(): Promise<void> {
  const found: Record<string, string> = {};
  for (let page = 1; page <= 10; page++) {
    const p = await get<Page<{ username: string; displayName: string }>>(`/api/users${qs({ page, pageSize: 200 })}`);
    for (const u of p.items) found[u.username] = u.displayName;
    if (page * p.pageSize >= p.total) break;
  }
  names = found;
  listeners.forEach((l) => l());
}

/** Forget the cache on logout: the next user may see other people. */
export function resetNames(): void {
  names = {};
  loading = null;
}

/** A function from username to the person's name; usernames only as a fallback (system, or not visible). */
export function useUserNames(): (username: string | null | undefined) => string {
  const snapshot = useSyncExternalStore((cb) => {
    listeners.add(cb);
    return () => listeners.delete(cb);
  }, () => names);
  useEffect(() => {
    if (!loading) loading = loadNames().catch(() => undefined);
  }, []);
  return (u) => (!u ? '' : snapshot[u] ?? (u === 'system' ? t('role.system') : u));
}
