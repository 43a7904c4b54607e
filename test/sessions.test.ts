import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { startDubanServer } from './support/server.js';
import { freePort } from './support/ports.js';
import { createTestDatabase } from './support/db.js';
import { ApiSession, until } from './support/demo-server.js';
import { seedDemo } from '../src/demo.js';
import { createRuntime } from '../src/runtime.js';
import { installShipped } from '../src/server.js';

/**
 * Sessions across server processes: two real `duban start` processes on one database, each with its
 * session cache on and its backstop set to ten minutes, so only the change notifications can make a
 * revocation reach the other process within the seconds these tests allow. The promise: a change
 * (POST) is refused or narrowed at once everywhere; a read is refused as soon as the change arrives,
 * whoever made it (the API in another process, an operator in psql), and also when the process's
 * LISTEN connection was cut meanwhile.
 */
let t: Awaited<ReturnType<typeof createTestDatabase>>;
const servers: ChildProcess[] = [];
let a = '';
let b = '';

before(async () => {
  t = await createTestDatabase('duban_sess');
  const runtime = await createRuntime(t.db, { print: () => undefined });
  await installShipped(runtime);
  await seedDemo(t.db, runtime, { cases: 60 });
  const start = async () => {
    const port = await freePort();
    await startDubanServer({
      ...process.env, DATABASE_URL: t.url, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', DUBAN_SESSION_CACHE_MS: '600000',
    }, { track: servers, timeoutMs: 90_000 });
    return `http://127.0.0.1:${port}`;
  };
  [a, b] = [await start(), await start()];
});
after(async () => {
  for (const s of servers) if (s.exitCode === null && s.signalCode === null) s.kill('SIGKILL');
  await t.drop();
});

/** Reads in process B until they are refused; a few seconds at most, far below the ten-minute backstop. */
async function untilReadRefused(s: ApiSession, what: string) {
  await until(what, async () => (await s.at(b).request('GET', '/api/tasks')).status === 401, 5_000);
}

/** Several reads in B, so it has the session cached if it caches at all. */
async function warm(s: ApiSession) {
  for (let i = 0; i < 5; i++) assert.equal((await s.at(b).request('GET', '/api/tasks')).status, 200);
}

test('a logout in one process ends the session in the other: its next change at once, its reads as the notification arrives', async () => {
  const s = await ApiSession.login(a, 'market.clerk');
  await warm(s);
  assert.equal((await s.at(b).request('POST', '/api/saved-filters', { name: '今日到期', query: { light: 'red' } })).status, 201);
  assert.equal((await s.request('POST', '/api/auth/logout')).status, 204);
  assert.equal((await s.at(b).request('POST', '/api/saved-filters', { name: '退出之后', query: {} })).status, 401, 'a change after the logout is refused at once');
  await untilReadRefused(s, 'process B to refuse the logged-out session');
});

test('the process that logs out refuses the session at once, reads included', async () => {
  const s = await ApiSession.login(b, 'housing.clerk');
  await warm(s);
  assert.equal((await s.request('POST', '/api/auth/logout')).status, 204);
  assert.equal((await s.request('GET', '/api/tasks')).status, 401);
});

test('an admin moving a clerk to another department narrows the clerk at once for changes, and for reads as it arrives', async () => {
  const clerk = await ApiSession.login(b, 'market.clerk');
  const marketTask = (await clerk.get('/api/tasks?pageSize=1')).items[0];
  assert.ok(marketTask, 'the demo gives the market clerk a task');
  await warm(clerk);
  const admin = await ApiSession.login(a, 'admin');
  const users = (await admin.get('/api/users?pageSize=100')).items as Array<{ id: string; username: string }>;
  const id = users.find((u) => u.username === 'market.clerk')!.id;
  assert.equal((await admin.request('PATCH', `/api/users/${id}`, { departmentId: 'health' })).status, 200);
  const claim = await clerk.request('POST', `/api/tasks/${marketTask.id}/claim`);
  assert.notEqual(claim.status, 204, 'the moved clerk can no longer claim the old department’s task');
  await until('process B to read the clerk’s new department', async () => (await clerk.get('/api/auth/me')).departmentId === 'health', 5_000);
  assert.equal((await admin.request('PATCH', `/api/users/${id}`, { departmentId: 'market' })).status, 200);
});

test('an operator deactivating a user in psql ends the user’s reads in every process', async () => {
  const s = await ApiSession.login(a, 'health.clerk');
  await warm(s);
  await t.db('users').where({ username: 'health.clerk' }).update({ active: false });
  try {
    await untilReadRefused(s, 'process B to refuse the deactivated user');
    assert.equal((await s.request('GET', '/api/tasks')).status, 401);
  } finally {
    await t.db('users').where({ username: 'health.clerk' }).update({ active: true });
  }
});

test('with its LISTEN connection cut, a process trusts no cached session: a deletion meanwhile still ends the reads', async () => {
  const s = await ApiSession.login(a, 'leader');
  await warm(s);
  const cut = await t.db.raw(`SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'duban-listen'`);
  assert.ok(cut.rows.length >= 2, 'both processes had a LISTEN connection');
  await t.db('sessions').delete();
  await untilReadRefused(s, 'process B to refuse the deleted session');
  // The connection comes back, and with it the cache: a fresh session is served and then revoked again.
  await until('the LISTEN connections to come back', async () => Number((await t.db.raw(`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'duban-listen'`)).rows[0].n) >= 2, 10_000);
  const again = await ApiSession.login(a, 'leader');
  await warm(again);
  await t.db('sessions').delete();
  await untilReadRefused(again, 'process B to refuse the session deleted after the reconnect');
});
