import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import Fastify, { type FastifyInstance } from 'fastify';
import { createTestDatabase } from './support/db.js';
import { bpmn, flows } from './support/bpmn.js';
import { login, as, type Session } from './support/api.js';
import { FakeTwilio, signTwilioCallback, statusCallbackBody } from './support/fake-twilio.js';
import { WorkflowEngine } from '../src/engine/engine.js';
import { OutboxDispatcher, retryIncident } from '../src/engine/outbox.js';
import { createServiceRegistry } from '../src/services.js';
import { TwilioSmsProvider, createSmsProviderFromEnv, SmsSendError } from '../src/notify/twilio.js';
import { LogSmsProvider, renderTemplate } from '../src/notify/sms.js';
import { SmsPolicy, parseQuietHours, quietHoursEnd, smsPolicySettingsFromEnv, type SmsPolicySettings } from '../src/notify/policy.js';
import { smsRoutes } from '../src/http/sms.js';
import { authPlugin, authRoutes } from '../src/http/auth.js';
import { registerProblemHandlers } from '../src/http/problem.js';
import { appendAudit } from '../src/audit/audit.js';
import { seedDemo } from '../src/demo.js';
import type { Db } from '../src/db/database.js';
import { AUDIT_ENTRIES, sealed } from './support/audit.js';

const PUBLIC_URL = 'https://duban.example.gov.cn';
const FROM = '+15005550006';
const NO_LIMITS: SmsPolicySettings = { dailyLimit: 50, quietHours: null, duplicatesPerMinute: 2 };

let t: Awaited<ReturnType<typeof createTestDatabase>>;
let db: Db;
let fake: FakeTwilio;
let app: FastifyInstance;
let admin: Session, clerk: Session, inspector: Session;

const CASE_XML = bpmn('sms_case', `<startEvent id="s"/>
  <serviceTask id="notify" name="超时短信" camunda:type="external" camunda:topic="sendSms"/>
  <endEvent id="e"/>${flows('s', 'notify', 'e')}`);

function provider(over: Partial<ConstructorParameters<typeof TwilioSmsProvider>[0]> = {}) {
  return new TwilioSmsProvider({ accountSid: fake.accountSid, authToken: fake.authToken, from: FROM, apiBase: fake.url, publicUrl: PUBLIC_URL, ...over });
}

/** An engine and an outbox dispatcher with the real SMS service, the Twilio provider and a policy. */
async function rig(settings: SmsPolicySettings = NO_LIMITS, backoffMs = 1000) {
  const services = createServiceRegistry({ sms: provider(), db, smsPolicy: new SmsPolicy(settings) });
  const engine = new WorkflowEngine(db, services, { audit: appendAudit });
  await engine.deploy(CASE_XML);
  const box = new OutboxDispatcher(db, services, { pollMs: 50, concurrency: 1, log: () => undefined, backoffMs, audit: true });
  const start = async (to: string, businessKey: string, extra: Record<string, unknown> = {}) => {
    const inst = await engine.start('sms_case', { businessKey, variables: { to, template: 'overdue', item: '食品经营许可', number: businessKey, ...extra } });
    return { instanceId: inst.id, row: await db('outbox').where({ instance_id: inst.id, service: 'sms' }).first() };
  };
  return { engine, box, start };
}

async function dbNow(): Promise<number> {
  const r = await db.raw<{ rows: Array<{ now: Date }> }>('SELECT now() AS now');
  return r.rows[0]!.now.getTime();
}

async function eventually(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A message sent earlier, written straight into the outbox (what the policy counts). */
async function pastSms(to: string, secondsAgo: number, text = `earlier message ${Math.random()}`) {
  const [row] = await db('outbox').insert({
    service: 'sms', dedup_key: `past-${Math.random()}`, payload: JSON.stringify({ to, template: 'overdue', vars: {} }),
    status: 'sent', attempts: 1, result: JSON.stringify({ provider: 'twilio', text }),
    sent_at: db.raw(`now() - (? || ' seconds')::interval`, [String(secondsAgo)]),
  }).returning(['id', 'sent_at']);
  return row as { id: number; sent_at: Date };
}

function postStatus(outboxId: number | string, params: Record<string, string>, signature: string | null) {
  return app.inject({
    method: 'POST', url: `/api/sms/status?outbox=${outboxId}`,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(signature === null ? {} : { 'x-twilio-signature': signature }) },
    payload: new URLSearchParams(params).toString(),
  });
}

const sign = (outboxId: number | string, params: Record<string, string>) =>
  signTwilioCallback(fake.authToken, `${PUBLIC_URL}/api/sms/status?outbox=${outboxId}`, params);

before(async () => {
  t = await createTestDatabase();
  db = t.db;
  fake = await new FakeTwilio().start();
  await seedDemo(db);
  app = Fastify({ logger: false });
  registerProblemHandlers(app);
  await app.register(authPlugin, { db });
  await app.register(authRoutes, { db, secureCookies: false });
  await app.register(smsRoutes, { db, authToken: fake.authToken, publicUrl: PUBLIC_URL, log: () => undefined });
  await app.ready();
  [admin, clerk, inspector] = await Promise.all(['admin', 'market.clerk', 'inspector'].map((u) => login(app, u)));
});

after(async () => {
  await app?.close();
  await fake?.stop();
  await t?.drop();
});

describe('providers', () => {
  test('Twilio with credentials and a sender, else the log provider', () => {
    const env = { TWILIO_ACCOUNT_SID: fake.accountSid, TWILIO_AUTH_TOKEN: fake.authToken };
    assert.ok(createSmsProviderFromEnv(env, () => undefined) instanceof LogSmsProvider, 'no sender: log');
    assert.ok(createSmsProviderFromEnv({ ...env, TWILIO_FROM: FROM }, () => undefined) instanceof TwilioSmsProvider);
    assert.ok(createSmsProviderFromEnv({ ...env, TWILIO_MESSAGING_SERVICE_SID: 'MG123' }, () => undefined) instanceof TwilioSmsProvider);
    assert.ok(createSmsProviderFromEnv({}, () => undefined) instanceof LogSmsProvider);
  });

  test('the log provider prints and records the message', async () => {
    const lines: string[] = [];
    const r = await new LogSmsProvider((l) => lines.push(l)).send({ to: '+8613800000001', template: 'overdue', vars: {}, text: '测试' }, 'k1', { outboxId: 7 });
    assert.equal(r.providerId, 'log-k1');
    assert.match(lines[0]!, /#7 to \+8613800000001: 测试/);
  });

  test('a messaging service replaces the sender; no public URL, no status callback; network errors are retryable', async () => {
    const before = fake.messages.length;
    const r = await provider({ from: undefined, messagingServiceSid: 'MG0123456789abcdef0123456789abcdef', publicUrl: undefined })
      .send({ to: '+8613800000009', template: 'overdue', vars: {}, text: 'hello' }, 'k', { outboxId: 1 });
    const msg = fake.messages[before]!;
    assert.equal(msg.sid, r.providerId);
    assert.equal(msg.messagingServiceSid, 'MG0123456789abcdef0123456789abcdef');
    assert.equal(msg.from, null);
    assert.equal(msg.statusCallback, null);

    const down = new TwilioSmsProvider({ accountSid: fake.accountSid, authToken: fake.authToken, from: FROM, apiBase: 'http://127.0.0.1:9' });
    await assert.rejects(down.send({ to: '+8613800000009', template: 'overdue', vars: {}, text: 'x' }, 'k'),
      (err: SmsSendError) => err instanceof SmsSendError && !err.permanent && /twilio request failed/.test(err.message));
    fake.failNext(1, { status: 400, code: 21610, message: 'Attempt to send to unsubscribed recipient' });
    await assert.rejects(provider().send({ to: '+8613800000009', template: 'overdue', vars: {}, text: 'x' }, 'k'),
      (err: SmsSendError) => err.permanent && err.code === 21610 && err.httpStatus === 400 && /21610/.test(err.message));
    fake.failNext(1, { status: 429, code: 20429, message: 'Too Many Requests' });
    await assert.rejects(provider().send({ to: '+8613800000009', template: 'overdue', vars: {}, text: 'x' }, 'k'),
      (err: SmsSendError) => !err.permanent && err.httpStatus === 429);
  });
});

describe('sending through the outbox', () => {
  test('the overdue SMS goes through the real SDK to the fake once per case, with its provider ref stored', async () => {
    const { box, start } = await rig();
    const before = fake.messages.length;
    const a = await start('+8613800000005', '370100-2026-000001');
    assert.equal(a.row.status, 'pending', 'queued by the command, sent after commit');
    assert.equal(await box.drain(), 1);
    assert.equal(await box.drain(), 0);

    assert.equal(fake.messages.length, before + 1);
    const msg = fake.messages.at(-1)!;
    const req = fake.requests.find((r) => r.sid === msg.sid)!;
    assert.equal(req.path, `/2010-04-01/Accounts/${fake.accountSid}/Messages.json`);
    assert.match(String(req.headers['user-agent']), /^twilio-node\/5\./, 'sent by the twilio SDK');
    assert.equal(msg.body, '政务服务网食品经营许可的业务办理已经超时,业务编号:370100-2026-000001,请及时登录系统跟踪督察。');
    assert.equal(msg.body, renderTemplate('overdue', { item: '食品经营许可', number: '370100-2026-000001' }));
    assert.equal(msg.to, '+8613800000005');
    assert.equal(msg.from, FROM);
    assert.equal(msg.statusCallback, `${PUBLIC_URL}/api/sms/status?outbox=${a.row.id}`);

    const row = await db('outbox').where({ id: a.row.id }).first();
    assert.equal(row.status, 'sent');
    assert.equal(row.attempts, 1);
    assert.equal(row.provider_ref, msg.sid);
    assert.match(row.provider_ref, /^SM[0-9a-f]{32}$/);
    assert.equal(row.provider_status, 'queued');
    assert.equal(row.result.text, msg.body);
    assert.ok(await (await sealed(db))('audit_log').where({ action: 'sms.sent', entity_id: String(row.id) }).first(), 'audited');

    // The same case overdue again (a second instance, a timer that fires again): no second message.
    const again = await start('+8613800000005', '370100-2026-000001');
    assert.equal(again.row, undefined, 'deduplicated: one overdue SMS per case and escalation');
    // The next escalation level is a new message.
    const escalated = await start('+8613800000005', '370100-2026-000001', { escalation: 'orange' });
    assert.ok(escalated.row);
    await box.drain();
    assert.equal(fake.messages.length, before + 2);
  });
});

describe('status callbacks', () => {
  test('a bad or missing signature is refused and changes nothing; a good one updates the status', async () => {
    const { box, start } = await rig();
    const { row } = await start('+8613800000006', '370100-2026-000002');
    await box.drain();
    const sent = await db('outbox').where({ id: row.id }).first();
    const msg = { sid: sent.provider_ref, to: '+8613800000006', from: FROM };
    const params = statusCallbackBody(msg, fake.accountSid, 'delivered');
    const audits = async () => Number((await db.raw(`SELECT count(*)::int AS n FROM ${AUDIT_ENTRIES} a`)).rows[0].n);
    const auditsBefore = await audits();

    for (const signature of [null, '', 'bm90IGEgc2lnbmF0dXJl', signTwilioCallback('wrong-token', `${PUBLIC_URL}/api/sms/status?outbox=${row.id}`, params),
      sign(row.id + 1, params) /* signed for another row */, sign(row.id, { ...params, MessageStatus: 'sent' }) /* body changed */]) {
      const res = await postStatus(row.id, params, signature);
      assert.equal(res.statusCode, 403, `signature ${signature}`);
      assert.match(String(res.headers['content-type']), /application\/problem\+json/);
    }
    // Even a body that would fail validation gets 403 first: nothing is learned without a signature.
    assert.equal((await postStatus(row.id, { junk: '1' }, 'x')).statusCode, 403);
    const unchanged = await db('outbox').where({ id: row.id }).first();
    assert.equal(unchanged.provider_status, 'queued');
    assert.equal(await audits(), auditsBefore, 'nothing recorded');

    const ok = await postStatus(row.id, params, sign(row.id, params));
    assert.equal(ok.statusCode, 204, ok.body);
    const updated = await db('outbox').where({ id: row.id }).first();
    assert.equal(updated.provider_status, 'delivered');
    assert.equal(updated.status, 'sent');
    assert.ok(await (await sealed(db))('audit_log').where({ action: 'sms.status', entity_id: String(row.id) }).first());

    // Twilio may report out of order: a late "sent" does not undo "delivered".
    const late = statusCallbackBody(msg, fake.accountSid, 'sent');
    assert.equal((await postStatus(row.id, late, sign(row.id, late))).statusCode, 204);
    assert.equal((await db('outbox').where({ id: row.id }).first()).provider_status, 'delivered');

    // A signed report for a row that does not exist.
    assert.equal((await postStatus(999999, params, sign(999999, params))).statusCode, 404);
  });

  test('"undelivered" fails the message and opens an incident an admin can retry', async () => {
    const { box, start } = await rig();
    const { row } = await start('+8613800000007', '370100-2026-000003');
    await box.drain();
    const sid = (await db('outbox').where({ id: row.id }).first()).provider_ref;
    const params = statusCallbackBody({ sid, to: '+8613800000007' }, fake.accountSid, 'undelivered', { ErrorCode: '30003' });
    assert.equal((await postStatus(row.id, params, sign(row.id, params))).statusCode, 204);
    const failed = await db('outbox').where({ id: row.id }).first();
    assert.equal(failed.status, 'failed');
    assert.match(failed.last_error, /undelivered \(error 30003\)/);
    const incident = await db('incidents').where({ outbox_id: row.id, status: 'open' }).first();
    assert.ok(incident);
    const before = fake.messages.length;
    assert.deepEqual(await retryIncident(db, incident.id, 'admin'), { retried: true, kind: 'delivery' });
    await box.drain();
    assert.equal(fake.messages.length, before + 1, 'resent once');
    const resent = await db('outbox').where({ id: row.id }).first();
    assert.equal(resent.status, 'sent');
    assert.notEqual(resent.provider_ref, sid);
    // The old message's late report does not touch the new one.
    const old = statusCallbackBody({ sid, to: '+8613800000007' }, fake.accountSid, 'failed');
    assert.equal((await postStatus(row.id, old, sign(row.id, old))).statusCode, 204);
    assert.equal((await db('outbox').where({ id: row.id }).first()).status, 'sent');
  });
});

describe('sending rules defer, never drop', () => {
  test('quiet hours: Beijing time, spanning midnight', () => {
    const q = parseQuietHours('22:00-07:00')!;
    assert.deepEqual(q, { start: 22 * 60, end: 7 * 60 });
    // 23:30 Beijing = 15:30 UTC → next morning 07:00 Beijing = 23:00 UTC.
    assert.equal(quietHoursEnd(new Date('2026-03-02T15:30:00Z'), q)?.toISOString(), '2026-03-02T23:00:00.000Z');
    // 03:00 Beijing → 07:00 the same morning.
    assert.equal(quietHoursEnd(new Date('2026-03-02T19:00:00Z'), q)?.toISOString(), '2026-03-02T23:00:00.000Z');
    // 06:59:30 is still quiet; 07:00 and 12:00 are not.
    assert.equal(quietHoursEnd(new Date('2026-03-02T22:59:30Z'), q)?.toISOString(), '2026-03-02T23:00:00.000Z');
    assert.equal(quietHoursEnd(new Date('2026-03-02T23:00:00Z'), q), null);
    assert.equal(quietHoursEnd(new Date('2026-03-03T04:00:00Z'), q), null);
    const lunch = parseQuietHours('12:00-13:30')!;
    assert.equal(quietHoursEnd(new Date('2026-03-03T04:10:00Z'), lunch)?.toISOString(), '2026-03-03T05:30:00.000Z');
    assert.equal(parseQuietHours(''), null);
    assert.throws(() => parseQuietHours('22-7'));
    assert.throws(() => parseQuietHours('25:00-07:00'));
    assert.deepEqual(smsPolicySettingsFromEnv({}), { dailyLimit: 50, quietHours: { start: 22 * 60, end: 8 * 60 }, duplicatesPerMinute: 2 }, 'quiet 22:00-08:00 by default');
    assert.equal(smsPolicySettingsFromEnv({ DUBAN_SMS_QUIET_HOURS: 'off' }).quietHours, null);
    assert.deepEqual(smsPolicySettingsFromEnv({ DUBAN_SMS_DAILY_LIMIT: '10', DUBAN_SMS_QUIET_HOURS: '22:00-07:00' }).dailyLimit, 10);
    assert.throws(() => smsPolicySettingsFromEnv({ DUBAN_SMS_DAILY_LIMIT: '0' }));
  });

  test('during quiet hours the message waits for their end, without using an attempt', async () => {
    // Quiet hours from an hour ago to two hours from now, Beijing time, to the minute.
    const now = Date.now();
    const local = (ms: number) => new Date(ms + 8 * 3_600_000).toISOString().slice(11, 16);
    const quiet = parseQuietHours(`${local(now - 3_600_000)}-${local(now + 7_200_000)}`)!;
    const expected = Math.floor(now / 60_000) * 60_000 + 7_200_000;
    const { box, start } = await rig({ ...NO_LIMITS, quietHours: quiet });
    const before = fake.requests.length;
    const { row } = await start('+8613800000011', '370100-2026-000011');
    await box.drain();
    const deferred = await db('outbox').where({ id: row.id }).first();
    assert.equal(deferred.status, 'pending', 'kept, not dropped');
    assert.equal(deferred.attempts, 0, 'a deferral is not an attempt');
    assert.equal(deferred.next_attempt_at.getTime(), expected, 'the end of the quiet hours');
    assert.match(deferred.last_error, /^deferred: quiet hours/);
    assert.equal(fake.requests.length, before, 'the provider was not called');
  });

  test('the daily limit waits until the oldest message in the window leaves it', async () => {
    const to = '+8613800000012';
    await pastSms(to, 25 * 3600); // outside the 24 h window
    const oldest = await pastSms(to, 23 * 3600);
    await pastSms(to, 2 * 3600);
    await pastSms(to, 3600);
    const { box, start } = await rig({ ...NO_LIMITS, dailyLimit: 3 });
    const before = fake.requests.length;
    const { row } = await start(to, '370100-2026-000012');
    await box.drain();
    const deferred = await db('outbox').where({ id: row.id }).first();
    assert.equal(deferred.status, 'pending');
    assert.equal(deferred.attempts, 0);
    assert.equal(deferred.next_attempt_at.getTime(), oldest.sent_at.getTime() + 24 * 3_600_000, 'when the oldest of the 3 leaves the window');
    assert.match(deferred.last_error, /^deferred: daily limit: 3 messages/);
    assert.equal(fake.requests.length, before);

    // With a limit of 2 the second most recent decides; another number is not affected.
    const second = await db('outbox').where({ service: 'sms', status: 'sent' }).whereRaw(`payload->>'to' = ?`, [to]).orderBy('sent_at', 'desc').offset(1).first();
    await assert.rejects(new SmsPolicy({ ...NO_LIMITS, dailyLimit: 2 }).check(db, to, 'x'),
      (err: { until: Date }) => err.until.getTime() === second.sent_at.getTime() + 24 * 3_600_000);
    await new SmsPolicy({ ...NO_LIMITS, dailyLimit: 1 }).check(db, '+8613800000099', 'x');
  });

  test('identical content at most twice a minute; the message goes once the minute has passed', async () => {
    const to = '+8613800000013';
    const text = renderTemplate('overdue', { item: '食品经营许可', number: '370100-2026-000013' });
    await pastSms(to, 10, text);
    const second = await pastSms(to, 20, text);
    await pastSms(to, 5); // different content does not count
    const { box, start } = await rig();
    const { row } = await start(to, '370100-2026-000013');
    await box.drain();
    const deferred = await db('outbox').where({ id: row.id }).first();
    assert.equal(deferred.status, 'pending');
    assert.equal(deferred.attempts, 0);
    assert.equal(deferred.next_attempt_at.getTime(), second.sent_at.getTime() + 60_000);
    assert.match(deferred.last_error, /identical content/);

    // A minute later (moved back in time here) it is delivered.
    await db('outbox').where({ service: 'sms' }).whereRaw(`payload->>'to' = ?`, [to]).andWhere({ status: 'sent' })
      .update({ sent_at: db.raw(`sent_at - interval '2 minutes'`) });
    await db('outbox').where({ id: row.id }).update({ next_attempt_at: db.fn.now() });
    const before = fake.messages.length;
    await box.drain();
    assert.equal((await db('outbox').where({ id: row.id }).first()).status, 'sent');
    assert.equal(fake.messages.length, before + 1);
    assert.equal(fake.messages.at(-1)!.body, text);
  });
});

describe('failures', () => {
  test('5xx is retried with backoff; a rejected number opens an incident once attempts run out; retry puts it back', async () => {
    const { box, start } = await rig(NO_LIMITS, 100);
    const before = fake.messages.length;

    fake.failNext(2, { status: 500 });
    const a = await start('+8613800000021', '370100-2026-000021');
    const t0 = await dbNow();
    await box.drain();
    let row = await db('outbox').where({ id: a.row.id }).first();
    assert.equal(row.status, 'pending');
    assert.equal(row.attempts, 1);
    assert.match(row.last_error, /twilio server error: HTTP 500/);
    const wait1 = row.next_attempt_at.getTime() - t0;
    assert.ok(wait1 >= 100 && wait1 < 1000, `first backoff ${wait1} ms`);
    await eventually(async () => (await box.drain()) > 0 && (await db('outbox').where({ id: a.row.id }).first()).attempts === 2);
    const t1 = await dbNow();
    row = await db('outbox').where({ id: a.row.id }).first();
    const wait2 = row.next_attempt_at.getTime() - t1;
    assert.ok(wait2 > 100 && wait2 <= 200, `second backoff doubles: ${wait2} ms`);
    await eventually(async () => { await box.drain(); return (await db('outbox').where({ id: a.row.id }).first()).status === 'sent'; });
    row = await db('outbox').where({ id: a.row.id }).first();
    assert.equal(row.attempts, 3);
    assert.equal(fake.messages.length, before + 1, 'one message despite the failures');

    fake.failNext(1, { status: 400, code: 21211, message: "The 'To' number +86138 is not a valid phone number." });
    const b = await start('+86138', '370100-2026-000022');
    await db('outbox').where({ id: b.row.id }).update({ max_attempts: 3 });
    await eventually(async () => { await box.drain(); return (await db('outbox').where({ id: b.row.id }).first()).status === 'failed'; });
    row = await db('outbox').where({ id: b.row.id }).first();
    assert.equal(row.attempts, 1, 'a rejected number is permanent: no pointless retries');
    assert.match(row.last_error, /HTTP 400 code 21211/);
    const incident = await db('incidents').where({ outbox_id: b.row.id }).first();
    assert.equal(incident.status, 'open');
    assert.equal(incident.kind, 'delivery');
    assert.match(incident.message, /sms failed after 1 attempt\(s\).*21211/);
    assert.equal(fake.messages.length, before + 1, 'nothing was sent');

    // The admin fixed the number (or the block lifted): retry.
    assert.deepEqual(await retryIncident(db, incident.id, 'admin'), { retried: true, kind: 'delivery' });
    assert.equal((await db('incidents').where({ id: incident.id }).first()).status, 'resolved');
    await box.drain();
    row = await db('outbox').where({ id: b.row.id }).first();
    assert.equal(row.status, 'sent');
    assert.equal(fake.messages.length, before + 2);
  });
});

describe('GET /api/sms', () => {
  test('admins and inspectors see the SMS log, with filters; clerks are refused', async () => {
    const res = await as(app, admin, { method: 'GET', url: '/api/sms?pageSize=200' });
    assert.equal(res.statusCode, 200, res.body);
    const page = res.json();
    assert.ok(page.total >= 5);
    const first = page.items.find((m: { vars: Record<string, string> }) => m.vars.number === '370100-2026-000001');
    assert.equal(first.to, '+8613800000005');
    assert.equal(first.template, 'overdue');
    assert.match(first.text, /政务服务网食品经营许可的业务办理已经超时/);
    assert.equal(first.status, 'sent');
    assert.equal(first.provider, 'twilio');
    assert.match(first.providerRef, /^SM/);
    assert.equal(first.attempts, 1);
    assert.ok(first.sentAt && first.createdAt);
    const pending = page.items.find((m: { vars: Record<string, string>; status: string }) => m.vars.number === '370100-2026-000011');
    assert.equal(pending.status, 'pending');
    assert.match(pending.text, /370100-2026-000011/, 'text rendered for unsent messages');
    assert.match(pending.lastError, /quiet hours/);

    const only = await as(app, inspector, { method: 'GET', url: `/api/sms?instanceId=${first.instanceId}` });
    assert.equal(only.statusCode, 200);
    assert.deepEqual(only.json().items.map((m: { id: number }) => m.id), [first.id]);
    const pend = (await as(app, admin, { method: 'GET', url: '/api/sms?status=pending' })).json();
    assert.ok(pend.items.length >= 1 && pend.items.every((m: { status: string }) => m.status === 'pending'));
    assert.equal((await as(app, admin, { method: 'GET', url: '/api/sms?status=lost' })).statusCode, 400);

    assert.equal((await as(app, clerk, { method: 'GET', url: '/api/sms' })).statusCode, 403);
    assert.equal((await app.inject({ method: 'GET', url: '/api/sms' })).statusCode, 401);
  });
});
