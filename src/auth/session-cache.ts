import type { Principal } from './principal.js';

/** The NOTIFY channel the users and sessions tables' triggers send on (migration 20261202100000). */
export const AUTH_CHANNEL = 'duban_auth';

interface Entry {
  principal: Principal;
  /** The session's own end (epoch ms): a cached session still dies on time. */
  expiresAt: number;
  /** When the database last confirmed it (epoch ms). */
  checkedAt: number;
}

export interface SessionCacheOptions {
  /** The most a confirmed session is trusted without asking again, should a notification go missing. */
  maxAgeMs?: number;
  maxEntries?: number;
  now?: () => number;
}

/**
 * Sessions the database confirmed recently, for reads only (GET/HEAD): a request that changes anything
 * always reads its session afresh, so a revoked session or a demoted user is refused at once for every
 * change. Reads drop a revoked session when its notification arrives (a commit on `users` or
 * `sessions` in any process sends one), and after `maxAgeMs` at the latest.
 *
 * The cache only answers while the process's LISTEN connection is up: a notification cannot be missed
 * while it is trusted. Going down clears it; it fills again once the connection is back.
 */
export class SessionCache {
  private readonly entries = new Map<string, Entry>();
  private generation = 0;
  private live = false;
  private readonly maxAgeMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(opts: SessionCacheOptions = {}) {
    this.maxAgeMs = opts.maxAgeMs ?? 10_000;
    this.maxEntries = opts.maxEntries ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  /** A session confirmed within maxAgeMs and not yet ended, or undefined (ask the database). */
  get(key: string): Principal | undefined {
    if (!this.live) return undefined;
    const e = this.entries.get(key);
    if (!e) return undefined;
    const now = this.now();
    if (now >= e.expiresAt || now - e.checkedAt > this.maxAgeMs) {
      this.entries.delete(key);
      return undefined;
    }
    return e.principal;
  }

  /** Taken before the database is asked: an answer read before a change that has since arrived is not kept. */
  ticket(): number {
    return this.generation;
  }

  put(key: string, principal: Principal, expiresAt: Date, ticket: number): void {
    if (!this.live || ticket !== this.generation) return;
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { principal, expiresAt: expiresAt.getTime(), checkedAt: this.now() });
  }

  /** Some user or session changed: forget them all (such changes are rare; telling which is not worth it). */
  clear(): void {
    this.generation++;
    this.entries.clear();
  }

  /** Whether notifications are arriving (the LISTEN connection is up). */
  setLive(live: boolean): void {
    this.clear();
    this.live = live;
  }
}

/** Listeners told, in this process, right after a change to users or sessions commits here. */
const localChanges = new Set<() => void>();

/** Call after committing a change to `users` or `sessions`: this process's caches forget at once. */
export function authChanged(): void {
  for (const fn of localChanges) fn();
}

export function onLocalAuthChange(fn: () => void): () => void {
  localChanges.add(fn);
  return () => localChanges.delete(fn);
}

/** What the cache needs of the process's LISTEN connection (src/engine/notifier.ts). */
export interface AuthNotifications {
  on(channel: string, fn: (payload: string) => void): void;
  onState(fn: (up: boolean) => void): void;
}

/**
 * A cache that forgets on every change to users or sessions: this process's own at once (after its
 * commit), other processes' when their notification arrives; and trusts nothing while the LISTEN
 * connection is down. Returns the function that detaches it.
 */
export function watchedSessionCache(notifications: AuthNotifications, opts?: SessionCacheOptions): { cache: SessionCache; detach: () => void } {
  const cache = new SessionCache(opts);
  notifications.on(AUTH_CHANNEL, () => cache.clear());
  notifications.onState((up) => cache.setLive(up));
  const detach = onLocalAuthChange(() => cache.clear());
  return { cache, detach };
}
