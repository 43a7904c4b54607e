import { DEFAULT_EXECUTION_CACHE } from './engine/execution-cache.js';

/** Configuration comes only from environment variables; README lists each one. */
export interface Config {
  databaseUrl: string | undefined;
  /** The owner role's connection for migrations; without it they run as DATABASE_URL. */
  databaseOwnerUrl: string | undefined;
  auditKey: string | undefined;
  auditKeyFile: string | undefined;
  port: number;
  host: string;
  dataDir: string;
  embeddedPgPort: number;
  logLevel: string;
  timerPollMs: number;
  outboxPollMs: number;
  workerConcurrency: number;
  /** DUBAN_TIMER_BATCH: due timers one scheduler claim takes and commits together (1 = one per transaction). */
  timerBatch: number;
  /** DUBAN_EXECUTION_CACHE: live executions a server process keeps for the next command (0: none); see ExecutionCache. */
  executionCache: number;
  /** DUBAN_PUBLIC_URL: Duban's public address; https there turns on the session cookie's Secure flag. */
  publicUrl: string | null;
  /**
   * DUBAN_TRUST_PROXY: behind a reverse proxy, whose X-Forwarded-For to believe (Fastify's trustProxy):
   * `true` (any), a hop count (`1`), or addresses/CIDRs (`10.0.0.1,192.168.0.0/16`). Off by default, so a
   * client cannot choose its own IP for the login rate limit.
   */
  trustProxy: boolean | number | string;
  /** DUBAN_DB_POOL: PostgreSQL connections each server process keeps at most (knex pool). */
  dbPool: number;
  /**
   * DUBAN_SESSION_CACHE_MS: how long a read may trust a session the database confirmed, should a change's
   * notification go missing (0: every request asks the database); see src/auth/session-cache.ts.
   */
  sessionCacheMs: number;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    databaseOwnerUrl: env.DATABASE_OWNER_URL || undefined,
    auditKey: env.DUBAN_AUDIT_KEY || undefined,
    auditKeyFile: env.DUBAN_AUDIT_KEY_FILE || undefined,
    port: intOf(env.PORT, 3000),
    host: env.HOST ?? '0.0.0.0',
    dataDir: env.DUBAN_DATA_DIR ?? '.data',
    embeddedPgPort: intOf(env.DUBAN_EMBEDDED_PG_PORT, 54329),
    logLevel: env.LOG_LEVEL ?? 'info',
    timerPollMs: intOf(env.DUBAN_TIMER_POLL_MS, 1000),
    outboxPollMs: intOf(env.DUBAN_OUTBOX_POLL_MS, 1000),
    workerConcurrency: intOf(env.DUBAN_WORKER_CONCURRENCY, 4),
    timerBatch: intOf(env.DUBAN_TIMER_BATCH, 8),
    executionCache: intOf(env.DUBAN_EXECUTION_CACHE, DEFAULT_EXECUTION_CACHE, 0),
    publicUrl: env.DUBAN_PUBLIC_URL || null,
    trustProxy: trustProxyOf(env.DUBAN_TRUST_PROXY),
    dbPool: intOf(env.DUBAN_DB_POOL, 10),
    sessionCacheMs: intOf(env.DUBAN_SESSION_CACHE_MS, 10_000, 0),
  };
}

export function trustProxyOf(value: string | undefined): boolean | number | string {
  const v = (value ?? '').trim();
  if (!v || v === 'false' || v === '0') return false;
  if (v === 'true') return true;
  if (/^\d+$/.test(v)) return Number(v);
  return v;
}

/** The session cookie is Secure whenever Duban is reached over https. */
export function secureCookiesFor(publicUrl: string | null): boolean {
  return !!publicUrl && /^https:/i.test(publicUrl.trim());
}

/** An integer setting of at least `min` (0 where 0 turns a feature off), else the fallback. */
function intOf(value: string | undefined, fallback: number, min = 1): number {
  const n = value === undefined || value === '' ? NaN : Number(value);
  return Number.isInteger(n) && n >= min ? n : fallback;
}
