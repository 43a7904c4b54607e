/**
 * The execution cache (src/engine/execution-cache.ts): a command served by the live run the previous
 * command kept must store exactly what a recovered run stores, and a run kept by one process (engine)
 * must never serve a command after another process changed the instance.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase } from './support/db.js';
import { VirtualClock } from './support/clock.js';
import { TimerScheduler } from '../src/engine/scheduler.js';
import { bpmn, flows } from './support/bpmn.js';
import { WorkflowEngine } from '../src/engine/engine.js';
import { ServiceRegistry } from '../src/engine/services.js';
import type { Db } from '../src/db/database.js';
import { queuesReachableFrom } from '../bench/memory.js';

let t: Awaited<ReturnType<typeof createTestDatabase>>;
let db: Db;
let clock: VirtualClock;

const services = () => new ServiceRegistry()
  .register({ name: 'notify', description: 'queue a message', handler: (ctx) => { ctx.enqueue('sink', { bk: ctx.businessKey, n: ctx.variables.n }); return { notified: true }; } })
  .registerDelivery('sink', async () => ({ ok: true }));

// A deadline on the first task, a parallel split with a message wait beside a task, a service task, a gateway.
const XML = bpmn('cache_p', `
  <startEvent id="s"/>
  <userTask id="review" camunda:assignee="\${owner}" camunda:candidateGroups="g1,g2"/>
  <boundaryEvent id="late" attachedToRef="review"><timerEventDefinition><timeDuration>P3D</timeDuration></timerEventDefinition></boundaryEvent>
  <sequenceFlow id="f_late" sourceRef="late" targetRef="escalated"/>
  <endEvent id="escalated"/>
  <parallelGateway id="split"/>
  <userTask id="approve" camunda:candidateGroups="approvers"/>
  <intermediateCatchEvent id="reply"><messageEventDefinition messageRef="m_reply"/></intermediateCatchEvent>
  <parallelGateway id="join"/>
  <serviceTask id="tell" camunda:type="external" camunda:topic="notify"/>
  <exclusiveGateway id="ok" default="f_no"/>
  <sequenceFlow id="f_yes" sourceRef="ok" targetRef="yes"><conditionExpression xsi:type="tFormalExpression" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\${environment.variables.approved}</conditionExpression></sequenceFlow>
  <sequenceFlow id="f_no" sourceRef="ok" targetRef="no"/>
  <endEvent id="yes"/>
  <endEvent id="no"/>
  ${flows('s', 'review', 'split')}
  <sequenceFlow id="f_split_approve" sourceRef="split" targetRef="approve"/>
  <sequenceFlow id="f_split_reply" sourceRef="split" targetRef="reply"/>
  <sequenceFlow id="f_approve_join" sourceRef="approve" targetRef="join"/>
  <sequenceFlow id="f_reply_join" sourceRef="reply" targetRef="join"/>
  ${flows('join', 'tell', 'ok')}`, '<message id="m_reply" name="reply"/>');

before(async () => {
  t = await createTestDatabase('duban_cache', { virtualClock: true });
  db = t.db;
  clock = new VirtualClock(db);
});
after(async () => t.drop());

/** What the database holds of an instance, without ids and times that differ between two runs. */
async function stored(instanceId: string) {
  const i = await db('process_instances').where({ id: instanceId }).first('status', 'variables', 'version');
  const tasks = await db('tasks').where({ instance_id: instanceId }).orderBy('created_at').orderBy('element_id').select('element_id', 'status', 'assignee', 'candidate_groups', 'output');
  const timers = await db('timers').where({ instance_id: instanceId }).orderBy('element_id').select('element_id', 'timer_type', 'definition');
  const history = await db('history').where({ instance_id: instanceId }).orderBy('id').select('kind', 'element_id', 'element_type');
  const outbox = await db('outbox').where({ instance_id: instanceId }).select('element_id', 'service', 'payload');
  const subs = await db('message_subscriptions').where({ instance_id: instanceId }).select('message_name', 'element_id');
  return { i, tasks, timers, history, outbox, subs };
}

async function openTask(instanceId: string, elementId: string): Promise<string> {
  const row = await db('tasks').where({ instance_id: instanceId, element_id: elementId, status: 'open' }).first('id');
  assert.ok(row, `${elementId} is open`);
  return row.id;
}

/** The same steps on one instance; each step is one command, so with the cache on each after the first is a hit. */
async function drive(engine: WorkflowEngine, businessKey: string) {
  const started = await engine.start('cache_p', { businessKey, variables: { owner: 'ann', n: 1 }, actor: 'a' });
  const steps = [await stored(started.id)];
  await engine.completeTask(await openTask(started.id, 'review'), { approved: true, note: 'ok' }, 'ann');
  steps.push(await stored(started.id));
  await engine.correlate('reply', { businessKey, variables: { replied: 'yes' }, actor: 'b' });
  steps.push(await stored(started.id));
  await engine.completeTask(await openTask(started.id, 'approve'), { approved: false }, 'bob');
  steps.push(await stored(started.id));
  return steps;
}

test('a kept execution serves the next commands exactly as recovered ones do', async () => {
  const warm = new WorkflowEngine(db, services());
  const cold = new WorkflowEngine(db, services(), { executionCache: 0 });
  await warm.deploy(XML);
  const a = await drive(warm, 'bk-warm');
  const b = await drive(cold, 'bk-cold');
  assert.equal(warm.executions.stats.hits, 3, 'every command after the start used the kept run');
  assert.equal(cold.executions.stats.hits, 0);
  // The outbox payload carries the business key, which differs by design.
  const same = (s: Awaited<ReturnType<typeof stored>>) => ({ ...s, outbox: s.outbox.map((o) => ({ ...o, payload: { ...o.payload, bk: null } })) });
  assert.deepEqual(a.map(same), b.map(same));
  assert.equal(a.at(-1)!.i.status, 'completed');
  assert.equal(warm.executions.size, 0, 'an ended instance is not kept');
});

test('a run kept by one process never serves a command after another process changed the instance', async () => {
  const p1 = new WorkflowEngine(db, services());
  const p2 = new WorkflowEngine(db, services());
  const started = await p1.start('cache_p', { businessKey: 'bk-2p', variables: { owner: 'ann', n: 2 } });
  assert.equal(p1.executions.size, 1);
  // The other process completes the review: the row's version moves past the one p1 kept.
  await p2.completeTask(await openTask(started.id, 'review'), { approved: true }, 'ann');
  // p1 acts next: it must recover (its kept run still waits in review) and see the reply wait.
  const hits = p1.executions.stats.hits;
  const r = await p1.correlate('reply', { businessKey: 'bk-2p', variables: {} });
  assert.equal(r.delivered, 1);
  assert.equal(p1.executions.stats.hits, hits, 'a stale run is not used');
  await p1.completeTask(await openTask(started.id, 'approve'), { approved: true }, 'bob');
  const s = await stored(started.id);
  assert.equal(s.i.status, 'completed');
  assert.deepEqual(s.history.filter((h) => h.kind === 'element.end' && ['yes', 'no'].includes(h.element_id)).map((h) => h.element_id), ['yes']);
});

test('moved timer rows, a cancellation and a failed command each make the kept run unusable', async () => {
  const engine = new WorkflowEngine(db, services());
  const started = await engine.start('cache_p', { businessKey: 'bk-moved', variables: { owner: 'ann', n: 3 } });
  // A retime or resume moves the row: the kept run's armed deadline no longer agrees with it.
  await db('timers').where({ instance_id: started.id }).update({ due_at: db.raw(`due_at + interval '1 day'`) });
  const hits = engine.executions.stats.hits;
  await engine.completeTask(await openTask(started.id, 'review'), { approved: true }, 'ann');
  assert.equal(engine.executions.stats.hits, hits);
  // A command that fails rolls back; its run (taken from the cache) is not kept.
  await assert.rejects(engine.completeTask(await openTask(started.id, 'review').catch(() => '00000000-0000-4000-8000-000000000000'), {}, 'x'));
  await engine.cancel(started.id, 'a', 'test');
  assert.equal(engine.executions.size, 0);
});

test('a deadline fired by the scheduler on a kept run stores what a recovered run stores', async () => {
  const warm = new WorkflowEngine(db, services());
  const cold = new WorkflowEngine(db, services(), { executionCache: 0 });
  const a = await warm.start('cache_p', { businessKey: 'bk-late-warm', variables: { owner: 'ann', n: 4 } });
  const b = await cold.start('cache_p', { businessKey: 'bk-late-cold', variables: { owner: 'ann', n: 4 } });
  await clock.advance(3 * 86_400_000 + 1000);
  const log = () => undefined;
  const hits = warm.executions.stats.hits;
  // Each engine's scheduler fires both deadlines; only the warm engine holds a kept run (for a).
  assert.equal(await new TimerScheduler(db, warm, { pollMs: 50, concurrency: 1, log }).drain(), 2);
  assert.equal(warm.executions.stats.hits, hits + 1, 'the kept run fired its own deadline');
  const sa = await stored(a.id);
  const sb = await stored(b.id);
  assert.equal(sa.i.status, 'completed');
  assert.deepEqual(sa, sb);
});

test('a kept execution is the small one: the install applied the smqp patch (patches/)', async () => {
  const engine = new WorkflowEngine(db, services());
  const started = await engine.start('cache_p', { businessKey: 'bk-size', variables: { owner: 'ann', n: 5 } });
  const version = (await db('process_instances').where({ id: started.id }).first('version')).version;
  const run = engine.executions.take(started.id, version);
  assert.ok(run, 'the start kept its run');
  // This diagram's waiting instance holds about 1,550 queues on smqp as published (a topic exchange
  // with queues of its own behind every queue's events) and about 490 with the patch. Without it
  // every kept run weighs about twice as much and every command costs about twice the engine CPU.
  const queues = queuesReachableFrom(run);
  assert.ok(queues < 800, `a kept run holds ${queues} smqp queues: is patches/bpmn-elements++smqp+11.0.1.patch applied (npm install runs patch-package)?`);
});
