import type { FastifyInstance, InjectOptions } from 'fastify';
import { buildApp } from '../../src/http/app.js';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { installShipped } from '../../src/server.js';
import type { SmsProvider } from '../../src/notify/sms.js';
import { seedDemo, DEMO_PASSWORD } from '../../src/demo.js';
import type { Db } from '../../src/db/database.js';

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
