import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { FastifyInstance } from 'fastify';
import { loadConfig, secureCookiesFor, type Config } from './config.js';
import { createDb, migrateFor, type Db } from './db/database.js';
import { startEmbeddedPostgres } from './db/embedded.js';
import { auditProtection, protectionWarning } from './db/roles.js';
import { loadAuditKey } from './audit/key.js';
import { sealerOf, useAuditKey } from './audit/audit.js';
import { WorkflowEngine } from './engine/engine.js';
import { TimerScheduler } from './engine/scheduler.js';
import { OutboxDispatcher } from './engine/outbox.js';
import { Notifier } from './engine/notifier.js';
import { AUTH_CHANNEL, watchedSessionCache } from './auth/session-cache.js';
import { createRuntime, type Runtime } from './runtime.js';
import { installShippedForms } from './forms/forms.js';
import { buildApp } from './http/app.js';
import { Metrics } from './http/metrics.js';
import { seedDemo, demoAccountsText } from './demo.js';

const require = createRequire(import.meta.url);
export const VERSION: string = require('../package.json').version;

export interface Server {
  url: string;
  databaseUrl: string;
  app: FastifyInstance;
  engine: WorkflowEngine;
  db: Db;
  stop(): Promise<void>;
}

export interface OpenDatabase {
  /** The serving role. */
  url: string;
  /** The owner role for migrations, when it is another one. */
  ownerUrl: string | undefined;
  stop: () => Promise<void>;
}

/**
 * Resolve the database: DATABASE_URL (serving) and DATABASE_OWNER_URL (migrations) when given, else
 * the embedded server under the data dir with its owner and application roles. Also loads the
 * audit-trail key, which every command that writes or verifies the trail needs.
 */
export async function openDatabase(config: Config, log: (m: string) => void): Promise<OpenDatabase> {
  useAuditKey(loadAuditKey({ key: config.auditKey, keyFile: config.auditKeyFile, dataDir: config.dataDir }, log));
  if (config.databaseUrl) return { url: config.databaseUrl, ownerUrl: config.databaseOwnerUrl, stop: async () => undefined };
  const embedded = await startEmbeddedPostgres(config.dataDir, config.embeddedPgPort, log);
  return { url: embedded.appUrl, ownerUrl: embedded.ownerUrl, stop: embedded.stop };
}

/**
 * Deploy every BPMN file in processes/ that differs from the version last deployed from that file.
 * An admin's later version of the same key stays the latest until the shipped file itself changes.
 */
export async function deployShippedProcesses(engine: WorkflowEngine, dir = path.resolve('processes'), log: (m: string) => void = () => undefined): Promise<void> {
  if (!existsSync(dir)) return;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.bpmn')).sort()) {
    const r = await engine.deploy(readFileSync(path.join(dir, file), 'utf8'), { note: `shipped: ${file}`, actor: 'system', source: `processes/${file}` });
    if (!r.unchanged) log(`deployed ${file} as ${r.id}`);
  }
}

/** What ships in processes/: the BPMN files and the task forms they name (processes/forms/*.form). */
export async function installShipped(runtime: Runtime, log: (m: string) => void = () => undefined): Promise<void> {
  await deployShippedProcesses(runtime.engine, undefined, log);
  await installShippedForms(runtime.forms, runtime.db, undefined, log);
}

export async function startServer(config: Config = loadConfig(), opts: { log?: (m: string) => void; demo?: boolean } = {}): Promise<Server> {
  const log = opts.log ?? ((m: string) => console.log(m));
  const database = await openDatabase(config, log);
  const db = createDb(database.url, config.dbPool);
  await migrateFor(db, database.ownerUrl);
  // Entries a killed process queued but did not seal go into the chain now.
  sealerOf(db)?.wake();
  const protection = await auditProtection(db);
  if (!protection.protected) log(protectionWarning(protection));
  const runtime = await createRuntime(db, { print: log });
  const { engine, services } = runtime;
  await installShipped(runtime, log);
  // Deadlines follow the calendar: new official data after an upgrade, or a recompute cut short by a crash.
  const recomputed = await runtime.cases.recomputeDeadlines('system');
  if (recomputed.changed) log(`recomputed the deadlines of ${recomputed.changed} open case(s) for the current calendar`);
  if (opts.demo && (await seedDemo(db, runtime))) log(demoAccountsText());
  const metrics = new Metrics(db);

  const notifier = new Notifier(database.url, (err) => log(`notifier: ${err.message}`));
  // DUBAN_SESSION_CACHE_MS=0: no cache, every request asks the database.
  const sessions = config.sessionCacheMs > 0 ? watchedSessionCache(notifier, { maxAgeMs: config.sessionCacheMs }) : undefined;
  await notifier.start(['duban_timers', 'duban_outbox', AUTH_CHANNEL]);
  const logErr = (m: string, err?: unknown) => log(`${m}${err ? `: ${(err as Error).message ?? err}` : ''}`);
  const scheduler = new TimerScheduler(db, engine, {
    pollMs: config.timerPollMs, concurrency: config.workerConcurrency, batchSize: config.timerBatch, log: logErr, onFired: (lagMs) => metrics.timerLag.observe(lagMs / 1000),
  });
  const outbox = new OutboxDispatcher(db, services, { pollMs: config.outboxPollMs, concurrency: 2, log: logErr, audit: true });
  scheduler.start(notifier);
  outbox.start(notifier);
  // Default ratings (a setting, off by default) are a sweep: idempotent, so every process may run it.
  const defaults = setInterval(() => {
    runtime.ratings.applyDefaultRatings().catch((err: unknown) => logErr('default ratings', err));
  }, 3_600_000);
  defaults.unref();

  const app = await buildApp({
    runtime, version: VERSION, logLevel: config.logLevel, metrics,
    sms: { authToken: process.env.TWILIO_AUTH_TOKEN ?? null, publicUrl: config.publicUrl },
    secureCookies: secureCookiesFor(config.publicUrl), trustProxy: config.trustProxy, sessionCache: sessions?.cache,
  });
  await app.listen({ port: config.port, host: config.host });
  const url = `http://localhost:${config.port}`;

  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= (async () => {
    clearInterval(defaults);
    await app.close();
    await scheduler.stop();
    await outbox.stop();
    await notifier.stop();
    sessions?.detach();
    await db.destroy();
    await database.stop();
  })());
  return { url, databaseUrl: database.url, app, engine, db, stop };
}
