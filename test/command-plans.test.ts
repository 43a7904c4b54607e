/**
 * A command's cost must not grow with the number of cases. Each hot statement of the command path
 * (src/engine/command-sql.ts, the audit queue insert) is planned as a server plans it after a few
 * calls, generically, on tables holding thousands of rows, and no large table may be read whole. A
 * completion once joined its task on a recordset PostgreSQL planned for a hundred rows, and read the
 * whole tasks table on every step: about a third of a completion's database CPU after 3,000 cases.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { createTestDatabase } from './support/db.js';
import { bpmn, flows } from './support/bpmn.js';
import { WorkflowEngine } from '../src/engine/engine.js';
import { ServiceRegistry } from '../src/engine/services.js';
import { COMMAND_STATEMENTS } from '../src/engine/command-sql.js';
import { appendAudit, INSERT_QUEUED } from '../src/audit/audit.js';
import { createDb } from '../src/db/database.js';
import type { PreparedStatement } from '../src/db/prepared.js';

let t: Awaited<ReturnType<typeof createTestDatabase>>;
const LARGE = ['process_instances', 'tasks', 'timers', 'history', 'audit_queue', 'audit_log', 'message_subscriptions', 'outbox'];

before(async () => {
  t = await createTestDatabase('duban_plans');
  const engine = new WorkflowEngine(t.db, new ServiceRegistry());
  const def = await engine.deploy(bpmn('plans_p', `<startEvent id="s"/><userTask id="review"/><endEvent id="e"/>${flows('s', 'review', 'e')}`));
  // 3,000 cases with a task, a timer and history each; half of the tasks done.
  await t.db.raw(`
    INSERT INTO process_instances (id, definition_id, process_key, business_key, status, state, variables, version)
    SELECT gen_random_uuid(), ?, 'plans_p', 'bk-' || g, 'running', '{}'::json, '{}'::jsonb, 1 FROM generate_series(1, 3000) g`, [def.id]);
  await t.db.raw(`
    INSERT INTO tasks (id, instance_id, execution_id, element_id, name, status)
    SELECT gen_random_uuid(), i.id, 'review_' || n, 'review', 'Review', CASE WHEN n % 2 = 0 THEN 'open' ELSE 'completed' END
      FROM process_instances i, generate_series(1, 2) n`);
  await t.db.raw(`
    INSERT INTO timers (instance_id, execution_id, element_id, timer_type, definition, due_at)
    SELECT id, 'late_1', 'late', 'timeDuration', 'P3D', now() + interval '3 days' FROM process_instances`);
  await t.db.raw(`
    INSERT INTO history (instance_id, kind, element_id) SELECT i.id, 'element.start', 'review' FROM process_instances i, generate_series(1, 4)`);
  await t.db.raw('ANALYZE');
});
after(async () => t.drop());

/**
 * What a generic plan of `statement` reads whole: tables it scans sequentially, and indexes it scans
 * without a condition (a partial index of every open task OR-ed into a lookup is as bad).
 */
async function readWhole(statement: PreparedStatement): Promise<string[]> {
  const client = new pg.Client({ connectionString: t.url });
  await client.connect();
  try {
    await client.query('SET plan_cache_mode = force_generic_plan');
    await client.query(`PREPARE s AS ${statement.text}`);
    const params = Math.max(0, ...[...statement.text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
    const { rows } = await client.query(`EXPLAIN (FORMAT JSON) EXECUTE s(${Array(params).fill('NULL').join(', ')})`);
    const found: string[] = [];
    const walk = (node: Record<string, unknown>) => {
      if (node['Node Type'] === 'Seq Scan') found.push(String(node['Relation Name']));
      if (/Index/.test(String(node['Node Type'])) && !node['Index Cond']) found.push(`index ${String(node['Index Name'])}`);
      for (const child of (node.Plans as Array<Record<string, unknown>> | undefined) ?? []) walk(child);
    };
    walk((rows[0]['QUERY PLAN'] as Array<{ Plan: Record<string, unknown> }>)[0]!.Plan);
    return found;
  } finally {
    await client.end();
  }
}

for (const statement of [...COMMAND_STATEMENTS, INSERT_QUEUED]) {
  test(`${statement.name}: no large table read whole`, async () => {
    const whole = (await readWhole(statement)).filter((r) => LARGE.some((table) => r === table || r.startsWith(`index ${table}_`)));
    assert.deepEqual(whole, [], `${statement.name} reads ${whole.join(', ')} whole`);
  });
}

/**
 * PostgreSQL keeps a named statement's generic plan only while it rates it no worse than one planned
 * for the call's values (plus the planning). The command write once cancelled tasks by `id = ANY($9)`:
 * its generic plan assumed ten ids, was rated worse, and the write, the largest statement of every
 * command, was planned afresh each time (a sixth of PostgreSQL's CPU per completion). Real commands,
 * through the engine, on one connection, so its prepared statements can be read back.
 */
test('the command statements are planned once per connection and then reused', async () => {
  const db = createDb(t.url, 1);
  try {
    const engine = new WorkflowEngine(db, new ServiceRegistry(), { audit: appendAudit });
    await engine.deploy(bpmn('plans_q', `<startEvent id="s"/><userTask id="review"/>
      <boundaryEvent id="late" attachedToRef="review"><timerEventDefinition><timeDuration>P3D</timeDuration></timerEventDefinition></boundaryEvent>
      <endEvent id="e"/><endEvent id="e2"/>${flows('s', 'review', 'e')}${flows('late', 'e2')}`));
    for (let i = 0; i < 12; i++) {
      const started = await engine.start('plans_q', { businessKey: `q-${i}` });
      const [task] = await db('tasks').where({ instance_id: started.id, status: 'open' }).select('id');
      await engine.completeTask(task!.id, {}, 'tester');
    }
    const rows: Array<{ name: string; generic_plans: string; custom_plans: string }> = (await db.raw(
      `SELECT name, generic_plans, custom_plans FROM pg_prepared_statements WHERE name LIKE 'duban_%'`)).rows;
    const seen = new Map(rows.map((r) => [r.name, r]));
    for (const name of ['duban_insert_instance_of_latest', 'duban_lock_instance_of_task', 'duban_read_held', 'duban_write_command']) {
      const r = seen.get(name);
      assert.ok(r, `${name} ran as a named statement`);
      assert.ok(Number(r.custom_plans) <= 5 && Number(r.generic_plans) > 0, `${name} planned afresh on ${r.custom_plans} calls, its generic plan used ${r.generic_plans} times`);
    }
  } finally {
    await db.destroy();
  }
});
