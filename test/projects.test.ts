import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import type { VirtualClock } from './support/clock.js';
import { clockedApiApp, login, as, type ClockedApi, type Session } from './support/api.js';
import type { TimerScheduler } from '../src/engine/scheduler.js';
import { shanghaiDay } from '../src/calendar/calendar.js';
import { demoProjectInputs } from '../src/domain/projects/demo.js';
import type { Db } from '../src/db/database.js';
import { sealed } from './support/audit.js';

/**
 * Key projects (issue 14), as the owner unit, the inspector and the responsible person's phone see them:
 * milestones fall due through the production scheduler on a clock that moves (JavaScript and PostgreSQL);
 * every request is HTTP with a real session or a phone link.
 */
let world: ClockedApi;
let db: Db;
let app: FastifyInstance;
let clock: VirtualClock;
let scheduler: TimerScheduler;
let admin: Session;
let clerk: Session;
let otherClerk: Session;
let inspector: Session;
const DAY = 86_400_000;

before(async () => {
  world = await clockedApiApp('duban_proj');
  ({ db, clock, app, scheduler } = world);
  await loginAll();
});

async function loginAll() {
  [admin, clerk, otherClerk, inspector] = await Promise.all(['admin', 'housing.clerk', 'market.clerk', 'inspector'].map((u) => login(app, u)));
}

/** Days pass: the clock moves, and everyone logs in again (sessions expire as they would). */
async function pass(ms: number) {
  await clock.advance(ms);
  await loginAll();
}
after(() => world.close());

const day = (offsetDays: number) => shanghaiDay(new Date(Date.now() + offsetDays * DAY));

async function register(code: string, milestones: Array<{ name: string; in: number }>, extra: Record<string, unknown> = {}) {
  const res = await as(app, admin, { method: 'POST', url: '/api/projects', payload: {
    code, name: `${code} 岔河片区安置房`, departmentId: 'housing', responsiblePerson: '赵立新', responsiblePhone: '+8613712345678',
    totalInvestment: 50000, annualTarget: 12000, plannedStart: day(-30), plannedFinish: day(120), progress: 20,
    milestones: milestones.map((m) => ({ name: m.name, dueDate: day(m.in) })), ...extra,
  } });
  assert.equal(res.statusCode, 201, res.body);
  return res.json().id as string;
}

async function openTask(session: Session, instanceId: string, elementId: string) {
  const res = await as(app, session, { method: 'GET', url: `/api/tasks?instanceId=${instanceId}` });
  assert.equal(res.statusCode, 200, res.body);
  return (res.json().items as Array<{ id: string; elementId: string }>).find((x) => x.elementId === elementId);
}

async function complete(session: Session, instanceId: string, elementId: string, variables: Record<string, unknown>) {
  const task = await openTask(session, instanceId, elementId);
  assert.ok(task, `an open ${elementId} task for ${session.username}`);
  const res = await as(app, session, { method: 'POST', url: `/api/tasks/${task.id}/complete`, payload: { variables } });
  assert.equal(res.statusCode, 200, res.body);
}

async function detail(session: Session, id: string) {
  const res = await as(app, session, { method: 'GET', url: `/api/projects/${id}` });
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
}

const smsTo = (template: string, projectName: string) => db('outbox').where({ service: 'sms' }).whereRaw(`payload->>'template' = ?`, [template])
  .whereRaw(`payload->'vars'->>'project' = ?`, [projectName]);

describe('a key project through its milestones', () => {
  test('on time, late (one letter, one SMS), the unit’s reply, a second miss (escalation) and completion', async () => {
    const id = await register('T-001', [{ name: '完成征地拆迁', in: 10 }, { name: '主体结构封顶', in: 20 }, { name: '竣工验收', in: 60 }]);
    const name = 'T-001 岔河片区安置房';
    let p = await detail(clerk, id);
    assert.equal(p.light, 'green');
    assert.equal(p.currentMilestone.name, '完成征地拆迁');

    // 1. On time: the unit completes the first milestone before its date.
    await pass(5 * DAY);
    assert.equal(await scheduler.drain(), 0, 'nothing is due yet');
    await complete(clerk, id, 'milestone', { evidence: '征地拆迁协议全部签订' });
    p = await detail(clerk, id);
    assert.deepEqual([p.milestones[0].status, p.milestones[0].doneLate], ['done', false]);
    assert.equal(p.currentMilestone.name, '主体结构封顶');

    // 2. Late: the second milestone's date passes; the scheduler fires its timer once.
    await pass(16 * DAY);
    assert.ok((await scheduler.drain()) >= 1);
    await scheduler.drain();
    p = await detail(inspector, id);
    assert.equal(p.light, 'red');
    assert.ok(p.reasons.some((r: string) => r.includes('逾期')), p.reasons.join());
    assert.equal(p.letters.length, 1, 'one 提醒函');
    assert.equal(p.letters[0].kind, 'reminder');
    assert.match(p.letters[0].number, /^天衢纪提〔\d{4}〕\d+号$/);
    assert.equal(p.letters[0].recipientDepartmentId, 'housing');
    const reminders = await smsTo('projectReminder', name);
    assert.equal(reminders.length, 1, 'one SMS to the responsible person');
    assert.equal(reminders[0].payload.to, '+8613712345678');
    assert.match(reminders[0].payload.vars.link, /\/#\/m\/[A-Za-z0-9_-]{20,}$/);
    assert.equal(await openTask(clerk, id, 'milestone'), undefined, 'the milestone waits for the reply');

    // 3. The unit replies (回告) with measures and a new date; the letter records the reply.
    const newDate = day(7);
    await complete(clerk, id, 'reply', { measures: '增加两个施工班组,夜间施工', newDate });
    p = await detail(clerk, id);
    assert.equal(p.milestones[1].currentDue, newDate);
    assert.equal(p.letters[0].status, 'replied');
    assert.match(p.letters[0].replyText, /增加两个施工班组/);
    assert.ok(await openTask(clerk, id, 'milestone'), 'the milestone is open again with the new date');

    // 4. A second miss: 督办函, inspectors alerted, an inspector task.
    await pass(8 * DAY);
    await scheduler.drain();
    p = await detail(inspector, id);
    assert.deepEqual(p.letters.map((l: { kind: string }) => l.kind), ['reminder', 'supervision']);
    const escalated = await smsTo('projectEscalated', name);
    assert.deepEqual(escalated.map((m) => m.payload.to), ['+8613800000005'], 'the inspector on duty');
    assert.equal(reminders.length, (await smsTo('projectReminder', name)).length, 'no second reminder SMS');
    assert.ok(await openTask(inspector, id, 'supervise_project'), 'an inspector task (督查重点项目)');

    // 5. The unit replies again, finishes both milestones; the inspector closes; the project is completed.
    await complete(clerk, id, 'reply', { measures: '主要负责人挂帅督战', newDate: day(5) });
    await complete(clerk, id, 'milestone', { evidence: '主体结构封顶验收记录' });
    await complete(clerk, id, 'milestone', { evidence: '竣工验收备案' });
    await complete(inspector, id, 'supervise_project', { supervisionOpinion: '已督促整改到位' });
    p = await detail(clerk, id);
    assert.equal(p.status, 'completed');
    assert.equal(p.light, 'done');
    assert.deepEqual(p.milestones.map((m: { doneLate: boolean }) => m.doneLate), [false, true, false]);
    const instance = await db('process_instances').where({ id }).first('status');
    assert.equal(instance.status, 'completed');
    assert.equal((await db('letters').where({ subject_id: id })).length, 2, 'exactly two letters in all');
    const audit = await (await sealed(db))('audit_log').where({ entity_id: 'T-001' }).pluck('action');
    for (const a of ['project.registered', 'project.milestone.done', 'project.milestone.replied', 'project.completed']) assert.ok(audit.includes(a), a);
  });

  test('slow against 序时进度: yellow 10–30 points behind, red beyond; thresholds are settings', async () => {
    // 30 of 150 days gone: 序时进度 ≈ 20 %.
    const id = await register('T-002', [{ name: '竣工验收', in: 119 }], { progress: 8 });
    let p = await detail(admin, id);
    assert.ok(p.scheduleProgress > 15 && p.scheduleProgress < 25, String(p.scheduleProgress));
    assert.equal(p.light, 'yellow', `${p.lag} points behind`);
    const res = await as(app, admin, { method: 'PUT', url: '/api/projects/settings', payload: { yellowPoints: 5, redPoints: 10 } });
    assert.equal(res.statusCode, 200, res.body);
    p = await detail(admin, id);
    assert.equal(p.light, 'red');
    await as(app, admin, { method: 'PUT', url: '/api/projects/settings', payload: { yellowPoints: 10, redPoints: 30 } });
    const bad = await as(app, admin, { method: 'PUT', url: '/api/projects/settings', payload: { yellowPoints: 40, redPoints: 30 } });
    assert.equal(bad.statusCode, 400);
    assert.equal((await as(app, clerk, { method: 'PUT', url: '/api/projects/settings', payload: { yellowPoints: 1 } })).statusCode, 403);
  });

  test('departments stay apart: another unit’s clerk sees neither the project nor its files', async () => {
    const id = await register('T-003', [{ name: '开工建设', in: 30 }]);
    assert.equal((await as(app, otherClerk, { method: 'GET', url: `/api/projects/${id}` })).statusCode, 404);
    const board = (await as(app, otherClerk, { method: 'GET', url: '/api/projects' })).json();
    assert.ok(board.items.every((x: { departmentId: string }) => x.departmentId === 'market'));
    const report = await as(app, otherClerk, { method: 'POST', url: `/api/projects/${id}/reports`, payload: { progress: 50, text: '越权填报' } });
    assert.equal(report.statusCode, 404);
    assert.equal((await db('project_reports').where({ project_id: id })).length, 0);
  });
});

// ---- uploads ----------------------------------------------------------------------------------

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01]), Buffer.alloc(200, 0), Buffer.from([0xff, 0xd9])]);

function multipart(fields: Record<string, string>, files: Array<{ name: string; type: string; data: Buffer }>) {
  const boundary = `----duban${Math.random().toString(16).slice(2)}`;
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(fields)) parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  for (const f of files) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="photos"; filename="${f.name}"\r\nContent-Type: ${f.type}\r\n\r\n`));
    parts.push(f.data, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(parts), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

describe('progress reports with photos', () => {
  let id: string;
  before(async () => {
    id = await register('T-004', [{ name: '开工建设', in: 30 }]);
  });

  test('a report with a photo is stored and served with its stored type and Content-Disposition', async () => {
    const body = multipart({ progress: '35', text: '基础施工完成', invested: '4200' }, [{ name: '现场照片.png', type: 'image/png', data: PNG }]);
    const res = await as(app, clerk, { method: 'POST', url: `/api/projects/${id}/reports`, payload: body.payload, headers: body.headers });
    assert.equal(res.statusCode, 201, res.body);
    const p = await detail(clerk, id);
    assert.equal(p.progress, 35);
    assert.equal(p.investedThisYear, 4200);
    const file = p.reports[0].files[0];
    assert.equal(file.contentType, 'image/png');
    const got = await as(app, clerk, { method: 'GET', url: `/api/files/${file.id}` });
    assert.equal(got.statusCode, 200);
    assert.equal(got.headers['content-type'], 'image/png');
    assert.match(String(got.headers['content-disposition']), /^inline; filename="[^"]*"; filename\*=UTF-8''%E7%8E%B0%E5%9C%BA/);
    assert.equal(got.headers['x-content-type-options'], 'nosniff');
    assert.deepEqual(got.rawPayload, PNG);
    assert.equal((await as(app, otherClerk, { method: 'GET', url: `/api/files/${file.id}` })).statusCode, 404, 'another department cannot fetch it');
  });

  test('bad uploads are refused and nothing is written', async () => {
    const bad: Array<[string, { name: string; type: string; data: Buffer }, number]> = [
      ['too big', { name: 'big.png', type: 'image/png', data: Buffer.concat([PNG, Buffer.alloc(5 * 1024 * 1024, 1)]) }, 413],
      ['wrong type', { name: 'notes.txt', type: 'text/plain', data: Buffer.from('just text') }, 400],
      ['HTML that says it is a PNG', { name: 'x.png', type: 'image/png', data: Buffer.from('<html><script>alert(1)</script></html>') }, 400],
      ['a PNG that says it is a JPEG', { name: 'x.jpg', type: 'image/jpeg', data: PNG }, 400],
      ['a JPEG named .png', { name: 'x.png', type: 'image/jpeg', data: JPEG }, 400],
      ['path trick ../', { name: '../../etc/cron.d/x.png', type: 'image/png', data: PNG }, 400],
      ['path trick folder', { name: 'a/b.png', type: 'image/png', data: PNG }, 400],
      ['path trick backslash', { name: '..\\..\\x.png', type: 'image/png', data: PNG }, 400],
      ['hidden name', { name: '.htaccess.png', type: 'image/png', data: PNG }, 400],
    ];
    const before = { files: (await db('files')).length, reports: (await db('project_reports')).length };
    for (const [what, file, status] of bad) {
      const body = multipart({ progress: '40', text: what }, [{ name: 'ok.png', type: 'image/png', data: PNG }, file]);
      const res = await as(app, clerk, { method: 'POST', url: `/api/projects/${id}/reports`, payload: body.payload, headers: body.headers });
      assert.equal(res.statusCode, status, `${what}: ${res.statusCode} ${res.body}`);
      assert.match(String(res.headers['content-type']), /application\/problem\+json/);
    }
    const seven = multipart({ progress: '40', text: 'seven' }, Array.from({ length: 7 }, (_, i) => ({ name: `p${i}.png`, type: 'image/png', data: PNG })));
    assert.equal((await as(app, clerk, { method: 'POST', url: `/api/projects/${id}/reports`, payload: seven.payload, headers: seven.headers })).statusCode, 400);
    assert.deepEqual({ files: (await db('files')).length, reports: (await db('project_reports')).length }, before, 'nothing was written');
    assert.equal((await detail(clerk, id)).progress, 35, 'the project is unchanged');
  });

  test('监督一点通: the phone link opens the project and takes a report; a wrong or expired link is a 404', async () => {
    const link = await as(app, clerk, { method: 'POST', url: `/api/projects/${id}/links` });
    assert.equal(link.statusCode, 201, link.body);
    const { token } = link.json();
    const open = await app.inject({ method: 'GET', url: `/api/m/${token}` });
    assert.equal(open.statusCode, 200, open.body);
    assert.equal(open.json().code, 'T-004');
    assert.equal(open.json().responsiblePhone, null, 'the phone page shows no phone numbers');
    const body = multipart({ progress: '48', text: '主体施工至三层' }, [{ name: 'IMG_0001.jpg', type: 'image/jpeg', data: JPEG }]);
    const res = await app.inject({ method: 'POST', url: `/api/m/${token}/reports`, payload: body.payload, headers: body.headers });
    assert.equal(res.statusCode, 201, res.body);
    const board = (await as(app, admin, { method: 'GET', url: '/api/projects' })).json();
    assert.equal(board.items.find((x: { code: string }) => x.code === 'T-004').progress, 48);
    assert.equal((await detail(admin, id)).reports[0].via, 'mobile');
    assert.equal((await app.inject({ method: 'GET', url: `/api/m/${'x'.repeat(32)}` })).statusCode, 404);
    await clock.advance(31 * DAY);
    assert.equal((await app.inject({ method: 'GET', url: `/api/m/${token}` })).statusCode, 404, 'expired after 30 days');
  });
});

test('a project’s process starts only through registration, which creates the project it runs on', async () => {
  await loginAll();
  const res = await as(app, admin, { method: 'POST', url: '/api/process-definitions/key-project/start', payload: {} });
  assert.equal(res.statusCode, 403, res.body);
  assert.equal((await db('process_instances').where({ process_key: 'key-project' }).whereNotIn('id', db('key_projects').select('id'))).length, 0);
});

test('the 29 demo projects register through the service with milestones in order, in every light', async () => {
  const inputs = demoProjectInputs();
  assert.equal(inputs.length, 29);
  for (const p of inputs) {
    const dates = p.milestones.map((m) => m.dueDate);
    assert.deepEqual([...dates].sort(), dates, `${p.name} milestones in date order`);
  }
});
