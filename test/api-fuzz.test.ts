import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { createTestDatabase } from './support/db.js';
import { apiApp, login, as, type Session } from './support/api.js';
import { bpmn, flows } from './support/bpmn.js';
import type { Db } from '../src/db/database.js';

/**
 * Property: whatever body, id or query string arrives at a write route, the answer is never a 500,
 * and a refused request (4xx) changes nothing in the database.
 */
let t: Awaited<ReturnType<typeof createTestDatabase>>;
let db: Db;
let app: FastifyInstance;
let admin: Session;
let clerk: Session;
let knownTask = '';
let knownInstance = '';
let knownUser = '';

const TABLES = ['process_definitions', 'process_instances', 'tasks', 'timers', 'outbox', 'incidents', 'history', 'departments', 'users', 'api_tokens', 'audit_log', 'message_subscriptions',
  'items', 'cases', 'case_suspensions', 'supervisions', 'urgings', 'duty_roster', 'calendar_days', 'calendar_years', 'forms',
  'letters', 'letter_serials', 'ratings', 'rating_imports', 'rating_rejects'];

async function fingerprint(): Promise<string> {
  const { rows } = await db.raw(`SELECT ${TABLES.map((tb) => `(SELECT count(*) FROM ${tb})::text`).join(` || ',' || `)} AS f`);
  const versions = await db('process_instances').sum<{ s: string }[]>('version as s');
  const taskState = await db.raw(`SELECT coalesce(string_agg(id || status || coalesce(assignee, ''), ',' ORDER BY id), '') AS s FROM tasks`);
  return `${rows[0].f}|${versions[0]?.s}|${taskState.rows[0].s}`;
}

before(async () => {
  t = await createTestDatabase();
  db = t.db;
  ({ app } = await apiApp(db));
  admin = await login(app, 'admin');
  clerk = await login(app, 'market.clerk');
  await as(app, admin, { method: 'POST', url: '/api/deployments', payload: { xml: bpmn('fz', `<startEvent id="s"/><userTask id="u" camunda:candidateGroups="market"/><endEvent id="e"/>${flows('s', 'u', 'e')}`) } });
  const s = await as(app, clerk, { method: 'POST', url: '/api/process-definitions/fz/start', payload: { businessKey: 'FZ-1' } });
  knownInstance = s.json().id;
  knownTask = (await db('tasks').where({ instance_id: knownInstance }).first()).id;
  knownUser = (await db('users').where({ username: 'leader' }).first()).id;
});
after(async () => {
  await app.close();
  await t.drop();
});

const ids = () => fc.oneof(fc.uuid(), fc.string({ maxLength: 40 }), fc.integer().map(String), fc.constantFrom(knownTask, knownInstance, knownUser, '%00', '..%2F..', '1e308'));
const junk = fc.oneof(
  fc.anything({ maxDepth: 3 }),
  fc.json({ maxDepth: 3 }).map((s) => s),
  fc.dictionary(fc.constantFrom('xml', 'note', 'name', 'id', 'username', 'password', 'roles', 'scopes', 'userId', 'variables', 'businessKey', 'departmentId', 'messageName', 'reason', 'active', 'phone', 'displayName'),
    fc.oneof(fc.string({ maxLength: 60 }), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }))),
);
const query = fc.dictionary(fc.constantFrom('page', 'pageSize', 'sort', 'order', 'status', 'overdue', 'assignment', 'x'), fc.oneof(fc.string({ maxLength: 12 }), fc.integer().map(String)), { maxKeys: 4 })
  .map((q) => new URLSearchParams(q).toString());

const text = (max = 30) => fc.oneof(fc.string({ maxLength: max }), fc.constantFrom('market', 'inspection', 'fz', 'a.b', '测试', ''));
/** Bodies of the right shape with random values, so the property also reaches the accepting paths. */
const NEAR_VALID: Record<string, fc.Arbitrary<unknown>> = {
  '/api/departments': fc.record({ id: text(12), name: text() }),
  '/api/users': fc.record({ username: text(12), displayName: text(), password: text(20), roles: fc.subarray(['admin', 'clerk', 'inspector', 'leader', 'bogus']), departmentId: fc.option(text(12)) }),
  start: fc.record({ businessKey: fc.option(text(20), { nil: undefined }), departmentId: fc.option(text(12), { nil: undefined }), variables: fc.option(fc.dictionary(text(8), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }), { nil: undefined }) }),
  complete: fc.record({ variables: fc.dictionary(text(8), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }) }),
  cancel: fc.record({ reason: text() }),
  '/api/messages/correlate': fc.record({ messageName: text(20), businessKey: fc.option(text(12), { nil: undefined }) }),
  '/api/cases': fc.record({ itemCode: text(12), applicantName: text(), applicantType: fc.constantFrom(1, 2, 3), idType: fc.constantFrom('resident_id', 'uscc', 'passport'),
    idNumber: fc.oneof(fc.constant('11010519491231002X'), fc.constant('91350100M000100Y43'), fc.string({ minLength: 18, maxLength: 18 })), phone: fc.oneof(fc.constant('+8613800000000'), text(16)) }),
  '/api/items': fc.record({ code: text(12), name: text(), departmentId: text(12), promisedDays: fc.integer({ min: -2, max: 400 }) }),
  suspend: fc.record({ kind: fc.constantFrom('supplement', 'special', 'x'), reason: text() }),
  urge: fc.record({ content: text() }),
  '/api/letters': fc.record({ kind: fc.constantFrom('recommendation', 'reminder', 'x'), subject: text(), recipientDepartmentId: text(12), source: text(), problems: text(), recommendations: text() }),
  '/api/ratings': fc.record({ caseNumber: text(20), times: fc.constantFrom(1, 2, 3, '1'), channel: fc.constantFrom('PC端', '6', 'x'), level: fc.constantFrom('满意', '不满意', '一般', 'x'), ratedAt: fc.constantFrom('20261120100000', '2026-13-01', ''), departmentId: text(12) }),
  batch: fc.record({ source: fc.constantFrom('gbt39046', 'provincial', 'x'), ratings: fc.array(fc.record({ caseNumber: text(20), times: fc.constantFrom(1, 2, 3), channel: fc.constantFrom('PC端', '6', 'x'), levelCode: fc.constantFrom('1', '5', '9'), text: text(), ratedAt: fc.constantFrom('20261120100000', 'x'), departmentId: text(12) }), { maxLength: 3 }) }),
  // PUT /api/forms/:key, sampled with key "x": schemas near the form-js shape, some with refused components.
  '/api/forms/x': fc.record({ schema: fc.record({ type: fc.constantFrom('default', 'x'), components: fc.array(fc.record({ type: fc.constantFrom('textfield', 'select', 'group', 'iframe', 'html'), key: text(12) }), { maxLength: 4 }) }),
    note: fc.option(text(), { nil: undefined }) }),
};
function bodyFor(url: string): fc.Arbitrary<unknown> {
  const shaped = NEAR_VALID[url] ?? NEAR_VALID[url.split('/').pop()!];
  return shaped ? fc.oneof(junk, shaped) : junk;
}

const WRITE_ROUTES: Array<{ method: 'POST' | 'PATCH' | 'DELETE'; url: (id: string) => string }> = [
  { method: 'POST', url: () => '/api/departments' },
  { method: 'POST', url: () => '/api/users' },
  { method: 'PATCH', url: (id) => `/api/users/${encodeURIComponent(id)}` },
  { method: 'POST', url: () => '/api/tokens' },
  { method: 'DELETE', url: (id) => `/api/tokens/${encodeURIComponent(id)}` },
  { method: 'POST', url: () => '/api/deployments' },
  { method: 'POST', url: () => '/api/deployments/validate' },
  { method: 'POST', url: (id) => `/api/process-definitions/${encodeURIComponent(id)}/start` },
  { method: 'POST', url: (id) => `/api/process-instances/${encodeURIComponent(id)}/cancel` },
  { method: 'POST', url: (id) => `/api/tasks/${encodeURIComponent(id)}/claim` },
  { method: 'POST', url: (id) => `/api/tasks/${encodeURIComponent(id)}/unclaim` },
  { method: 'POST', url: (id) => `/api/tasks/${encodeURIComponent(id)}/complete` },
  { method: 'POST', url: (id) => `/api/incidents/${encodeURIComponent(id)}/retry` },
  { method: 'POST', url: () => '/api/messages/correlate' },
  { method: 'POST', url: () => '/api/items' },
  { method: 'PATCH', url: (id) => `/api/items/${encodeURIComponent(id)}` },
  { method: 'POST', url: () => '/api/cases' },
  { method: 'POST', url: (id) => `/api/cases/${encodeURIComponent(id)}/suspend` },
  { method: 'POST', url: (id) => `/api/cases/${encodeURIComponent(id)}/resume` },
  { method: 'POST', url: (id) => `/api/supervisions/${encodeURIComponent(id)}/urge` },
  { method: 'POST', url: (id) => `/api/supervisions/${encodeURIComponent(id)}/follow-up` },
  { method: 'POST', url: (id) => `/api/supervisions/${encodeURIComponent(id)}/close` },
  { method: 'PUT' as 'POST', url: (id) => `/api/roster/${encodeURIComponent(id)}` },
  { method: 'PUT' as 'POST', url: (id) => `/api/calendar/days/${encodeURIComponent(id)}` },
  { method: 'DELETE', url: (id) => `/api/calendar/days/${encodeURIComponent(id)}` },
  { method: 'PUT' as 'POST', url: (id) => `/api/calendar/years/${encodeURIComponent(id)}` },
  { method: 'PUT' as 'POST', url: (id) => `/api/forms/${encodeURIComponent(id)}` },
  { method: 'POST', url: () => '/api/letters' },
  { method: 'POST', url: (id) => `/api/letters/${encodeURIComponent(id)}/reply` },
  { method: 'POST', url: () => '/api/ratings' },
  { method: 'POST', url: () => '/api/ratings/batch' },
  { method: 'PUT' as 'POST', url: () => '/api/ratings/settings' },
  { method: 'PUT' as 'POST', url: (id) => `/api/ratings/rejects/${encodeURIComponent(id)}` },
];

test('write routes: random bodies, ids and query strings never give a 500 or a partial write', { timeout: 240_000 }, async () => {
  const seen = new Map<number, number>();
  for (const route of WRITE_ROUTES) {
    const sample = route.url('x');
    const idArb = sample.includes('/start') ? fc.oneof(ids(), fc.constant('fz')) : ids();
    await fc.assert(fc.asyncProperty(idArb, bodyFor(sample), query, fc.boolean(), async (id, body, qs, asAdmin) => {
      const before = await fingerprint();
      let payload: string;
      try {
        payload = JSON.stringify(body) ?? 'null';
      } catch {
        payload = '{}';
      }
      const res = await as(app, asAdmin ? admin : clerk, {
        method: route.method, url: `${route.url(id)}${qs ? `?${qs}` : ''}`, payload, headers: { 'content-type': 'application/json' },
      });
      seen.set(res.statusCode, (seen.get(res.statusCode) ?? 0) + 1);
      assert.ok(res.statusCode < 500, `${route.method} ${route.url(id)} → ${res.statusCode} ${res.body}`);
      assert.ok(!res.body.includes('    at '), 'no stack traces');
      if (res.statusCode >= 400) {
        assert.match(String(res.headers['content-type']), /application\/problem\+json/);
        assert.equal(await fingerprint(), before, `${route.method} ${route.url(id)} → ${res.statusCode} but the database changed`);
      }
    }), { numRuns: 30 });
  }
  assert.ok([...seen.keys()].some((s) => s >= 400), 'the generators do reach refusals');
  console.log('status codes seen:', Object.fromEntries(seen));
});

test('oversized bodies are refused with 413 problem+json', async () => {
  const res = await as(app, admin, { method: 'POST', url: '/api/deployments', payload: JSON.stringify({ xml: 'x'.repeat(3 * 1024 * 1024) }), headers: { 'content-type': 'application/json' } });
  assert.equal(res.statusCode, 413);
  assert.match(String(res.headers['content-type']), /problem\+json/);
});
