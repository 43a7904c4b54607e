/**
 * The task list's page is a named statement (src/http/tasks.ts): PostgreSQL plans it once per
 * connection and reuses the plan, but only while it rates that generic plan no worse than one made
 * for the call's values. Twice it was rated worse, and the page was planned afresh on every request,
 * which cost PostgreSQL more than running it: with the page size and offset as bindings (a leader's
 * list, a later page), and with the clerk's department as a binding (the generic plan assumed half a
 * percent of the tasks where a department has a tenth). On the demo's own data, copied to a district's
 * size. (A page after the first runs unnamed, planned for its call: no plan is kept for it to lose.)
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { createTestDatabase } from './support/db.js';
import { seedTaskList } from '../bench/api-load.js';
import { taskListStatements } from '../src/http/tasks.js';
import type { Principal } from '../src/auth/principal.js';

let t: Awaited<ReturnType<typeof createTestDatabase>>;

before(async () => {
  t = await createTestDatabase('duban_list_plans');
  await seedTaskList(t.db, { cases: 200, copies: 24 });
});
after(async () => t.drop());

async function principal(username: string): Promise<Principal> {
  const u = await t.db('users').where({ username }).first('id', 'username', 'display_name', 'roles', 'department_id');
  assert.ok(u, `demo user ${username}`);
  return { userId: String(u.id), username: u.username, displayName: u.display_name, roles: u.roles, departmentId: u.department_id, via: 'session', scopes: null };
}

/** How often PostgreSQL planned the statement afresh over `calls` calls on one connection. */
async function customPlans(text: string, values: unknown[], calls: number): Promise<{ generic: number; custom: number; rows: number }> {
  const client = new pg.Client({ connectionString: t.url });
  await client.connect();
  try {
    let rows = 0;
    for (let i = 0; i < calls; i++) rows = (await client.query({ name: 'list', text, values })).rowCount ?? 0;
    const { rows: [s] } = await client.query('SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = $1', ['list']);
    return { generic: Number(s.generic_plans), custom: Number(s.custom_plans), rows };
  } finally {
    await client.end();
  }
}

for (const [who, username, filters] of [
  ['a clerk, first page', 'market.clerk', {}],
  ['a clerk, 50 a page', 'market.clerk', { pageSize: 50 }],
  ['a clerk, their department’s unassigned tasks', 'market.clerk', { assignment: 'department' }],
  ['a leader, first page', 'leader', {}],
  ['an inspector, overdue, sorted by case number', 'inspector', { overdue: true, sort: 'caseNumber' }],
] as const) {
  test(`the task list of ${who} is planned once and then reused`, async () => {
    const { text, values } = taskListStatements(filters, await principal(username)).page;
    const plans = await customPlans(text, values, 12);
    assert.ok(plans.generic >= 6, `planned afresh on ${plans.custom} of 12 calls (${plans.rows} rows a page)`);
  });
}
