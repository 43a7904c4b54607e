import type { Db } from '../db/database.js';

type Callback = (err: Error | null, result?: { current: number; ttl: number }) => void;

/**
 * A @fastify/rate-limit store on PostgreSQL: one row per key and window, counted with an upsert, so every
 * server process sharing the database shares the limit. The window is fixed (no continueExceeding/backoff).
 */
export function postgresRateLimitStore(db: Db) {
  return class PostgresRateLimitStore {
    incr(key: string, cb: Callback, timeWindow: number): void {
      db.raw(`
        INSERT INTO rate_limits AS r (key, count, reset_at) VALUES (?, 1, now() + ? * interval '1 millisecond')
        ON CONFLICT (key) DO UPDATE SET
          count = CASE WHEN r.reset_at <= now() THEN 1 ELSE r.count + 1 END,
          reset_at = CASE WHEN r.reset_at <= now() THEN excluded.reset_at ELSE r.reset_at END
        RETURNING count, greatest(0, ceil(extract(epoch FROM r.reset_at - now()) * 1000))::bigint AS ttl`, [key.slice(0, 300), timeWindow])
        .then(({ rows }: { rows: { count: number; ttl: string }[] }) => {
          cb(null, { current: rows[0]!.count, ttl: Number(rows[0]!.ttl) });
          // Windows that ended long ago are dead weight; sweep now and then rather than on every request.
          if (Math.random() < 0.01) void db.raw(`DELETE FROM rate_limits WHERE reset_at < now() - interval '1 hour'`).catch(() => undefined);
        }, (err: Error) => cb(err));
    }

    read(key: string, cb: Callback): void {
      db.raw(`SELECT count, greatest(0, ceil(extract(epoch FROM reset_at - now()) * 1000))::bigint AS ttl FROM rate_limits WHERE key = ? AND reset_at > now()`, [key.slice(0, 300)])
        .then(({ rows }: { rows: { count: number; ttl: string }[] }) => cb(null, rows[0] ? { current: rows[0].count, ttl: Number(rows[0].ttl) } : { current: 0, ttl: 0 }), (err: Error) => cb(err));
    }

    child(): PostgresRateLimitStore {
      return new PostgresRateLimitStore();
    }
  };
}
