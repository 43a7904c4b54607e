import { readdirSync } from 'node:fs';
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { createTestDatabase } from './support/db.js';
import { apiApp, login, as, type Session } from './support/api.js';
import { bpmn, flows } from './support/bpmn.js';
import { buildApp } from '../src/http/app.js';
import { createRuntime } from '../src/runtime.js';
import type { Db } from '../src/db/database.js';
import { sealed } from './support/audit.js';

let t: Awaited<ReturnType<typeof createTestDatabase>>;
let db: Db;
let app: FastifyInstance;
let hits: Set<string>;
let admin: Session, market: Session, health: Session, inspector: Session, leader: Session;

// Clerks of market and health may start it (the process declares its starters); each step declares the fields it accepts.
const CASE_XML = bpmn('api_case', `<startEvent id="s"/>
  <userTask id="review" name="审查" camunda:candidateGroups="\${departmentId}"><extensionElements><camunda:formData><camunda:formField id="opinion" type="string"/></camunda:formData></extensionElements></userTask>
  <userTask id="supervise" name="督办" camunda:candidateGroups="inspection"><extensionElements><camunda:formData><camunda:formField id="result" type="string"/></camunda:formData></extensionElements></userTask>
  <endEvent id="e"/>${flows('s', 'review', 'supervise', 'e')}`).replace('isExecutable="true"', 'isExecutable="true" camunda:candidateStarterGroups="market,health"');

before(async () => {
  t = await createTestDatabase();
  db = t.db;
  ({ app, hits } = await apiApp(db));
  [admin, market, health, inspector, leader] = await Promise.all(['admin', 'market.clerk', 'health.clerk', 'inspector', 'leader'].map((u) => login(app, u)));
});
after(async () => {
  await app.close();
  await t.drop();
});

async function deployCase() {
  const res = await as(app, admin, { method: 'POST', url: '/api/deployments', payload: { xml: CASE_XML, note: 'test' } });
  assert.equal(res.statusCode, 201, res.body);
  return res.json();
}

async function startCase(s: Session, dept: string, businessKey: string) {
  return as(app, s, { method: 'POST', url: '/api/process-definitions/api_case/start', payload: { businessKey, departmentId: dept } });
}

describe('authentication', () => {
  test('login sets an httpOnly SameSite cookie; wrong passwords are 401 and audited', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'admin', password: 'duban-demo-2026' } });
    assert.equal(res.statusCode, 200);
    const cookie = String(res.headers['set-cookie']);
    assert.match(cookie, /HttpOnly/i);
    assert.match(cookie, /SameSite=Strict/i);
    assert.ok(res.json().csrfToken);
    const bad = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'admin', password: 'wrong-password' } });
    assert.equal(bad.statusCode, 401);
    assert.match(String(bad.headers['content-type']), /problem\+json/);
    const row = await (await sealed(db))('audit_log').where({ action: 'login.failed' }).first();
    assert.equal(row.actor, 'admin');
  });

  test('me answers the caller; logout ends the session', async () => {
    const s = await login(app, 'leader');
    const me = await as(app, s, { method: 'GET', url: '/api/auth/me' });
    assert.equal(me.json().username, 'leader');
    assert.deepEqual(me.json().roles, ['leader']);
    assert.equal((await as(app, s, { method: 'POST', url: '/api/auth/logout' })).statusCode, 204);
    assert.equal((await as(app, s, { method: 'GET', url: '/api/auth/me' })).statusCode, 401);
  });

  test('state changes through a cookie session need the CSRF header', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/departments', headers: { cookie: admin.cookie }, payload: { id: 'csrf-test', name: 'x' } });
    assert.equal(res.statusCode, 403);
    assert.match(res.json().detail, /CSRF/);
    assert.equal(await db('departments').where({ id: 'csrf-test' }).first(), undefined);
  });

  test('login is rate-limited, and every server process on the database shares the limit', async () => {
    const other = await buildApp({ runtime: await createRuntime(db, { print: () => undefined }), version: 'test', logLevel: 'silent' });
    try {
      const attempt = (on: FastifyInstance) => on.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'ratelimit', password: 'nope-nope' } });
      // Ten tries in a minute, wherever they land: five on each process, then both refuse.
      for (let i = 0; i < 5; i++) assert.equal((await attempt(app)).statusCode, 401);
      for (let i = 0; i < 5; i++) assert.equal((await attempt(other)).statusCode, 401);
      const refused = await attempt(app);
      assert.equal(refused.statusCode, 429);
      assert.match(String(refused.headers['content-type']), /problem\+json/);
      assert.equal((await attempt(other)).statusCode, 429);
      assert.equal((await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'someone-else', password: 'nope-nope' } })).statusCode, 401, 'other usernames are not affected');
    } finally {
      await other.close();
    }
  });
});

describe('people', () => {
  test('admins create departments and users; passwords are argon2id hashes', async () => {
    const d = await as(app, admin, { method: 'POST', url: '/api/departments', payload: { id: 'tax', name: '税务局' } });
    assert.equal(d.statusCode, 201);
    const u = await as(app, admin, { method: 'POST', url: '/api/users', payload: { username: 'tax.clerk', displayName: '税务', password: 'secret-pass-1', departmentId: 'tax', roles: ['clerk'] } });
    assert.equal(u.statusCode, 201, u.body);
    const row = await db('users').where({ username: 'tax.clerk' }).first();
    assert.match(row.password_hash, /^\$argon2id\$/);
    const patch = await as(app, admin, { method: 'PATCH', url: `/api/users/${row.id}`, payload: { roles: ['clerk', 'leader'], phone: '+8613900000000' } });
    assert.equal(patch.statusCode, 200);
    assert.deepEqual(patch.json().roles, ['clerk', 'leader']);
    const cleared = await as(app, admin, { method: 'PATCH', url: `/api/users/${row.id}`, payload: { departmentId: null } });
    assert.equal(cleared.statusCode, 200, cleared.body);
    assert.equal(cleared.json().departmentId, null);
    const noDept = await as(app, admin, { method: 'POST', url: '/api/users', payload: { username: 'nodept', displayName: '无部门', password: 'secret-pass-1', departmentId: null, roles: ['leader'] } });
    assert.equal(noDept.statusCode, 201, noDept.body);
    assert.equal(noDept.json().departmentId, null);
    const dup = await as(app, admin, { method: 'POST', url: '/api/users', payload: { username: 'tax.clerk', displayName: 'x', password: 'secret-pass-1', roles: ['clerk'] } });
    assert.equal(dup.statusCode, 409);
    assert.ok(await (await sealed(db))('audit_log').where({ action: 'user.updated', entity_id: row.id }).first());
  });

  test('clerks see only their department’s users; only admins change people', async () => {
    const list = await as(app, market, { method: 'GET', url: '/api/users?pageSize=100' });
    assert.equal(list.statusCode, 200);
    assert.ok(list.json().items.every((u: { departmentId: string }) => u.departmentId === 'market'));
    assert.equal((await as(app, market, { method: 'POST', url: '/api/departments', payload: { id: 'evil', name: 'x' } })).statusCode, 403);
    assert.equal((await as(app, inspector, { method: 'POST', url: '/api/users', payload: { username: 'x1', displayName: 'x', password: 'secret-pass-1', roles: ['admin'] } })).statusCode, 403);
    const depts = await as(app, leader, { method: 'GET', url: '/api/departments' });
    assert.ok(depts.json().some((d: { id: string }) => d.id === 'inspection'));
  });

  test('API tokens are scoped and revocable', async () => {
    const system = await as(app, admin, { method: 'POST', url: '/api/users', payload: { username: 'rating.platform', displayName: '好差评平台', password: 'secret-pass-2', roles: ['system'] } });
    // A token acts for the user who mints it: the other system logs in as its own user.
    assert.equal((await as(app, admin, { method: 'POST', url: '/api/tokens', payload: { name: 'rating push', userId: system.json().id, scopes: ['read'] } })).statusCode, 403);
    const platform = await login(app, 'rating.platform', 'secret-pass-2');
    const created = await as(app, platform, { method: 'POST', url: '/api/tokens', payload: { name: 'rating push', scopes: ['read'] } });
    assert.equal(created.statusCode, 201, created.body);
    const { id, token } = created.json();
    const auth = { authorization: `Bearer ${token}` };
    assert.equal((await app.inject({ method: 'GET', url: '/api/process-instances', headers: auth })).statusCode, 200);
    const write = await app.inject({ method: 'POST', url: '/api/messages/correlate', headers: auth, payload: { messageName: 'x' } });
    assert.equal(write.statusCode, 403, 'a read-only token cannot write');
    const listed = await as(app, admin, { method: 'GET', url: '/api/tokens' });
    assert.ok(listed.json().items.some((x: { id: string; token?: string }) => x.id === id && !x.token));
    assert.equal((await as(app, admin, { method: 'DELETE', url: `/api/tokens/${id}` })).statusCode, 204);
    assert.equal((await app.inject({ method: 'GET', url: '/api/process-instances', headers: auth })).statusCode, 401);
    assert.equal((await app.inject({ method: 'GET', url: '/api/process-instances', headers: { authorization: 'Bearer dbn_nonsense' } })).statusCode, 401);
  });
});

describe('processes, cases and tasks by role and department', () => {
  test('deploy, validate, list and read definitions', async () => {
    const d = await deployCase();
    assert.equal(d.key, 'api_case');
    const v = await as(app, admin, { method: 'POST', url: '/api/deployments/validate', payload: { xml: CASE_XML.replace(/<userTask id="review"[\s\S]*?<\/userTask>/, '<scriptTask id="review" name="x"><script>1</script></scriptTask>') } });
    assert.equal(v.statusCode, 200);
    assert.equal(v.json().ok, false);
    assert.equal(v.json().errors[0].elementId, 'review');
    const raw = await as(app, admin, { method: 'POST', url: '/api/deployments', headers: { 'content-type': 'application/xml' }, payload: CASE_XML });
    assert.equal(raw.json().unchanged, true);
    const list = await as(app, market, { method: 'GET', url: '/api/process-definitions?key=api_case&latest=true' });
    assert.equal(list.json().total, 1);
    const one = await as(app, leader, { method: 'GET', url: `/api/process-definitions/${d.id}` });
    assert.match(one.json().xml, /api_case/);
    assert.equal((await as(app, market, { method: 'POST', url: '/api/deployments', payload: { xml: CASE_XML } })).statusCode, 403);
  });

  test('a refused diagram is a 422 problem naming the element', async () => {
    const res = await as(app, admin, { method: 'POST', url: '/api/deployments', payload: { xml: bpmn('api_bad', `<startEvent id="s"/><serviceTask id="svc" camunda:type="external" camunda:topic="rm-rf"/><endEvent id="e"/>${flows('s', 'svc', 'e')}`) } });
    assert.equal(res.statusCode, 422);
    assert.match(String(res.headers['content-type']), /problem\+json/);
    assert.equal(res.json().errors[0].elementId, 'svc');
  });

  test('clerks start and work their own department’s cases only', async () => {
    await deployCase();
    const m = await startCase(market, 'market', 'BK-M-1');
    assert.equal(m.statusCode, 201, m.body);
    const h = await startCase(health, 'health', 'BK-H-1');
    assert.equal(h.statusCode, 201);
    assert.equal((await startCase(market, 'health', 'BK-X')).statusCode, 403, 'no starting in another department');

    const mine = await as(app, market, { method: 'GET', url: '/api/tasks' });
    assert.ok(mine.json().items.length >= 1);
    assert.ok(mine.json().items.every((x: { candidateGroups: string[] }) => x.candidateGroups.includes('market')));
    const healthTask = (await as(app, health, { method: 'GET', url: '/api/tasks?assignment=department' })).json().items[0];
    const marketTask = mine.json().items.find((x: { businessKey: string }) => x.businessKey === 'BK-M-1');

    // Another department's task: invisible (404) to a clerk; visible but not actionable (403) to an inspector.
    assert.equal((await as(app, market, { method: 'POST', url: `/api/tasks/${healthTask.id}/complete`, payload: {} })).statusCode, 404);
    assert.equal((await as(app, market, { method: 'GET', url: `/api/process-instances/${h.json().id}` })).statusCode, 404);
    assert.equal((await as(app, inspector, { method: 'POST', url: `/api/tasks/${healthTask.id}/claim` })).statusCode, 403);
    assert.equal((await as(app, leader, { method: 'POST', url: `/api/tasks/${healthTask.id}/claim` })).statusCode, 403);

    assert.equal((await as(app, market, { method: 'POST', url: `/api/tasks/${marketTask.id}/claim` })).statusCode, 204);
    assert.equal((await as(app, market, { method: 'POST', url: `/api/tasks/${marketTask.id}/unclaim` })).statusCode, 204);
    const done = await as(app, market, { method: 'POST', url: `/api/tasks/${marketTask.id}/complete`, payload: { variables: { opinion: '同意' } } });
    assert.equal(done.statusCode, 200, done.body);
    assert.deepEqual(done.json().activeElements, ['supervise']);
    assert.equal((await as(app, market, { method: 'POST', url: `/api/tasks/${marketTask.id}/complete`, payload: {} })).statusCode, 409);

    // The supervision step belongs to the inspection office.
    const sup = (await as(app, inspector, { method: 'GET', url: '/api/tasks?candidateGroup=inspection' })).json().items.find((x: { businessKey: string }) => x.businessKey === 'BK-M-1');
    assert.equal((await as(app, inspector, { method: 'POST', url: `/api/tasks/${sup.id}/complete`, payload: { variables: { result: '已督办' } } })).json().status, 'completed');

    const detail = await as(app, market, { method: 'GET', url: `/api/process-instances/${m.json().id}` });
    assert.equal(detail.statusCode, 200);
    assert.equal(detail.json().status, 'completed');
    assert.ok(detail.json().history.some((x: { kind: string }) => x.kind === 'task.completed'));
    const listed = await as(app, health, { method: 'GET', url: '/api/process-instances?pageSize=50' });
    assert.ok(listed.json().items.every((i: { departmentId: string }) => i.departmentId === 'health'));
    const all = await as(app, leader, { method: 'GET', url: '/api/process-instances?processKey=api_case&sort=businessKey&order=asc' });
    assert.ok(all.json().total >= 2);
  });

  test('admins cancel cases; clerks cannot', async () => {
    const c = await startCase(market, 'market', 'BK-CANCEL');
    const id = c.json().id;
    assert.equal((await as(app, market, { method: 'POST', url: `/api/process-instances/${id}/cancel`, payload: { reason: 'x' } })).statusCode, 403);
    assert.equal((await as(app, admin, { method: 'POST', url: `/api/process-instances/${id}/cancel`, payload: { reason: '申请人撤回' } })).statusCode, 204);
    assert.equal((await as(app, admin, { method: 'POST', url: `/api/process-instances/${id}/cancel`, payload: { reason: 'again' } })).statusCode, 409);
  });

  test('messages correlate by business key', async () => {
    await as(app, admin, { method: 'POST', url: '/api/deployments', payload: { xml: bpmn('api_msg', `<startEvent id="s"/><receiveTask id="w" messageRef="m"/><endEvent id="e"/>${flows('s', 'w', 'e')}`, '<message id="m" name="material-supplied"/>')
      .replace('isExecutable="true"', 'isExecutable="true" camunda:candidateStarterGroups="role:clerk"') } });
    const s = await as(app, market, { method: 'POST', url: '/api/process-definitions/api_msg/start', payload: { businessKey: 'BK-MSG' } });
    assert.equal(s.statusCode, 201);
    const r = await as(app, market, { method: 'POST', url: '/api/messages/correlate', payload: { messageName: 'material-supplied', businessKey: 'BK-MSG' } });
    assert.deepEqual(r.json(), { delivered: 1, startedInstanceId: null });
    const none = await as(app, health, { method: 'POST', url: '/api/messages/correlate', payload: { messageName: 'material-supplied', businessKey: 'BK-MSG' } });
    assert.equal(none.statusCode, 404, 'another department cannot signal this case');
  });

  test('incidents are listed and retried by admins', async () => {
    const [inc] = await db('incidents').insert({ kind: 'delivery', message: 'provider down' }).returning('id');
    const list = await as(app, inspector, { method: 'GET', url: '/api/incidents?status=open' });
    assert.ok(list.json().items.some((i: { id: number }) => i.id === inc.id));
    assert.equal((await as(app, inspector, { method: 'POST', url: `/api/incidents/${inc.id}/retry` })).statusCode, 403);
    assert.equal((await as(app, admin, { method: 'POST', url: `/api/incidents/${inc.id}/retry` })).statusCode, 409, 'no outbox row behind it');
    assert.equal((await as(app, admin, { method: 'POST', url: '/api/incidents/999999/retry' })).statusCode, 404);
  });
});

describe('domain routes answer for their roles (behaviour is tested in cases.test.ts, calendar.test.ts, sms.test.ts)', () => {
  test('calendar, items, cases, supervision, roster and statistics', async () => {
    assert.equal((await as(app, market, { method: 'GET', url: '/api/calendar?year=2027' })).statusCode, 200);
    assert.equal((await as(app, admin, { method: 'PUT', url: '/api/calendar/days/2027-01-01', payload: { kind: 'holiday', note: '元旦' } })).statusCode, 200);
    assert.equal((await as(app, admin, { method: 'DELETE', url: '/api/calendar/days/2027-01-01' })).statusCode, 204);
    assert.equal((await as(app, admin, { method: 'PUT', url: '/api/calendar/years/2027', payload: { confirmed: false } })).statusCode, 200);
    assert.equal((await as(app, admin, { method: 'POST', url: '/api/items', payload: { code: 'API-1', name: '测试事项', departmentId: 'market', promisedDays: 3 } })).statusCode, 201);
    assert.equal((await as(app, admin, { method: 'PATCH', url: '/api/items/API-1', payload: { promisedDays: 2 } })).statusCode, 200);
    assert.equal((await as(app, market, { method: 'GET', url: '/api/items/API-1' })).json().promisedDays, 2);
    assert.ok((await as(app, market, { method: 'GET', url: '/api/items' })).json().total >= 1);
    const c = await as(app, market, { method: 'POST', url: '/api/cases', payload: { itemCode: 'API-1', applicantName: '李四', applicantType: 1, idType: 'resident_id', idNumber: '11010519491231002X', phone: '+8613800009999' } });
    assert.equal(c.statusCode, 201, c.body);
    const id = c.json().id;
    assert.equal((await as(app, market, { method: 'GET', url: '/api/cases' })).json().total, 1);
    assert.equal((await as(app, health, { method: 'GET', url: `/api/cases/${id}` })).statusCode, 404, 'another department’s case');
    assert.equal((await as(app, market, { method: 'POST', url: `/api/cases/${id}/suspend`, payload: { kind: 'special', reason: '专家评审' } })).statusCode, 200);
    assert.equal((await as(app, market, { method: 'POST', url: `/api/cases/${id}/resume`, payload: {} })).json().status, 'handling');
    assert.equal((await as(app, market, { method: 'GET', url: `/api/cases/${id}` })).json().suspensions.length, 1);
    assert.equal((await as(app, inspector, { method: 'GET', url: '/api/supervisions' })).statusCode, 200);
    assert.equal((await as(app, market, { method: 'GET', url: '/api/supervisions' })).statusCode, 403);
    const missing = '00000000-0000-4000-8000-000000000000';
    assert.equal((await as(app, inspector, { method: 'GET', url: `/api/supervisions/${missing}` })).statusCode, 404);
    assert.equal((await as(app, inspector, { method: 'POST', url: `/api/supervisions/${missing}/urge`, payload: { content: '请尽快办结' } })).statusCode, 404);
    assert.equal((await as(app, inspector, { method: 'POST', url: `/api/supervisions/${missing}/follow-up`, payload: { at: new Date(Date.now() + 3_600_000).toISOString() } })).statusCode, 404);
    assert.equal((await as(app, inspector, { method: 'POST', url: `/api/supervisions/${missing}/close`, payload: { result: '已办结' } })).statusCode, 404);
    assert.equal((await as(app, inspector, { method: 'GET', url: '/api/roster?from=2026-11-01&to=2026-11-30' })).statusCode, 200);
    assert.equal((await as(app, inspector, { method: 'PUT', url: '/api/roster/2026-11-30', payload: { entries: [] } })).statusCode, 403);
    assert.equal((await as(app, admin, { method: 'PUT', url: '/api/roster/2026-11-30', payload: { entries: [] } })).statusCode, 204);
    assert.equal((await as(app, leader, { method: 'GET', url: '/api/stats/cases' })).statusCode, 200);
    assert.equal((await as(app, leader, { method: 'GET', url: '/api/stats/cases.xlsx' })).statusCode, 200);
    assert.equal((await as(app, leader, { method: 'GET', url: '/api/stats/lights' })).json().open, 1);
  });

  test('task search, saved filters, reassignment and comments (behaviour in approval.test.ts)', async () => {
    const c = (await as(app, market, { method: 'GET', url: '/api/cases?q=%E6%9D%8E%E5%9B%9B' })).json().items[0];
    const tasks = (await as(app, market, { method: 'GET', url: `/api/tasks?q=${c.number}` })).json().items;
    assert.equal(tasks[0].caseNumber, c.number);
    const f = await as(app, market, { method: 'POST', url: '/api/saved-filters', payload: { name: '红灯', query: { light: 'red' } } });
    assert.equal(f.statusCode, 201, f.body);
    assert.equal((await as(app, market, { method: 'GET', url: '/api/saved-filters' })).json().length, 1);
    assert.equal((await as(app, market, { method: 'DELETE', url: `/api/saved-filters/${f.json().id}` })).statusCode, 204);
    assert.equal((await as(app, market, { method: 'POST', url: `/api/tasks/${tasks[0].id}/assign`, payload: { to: 'health.clerk' } })).statusCode, 400);
    assert.equal((await as(app, market, { method: 'POST', url: `/api/tasks/${tasks[0].id}/comments`, payload: { body: '已联系申请人' } })).statusCode, 201);
    assert.equal((await as(app, market, { method: 'POST', url: `/api/cases/${c.id}/comments`, payload: { body: '材料齐全' } })).statusCode, 201);
    assert.equal((await as(app, market, { method: 'GET', url: `/api/cases/${c.id}/comments` })).json().length, 2);
  });
});

describe('letters and ratings answer for their roles (behaviour is tested in letters.test.ts and ratings.test.ts)', () => {
  test('letters: issue, read, .docx, print, reply; ratings: sources, settings, push, import, counter entry, rejects, statistics', async () => {
    assert.equal((await as(app, market, { method: 'GET', url: '/api/letter-kinds' })).json().length, 4);
    const body = { kind: 'urging', subject: '测试督办', recipientDepartmentId: 'market', source: '测试来源', problems: '测试问题', recommendations: '测试建议' };
    assert.equal((await as(app, market, { method: 'POST', url: '/api/letters', payload: body })).statusCode, 403);
    const l = await as(app, inspector, { method: 'POST', url: '/api/letters', payload: body });
    assert.equal(l.statusCode, 201, l.body);
    const id = l.json().id;
    assert.equal((await as(app, leader, { method: 'GET', url: '/api/letters' })).json().total, 1);
    assert.equal((await as(app, health, { method: 'GET', url: `/api/letters/${id}` })).statusCode, 404);
    assert.equal((await as(app, market, { method: 'GET', url: `/api/letters/${id}` })).statusCode, 200);
    assert.equal((await as(app, market, { method: 'GET', url: `/api/letters/${id}/docx` })).statusCode, 200);
    assert.equal((await as(app, market, { method: 'GET', url: `/api/letters/${id}/print` })).statusCode, 200);
    assert.equal((await as(app, market, { method: 'POST', url: `/api/letters/${id}/reply`, payload: { text: '已办结' } })).statusCode, 200);

    assert.equal((await as(app, market, { method: 'GET', url: '/api/rating-sources' })).json().length, 3);
    const settings = (await as(app, market, { method: 'GET', url: '/api/ratings/settings' })).json();
    assert.deepEqual(settings, { triggerLevel: '基本满意', handlingDays: 5, defaultRatingDays: null, lateWindowDays: 5 });
    assert.equal((await as(app, market, { method: 'PUT', url: '/api/ratings/settings', payload: settings })).statusCode, 403);
    assert.equal((await as(app, admin, { method: 'PUT', url: '/api/ratings/settings', payload: settings })).statusCode, 200);
    const row = { caseNumber: 'API-R-1', times: 1, channel: 'PC端', level: '满意', ratedAt: '20261120100000', departmentId: 'market' };
    const batch = await as(app, admin, { method: 'POST', url: '/api/ratings/batch', payload: { source: 'gbt39046', ratings: [row, { ...row, caseNumber: 'API-R-2', times: 3 }] } });
    assert.equal(batch.json().created, 1, batch.body);
    assert.equal((await as(app, market, { method: 'POST', url: '/api/ratings/batch', payload: { source: 'gbt39046', ratings: [row] } })).statusCode, 403);
    const file = '办件编号,评价次数,评价渠道,满意度,评价时间,部门\nAPI-R-3,1,PC端,满意,20261120100000,market\n';
    const imp = await as(app, admin, { method: 'POST', url: '/api/ratings/import?source=gbt39046&fileName=a.csv', headers: { 'content-type': 'text/csv' }, payload: file });
    assert.equal(imp.json().created, 1, imp.body);
    assert.equal((await as(app, market, { method: 'POST', url: '/api/ratings', payload: { ...row, caseNumber: 'API-R-4' } })).statusCode, 200);
    assert.equal((await as(app, health, { method: 'POST', url: '/api/ratings', payload: { ...row, caseNumber: 'API-R-5' } })).statusCode, 400);
    const list = (await as(app, health, { method: 'GET', url: '/api/ratings' })).json();
    assert.equal(list.total, 0, 'health sees no market ratings');
    const mine = (await as(app, market, { method: 'GET', url: '/api/ratings' })).json();
    assert.equal(mine.total, 3);
    assert.equal((await as(app, health, { method: 'GET', url: `/api/ratings/${mine.items[0].id}` })).statusCode, 404);
    assert.equal((await as(app, market, { method: 'GET', url: `/api/ratings/${mine.items[0].id}` })).statusCode, 200);
    const rejects = (await as(app, admin, { method: 'GET', url: '/api/ratings/rejects' })).json();
    assert.equal(rejects.total, 1);
    assert.equal((await as(app, market, { method: 'GET', url: '/api/ratings/rejects' })).statusCode, 403);
    const fixed = await as(app, admin, { method: 'PUT', url: `/api/ratings/rejects/${rejects.items[0].id}`, payload: { ...rejects.items[0].raw, times: '1' } });
    assert.equal(fixed.json().created, 1, fixed.body);
    assert.equal((await as(app, leader, { method: 'GET', url: '/api/stats/ratings?groupBy=channel' })).statusCode, 200);
    assert.equal((await as(app, leader, { method: 'GET', url: '/api/stats/ratings.xlsx' })).statusCode, 200);
  });
});

describe('sms', () => {
  test('SMS log for admins and inspectors; unsigned status callbacks are refused', async () => {
    assert.equal((await as(app, admin, { method: 'GET', url: '/api/sms' })).statusCode, 200);
    assert.equal((await as(app, inspector, { method: 'GET', url: '/api/sms' })).statusCode, 200);
    assert.equal((await as(app, market, { method: 'GET', url: '/api/sms' })).statusCode, 403);
    const cb = await app.inject({ method: 'POST', url: '/api/sms/status?outbox=1', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'MessageSid=SM1&MessageStatus=delivered' });
    assert.equal(cb.statusCode, 403);
  });
});

describe('task forms', () => {
  const accept = '/api/forms/duban:accept';
  test('shipped forms are installed once; everyone who handles tasks reads them', async () => {
    const list = (await as(app, market, { method: 'GET', url: '/api/forms?pageSize=50' })).json();
    assert.deepEqual(list.items.map((f: { key: string }) => f.key), readdirSync('processes/forms').filter((f) => f.endsWith('.form')).sort().map((f) => `duban:${f.slice(0, -5)}`));
    const decide = (await as(app, inspector, { method: 'GET', url: '/api/forms/duban:decide' })).json();
    assert.equal(decide.version, 1);
    assert.deepEqual(decide.fields, ['decision', 'opinion']);
    assert.equal(decide.schema.components[0].type, 'select');
    assert.equal((await as(app, leader, { method: 'GET', url: '/api/forms/duban:nothing' })).statusCode, 404);
    assert.equal((await as(app, market, { method: 'GET', url: '/api/forms/bad%20key' })).statusCode, 400);
  });

  test('admins save new versions (audited); an identical schema makes no version; old versions stay readable', async () => {
    const v1 = (await as(app, admin, { method: 'GET', url: accept })).json();
    const schema = { ...v1.schema, components: [...v1.schema.components, { id: 'Field_materials', type: 'checklist', key: 'materials', label: '已收材料', values: [{ label: '申请书', value: 'application' }] }] };
    const saved = await as(app, admin, { method: 'PUT', url: accept, payload: { schema, note: '增加材料清单' } });
    assert.equal(saved.statusCode, 200, saved.body);
    assert.deepEqual([saved.json().version, saved.json().unchanged, saved.json().fields], [2, false, ['acceptDecision', 'opinion', 'supplementDays', 'materials']]);
    const again = (await as(app, admin, { method: 'PUT', url: accept, payload: { schema: JSON.parse(JSON.stringify(schema)) } })).json();
    assert.deepEqual([again.version, again.unchanged], [2, true]);
    assert.equal((await as(app, market, { method: 'GET', url: accept })).json().version, 2);
    const versions = (await as(app, admin, { method: 'GET', url: `${accept}/versions` })).json();
    assert.deepEqual(versions.items.map((v: { version: number }) => v.version), [2, 1]);
    assert.equal((await as(app, admin, { method: 'GET', url: `${accept}/versions/1` })).json().fields.length, 3);
    assert.equal((await as(app, admin, { method: 'GET', url: `${accept}/versions/9` })).statusCode, 404);
    assert.equal((await as(app, admin, { method: 'GET', url: '/api/forms/duban:nothing/versions' })).statusCode, 404);
    const audit = (await as(app, admin, { method: 'GET', url: '/api/audit?action=form.saved' })).json();
    assert.ok(audit.items.some((a: { entityId: string; after: { version: number } }) => a.entityId === 'duban:accept' && a.after.version === 2));
  });

  test('unsafe or malformed forms are refused with every problem named, and nothing is saved', async () => {
    const before = await db('forms').count<{ count: string }[]>('* as count');
    const bad = [
      [{ type: 'default', components: [{ type: 'iframe', url: 'https://evil.example' }] }, /iframe.*not allowed/],
      [{ type: 'default', components: [{ type: 'html', content: '<img src=x onerror=alert(1)>' }] }, /html.*not allowed/],
      [{ type: 'default', components: [{ type: 'textfield', key: '__proto__' }] }, /variable name/],
      [{ type: 'default', components: [{ type: 'textfield', key: 'a' }, { type: 'textarea', key: 'a' }] }, /used twice/],
      [{ type: 'default', components: [{ type: 'group', components: [{ type: 'script' }] }] }, /components\[0\]\.components\[0\].*script/],
      [{ components: [] }, /"type": "default"/],
      ['<form/>', /JSON object/],
    ] as const;
    for (const [schema, message] of bad) {
      const res = await as(app, admin, { method: 'PUT', url: '/api/forms/duban:new', payload: { schema } });
      assert.equal(res.statusCode, 400, res.body);
      assert.match(String(res.headers['content-type']), /problem\+json/);
      assert.match(res.json().errors.join('\n'), message);
    }
    assert.deepEqual(await db('forms').count<{ count: string }[]>('* as count'), before);
    assert.equal((await as(app, market, { method: 'PUT', url: accept, payload: { schema: { type: 'default', components: [] } } })).statusCode, 403);
    // A dynamic list's rows are their own scope: the same key inside and outside is fine.
    const rows = { type: 'default', components: [{ type: 'textfield', key: 'name' }, { type: 'dynamiclist', path: 'materials', components: [{ type: 'textfield', key: 'name' }] }] };
    assert.equal((await as(app, admin, { method: 'PUT', url: '/api/forms/duban:materials', payload: { schema: rows } })).statusCode, 200);
  });
});

describe('key projects', () => {
  test('board, summary, settings, registration, detail, reports, problems, phone links and files answer by role', async () => {
    const created = await as(app, admin, { method: 'POST', url: '/api/projects', payload: {
      code: 'API-P1', name: '接口测试项目', departmentId: 'market', responsiblePerson: '张三', totalInvestment: 100, annualTarget: 50,
      plannedStart: '2026-01-01', plannedFinish: '2030-12-31', milestones: [{ name: '开工建设', dueDate: '2030-06-30' }],
    } });
    assert.equal(created.statusCode, 201, created.body);
    const id = created.json().id as string;
    assert.equal((await as(app, market, { method: 'POST', url: '/api/projects', payload: {} })).statusCode, 403);
    assert.ok((await as(app, leader, { method: 'GET', url: '/api/projects' })).json().items.some((x: { id: string }) => x.id === id));
    assert.equal((await as(app, leader, { method: 'GET', url: '/api/projects/summary' })).statusCode, 200);
    assert.equal((await as(app, market, { method: 'GET', url: '/api/projects/summary' })).statusCode, 403);
    assert.equal((await as(app, market, { method: 'GET', url: '/api/projects/settings' })).json().redPoints, 30);
    assert.equal((await as(app, admin, { method: 'PUT', url: '/api/projects/settings', payload: { warningDays: 5 } })).statusCode, 200);
    assert.equal((await as(app, market, { method: 'GET', url: `/api/projects/${id}` })).statusCode, 200);
    assert.equal((await as(app, health, { method: 'GET', url: `/api/projects/${id}` })).statusCode, 404);
    assert.equal((await as(app, market, { method: 'POST', url: `/api/projects/${id}/reports`, payload: { progress: 10, text: '进场施工' } })).statusCode, 201);
    assert.equal((await as(app, leader, { method: 'POST', url: `/api/projects/${id}/reports`, payload: { progress: 10, text: 'x' } })).statusCode, 403);
    const problem = await as(app, inspector, { method: 'POST', url: `/api/projects/${id}/problems`, payload: { content: '用地指标未落实', departmentId: 'resources', dueDate: '2030-01-31' } });
    assert.equal(problem.statusCode, 201, problem.body);
    const resolve = await as(app, market, { method: 'POST', url: `/api/projects/${id}/problems/${problem.json().problemId}/resolve`, payload: { resolution: '已协调落实' } });
    assert.equal(resolve.statusCode, 204, resolve.body);
    const link = await as(app, market, { method: 'POST', url: `/api/projects/${id}/links` });
    assert.equal(link.statusCode, 201);
    assert.equal((await app.inject({ method: 'GET', url: `/api/m/${link.json().token}` })).statusCode, 200);
    assert.equal((await app.inject({ method: 'POST', url: `/api/m/${link.json().token}/reports`, payload: { progress: 1, text: 'x' } })).statusCode, 400, 'the phone page sends multipart');
    assert.equal((await as(app, market, { method: 'GET', url: '/api/files/00000000-0000-4000-8000-000000000000' })).statusCode, 404);
  });
});

describe('operations console and departments', () => {
  test('admins suspend a version: starting by key uses the newest active one, or refuses (409) when none is; audited', async () => {
    const first = await deployCase();
    const v2 = await as(app, admin, { method: 'POST', url: '/api/deployments', payload: { xml: CASE_XML.replace('name="审查"', 'name="审查(二)"'), note: 'v2' } });
    assert.equal(v2.statusCode, 201, v2.body);
    const second = v2.json();
    assert.equal((await as(app, leader, { method: 'POST', url: `/api/process-definitions/${second.id}/suspend` })).statusCode, 403);
    const sus = await as(app, admin, { method: 'POST', url: `/api/process-definitions/${second.id}/suspend` });
    assert.equal(sus.statusCode, 200, sus.body);
    assert.ok(sus.json().suspendedAt);
    assert.equal((await as(app, admin, { method: 'POST', url: `/api/process-definitions/${second.id}/suspend` })).statusCode, 409, 'already suspended');
    const started = await startCase(market, 'market', 'SUSP-1');
    assert.equal(started.statusCode, 201, started.body);
    assert.equal(started.json().definitionId, first.id, 'falls back to the newest active version');
    const byVersion = await as(app, market, { method: 'GET', url: `/api/process-instances?definitionId=${encodeURIComponent(first.id)}&businessKey=SUSP-1` });
    assert.equal(byVersion.json().total, 1);
    assert.equal((await as(app, admin, { method: 'POST', url: `/api/process-definitions/${first.id}/suspend` })).statusCode, 200);
    assert.equal((await startCase(market, 'market', 'SUSP-2')).statusCode, 409, 'every version suspended');
    for (const id of [first.id, second.id]) assert.equal((await as(app, admin, { method: 'POST', url: `/api/process-definitions/${id}/activate` })).statusCode, 200);
    assert.equal((await as(app, admin, { method: 'POST', url: `/api/process-definitions/${second.id}/activate` })).statusCode, 409, 'already active');
    assert.equal((await as(app, admin, { method: 'POST', url: '/api/process-definitions/nope:9/suspend' })).statusCode, 404);
    const listed = await as(app, admin, { method: 'GET', url: '/api/process-definitions?key=api_case' });
    assert.ok(listed.json().items.every((d: { suspendedAt: string | null }) => d.suspendedAt === null));
    assert.ok(await (await sealed(db))('audit_log').where({ action: 'definition.suspended', entity_id: second.id }).first());
    assert.ok(await (await sealed(db))('audit_log').where({ action: 'definition.activated', entity_id: second.id }).first());
  });

  test('timers due soon and the SMS backlog, for admins', async () => {
    const started = await startCase(market, 'market', 'TIMERS-1');
    const [row] = await db('timers').insert({ instance_id: started.json().id, execution_id: 'x-1', element_id: 'soon', due_at: db.raw(`now() + interval '2 hours'`) }).returning('id');
    await db('timers').insert({ instance_id: started.json().id, execution_id: 'x-2', element_id: 'later', due_at: db.raw(`now() + interval '3 days'`) });
    const soon = await as(app, admin, { method: 'GET', url: '/api/timers?withinHours=24' });
    assert.equal(soon.statusCode, 200, soon.body);
    const ids = soon.json().items.map((x: { id: number }) => x.id);
    assert.ok(ids.includes(Number(row.id)));
    assert.ok(!soon.json().items.some((x: { elementId: string }) => x.elementId === 'later'));
    assert.equal((await as(app, inspector, { method: 'GET', url: '/api/timers' })).statusCode, 403);
    assert.equal((await as(app, admin, { method: 'GET', url: '/api/timers?withinHours=0' })).statusCode, 400);
    await db('timers').whereIn('execution_id', ['x-1', 'x-2']).delete();
    await db('outbox').insert([
      { service: 'sms', dedup_key: 'backlog-1', payload: JSON.stringify({ to: '+8613800000009', template: 'overdue', vars: {} }), status: 'pending', last_error: 'deferred: daily limit', next_attempt_at: db.raw(`now() + interval '1 day'`) },
      { service: 'sms', dedup_key: 'backlog-2', payload: JSON.stringify({ to: '+8613800000009', template: 'overdue', vars: {} }), status: 'failed', last_error: 'rejected' },
    ]);
    const backlog = await as(app, inspector, { method: 'GET', url: '/api/sms/backlog' });
    assert.equal(backlog.statusCode, 200, backlog.body);
    assert.ok(backlog.json().deferred >= 1 && backlog.json().failed >= 1 && backlog.json().pending >= backlog.json().deferred);
    assert.equal((await as(app, market, { method: 'GET', url: '/api/sms/backlog' })).statusCode, 403);
    await db('outbox').whereIn('dedup_key', ['backlog-1', 'backlog-2']).delete();
  });

  test('admins edit a department (its id stays); audited', async () => {
    const res = await as(app, admin, { method: 'PATCH', url: '/api/departments/market', payload: { name: '市场监督管理局', phone: '+8613900000001' } });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().name, '市场监督管理局');
    assert.equal((await as(app, market, { method: 'PATCH', url: '/api/departments/market', payload: { name: 'x' } })).statusCode, 403);
    assert.equal((await as(app, admin, { method: 'PATCH', url: '/api/departments/nowhere', payload: { name: 'x' } })).statusCode, 404);
    assert.equal((await as(app, admin, { method: 'PATCH', url: '/api/departments/market', payload: {} })).statusCode, 400);
    assert.ok(await (await sealed(db))('audit_log').where({ action: 'department.updated', entity_id: 'market' }).first());
  });
});

describe('audit, metrics and docs', () => {
  test('the audit trail is listed, verified, and append-only for the application', async () => {
    const list = await as(app, admin, { method: 'GET', url: '/api/audit?action=task.completed' });
    assert.ok(list.json().total >= 2);
    assert.deepEqual((await as(app, admin, { method: 'GET', url: '/api/audit/verify' })).json().ok, true);
    assert.equal((await as(app, market, { method: 'GET', url: '/api/audit' })).statusCode, 403);
    await assert.rejects(db('audit_log').update({ actor: 'mallory' }), /append-only/);
    await assert.rejects(db('audit_log').delete(), /append-only/);
  });

  test('metrics are exposed to admins and metrics tokens, and time every API route', async () => {
    assert.equal((await as(app, market, { method: 'GET', url: '/api/tasks' })).statusCode, 200);
    assert.equal((await as(app, market, { method: 'GET', url: '/api/cases/00000000-0000-4000-8000-000000000000' })).statusCode, 404);
    const res = await as(app, admin, { method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200);
    // The latency of the API itself, by route and status (it once timed only /metrics).
    assert.match(res.body, /duban_http_request_duration_seconds_count\{method="GET",route="\/api\/tasks",status="200"\} [1-9]/);
    assert.match(res.body, /duban_http_request_duration_seconds_count\{method="GET",route="\/api\/cases\/:id",status="404"\} [1-9]/);
    assert.match(res.body, /duban_timers_pending/);
    assert.match(res.body, /duban_outbox_backlog/);
    assert.match(res.body, /duban_audit_queued \d/, 'the audit backlog is a gauge');
    assert.equal((await as(app, null, { method: 'GET', url: '/metrics' })).statusCode, 401);
  });

  test('each route group refuses the roles it does not serve (403)', async () => {
    const cases: Array<[Session, 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', string, unknown?]> = [
      [market, 'GET', '/api/tokens'], [inspector, 'POST', '/api/tokens', { name: 'x', userId: '00000000-0000-4000-8000-000000000000', scopes: ['read'] }],
      [leader, 'DELETE', '/api/tokens/00000000-0000-4000-8000-000000000000'],
      [leader, 'PATCH', '/api/users/00000000-0000-4000-8000-000000000000', { active: false }],
      [inspector, 'POST', '/api/deployments', { xml: CASE_XML }], [market, 'POST', '/api/deployments/validate', { xml: CASE_XML }],
      [leader, 'POST', '/api/process-definitions/api_case/start', {}], [inspector, 'POST', '/api/process-definitions/api_case/start', {}],
      [leader, 'POST', '/api/process-instances/00000000-0000-4000-8000-000000000000/cancel', { reason: 'x' }],
      [market, 'GET', '/api/incidents'], [leader, 'POST', '/api/incidents/1/retry'],
      [leader, 'POST', '/api/messages/correlate', { messageName: 'x' }], [inspector, 'POST', '/api/messages/correlate', { messageName: 'x' }],
      [leader, 'GET', '/api/audit'], [inspector, 'GET', '/api/audit/verify'], [market, 'GET', '/metrics'],
      [market, 'PUT', '/api/calendar/days/2027-01-01', { kind: 'holiday' }], [inspector, 'PATCH', '/api/items/API-1', { promisedDays: 1 }],
      [leader, 'POST', '/api/cases', {}], [inspector, 'POST', '/api/cases/00000000-0000-4000-8000-000000000000/suspend', { kind: 'special', reason: 'xx' }],
      [leader, 'POST', '/api/supervisions/00000000-0000-4000-8000-000000000000/close', { result: 'xx' }], [market, 'GET', '/api/roster?from=2026-01-01&to=2026-01-02'],
      [market, 'GET', '/api/sms'], [leader, 'POST', '/api/tasks/00000000-0000-4000-8000-000000000000/complete', {}],
      [inspector, 'PUT', '/api/forms/duban:accept', { schema: { type: 'default', components: [] } }],
    ];
    for (const [who, method, url, payload] of cases) {
      const res = await as(app, who, { method, url, payload: payload as object | undefined });
      assert.equal(res.statusCode, 403, `${who.username} ${method} ${url} → ${res.statusCode} ${res.body}`);
    }
  });

  test('every route answers 401 without credentials (public ones excepted)', async () => {
    const routes = listRoutes(app).filter((r) => r.url.startsWith('/api/') && !['/api/health', '/api/auth/login'].includes(r.url) && !r.url.startsWith('/api/m/'));
    for (const r of routes) {
      const url = r.url.replace(':id', '00000000-0000-4000-8000-000000000000').replace(':key', 'api_case');
      const res = await app.inject({ method: r.method as 'GET', url, payload: r.method === 'GET' ? undefined : {} });
      assert.equal(res.statusCode, 401, `${r.method} ${r.url} → ${res.statusCode}`);
    }
  });

  test('OpenAPI lists every route, and every route was exercised by these tests', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/api/health' })).json().database, 'ok');
    const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
    const documented = new Set<string>();
    for (const [p, ops] of Object.entries(doc.paths as Record<string, object>)) {
      for (const m of Object.keys(ops)) documented.add(`${m.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ':$1')}`);
    }
    const routes = listRoutes(app).filter((r) => r.url.startsWith('/api/') || r.url === '/metrics');
    for (const r of routes) {
      assert.ok(documented.has(`${r.method} ${r.url}`), `OpenAPI lacks ${r.method} ${r.url}`);
      assert.ok(hits.has(`${r.method} ${r.url}`), `no test exercised ${r.method} ${r.url}`);
    }
    assert.equal((await app.inject({ method: 'GET', url: '/docs' })).statusCode < 400, true);
  });
});

function listRoutes(a: FastifyInstance): Array<{ method: string; url: string }> {
  const out: Array<{ method: string; url: string }> = [];
  for (const line of a.printRoutes({ commonPrefix: false, includeMeta: false }).split('\n')) {
    const m = /([/\w:.*-]+) \(([A-Z, ]+)\)/.exec(line.replace(/^[\s│├└─]+/, ''));
    if (!m) continue;
    for (const method of m[2]!.split(',').map((s) => s.trim())) if (method !== 'HEAD' && method !== 'OPTIONS') out.push({ method, url: m[1]! });
  }
  return out;
}
