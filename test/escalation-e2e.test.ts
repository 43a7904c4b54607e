import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDubanServer } from './support/server.js';
import { freePort } from './support/ports.js';
import { createTestDatabase } from './support/db.js';
import { VirtualClock } from './support/clock.js';
import { FakeTwilio } from './support/fake-twilio.js';
import { seedDemo, DEMO_PASSWORD } from '../src/demo.js';

/**
 * Issue acceptance: intake → yellow warning → red overdue → exactly one SMS through the real twilio SDK
 * to a fake Twilio on loopback → inspector task → the department completes → supervision closed;
 * with two server processes on one database, one of them killed with SIGKILL at the deadline.
 * Time is virtual (support/clock.ts): the servers' Date and the database's now() jump to the warning and
 * the deadline of a real working-day limit, so a slow machine cannot skip a light.
 */
let t: Awaited<ReturnType<typeof createTestDatabase>>;
let fake: FakeTwilio;
let clock: VirtualClock;
let clockDir: string;
const servers: ChildProcess[] = [];

before(async () => {
  fake = await new FakeTwilio().start();
  t = await createTestDatabase('duban_esc', { virtualClock: true });
  clockDir = mkdtempSync(path.join(os.tmpdir(), 'duban-clock-'));
  clock = new VirtualClock(t.db, path.join(clockDir, 'offset'));
  await clock.advance(0);
  await seedDemo(t.db);
  await t.db('items').insert({
    code: 'DRILL-1', name: '食品经营许可(演练)', department_id: 'market', case_type: 2, statutory_days: 5, promised_days: 3,
    limit_unit: 'workday', warning_rule: JSON.stringify({ kind: 'days', value: 1 }), process_key: 'approval-item',
  });
});
after(async () => {
  for (const s of servers) if (s.exitCode === null && s.signalCode === null) s.kill('SIGKILL');
  await fake.stop();
  await t.drop();
  rmSync(clockDir, { recursive: true, force: true });
});

async function startServer(port: number): Promise<ChildProcess> {
  const env: NodeJS.ProcessEnv = {
    ...process.env, DATABASE_URL: t.url, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn',
    TWILIO_ACCOUNT_SID: fake.accountSid, TWILIO_AUTH_TOKEN: fake.authToken, TWILIO_FROM: '+15005550006', TWILIO_API_BASE: fake.url,
    DUBAN_PUBLIC_URL: `http://127.0.0.1:${port}`, DUBAN_TIMER_POLL_MS: '200', DUBAN_OUTBOX_POLL_MS: '200',
    DUBAN_TEST_CLOCK_FILE: clock.clockFile,
  };
  return (await startDubanServer(env, { track: servers, timeoutMs: 90_000, execArgv: ['--import', './test/support/clock-preload.mjs'] })).child;
}

class Client {
  cookie = '';
  csrf = '';
  constructor(public base: string) {}
  async login(username: string) {
    const res = await fetch(`${this.base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: DEMO_PASSWORD }) });
    assert.equal(res.status, 200, await res.clone().text());
    this.cookie = String(res.headers.get('set-cookie')).split(';')[0]!;
    this.csrf = ((await res.json()) as { csrfToken: string }).csrfToken;
    return this;
  }
  async call(method: string, path: string, body?: unknown) {
    const res = await fetch(`${this.base}${path}`, {
      method, headers: { cookie: this.cookie, 'x-csrf-token': this.csrf, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : null, text };
  }
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('overdue escalation end to end, with two servers and one killed: exactly one SMS', { timeout: 240_000 }, async () => {
  const [portA, portB] = [await freePort(), await freePort()];
  const [a] = await Promise.all([startServer(portA), startServer(portB)]);
  const clerkA = await new Client(`http://127.0.0.1:${portA}`).login('market.clerk');
  const created = await clerkA.call('POST', '/api/cases', { itemCode: 'DRILL-1', applicantName: '天衢餐饮管理有限公司', applicantType: 2, idType: 'uscc', idNumber: '91350100M000100Y43', phone: '+8613900000001' });
  assert.equal(created.status, 201, created.text);
  const c = created.json as { id: string; number: string; promisedAt: string; warningAt: string; light: string };
  assert.equal(c.light, 'green');

  // Yellow: the department is warned once the warning time passes.
  await clock.advanceTo(new Date(c.warningAt).getTime() + 60_000);
  await until('the yellow warning', async () => fake.messages.find((m) => m.body.includes(c.number) && m.body.includes('到期')));
  const b = new Client(`http://127.0.0.1:${portB}`);
  await b.login('market.clerk');
  assert.equal((await b.call('GET', `/api/cases/${c.id}`)).json.light, 'yellow');

  // The deadline passes and one server dies at once, maybe in the middle of firing it; the other carries on.
  await clock.advanceTo(new Date(c.promisedAt).getTime() + 1_000);
  a.kill('SIGKILL');
  await b.login('market.clerk'); // a day has passed: the first session has expired

  const expected = `政务服务网食品经营许可(演练)的业务办理已经超时,业务编号:${c.number},请及时登录系统跟踪督察。`;
  await until('the overdue SMS', async () => fake.messages.find((m) => m.body === expected));
  const inspector = await new Client(`http://127.0.0.1:${portB}`).login('inspector');
  const sup = await until('the supervision record', async () => {
    const r = await inspector.call('GET', '/api/supervisions?status=open');
    return (r.json.items as Array<{ id: string; caseNumber: string }>).find((s) => s.caseNumber === c.number);
  });
  const inspectorTasks = await inspector.call('GET', `/api/tasks?instanceId=${c.id}&candidateGroup=inspection`);
  assert.equal(inspectorTasks.json.items.length, 1, 'an inspector task (督办)');
  assert.equal((await b.call('GET', `/api/cases/${c.id}`)).json.light, 'red');
  assert.equal((await inspector.call('POST', `/api/supervisions/${sup.id}/urge`, { content: '请今日内办结并回告' })).status, 201);

  for (const step of ['accept', 'review', 'decide', 'conclude']) {
    const task = await until(`task ${step}`, async () => {
      const r = await b.call('GET', `/api/tasks?instanceId=${c.id}`);
      return (r.json.items as Array<{ id: string; elementId: string }>).find((x) => x.elementId === step);
    });
    const done = await b.call('POST', `/api/tasks/${task.id}/complete`, { variables: step === 'decide' ? { decision: '准予许可' } : {} });
    assert.equal(done.status, 200, done.text);
  }
  const closed = await inspector.call('POST', `/api/supervisions/${sup.id}/close`, { result: '经督办当日办结' });
  assert.equal(closed.status, 204, closed.text);
  const final = (await inspector.call('GET', `/api/supervisions/${sup.id}`)).json;
  assert.equal(final.status, 'closed');
  assert.ok(final.hoursToClose !== null, 'time taken after escalation is recorded');

  // Let both timers and deliveries settle, then count.
  await new Promise((r) => setTimeout(r, 2000));
  const overdue = fake.messages.filter((m) => m.body.includes('已经超时') && m.body.includes(c.number));
  assert.equal(overdue.length, 1, `exactly one overdue SMS, got ${overdue.length}`);
  assert.equal(overdue[0]!.to, '+8613800000005', 'to the inspector on duty');
  assert.equal(fake.messages.filter((m) => m.body.startsWith('督办通知') && m.body.includes(c.number)).length, 1, 'one urging notice SMS');
  const rows = await t.db('outbox').where({ instance_id: c.id, service: 'sms' }).whereRaw(`payload->>'template' = 'overdue'`);
  assert.equal(rows.length, 1);
  assert.equal(rows[0].status, 'sent');
});
