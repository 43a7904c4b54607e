import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import ExcelJS from 'exceljs';
import { createTestDatabase } from './support/db.js';
import { apiApp, login, as, type Session } from './support/api.js';
import { residentIdCheck, usccCheck, isResidentId, isUscc } from '../src/domain/cases/identity.js';
import { TimerScheduler } from '../src/engine/scheduler.js';
import { OutboxDispatcher } from '../src/engine/outbox.js';
import type { Runtime } from '../src/runtime.js';
import type { Db } from '../src/db/database.js';
import { AUDIT_ENTRIES } from './support/audit.js';

let t: Awaited<ReturnType<typeof createTestDatabase>>;
let db: Db;
let app: FastifyInstance;
let runtime: Runtime;
let admin: Session, market: Session, health: Session, inspector: Session, leader: Session;
let scheduler: TimerScheduler;
let outbox: OutboxDispatcher;

const PERSON = (() => { const f = '37140219850101123'; return f + residentIdCheck(f); })();
const COMPANY = (() => { const f = '91371400MA3C12345'; return f + usccCheck(f); })();

before(async () => {
  t = await createTestDatabase();
  db = t.db;
  ({ app, runtime } = await apiApp(db));
  [admin, market, health, inspector, leader] = await Promise.all(['admin', 'market.clerk', 'health.clerk', 'inspector', 'leader'].map((u) => login(app, u)));
  scheduler = new TimerScheduler(db, runtime.engine, { pollMs: 50, concurrency: 1, log: () => undefined });
  outbox = new OutboxDispatcher(db, runtime.services, { pollMs: 50, concurrency: 1, log: () => undefined });
  const items = [
    { code: 'T-1DAY', name: '测试事项(1个工作日)', departmentId: 'market', promisedDays: 1, statutoryDays: 20 },
    { code: 'T-5DAY', name: '测试事项(5个工作日)', departmentId: 'market', promisedDays: 5, statutoryDays: 20 },
    { code: 'T-20DAY', name: '食品经营许可(测试)', departmentId: 'market', promisedDays: 20, statutoryDays: 20 },
  ];
  for (const item of items) {
    const r = await as(app, admin, { method: 'POST', url: '/api/items', payload: item });
    assert.equal(r.statusCode, 201, r.body);
  }
});
after(async () => {
  await app.close();
  await t.drop();
});

function xlsxRows(ws: ExcelJS.Worksheet): unknown[] {
  const out: unknown[] = [];
  ws.eachRow((row, n) => { if (n > 3) out.push(row.values); });
  return out;
}

function intake(s: Session, body: Record<string, unknown>) {
  return as(app, s, { method: 'POST', url: '/api/cases', payload: { applicantName: '张三', applicantType: 1, idType: 'resident_id', idNumber: PERSON, phone: '+8613800001111', ...body } });
}

async function fingerprint(): Promise<string> {
  const { rows } = await db.raw(`SELECT (SELECT count(*) FROM cases) || ',' || (SELECT count(*) FROM process_instances) || ',' || (SELECT count(*) FROM case_suspensions)
    || ',' || (SELECT count(*) FROM ${AUDIT_ENTRIES} a) || ',' || (SELECT string_agg(status || promised_at::text, ',' ORDER BY id) FROM cases) AS f`);
  return rows[0].f;
}

describe('identity numbers', () => {
  test('resident IDs and unified social credit codes are checked by their check character', () => {
    assert.ok(isResidentId('11010519491231002X'));
    assert.ok(!isResidentId('110105194912310021'));
    assert.ok(!isResidentId('110105194902300021'.slice(0, 17) + residentIdCheck('11010519490230002')), 'no 30 February');
    assert.ok(isUscc('91350100M000100Y43'));
    assert.ok(!isUscc('91350100M000100Y44'));
  });
});

describe('working-day deadlines on real dates', () => {
  test('received 2026-09-30 with 1 working day is due 2026-10-08; 2026-09-28 with 5 is due 2026-10-10 (Saturday make-up day)', async () => {
    const a = await intake(admin, { itemCode: 'T-1DAY', receivedAt: '2026-09-30T10:00:00+08:00' });
    assert.equal(a.statusCode, 201, a.body);
    assert.equal(a.json().promisedAt, '2026-10-08T16:00:00.000Z', 'end of 2026-10-08 in Shanghai');
    assert.match(a.json().number, /^TQ20260930\d{6}$/);
    const b = await intake(admin, { itemCode: 'T-5DAY', receivedAt: '2026-09-28T09:00:00+08:00' });
    assert.equal(b.json().promisedAt, '2026-10-10T16:00:00.000Z');
    // Both deadlines have passed: the cases are red and were escalated at once.
    assert.equal(b.json().light, 'red');
    assert.ok(b.json().remaining.overdue);
  });

  test('a deadline in a year without official data is computed Monday–Friday and flagged', async () => {
    const r = await intake(admin, { itemCode: 'T-20DAY', receivedAt: '2026-12-20T10:00:00+08:00' });
    assert.equal(r.json().calendarConfirmed, false);
  });

  test('a suspension of 3 working days moves the deadline and the pending timers by 3 working days', async () => {
    const c = (await intake(market, { itemCode: 'T-20DAY' })).json();
    const timersBefore = await db('timers').where({ instance_id: c.id }).orderBy('element_id').select('element_id', 'due_at');
    assert.equal(timersBefore.length, 2, 'warning and deadline timers');
    const s = await as(app, market, { method: 'POST', url: `/api/cases/${c.id}/suspend`, payload: { kind: 'supplement', reason: '申请材料不齐全' } });
    assert.equal(s.statusCode, 200, s.body);
    assert.equal(s.json().light, 'suspended');
    // Let three working days pass while suspended.
    const calendar = await runtime.calendars.get();
    const start = calendar.shiftByWorkingDays(new Date(), -3);
    await db('process_instances').where({ id: c.id }).update({ suspended_at: start });
    await db('case_suspensions').where({ case_id: c.id }).update({ started_at: start });
    const r = await as(app, market, { method: 'POST', url: `/api/cases/${c.id}/resume`, payload: { note: '材料已补齐' } });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.json().promisedAt, calendar.shiftByWorkingDays(new Date(c.promisedAt), 3).toISOString());
    assert.equal(r.json().suspendedDays, 3);
    const timersAfter = await db('timers').where({ instance_id: c.id }).orderBy('element_id').select('element_id', 'due_at');
    for (const [i, before] of timersBefore.entries()) {
      assert.equal(new Date(timersAfter[i].due_at).toISOString(), calendar.shiftByWorkingDays(new Date(before.due_at), 3).toISOString(), before.element_id);
    }
    const detail = await as(app, market, { method: 'GET', url: `/api/cases/${c.id}` });
    assert.equal(detail.json().suspensions[0].workingDays, 3);
    const history = await as(app, market, { method: 'GET', url: `/api/process-instances/${c.id}` });
    assert.ok(history.json().history.some((h: { kind: string }) => h.kind === 'instance.resumed'));
  });

  test('a holiday added to the calendar moves open deadlines and their timers; removing it moves them back; item edits do not', async () => {
    const c = (await intake(market, { itemCode: 'T-5DAY' })).json();
    const calendar = await runtime.calendars.get();
    const holiday = calendar.addWorkingDays(new Date(), 2).dueDay; // a working day inside the case's 5
    const timers = async () => (await db('timers').where({ instance_id: c.id }).orderBy('due_at').select('due_at')).map((r) => new Date(r.due_at).toISOString());
    const before = await timers();
    assert.deepEqual(before, [c.warningAt, c.promisedAt].sort(), 'the warning and deadline timers are due at the case\'s times');

    const put = await as(app, admin, { method: 'PUT', url: `/api/calendar/days/${holiday}`, payload: { kind: 'holiday', note: '临时调休(测试)' } });
    assert.equal(put.statusCode, 200, put.body);
    assert.ok(put.json().recomputedCases >= 1);
    const moved = (await as(app, market, { method: 'GET', url: `/api/cases/${c.id}` })).json();
    assert.equal(moved.promisedAt, calendar.shiftByWorkingDays(new Date(c.promisedAt), 1).toISOString(), 'one working day later');
    assert.deepEqual(await timers(), [moved.warningAt, moved.promisedAt].sort(), 'the timers moved with the deadline');
    const audit = (await as(app, admin, { method: 'GET', url: `/api/audit?action=case.deadline.recomputed&entityId=${c.number}` })).json();
    assert.equal(audit.items[0].after.promisedAt, moved.promisedAt);
    assert.ok((await as(app, market, { method: 'GET', url: `/api/process-instances/${c.id}` })).json().history.some((h: { kind: string }) => h.kind === 'instance.retimed'));

    // The promise made at intake stands: a later item edit is not applied to the case.
    assert.equal((await as(app, admin, { method: 'PATCH', url: '/api/items/T-5DAY', payload: { promisedDays: 3 } })).statusCode, 200);
    assert.equal((await runtime.cases.recomputeDeadlines('test')).changed, 0, 'recomputing again changes nothing');
    assert.equal((await as(app, admin, { method: 'DELETE', url: `/api/calendar/days/${holiday}` })).statusCode, 204);
    const back = (await as(app, market, { method: 'GET', url: `/api/cases/${c.id}` })).json();
    assert.deepEqual([back.promisedAt, back.warningAt], [c.promisedAt, c.warningAt]);
    assert.deepEqual(await timers(), before);
    assert.equal((await as(app, admin, { method: 'PATCH', url: '/api/items/T-5DAY', payload: { promisedDays: 5 } })).statusCode, 200);
  });
});

describe('lights and the supervision loop', () => {
  test('green, yellow and red by the warning rule and the clock', async () => {
    const calendar = await runtime.calendars.get();
    const green = (await intake(admin, { itemCode: 'T-20DAY' })).json();
    assert.equal(green.light, 'green');
    assert.ok(green.remaining.workingDays >= 18);
    const yellowAt = calendar.shiftByWorkingDays(new Date(), -5);
    const yellow = (await intake(admin, { itemCode: 'T-5DAY', receivedAt: yellowAt.toISOString() })).json();
    assert.equal(yellow.light, 'yellow', JSON.stringify(yellow));
    const list = await as(app, leader, { method: 'GET', url: '/api/cases?light=yellow' });
    assert.ok(list.json().items.some((c: { id: string }) => c.id === yellow.id));
    const warned = await db('cases').where({ id: yellow.id }).first('warned_at');
    assert.ok(warned.warned_at, 'the yellow timer fired and warned the department');
  });

  test('overdue → supervision record, inspector task and one SMS; urge; the department completes; inspector closes', async () => {
    const c = (await intake(admin, { itemCode: 'T-5DAY', receivedAt: '2026-09-28T09:00:00+08:00' })).json();
    const sup = await db('supervisions').where({ case_id: c.id }).first();
    assert.ok(sup, 'a supervision record (督办件)');
    const inspectorTask = await db('tasks').where({ instance_id: c.id, element_id: 'supervise', status: 'open' }).first();
    assert.deepEqual(inspectorTask.candidate_groups, ['inspection']);
    const sms = await db('outbox').where({ instance_id: c.id, service: 'sms' }).whereRaw(`payload->>'template' = 'overdue'`);
    assert.equal(sms.length, 1, 'one overdue SMS to the inspector on duty');
    assert.equal(sms[0].payload.to, '+8613800000005');
    await outbox.drain();
    assert.equal((await db('outbox').where({ id: sms[0].id }).first()).status, 'sent');

    const queue = await as(app, inspector, { method: 'GET', url: '/api/supervisions?status=open' });
    assert.ok(queue.json().items.some((s: { caseNumber: string }) => s.caseNumber === c.number));
    // The escalation queue is searched by case number or applicant and sorted by any column it shows.
    const found = (await as(app, inspector, { method: 'GET', url: `/api/supervisions?q=${c.number}` })).json().items as Array<{ caseNumber: string }>;
    assert.deepEqual(found.map((s) => s.caseNumber), [c.number]);
    assert.ok((await as(app, inspector, { method: 'GET', url: `/api/supervisions?q=${encodeURIComponent('张三')}&itemCode=T-5DAY&sort=caseNumber&order=desc` })).json().items.some((s: { caseNumber: string }) => s.caseNumber === c.number));
    assert.equal((await as(app, inspector, { method: 'GET', url: '/api/supervisions?q=%25' })).json().total, 0);
    assert.equal((await as(app, inspector, { method: 'POST', url: `/api/supervisions/${sup.id}/close`, payload: { result: '已办结' } })).statusCode, 409, 'not before the case is done');
    const urge = await as(app, inspector, { method: 'POST', url: `/api/supervisions/${sup.id}/urge`, payload: { content: '请于今日内办结并回告', replyBy: new Date(Date.now() + 86_400_000).toISOString() } });
    assert.equal(urge.statusCode, 201, urge.body);
    assert.equal((await as(app, market, { method: 'POST', url: `/api/supervisions/${sup.id}/urge`, payload: { content: 'x y' } })).statusCode, 403);
    const follow = await as(app, inspector, { method: 'POST', url: `/api/supervisions/${sup.id}/follow-up`, payload: { at: new Date(Date.now() + 1000).toISOString() } });
    assert.equal(follow.statusCode, 204, follow.body);

    for (const step of ['accept', 'review', 'decide', 'conclude']) {
      const task = (await as(app, market, { method: 'GET', url: `/api/tasks?instanceId=${c.id}` })).json().items.find((x: { elementId: string }) => x.elementId === step);
      assert.ok(task, step);
      assert.equal(task.caseNumber, c.number);
      assert.equal(task.light, 'red', 'tasks show their case’s light');
      assert.equal(task.remaining.overdue, true);
      const r = await as(app, market, { method: 'POST', url: `/api/tasks/${task.id}/complete`, payload: { variables: step === 'decide' ? { decision: '准予许可' } : {} } });
      assert.equal(r.statusCode, 200, r.body);
    }
    const done = (await as(app, market, { method: 'GET', url: `/api/cases/${c.id}` })).json();
    assert.equal(done.status, 'completed');
    assert.equal(done.light, 'done-late');
    assert.equal(done.result, '准予许可');
    const closed = await as(app, inspector, { method: 'POST', url: `/api/supervisions/${sup.id}/close`, payload: { result: '经督办已办结,责令部门说明超期原因' } });
    assert.equal(closed.statusCode, 204, closed.body);
    const s = (await as(app, inspector, { method: 'GET', url: `/api/supervisions/${sup.id}` })).json();
    assert.equal(s.status, 'closed');
    assert.ok(s.hoursToClose !== null);
    assert.equal(s.urgingNotices.length, 1);
    assert.equal((await db('process_instances').where({ id: c.id }).first()).status, 'completed');

    await new Promise((r) => setTimeout(r, 1100));
    await scheduler.drain();
    const followUps = await db('outbox').where({ service: 'sms' }).whereRaw(`payload->>'template' = 'followup'`);
    assert.equal(followUps.length, 0, 'a closed supervision sends no follow-up reminder');
  });
});

describe('cancelling', () => {
  test('cancelling a case’s process ends the case and its supervision', async () => {
    const c = (await intake(admin, { itemCode: 'T-1DAY', receivedAt: '2026-10-09T10:00:00+08:00' })).json();
    const r = await as(app, admin, { method: 'POST', url: `/api/process-instances/${c.id}/cancel`, payload: { reason: '申请人撤回申请' } });
    assert.equal(r.statusCode, 204);
    const after = (await as(app, admin, { method: 'GET', url: `/api/cases/${c.id}` })).json();
    assert.equal(after.status, 'cancelled');
    assert.equal(after.light, 'cancelled');
    assert.equal(after.supervision.status, 'closed');
  });
});

describe('follow-ups and the CLI', () => {
  test('a follow-up date re-alerts the inspectors of an open supervision by SMS', async () => {
    const c = (await intake(admin, { itemCode: 'T-1DAY', receivedAt: '2026-10-09T10:00:00+08:00' })).json();
    const sup = await db('supervisions').where({ case_id: c.id }).first();
    const r = await as(app, inspector, { method: 'POST', url: `/api/supervisions/${sup.id}/follow-up`, payload: { at: new Date(Date.now() + 500).toISOString() } });
    assert.equal(r.statusCode, 204, r.body);
    await new Promise((res) => setTimeout(res, 700));
    await scheduler.drain();
    const reminders = await db('outbox').where({ service: 'sms' }).whereRaw(`payload->>'template' = 'followup'`).whereRaw(`payload->'vars'->>'number' = ?`, [c.number]);
    assert.equal(reminders.length, 1);
    assert.equal((await as(app, inspector, { method: 'POST', url: `/api/supervisions/${sup.id}/follow-up`, payload: { at: '2020-01-01T00:00:00Z' } })).statusCode, 400);
  });

  test('duban case intake takes in a case from the command line', async () => {
    const { execFile } = await import('node:child_process');
    const out = await new Promise<string>((resolve, reject) => execFile(process.execPath,
      ['--import', 'tsx', 'src/cli.ts', 'case', 'intake', '--item', 'T-20DAY', '--applicant', '王五', '--id', PERSON, '--phone', '+8613800002222'],
      { env: { ...process.env, DATABASE_URL: t.url } }, (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout))));
    const number = /^(TQ\d{14})/.exec(out.trim())?.[1];
    assert.ok(number, out);
    const row = await db('cases').where({ number }).first();
    assert.equal(row.applicant_name, '王五');
    assert.equal(row.status, 'handling');
  });
});

describe('bad input changes nothing', () => {
  test('unknown item, invalid ID numbers, missing fields, suspending a finished case', async () => {
    const before = await fingerprint();
    const unknown = await intake(market, { itemCode: 'NOPE-1' });
    assert.equal(unknown.statusCode, 404);
    const badId = await intake(market, { itemCode: 'T-5DAY', idNumber: PERSON.slice(0, 17) + (PERSON[17] === '1' ? '2' : '1') });
    assert.equal(badId.statusCode, 400);
    assert.match(badId.json().detail, /居民身份证号码无效/);
    const badUscc = await intake(market, { itemCode: 'T-5DAY', applicantType: 2, idType: 'uscc', idNumber: COMPANY.slice(0, 17) + 'I' });
    assert.equal(badUscc.statusCode, 400);
    const mismatch = await intake(market, { itemCode: 'T-5DAY', applicantType: 2, idType: 'resident_id' });
    assert.equal(mismatch.statusCode, 400);
    const missing = await as(app, market, { method: 'POST', url: '/api/cases', payload: { itemCode: 'T-5DAY' } });
    assert.equal(missing.statusCode, 400);
    assert.ok(missing.json().fields.length >= 1);
    const backdate = await intake(market, { itemCode: 'T-5DAY', receivedAt: '2026-01-01T00:00:00Z' });
    assert.equal(backdate.statusCode, 403);
    const otherDept = await intake(health, { itemCode: 'T-5DAY' });
    assert.equal(otherDept.statusCode, 409);
    for (const r of [unknown, badId, badUscc, mismatch, missing, backdate, otherDept]) assert.match(String(r.headers['content-type']), /problem\+json/);
    assert.equal(await fingerprint(), before);

    const finished = await db('cases').where({ status: 'completed' }).first('id');
    const before2 = await fingerprint();
    const susp = await as(app, market, { method: 'POST', url: `/api/cases/${finished.id}/suspend`, payload: { kind: 'supplement', reason: '补正' } });
    assert.equal(susp.statusCode, 409);
    const resume = await as(app, market, { method: 'POST', url: `/api/cases/${finished.id}/resume`, payload: {} });
    assert.equal(resume.statusCode, 409);
    assert.equal((await as(app, health, { method: 'POST', url: `/api/cases/${finished.id}/suspend`, payload: { kind: 'supplement', reason: '补正' } })).statusCode, 404);
    assert.equal(await fingerprint(), before2);
  });
});

describe('catalogue, roster and statistics', () => {
  test('items are listed and changed by admins only', async () => {
    const list = await as(app, market, { method: 'GET', url: '/api/items?departmentId=market&pageSize=100' });
    assert.ok(list.json().items.some((i: { code: string }) => i.code === 'T-5DAY'));
    assert.equal((await as(app, market, { method: 'GET', url: '/api/items/T-5DAY' })).json().promisedDays, 5);
    assert.equal((await as(app, market, { method: 'PATCH', url: '/api/items/T-5DAY', payload: { promisedDays: 4 } })).statusCode, 403);
    const patched = await as(app, admin, { method: 'PATCH', url: '/api/items/T-5DAY', payload: { warningRule: { kind: 'share', value: 0.8 } } });
    assert.equal(patched.statusCode, 200);
    assert.deepEqual(patched.json().warningRule, { kind: 'share', value: 0.8 });
    assert.equal((await as(app, admin, { method: 'POST', url: '/api/items', payload: { code: 'T-BAD', name: 'x', departmentId: 'market', promisedDays: 30, statutoryDays: 20 } })).statusCode, 400);
  });

  test('the duty roster decides who gets the overdue SMS', async () => {
    const second = await as(app, admin, { method: 'POST', url: '/api/users', payload: { username: 'inspector2', displayName: '纪检二', password: 'secret-pass-9', departmentId: 'inspection', roles: ['inspector'], phone: '+8613800000099' } });
    const today = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
    const put = await as(app, admin, { method: 'PUT', url: `/api/roster/${today}`, payload: { entries: [{ userId: second.json().id, departmentId: 'market' }] } });
    assert.equal(put.statusCode, 204, put.body);
    assert.equal((await as(app, admin, { method: 'PUT', url: `/api/roster/${today}`, payload: { entries: [{ userId: (await db('users').where({ username: 'leader' }).first()).id }] } })).statusCode, 400);
    const roster = await as(app, inspector, { method: 'GET', url: `/api/roster?from=${today}&to=${today}` });
    assert.equal(roster.json()[0].username, 'inspector2');
    const c = (await intake(admin, { itemCode: 'T-1DAY', receivedAt: '2026-09-30T10:00:00+08:00' })).json();
    const sms = await db('outbox').where({ instance_id: c.id }).whereRaw(`payload->>'template' = 'overdue'`);
    assert.deepEqual(sms.map((m) => m.payload.to), ['+8613800000099']);
  });

  test('statistics by department, item and month, and as .xlsx', async () => {
    const dept = await as(app, leader, { method: 'GET', url: '/api/stats/cases?groupBy=department&from=2026-01-01&to=2027-12-31' });
    assert.equal(dept.statusCode, 200);
    const market = dept.json().rows.find((r: { key: string }) => r.key === 'market');
    assert.equal(market.received, await db('cases').where({ department_id: 'market' }).count('* as n').first().then((r) => Number(r!.n)));
    assert.ok(market.escalations >= 2);
    assert.ok(market.completed >= 1);
    const byMonth = await as(app, inspector, { method: 'GET', url: '/api/stats/cases?groupBy=month&from=2026-01-01&to=2027-12-31' });
    assert.ok(byMonth.json().rows.some((r: { key: string }) => r.key === '2026-09'));
    const xlsx = await as(app, leader, { method: 'GET', url: '/api/stats/cases.xlsx?groupBy=item&from=2026-01-01&to=2027-12-31' });
    assert.equal(xlsx.statusCode, 200);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(xlsx.rawPayload as unknown as ArrayBuffer);
    const ws = wb.worksheets[0]!;
    // A title, the period ([from, to): to=2027-12-31 ends on the 30th) and the date it was made, the header, the rows and a totals row.
    assert.equal(String(ws.getRow(1).getCell(1).value), '办件统计(按事项)');
    assert.match(String(ws.getRow(2).getCell(1).value), /^统计期间:2026-01-01 至 2027-12-30 +制表时间:\d{4}-\d{2}-\d{2} \d{2}:\d{2}$/);
    assert.match(String(ws.getRow(3).getCell(1).value), /分组/);
    const rows = xlsxRows(ws);
    const byItem = (await as(app, leader, { method: 'GET', url: '/api/stats/cases?groupBy=item&from=2026-01-01&to=2027-12-31' })).json().rows as Array<{ received: number }>;
    assert.equal(rows.length, byItem.length + 1);
    const total = ws.getRow(ws.rowCount);
    assert.match(String(total.getCell(1).value), /合计/);
    assert.equal(Number(total.getCell(2).value), byItem.reduce((a, r) => a + r.received, 0));
    // The dashboard's light counts come from SQL and agree with the case list.
    const lights = (await as(app, leader, { method: 'GET', url: '/api/stats/lights' })).json();
    for (const light of ['green', 'yellow', 'red', 'suspended'] as const) {
      const list = (await as(app, leader, { method: 'GET', url: `/api/cases?light=${light}&pageSize=1` })).json();
      assert.equal(lights[light], list.total, light);
    }
    assert.equal((await as(app, leader, { method: 'GET', url: '/api/stats/cases?from=2027-01-01&to=2026-01-01' })).statusCode, 400);
  });
});
