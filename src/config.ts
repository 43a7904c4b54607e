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
  };
}

function intOf(value: string | undefined, fallback: number): number {
  const n = value === undefined || value === '' ? NaN : Number(value);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}
