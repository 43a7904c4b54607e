import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { VirtualClock } from './support/clock.js';
import { clockedApiApp, login, as, type ClockedApi, type Session } from './support/api.js';
import type { TimerScheduler } from '../src/engine/scheduler.js';
import type { OutboxDispatcher } from '../src/engine/outbox.js';
import type { SmsProvider } from '../src/notify/sms.js';
import type { Db } from '../src/db/database.js';

let world: ClockedApi;
let db: Db;
let app: FastifyInstance;
let clock: VirtualClock;
let scheduler: TimerScheduler;
let outbox: OutboxDispatcher;
let admin: Session, market: Session, health: Session, inspector: Session;
const sent: Array<{ to: string; text: string }> = [];
const sms: SmsProvider = { name: 'test', send: async (m, key) => { sent.push({ to: m.to, text: m.text }); return { provider: 'test', providerId: key, text: m.text, status: 'delivered' }; } };
const work = mkdtempSync(path.join(tmpdir(), 'duban-letters-'));

before(async () => {
  world = await clockedApiApp('duban_letters', { sms });
  ({ db, clock, app, scheduler, outbox } = world);
  [admin, market, health, inspector] = await Promise.all(['admin', 'market.clerk', 'health.clerk', 'inspector'].map((u) => login(app, u)));
});
after(async () => {
  await world.close();
  rmSync(work, { recursive: true, force: true });
});

const LETTER = {
  kind: 'recommendation', subject: '市场监督管理局食品经营许可办理不满意评价', recipientDepartmentId: 'market',
  source: '“好差评”系统推送的不满意评价(办件编号 TQ20261201000007)。', problems: '窗口人员未一次性告知所需材料,申请人往返两次。',
  recommendations: '原因:业务培训不足。建议:一、落实一次性告知制度;二、开展专项培训。', caseNumber: 'TQ20261201000007',
};

function issue(s: Session, body: Record<string, unknown> = {}) {
  return as(app, s, { method: 'POST', url: '/api/letters', payload: { ...LETTER, ...body } });
}

function year(): number {
  return Number(new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 4));
}

describe('numbered letters', () => {
  test('an inspector issues a 纪检监察建议书: 文号 天衢纪建〔year〕1号, title 关于…的纪检监察建议, audited', async () => {
    const r = await issue(inspector);
    assert.equal(r.statusCode, 201, r.body);
    const l = r.json();
    assert.equal(l.number, `天衢纪建〔${year()}〕1号`);
    assert.equal(l.title, `关于${LETTER.subject}的纪检监察建议`);
    assert.equal(l.recipient, '市场监督管理局');
    assert.equal(l.office, '天衢新区纪检监察工委');
    assert.deepEqual(l.cc, ['天衢新区行政审批部']);
    assert.ok(new Date(l.replyBy).getTime() > Date.now());
    const audit = (await as(app, admin, { method: 'GET', url: `/api/audit?action=letter.issued&entityId=${encodeURIComponent(l.number)}` })).json();
    assert.equal(audit.items.length, 1);
    assert.equal(audit.items[0].actor, 'inspector');
  });

  test('serials per office, kind and year have no gaps, also when issued concurrently and after a refused issue', async () => {
    const refused = await issue(inspector, { recipientDepartmentId: 'nowhere' });
    assert.equal(refused.statusCode, 400);
    assert.match(String(refused.headers['content-type']), /problem\+json/);
    const many = await Promise.all(Array.from({ length: 8 }, () => issue(inspector)));
    for (const r of many) assert.equal(r.statusCode, 201, r.body);
    const serials = many.map((r) => r.json().serial).sort((a, b) => a - b);
    assert.deepEqual(serials, [2, 3, 4, 5, 6, 7, 8, 9]);
    const other = await issue(inspector, { kind: 'reminder' });
    assert.equal(other.json().number, `天衢纪提〔${year()}〕1号`, 'each kind counts on its own');
    assert.equal(other.json().title, `关于${LETTER.subject}的提醒函`);
  });

  test('the .docx opens with a reader and carries the 文号, the case number and the four parts; the print page escapes text', async () => {
    const l = (await issue(inspector, { subject: '<script>alert(1)</script>测试' })).json();
    const docx = await as(app, market, { method: 'GET', url: `/api/letters/${l.id}/docx` });
    assert.equal(docx.statusCode, 200);
    assert.match(String(docx.headers['content-type']), /wordprocessingml/);
    const file = path.join(work, 'letter.docx');
    writeFileSync(file, docx.rawPayload);
    const xml = execFileSync('unzip', ['-p', file, 'word/document.xml']).toString('utf8');
    for (const s of [l.number, 'TQ20261201000007', '一、问题来源', '二、存在的问题', '三、原因分析和建议措施', '四、回复时限', '市场监督管理局:', '天衢新区纪检监察工委', '抄送']) {
      assert.ok(xml.includes(s), `document.xml contains ${s}`);
    }
    assert.ok(xml.includes('&lt;script&gt;'), 'text is escaped in the XML');
    const page = await as(app, inspector, { method: 'GET', url: `/api/letters/${l.id}/print` });
    assert.equal(page.statusCode, 200);
    assert.ok(page.body.includes(l.number));
    assert.ok(!page.body.includes('<script>'), 'no markup from the text');
  });

  test('an issued letter is immutable: the database refuses an edit or a delete', async () => {
    const l = await db('letters').first('id', 'number');
    await assert.rejects(db('letters').where({ id: l.id }).update({ title: '改过的标题' }), /immutable/);
    await assert.rejects(db('letters').where({ id: l.id }).delete(), /cannot be deleted/);
    assert.equal((await db('letters').where({ id: l.id }).first()).number, l.number);
  });

  test('roles and departments: clerks cannot issue; another department’s letter is a 404; the addressee replies once', async () => {
    const l = (await issue(inspector)).json();
    assert.equal((await issue(market)).statusCode, 403);
    assert.equal((await issue(inspector, { source: 'a\u0000b' })).statusCode, 400);
    for (const url of [`/api/letters/${l.id}`, `/api/letters/${l.id}/docx`, `/api/letters/${l.id}/print`]) {
      assert.equal((await as(app, health, { method: 'GET', url })).statusCode, 404, url);
    }
    assert.equal((await as(app, health, { method: 'POST', url: `/api/letters/${l.id}/reply`, payload: { text: '已整改' } })).statusCode, 404);
    assert.equal((await as(app, inspector, { method: 'POST', url: `/api/letters/${l.id}/reply`, payload: { text: '已整改' } })).statusCode, 403);
    const list = (await as(app, health, { method: 'GET', url: '/api/letters' })).json();
    assert.equal(list.total, 0, 'health sees none of market’s letters');
    const r = await as(app, market, { method: 'POST', url: `/api/letters/${l.id}/reply`, payload: { text: '已落实一次性告知制度并完成培训。' } });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.json().status, 'replied');
    assert.equal(r.json().replyLate, false);
    assert.equal((await as(app, market, { method: 'POST', url: `/api/letters/${l.id}/reply`, payload: { text: '再次回复' } })).statusCode, 409);
    assert.ok((await as(app, market, { method: 'GET', url: '/api/letters?status=replied' })).json().items.some((x: { id: string }) => x.id === l.id));
    assert.equal((await as(app, market, { method: 'GET', url: '/api/letter-kinds' })).json().length, 4);
  });

  test('a missed reply deadline re-alerts the inspector by SMS through the scheduler; a replied letter does not', async () => {
    const open = (await issue(inspector, { replyDays: 1 })).json();
    const answered = (await issue(inspector, { replyDays: 1 })).json();
    await as(app, market, { method: 'POST', url: `/api/letters/${answered.id}/reply`, payload: { text: '已按期回复。' } });
    await outbox.drain(); // starts the reply watches
    assert.ok(await db('timers').where({ instance_id: open.id }).first(), 'a durable timer at the reply deadline');
    await scheduler.drain();
    assert.equal(sent.filter((m) => m.text.includes(open.number)).length, 0, 'nothing before the deadline');
    await clock.advanceTo(new Date(new Date(open.replyBy).getTime() + 1000));
    await scheduler.drain();
    await outbox.drain();
    const alerts = sent.filter((m) => m.text.includes('回复时限已到'));
    assert.deepEqual(alerts.filter((m) => m.text.includes(open.number)).map((m) => m.to), ['+8613800000005']);
    assert.equal(alerts.filter((m) => m.text.includes(answered.number)).length, 0);
    // A day has passed: the sessions of the morning have expired.
    [inspector, market] = await Promise.all(['inspector', 'market.clerk'].map((u) => login(app, u)));
    assert.ok((await as(app, inspector, { method: 'GET', url: `/api/letters/${open.id}` })).json().realertedAt);
    const late = await as(app, market, { method: 'POST', url: `/api/letters/${open.id}/reply`, payload: { text: '迟到的回复。' } });
    assert.equal(late.json().replyLate, true);
    // Draining again sends nothing twice.
    await scheduler.drain();
    await outbox.drain();
    assert.equal(sent.filter((m) => m.text.includes(open.number)).length, 1);
  });
});
