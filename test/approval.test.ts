import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import type { VirtualClock } from './support/clock.js';
import { clockedApiApp, login, as, type ClockedApi, type Session } from './support/api.js';
import { residentIdCheck } from '../src/domain/cases/identity.js';
import type { TimerScheduler } from '../src/engine/scheduler.js';
import type { Runtime } from '../src/runtime.js';
import type { Db } from '../src/db/database.js';
import { sealed } from './support/audit.js';

/**
 * Issue 11, the approval procedure (acceptance 1 and 2): 不予受理, 补正 stopping and restarting the clock by
 * itself, 退回 to the previous step, 不予许可 with its GB/T 39046 code, 特别程序, a lapsed 补正, and remaining
 * time frozen while stopped. Every step goes through HTTP with a real session; timers fire through the
 * production scheduler on a virtual clock that moves JavaScript's Date and PostgreSQL's now() together.
 */

let world: ClockedApi;
let db: Db;
let app: FastifyInstance;
let runtime: Runtime;
let clock: VirtualClock;
let scheduler: TimerScheduler;
let admin: Session, market: Session, health: Session;

const PERSON = (() => { const f = '37140219850101123'; return f + residentIdCheck(f); })();

interface CaseJson {
  id: string; number: string; status: string; light: string; result: string | null; resultCode: string | null; promisedAt: string; warningAt: string;
  remaining: { workingDays: number; hours: number; overdue: boolean; officeHours: number }; suspendedDays: number; deadlineDay: string; deadlineText: string;
  suspensions?: Array<{ kind: string; reason: string; workingDays: number | null; endedAt: string | null; byProcess: boolean }>;
}
interface TaskJson { id: string; elementId: string; dueAt: string | null; caseNumber: string | null; light: string | null }

before(async () => {
  world = await clockedApiApp('duban_appr');
  ({ db, clock, app, runtime, scheduler } = world);
  [admin, market, health] = await Promise.all(['admin', 'market.clerk', 'health.clerk'].map((u) => login(app, u)));
  for (const item of [
    { code: 'A-5DAY', name: '食品经营许可(审批测试)', departmentId: 'market', promisedDays: 5, statutoryDays: 20 },
    { code: 'A-SEC', name: '演练事项(秒)', departmentId: 'market', promisedDays: 8, limitUnit: 'second', warningRule: { kind: 'days', value: 4 } },
    { code: 'A-DRILL', name: '演练事项(分钟)', departmentId: 'market', promisedDays: 30, limitUnit: 'minute', warningRule: { kind: 'days', value: 5 } },
  ]) {
    const r = await as(app, admin, { method: 'POST', url: '/api/items', payload: item });
    assert.equal(r.statusCode, 201, r.body);
  }
  scheduler.start();
});
after(() => world.close());

async function intake(itemCode = 'A-5DAY', applicantName = '张三'): Promise<CaseJson> {
  const r = await as(app, market, { method: 'POST', url: '/api/cases', payload: { itemCode, applicantName, applicantType: 1, idType: 'resident_id', idNumber: PERSON, phone: '+8613800001111' } });
  assert.equal(r.statusCode, 201, r.body);
  return r.json();
}

async function getCase(id: string, s = market): Promise<CaseJson> {
  const r = await as(app, s, { method: 'GET', url: `/api/cases/${id}` });
  assert.equal(r.statusCode, 200, r.body);
  return r.json();
}

async function openTasks(instanceId: string): Promise<TaskJson[]> {
  const r = await as(app, market, { method: 'GET', url: `/api/tasks?instanceId=${instanceId}` });
  assert.equal(r.statusCode, 200, r.body);
  return r.json().items;
}

async function complete(instanceId: string, elementId: string, variables: Record<string, unknown>) {
  const task = (await openTasks(instanceId)).find((x) => x.elementId === elementId);
  assert.ok(task, `an open ${elementId} task; open: ${(await openTasks(instanceId)).map((x) => x.elementId).join()}`);
  const r = await as(app, market, { method: 'POST', url: `/api/tasks/${task.id}/complete`, payload: { variables } });
  assert.equal(r.statusCode, 200, r.body);
  return r.json();
}

async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>): Promise<T> {
  for (let i = 0; i < 400; i++) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Move the virtual clock; sessions expire over days, so everyone logs in again (as people do next morning). */
async function moveClockTo(at: Date | number): Promise<void> {
  await clock.advanceTo(at);
  [admin, market, health] = await Promise.all(['admin', 'market.clerk', 'health.clerk'].map((u) => login(app, u)));
}

const timersOf = async (id: string) => (await db('timers').where({ instance_id: id }).orderBy('due_at').select('element_id', 'due_at'))
  .map((r) => ({ elementId: r.element_id as string, dueAt: new Date(r.due_at).toISOString() }));

describe('the approval procedure', () => {
  test('不予受理 at intake ends the case with that result and code 1; no deadline timer is left', async () => {
    const c = await intake();
    await complete(c.id, 'accept', { acceptDecision: 'reject', opinion: '申请事项不属于本部门职权范围' });
    const done = await getCase(c.id);
    assert.deepEqual([done.status, done.result, done.resultCode, done.light], ['completed', '不予受理', '1', 'done']);
    assert.deepEqual(await openTasks(c.id), []);
    assert.deepEqual(await timersOf(c.id), []);
  });

  test('一次性告知补正 stops the clock by itself, frozen; the applicant\'s 补正 restarts it at 受理 and the deadline and task due dates move', async () => {
    const c = await intake();
    const [accept] = await openTasks(c.id);
    assert.equal(accept!.dueAt, c.promisedAt, 'the step is due with the case');
    await complete(c.id, 'accept', { acceptDecision: 'supplement', opinion: '缺少营业执照副本', supplementDays: 5 });

    // Stopped by the process, not by a clerk: the light, the open stop, and no deadline timer armed.
    const stopped = await getCase(c.id);
    assert.deepEqual([stopped.status, stopped.light], ['suspended', 'suspended']);
    assert.deepEqual(stopped.suspensions!.map((s) => [s.kind, s.reason, s.endedAt, s.byProcess]), [['supplement', '缺少营业执照副本', null, true]]);
    const tasks = await openTasks(c.id);
    assert.deepEqual(tasks.map((x) => x.elementId), ['supplement']);
    const calendar = await runtime.calendars.get();
    const supplementDue = calendar.addWorkingDays(new Date(), 5).dueAt.toISOString();
    assert.equal(tasks[0]!.dueAt, supplementDue, '补正 is due 5 working days after the notice');
    assert.deepEqual((await timersOf(c.id)).map((x) => x.elementId), ['supplement_timer']);
    // A manual restart cannot bypass the 补正 step.
    assert.equal((await as(app, market, { method: 'POST', url: `/api/cases/${c.id}/resume`, payload: {} })).statusCode, 409);

    // Acceptance 2: while stopped, the remaining time does not change between two reads a minute apart.
    const first = (await getCase(c.id)).remaining;
    await clock.advance(60_000);
    const second = (await getCase(c.id)).remaining;
    assert.deepEqual(second, first);
    assert.equal(first.overdue, false);

    // Two working days later the applicant supplies the material.
    await moveClockTo(calendar.shiftByWorkingDays(new Date(), 2));
    assert.deepEqual((await getCase(c.id)).remaining, first, 'still frozen two working days later');
    await complete(c.id, 'supplement', { supplementNote: '已补交营业执照副本' });
    const resumed = await getCase(c.id);
    const moved = calendar.shiftByWorkingDays(new Date(c.promisedAt), 2).toISOString();
    assert.deepEqual([resumed.status, resumed.promisedAt, resumed.suspendedDays, resumed.suspensions![0]!.workingDays], ['handling', moved, 2, 2]);
    const again = await openTasks(c.id);
    assert.deepEqual(again.map((x) => [x.elementId, x.dueAt]), [['accept', moved]], 'back at 受理, due at the moved deadline');
    const timers = await timersOf(c.id);
    assert.deepEqual(timers.map((x) => x.elementId).sort(), ['deadline_timer', 'warning_timer']);
    assert.equal(timers.find((x) => x.elementId === 'deadline_timer')!.dueAt, moved);
    assert.equal(timers.find((x) => x.elementId === 'warning_timer')!.dueAt, calendar.shiftByWorkingDays(new Date(c.warningAt), 2).toISOString());

    // And on through the line: later steps are due at the moved deadline too.
    await complete(c.id, 'accept', { acceptDecision: 'accept', opinion: '材料齐全,予以受理' });
    assert.deepEqual((await openTasks(c.id)).map((x) => [x.elementId, x.dueAt]), [['review', moved]]);
  });

  test('a 补正 not made within its limit ends the case as 补正不来办结 (code 5), fired by the scheduler', async () => {
    const c = await intake();
    await complete(c.id, 'accept', { acceptDecision: 'supplement', opinion: '缺少场地证明', supplementDays: 1 });
    const [task] = await openTasks(c.id);
    await moveClockTo(new Date(task!.dueAt!).getTime() + 1000);
    const done = await until('the lapsed 补正', async () => { const x = await getCase(c.id); return x.status === 'completed' ? x : null; });
    assert.deepEqual([done.result, done.resultCode], ['补正不来办结', '5']);
    assert.deepEqual(await openTasks(c.id), []);
    assert.ok(done.suspensions![0]!.endedAt, 'the clock stop is closed');
  });

  test('审查 sends the case back to 受理; 决定 sends it back to 审查; 决定 ends it as 不予许可 with code 7', async () => {
    const c = await intake();
    await complete(c.id, 'accept', { acceptDecision: 'accept', opinion: '予以受理' });
    await complete(c.id, 'review', { reviewResult: 'back', opinion: '申请书与营业执照名称不一致' });
    assert.deepEqual((await openTasks(c.id)).map((x) => x.elementId), ['accept'], 'returned to 受理');
    await complete(c.id, 'accept', { acceptDecision: 'accept', opinion: '已更正,予以受理' });
    await complete(c.id, 'review', { reviewResult: 'fail', opinion: '场地不符合要求' });
    await complete(c.id, 'decide', { decision: '退回', opinion: '请补充现场核查意见' });
    assert.deepEqual((await openTasks(c.id)).map((x) => x.elementId), ['review'], 'returned to 审查');
    await complete(c.id, 'review', { reviewResult: 'fail', opinion: '经核查,场地不符合要求' });
    await complete(c.id, 'decide', { decision: '不予许可', opinion: '经营场所不符合食品安全要求' });
    await complete(c.id, 'conclude', { opinion: '不予许可决定书已送达' });
    const done = await getCase(c.id);
    assert.deepEqual([done.status, done.result, done.resultCode], ['completed', '不予许可', '7']);
    const history = (await as(app, market, { method: 'GET', url: `/api/process-instances/${c.id}` })).json().history as Array<{ kind: string; elementId: string | null }>;
    assert.equal(history.filter((h) => h.kind === 'task.completed' && h.elementId === 'accept').length, 2);
  });

  test('特别程序 (专家评审) stops the clock like 补正 and comes back to 审查; 准予许可 ends with code 6', async () => {
    const c = await intake();
    await complete(c.id, 'accept', {});
    await complete(c.id, 'review', { reviewResult: 'expert', opinion: '工艺需专家论证' });
    const stopped = await getCase(c.id);
    assert.equal(stopped.status, 'suspended');
    assert.equal(stopped.suspensions![0]!.kind, 'special');
    assert.match(stopped.suspensions![0]!.reason, /专家评审/);
    assert.deepEqual((await openTasks(c.id)).map((x) => x.elementId), ['special']);
    await complete(c.id, 'special', { specialResult: '专家评审通过' });
    assert.deepEqual((await openTasks(c.id)).map((x) => x.elementId), ['review']);
    assert.equal((await getCase(c.id)).status, 'handling');
    await complete(c.id, 'review', { reviewResult: 'pass', opinion: '审查通过' });
    await complete(c.id, 'decide', { decision: '准予许可', opinion: '同意' });
    await complete(c.id, 'conclude', { opinion: '已办结' });
    const done = await getCase(c.id);
    assert.deepEqual([done.result, done.resultCode], ['准予许可', '6']);
  });

  test('another department cannot act on the procedure\'s tasks', async () => {
    const c = await intake();
    const [task] = await openTasks(c.id);
    const r = await as(app, health, { method: 'POST', url: `/api/tasks/${task!.id}/complete`, payload: { variables: { acceptDecision: 'reject' } } });
    assert.equal(r.statusCode, 404);
    assert.equal((await getCase(c.id)).status, 'handling');
  });
});

describe('time that reads right', () => {
  test('a clerk\'s clock stop moves the open tasks\' due dates and ${deadlineAt} for later steps; remaining time is frozen meanwhile', async () => {
    const c = await intake();
    const s = await as(app, market, { method: 'POST', url: `/api/cases/${c.id}/suspend`, payload: { kind: 'special', reason: '现场核查' } });
    assert.equal(s.statusCode, 200, s.body);
    const first = (await getCase(c.id)).remaining;
    await clock.advance(60_000);
    assert.deepEqual((await getCase(c.id)).remaining, first, 'frozen a minute later');
    const calendar = await runtime.calendars.get();
    await moveClockTo(calendar.shiftByWorkingDays(new Date(), 1));
    const r = await as(app, market, { method: 'POST', url: `/api/cases/${c.id}/resume`, payload: { note: '核查完毕' } });
    assert.equal(r.statusCode, 200, r.body);
    const moved = calendar.shiftByWorkingDays(new Date(c.promisedAt), 1).toISOString();
    assert.equal(r.json().promisedAt, moved);
    const [accept] = await openTasks(c.id);
    assert.equal(accept!.dueAt, moved, 'the open task moved with the case');
    await complete(c.id, 'accept', {});
    const [review] = await openTasks(c.id);
    assert.equal(review!.dueAt, moved, 'a step created after the stop is due at the moved deadline');
  });

  test('a drill (minute limit) counts its clock stop in minutes, not working days', async () => {
    const c = await intake('A-DRILL');
    assert.equal(new Date(c.promisedAt).getTime() - Date.now() <= 30 * 60_000, true);
    await as(app, market, { method: 'POST', url: `/api/cases/${c.id}/suspend`, payload: { kind: 'supplement', reason: '演练:补正' } });
    const stoppedAt = Date.now();
    await clock.advance(3 * 60_000);
    const r = await as(app, market, { method: 'POST', url: `/api/cases/${c.id}/resume`, payload: {} });
    assert.equal(r.statusCode, 200, r.body);
    const units = Math.floor(Date.now() / 60_000) - Math.floor(stoppedAt / 60_000);
    assert.equal(r.json().suspendedDays, units, 'minutes, in the drill\'s own unit');
    assert.equal(new Date(r.json().promisedAt).getTime(), new Date(c.promisedAt).getTime() + units * 60_000);
  });

  test('a seconds drill runs yellow → red → escalated, and the department still completes it', async () => {
    const c = await intake('A-SEC');
    await moveClockTo(new Date(c.promisedAt).getTime() + 1000);
    await until('the escalation', async () => db('supervisions').where({ case_id: c.id }).first());
    await until('the 督办 task', async () => (await db('tasks').where({ instance_id: c.id, element_id: 'supervise' }).first()));
    for (const step of ['accept', 'review', 'decide', 'conclude']) await complete(c.id, step, step === 'decide' ? { decision: '准予许可' } : {});
    assert.equal((await getCase(c.id)).status, 'completed');
  });

  test('the deadline reads as its day; no yellow warning goes to a case already red', async () => {
    const c = await intake();
    const calendar = await runtime.calendars.get();
    const due = calendar.addWorkingDays(new Date(), 5);
    assert.deepEqual([c.deadlineDay, c.deadlineText], [due.dueDay, `${due.dueDay} 24:00`]);
    // A back-dated import is red at once: the overdue alert goes out, the yellow warning does not.
    const r = await as(app, admin, { method: 'POST', url: '/api/cases', payload: { itemCode: 'A-5DAY', applicantName: '李四', applicantType: 1, idType: 'resident_id', idNumber: PERSON, phone: '+8613800002222', receivedAt: calendar.shiftByWorkingDays(new Date(), -10).toISOString() } });
    assert.equal(r.statusCode, 201, r.body);
    const late = r.json() as CaseJson;
    assert.equal(late.light, 'red');
    await until('the escalation', async () => (await getCase(late.id, admin)).number && (await db('supervisions').where({ case_id: late.id }).first()));
    const sms = await db('outbox').where({ instance_id: late.id, service: 'sms' }).select('payload');
    assert.ok(sms.some((m) => m.payload.template === 'overdue'));
    assert.ok(!sms.some((m) => m.payload.template === 'warning'), 'no yellow warning for a red case');
    // The department's work goes on while the case is supervised, and ends it.
    for (const step of ['accept', 'review', 'decide', 'conclude']) await complete(late.id, step, step === 'decide' ? { decision: '准予许可' } : {});
    assert.equal((await getCase(late.id)).status, 'completed');
  });
});

describe('finding things (the task list API)', () => {
  test('a clerk finds a case by applicant name, case number or item; filters by item, light, due date and assignee; sorts by any column', async () => {
    const a = await intake('A-5DAY', '欧阳娜娜');
    const b = await intake('A-5DAY', '上官飞燕');
    const list = async (qs: string, s = market) => {
      const r = await as(app, s, { method: 'GET', url: `/api/tasks?${qs}` });
      assert.equal(r.statusCode, 200, r.body);
      return r.json() as { items: Array<TaskJson & { applicantName: string | null; itemName: string | null }>; total: number };
    };
    const byName = await list(`q=${encodeURIComponent('欧阳')}`);
    assert.deepEqual(byName.items.map((x) => x.caseNumber), [a.number]);
    assert.equal(byName.items[0]!.applicantName, '欧阳娜娜');
    assert.deepEqual((await list(`q=${a.number}`)).items.map((x) => x.caseNumber), [a.number]);
    assert.ok((await list(`q=${encodeURIComponent('审批测试')}`)).items.some((x) => x.caseNumber === b.number), 'by item name');
    // Another department's clerk finds nothing of it.
    assert.equal((await list(`q=${encodeURIComponent('欧阳')}`, health)).total, 0);
    // LIKE wildcards are text, not patterns.
    assert.equal((await list(`q=${encodeURIComponent('%')}`)).total, 0);
    const green = await list('light=green&itemCode=A-5DAY&pageSize=200');
    assert.ok(green.items.some((x) => x.caseNumber === a.number));
    assert.ok(green.items.every((x) => x.light === 'green'));
    const dueDay = new Date(a.promisedAt);
    const window = await list(`dueFrom=${new Date(dueDay.getTime() - 1000).toISOString()}&dueTo=${new Date(dueDay.getTime() + 1000).toISOString()}&pageSize=200`);
    assert.ok(window.items.some((x) => x.caseNumber === a.number));
    assert.ok(window.items.every((x) => x.dueAt === a.promisedAt));
    // The task list's date picker sends Beijing days; the deadline instant is 24:00 of the deadline day, so the day after it.
    const dueDayText = new Date(dueDay.getTime() - 1).toLocaleDateString('sv-SE', { timeZone: 'Asia/Shanghai' });
    const byDays = await list(`dueFrom=${dueDayText}&dueTo=${dueDayText}&pageSize=200`);
    assert.ok(byDays.items.some((x) => x.caseNumber === a.number), `due on ${dueDayText}`);
    assert.equal((await as(app, market, { method: 'GET', url: '/api/tasks?dueFrom=2026-02-30' })).statusCode, 400, 'not a day');
    const sorted = await list('sort=applicantName&order=asc&pageSize=200');
    const names = sorted.items.map((x) => x.applicantName ?? '');
    assert.deepEqual(names, [...names].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)).map((n) => n), 'sorted by applicant in the database');
    for (const sort of ['caseNumber', 'itemName', 'name', 'assignee', 'promisedAt', 'createdAt', 'status', 'light']) assert.equal((await as(app, market, { method: 'GET', url: `/api/tasks?sort=${sort}` })).statusCode, 200, sort);
    assert.equal((await as(app, market, { method: 'GET', url: '/api/tasks?sort=password' })).statusCode, 400);
    assert.equal((await as(app, market, { method: 'GET', url: '/api/tasks?q=a%00b' })).statusCode, 400);

    // Claim, then filter by assignee.
    const [task] = await openTasks(a.id);
    assert.equal((await as(app, market, { method: 'POST', url: `/api/tasks/${task!.id}/claim` })).statusCode, 204);
    const mine = await list('assignee=market.clerk');
    assert.deepEqual(mine.items.map((x) => x.id), [task!.id]);
  });

  test('saved filters are per user', async () => {
    const save = await as(app, market, { method: 'POST', url: '/api/saved-filters', payload: { name: '我的红灯件', query: { light: 'red', assignment: 'mine' } } });
    assert.equal(save.statusCode, 201, save.body);
    const again = await as(app, market, { method: 'POST', url: '/api/saved-filters', payload: { name: '我的红灯件', query: { light: 'yellow' } } });
    assert.equal(again.json().id, save.json().id, 'the same name replaces it');
    const mine = (await as(app, market, { method: 'GET', url: '/api/saved-filters?scope=tasks' })).json();
    assert.deepEqual(mine.map((f: { name: string; query: unknown }) => [f.name, f.query]), [['我的红灯件', { light: 'yellow' }]]);
    assert.deepEqual((await as(app, health, { method: 'GET', url: '/api/saved-filters' })).json(), [], 'another user sees none');
    assert.equal((await as(app, health, { method: 'DELETE', url: `/api/saved-filters/${save.json().id}` })).statusCode, 404, 'nor deletes it');
    assert.equal((await as(app, market, { method: 'POST', url: '/api/saved-filters', payload: JSON.parse('{"name": "x", "query": {"__proto__": "a"}}') })).statusCode, 400);
    assert.equal((await as(app, market, { method: 'POST', url: '/api/saved-filters', payload: { name: 'y', query: { 'a.b': 1 } } })).statusCode, 400);
    assert.equal((await as(app, market, { method: 'DELETE', url: `/api/saved-filters/${save.json().id}` })).statusCode, 204);
  });

  test('a task is reassigned or delegated to a named colleague of the same department only; comments on a task and a case go to the history', async () => {
    const u = await as(app, admin, { method: 'POST', url: '/api/users', payload: { username: 'market.clerk2', displayName: '孙悦(市场监管)', password: 'market-clerk-2026', departmentId: 'market', roles: ['clerk'] } });
    assert.equal(u.statusCode, 201, u.body);
    const c = await intake('A-5DAY', '诸葛明');
    const [task] = await openTasks(c.id);
    const assign = (to: string, s = market, mode = 'reassign') => as(app, s, { method: 'POST', url: `/api/tasks/${task!.id}/assign`, payload: { to, mode, note: '请协助办理' } });
    assert.equal((await assign('health.clerk')).statusCode, 400, 'not a colleague');
    assert.equal((await assign('nobody')).statusCode, 400);
    assert.equal((await assign('market.clerk2', health)).statusCode, 404, 'another department cannot see the task');
    assert.equal((await assign('market.clerk2')).statusCode, 204);
    const [after] = (await as(app, market, { method: 'GET', url: `/api/tasks?instanceId=${c.id}` })).json().items as Array<{ assignee: string; assigneeName: string }>;
    assert.deepEqual([after!.assignee, after!.assigneeName], ['market.clerk2', '孙悦(市场监管)']);
    const clerk2 = await login(app, 'market.clerk2', 'market-clerk-2026');
    assert.equal((await assign('market.clerk', clerk2, 'delegate')).statusCode, 204);

    const tc = await as(app, market, { method: 'POST', url: `/api/tasks/${task!.id}/comments`, payload: { body: '申请人来电,明日补交照片' } });
    assert.equal(tc.statusCode, 201, tc.body);
    const cc = await as(app, clerk2, { method: 'POST', url: `/api/cases/${c.id}/comments`, payload: { body: '已电话核实' } });
    assert.equal(cc.statusCode, 201, cc.body);
    assert.equal((await as(app, health, { method: 'POST', url: `/api/cases/${c.id}/comments`, payload: { body: 'x' } })).statusCode, 404);
    assert.equal((await as(app, market, { method: 'POST', url: `/api/cases/${c.id}/comments`, payload: { body: 'a\u0000b' } })).statusCode, 400);
    const comments = (await as(app, market, { method: 'GET', url: `/api/cases/${c.id}/comments` })).json() as Array<{ body: string; taskName: string | null; authorName: string }>;
    assert.deepEqual(comments.map((m) => [m.body, m.taskName, m.authorName]), [['申请人来电,明日补交照片', '受理', '王丽(市场监管)'], ['已电话核实', null, '孙悦(市场监管)']]);
    const history = (await as(app, market, { method: 'GET', url: `/api/process-instances/${c.id}` })).json().history as Array<{ kind: string }>;
    assert.deepEqual(['task.reassigned', 'task.delegated', 'comment.added'].map((k) => history.some((h) => h.kind === k)), [true, true, true]);
    const audit = await (await sealed(db))('audit_log').whereIn('action', ['task.reassigned', 'task.delegated', 'comment.added']).count('* as n').first();
    assert.ok(Number(audit!.n) >= 4);
  });
});

describe('a step limit (what the designer\'s 添加步骤时限 inserts)', () => {
  test('the step gets its own due date and light, and its department is notified when it runs over; the case goes on', async () => {
    const { readFileSync } = await import('node:fs');
    // The designer's insertion: the task due at =workingDays(1), a non-interrupting timer at the same time → notifyStepOverdue → end.
    const xml = readFileSync('processes/approval-item.bpmn', 'utf8')
      .replaceAll('id="approval-item"', 'id="approval-step-limit"').replaceAll('bpmnElement="approval-item"', 'bpmnElement="approval-step-limit"')
      .replace('<bpmn:userTask id="review" name="审查" camunda:candidateGroups="${departmentId}" camunda:formKey="duban:review" camunda:dueDate="${deadlineAt}"/>',
        `<bpmn:userTask id="review" name="审查" camunda:candidateGroups="\${departmentId}" camunda:formKey="duban:review" camunda:dueDate="=workingDays(1)"/>
      <bpmn:boundaryEvent id="review_limit" name="1 个工作日时限" attachedToRef="review" cancelActivity="false"><bpmn:timerEventDefinition><bpmn:timeDate xsi:type="bpmn:tFormalExpression">=workingDays(1)</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:boundaryEvent>
      <bpmn:sequenceFlow id="f_review_limit" sourceRef="review_limit" targetRef="review_notify"/>
      <bpmn:serviceTask id="review_notify" name="环节超时提醒部门" camunda:type="external" camunda:topic="notifyStepOverdue"/>
      <bpmn:sequenceFlow id="f_review_notified" sourceRef="review_notify" targetRef="review_overdue"/>
      <bpmn:endEvent id="review_overdue" name="步骤超时"/>`);
    const d = await as(app, admin, { method: 'POST', url: '/api/deployments', payload: { xml, note: '审查 1 个工作日' } });
    assert.equal(d.statusCode, 201, d.body);
    const item = await as(app, admin, { method: 'POST', url: '/api/items', payload: { code: 'A-STEP', name: '环节时限测试', departmentId: 'market', promisedDays: 10, processKey: 'approval-step-limit' } });
    assert.equal(item.statusCode, 201, item.body);
    const c = await intake('A-STEP');
    await complete(c.id, 'accept', {});
    type StepTask = TaskJson & { stepLimit: boolean; stepLight: string | null; overdue: boolean };
    const review = async () => ((await openTasks(c.id)) as StepTask[]).find((x) => x.elementId === 'review')!;
    const calendar = await runtime.calendars.get();
    const r1 = await review();
    assert.equal(r1.dueAt, calendar.addWorkingDays(new Date(), 1).dueAt.toISOString());
    assert.deepEqual([r1.stepLimit, r1.overdue, r1.light], [true, false, 'green']);
    assert.ok(['green', 'yellow'].includes(r1.stepLight!));
    await moveClockTo(new Date(r1.dueAt!).getTime() + 60_000);
    const sms: Array<{ payload: { to: string; vars: { step: string } } }> = await until('the step-overdue SMS', async () => {
      const rows = await db('outbox').where({ instance_id: c.id, service: 'sms' }).whereRaw(`payload->>'template' = 'stepOverdue'`);
      return rows.length ? rows : null;
    });
    assert.ok(sms.some((m) => m.payload.to === '+8613800000002' && m.payload.vars.step === '审查'), 'the department\'s clerk is told which step');
    const r2 = await review();
    assert.deepEqual([r2.stepLight, r2.overdue, r2.light], ['red', true, 'green'], 'the step is red while the case is still green');
    const overdue = (await as(app, market, { method: 'GET', url: `/api/tasks?overdue=true&instanceId=${c.id}` })).json().items as TaskJson[];
    assert.deepEqual(overdue.map((x) => x.elementId), ['review'], 'the overdue filter finds a step over its own limit');
    await complete(c.id, 'review', { reviewResult: 'pass', opinion: '审查通过' });
    assert.deepEqual((await openTasks(c.id)).map((x) => x.elementId), ['decide']);
  });
});
