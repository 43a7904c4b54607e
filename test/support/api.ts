import type { FastifyInstance, InjectOptions } from 'fastify';
import { buildApp } from '../../src/http/app.js';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { installShipped } from '../../src/server.js';
import type { SmsProvider } from '../../src/notify/sms.js';
import { seedDemo, DEMO_PASSWORD } from '../../src/demo.js';
import type { Db } from '../../src/db/database.js';
import { TimerScheduler } from '../../src/engine/scheduler.js';
import { OutboxDispatcher } from '../../src/engine/outbox.js';
import { createTestDatabase } from './db.js';
import { VirtualClock } from './clock.js';

export interface Session {
  cookie: string;
  csrf: string;
  username: string;
}

export async function apiApp(db: Db, opts: { sms?: SmsProvider } = {}): Promise<{ app: FastifyInstance; engine: Runtime['engine']; runtime: Runtime; hits: Set<string> }> {
  const runtime = await createRuntime(db, { print: () => undefined, sms: opts.sms });
  const engine = runtime.engine;
  await installShipped(runtime);
  await seedDemo(db);
  const app = await buildApp({ runtime, version: 'test', logLevel: 'silent' });
  // Which routes the tests exercised, to prove each one has a test.
  const hits = new Set<string>();
  app.addHook('onResponse', async (req) => {
    if (req.routeOptions.url) hits.add(`${req.method} ${req.routeOptions.url}`);
  });
  await app.ready();
  return { app, engine, runtime, hits };
}

export async function login(app: FastifyInstance, username: string, password = DEMO_PASSWORD): Promise<Session> {
  const res = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password } });
  if (res.statusCode !== 200) throw new Error(`login ${username}: ${res.statusCode} ${res.body}`);
  const cookie = String(res.headers['set-cookie']).split(';')[0]!;
  return { cookie, csrf: res.json().csrfToken, username };
}

/** inject as a logged-in user (cookie + CSRF header). */
export function as(app: FastifyInstance, s: Session | null, opts: InjectOptions) {
  const headers: Record<string, string> = { ...(opts.headers as Record<string, string> | undefined) };
  if (s) {
    headers.cookie = s.cookie;
    headers['x-csrf-token'] = s.csrf;
  }
  return app.inject({ ...opts, headers });
}

/**
 * What the domain tests drive: the API on a fresh demo database under the virtual clock (support/clock.ts),
 * with the production timer scheduler and outbox dispatcher on it, not started (a test starts them or
 * drains them as it needs). close() stops both and drops the database.
 */
export interface ClockedApi {
  t: Awaited<ReturnType<typeof createTestDatabase>>;
  db: Db;
  clock: VirtualClock;
  app: FastifyInstance;
  runtime: Runtime;
  scheduler: TimerScheduler;
  outbox: OutboxDispatcher;
  close(): Promise<void>;
}

export async function clockedApiApp(prefix: string, opts: { sms?: SmsProvider } = {}): Promise<ClockedApi> {
  const t = await createTestDatabase(prefix, { virtualClock: true });
  const db = t.db;
  const clock = new VirtualClock(db);
  const { app, runtime } = await apiApp(db, opts);
  const quiet = { pollMs: 50, concurrency: 1, log: () => undefined };
  const scheduler = new TimerScheduler(db, runtime.engine, quiet);
  const outbox = new OutboxDispatcher(db, runtime.services, quiet);
  return {
    t, db, clock, app, runtime, scheduler, outbox,
    async close() {
      await scheduler.stop();
      await outbox.stop();
      await app.close();
      await t.drop();
    },
  };
}
