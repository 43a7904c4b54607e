import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase } from './support/db.js';
import { VirtualClock } from './support/clock.js';
import { bpmn, flows } from './support/bpmn.js';
import { WorkflowEngine } from '../src/engine/engine.js';
import { ServiceRegistry, BpmnServiceError } from '../src/engine/services.js';
import { TimerScheduler } from '../src/engine/scheduler.js';
import { OutboxDispatcher, retryIncident, recordProviderStatus } from '../src/engine/outbox.js';
import { DeferDelivery } from '../src/engine/services.js';
import { DubanError, InvalidDefinitionError } from '../src/engine/errors.js';
import type { Db } from '../src/db/database.js';

let t: Awaited<ReturnType<typeof createTestDatabase>>;
let db: Db;
let engine: WorkflowEngine;
let scheduler: TimerScheduler;
let clock: VirtualClock;
let outbox: OutboxDispatcher;
const delivered: Array<{ payload: Record<string, unknown>; dedupKey: string }> = [];
let failDeliveries = 0;

const services = new ServiceRegistry()
  .register({ name: 'notify', description: 'queue a message', handler: (ctx) => { ctx.enqueue('sink', { bk: ctx.businessKey }); return { notified: true }; } })
  .register({ name: 'check', description: 'fails with a BPMN error when amount < 0', handler: (ctx) => {
    if (Number(ctx.variables.amount) < 0) throw new BpmnServiceError('NEGATIVE', 'amount is negative');
    return { checked: true };
  } })
  .registerDelivery('sink', async (payload, meta) => {
    if (failDeliveries > 0) {
      failDeliveries--;
      throw new Error('provider down');
    }
    delivered.push({ payload, dedupKey: meta.dedupKey });
    return { ok: true };
  });

const log = () => undefined;

before(async () => {
  t = await createTestDatabase('duban_t', { virtualClock: true });
  db = t.db;
  clock = new VirtualClock(db);
  engine = new WorkflowEngine(db, services);
  scheduler = new TimerScheduler(db, engine, { pollMs: 50, concurrency: 1, log });
  outbox = new OutboxDispatcher(db, services, { pollMs: 50, concurrency: 1, log, backoffMs: 1 });
});
after(async () => t.drop());

async function refusal(xml: string): Promise<InvalidDefinitionError> {
  const before = await db('process_definitions').count<{ count: string }[]>('* as count');
  const err = await engine.deploy(xml).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof InvalidDefinitionError, `expected a refusal, got ${String(err)}`);
  assert.equal(err.status, 422);
  const afterCount = await db('process_definitions').count<{ count: string }[]>('* as count');
  assert.deepEqual(afterCount, before, 'a refused diagram must not be stored');
  return err;
}

function names(err: InvalidDefinitionError, elementId: string): boolean {
  return err.problems.some((p) => p.elementId === elementId);
}

describe('deploy refuses diagrams that would run code', () => {
  test('a script task is refused, naming the element', async () => {
    const err = await refusal(bpmn('p_script', `<startEvent id="s"/><scriptTask id="evil" scriptFormat="javascript"><script>process.exit(1)</script></scriptTask><endEvent id="e"/>${flows('s', 'evil', 'e')}`));
    assert.ok(names(err, 'evil'), JSON.stringify(err.problems));
    assert.match(err.message, /evil/);
  });

  test('a JavaScript condition is refused', async () => {
    const err = await refusal(bpmn('p_lang', `<startEvent id="s"/><exclusiveGateway id="g" default="f2"/><endEvent id="e1"/><endEvent id="e2"/>
      <sequenceFlow id="f0" sourceRef="s" targetRef="g"/>
      <sequenceFlow id="cond" sourceRef="g" targetRef="e1"><conditionExpression language="javascript">next(null, this.constructor)</conditionExpression></sequenceFlow>
      <sequenceFlow id="f2" sourceRef="g" targetRef="e2"/>`));
    assert.ok(names(err, 'cond'), JSON.stringify(err.problems));
  });

  test('an unknown service is refused', async () => {
    const err = await refusal(bpmn('p_unknown', `<startEvent id="s"/><serviceTask id="svc" camunda:type="external" camunda:topic="formatDisk"/><endEvent id="e"/>${flows('s', 'svc', 'e')}`));
    assert.ok(names(err, 'svc'));
    assert.match(err.problems.find((p) => p.elementId === 'svc')!.message, /unknown service "formatDisk"/);
  });

  test('an expression reaching constructor is refused', async () => {
    const err = await refusal(bpmn('p_ctor', `<startEvent id="s"/><serviceTask id="svc" implementation="\${environment.constructor.constructor('return process')()}"/><endEvent id="e"/>${flows('s', 'svc', 'e')}`));
    assert.ok(names(err, 'svc'));
    const err2 = await refusal(bpmn('p_ctor2', `<startEvent id="s"/><userTask id="u" camunda:assignee="\${variables.__proto__.x}"/><endEvent id="e"/>${flows('s', 'u', 'e')}`));
    assert.ok(names(err2, 'u'));
  });

  test('malformed XML and models without an executable process are refused with a reason', async () => {
    const bad = await refusal('<definitions><process id="x"><startEvent id="s"></process>');
    assert.match(bad.problems[0]!.message, /not a BPMN 2.0 document|unparsable|closing tag/i);
    const none = await refusal(bpmn('p_none', '<startEvent id="s"/>').replace('isExecutable="true"', 'isExecutable="false"'));
    assert.ok(none.problems.some((p) => /no executable process/.test(p.message)));
  });

  test('incoming/outgoing lists: partial ones (as bpmn-js writes after an edit) deploy with a warning; contradicting ones are refused', async () => {
    // bpmn-js writes the lists of the elements an admin touched; the rest of a hand-written diagram has none.
    const partial = bpmn('p_lists', `<startEvent id="s"><outgoing>f_s_a</outgoing></startEvent><userTask id="a"/><endEvent id="e"/>${flows('s', 'a', 'e')}`);
    const ok = await engine.deploy(partial);
    assert.ok(ok.warnings.some((w) => w.elementId === 'a' && /not listed as its incoming flow/.test(w.message)), JSON.stringify(ok.warnings));
    const contradicting = bpmn('p_lists_bad', `<startEvent id="s"><outgoing>f_a_e</outgoing></startEvent><userTask id="a"/><endEvent id="e"/>${flows('s', 'a', 'e')}`);
    const bad = await refusal(contradicting);
    assert.ok(bad.problems.some((p) => p.elementId === 's' && /listed as an outgoing flow here but starts elsewhere/.test(p.message)), JSON.stringify(bad.problems));
  });
});

describe('versions', () => {
  const v1 = bpmn('p_ver', `<startEvent id="s"/><userTask id="a" name="A"/><endEvent id="e"/>${flows('s', 'a', 'e')}`);
  const v2 = bpmn('p_ver', `<startEvent id="s"/><userTask id="b" name="B"/><endEvent id="e"/>${flows('s', 'b', 'e')}`);

  test('same key gives a new version; instances stay on theirs; state omits the XML', async () => {
    const d1 = await engine.deploy(v1);
    const i1 = await engine.start('p_ver');
    const d2 = await engine.deploy(v2);
    assert.equal(d1.version, 1);
    assert.equal(d2.version, 2);
    assert.equal((await engine.deploy(v2)).unchanged, true);
    const i2 = await engine.start('p_ver');
    assert.deepEqual(i1.activeElements, ['a']);
    assert.deepEqual(i2.activeElements, ['b']);
    const task = await db('tasks').where({ instance_id: i1.id }).first();
    const done = await engine.completeTask(task.id, {}, 'amy');
    assert.equal(done.status, 'completed');
    assert.equal(done.definitionId, 'p_ver:1');
    const row = await db('process_instances').where({ id: i2.id }).first('state');
    assert.ok(!JSON.stringify(row.state).includes('<definitions'), 'stored state must not carry the XML source');
    assert.ok(!JSON.stringify(row.state).includes('"source"'));
  });
});

describe('user tasks', () => {
  test('assignee, candidate groups, form key and due date are projected; output becomes variables', async () => {
    await engine.deploy(bpmn('p_task', `<startEvent id="s"/>
      <userTask id="review" name="审查" camunda:assignee="\${clerk}" camunda:candidateGroups="dept-market,dept-health" camunda:formKey="review-form" camunda:dueDate="\${due}"/>
      <exclusiveGateway id="g" default="no"/><endEvent id="ok"/><endEvent id="nok"/>
      ${flows('s', 'review', 'g')}
      <sequenceFlow id="yes" sourceRef="g" targetRef="ok"><conditionExpression>=approved = true and amount &gt; 100</conditionExpression></sequenceFlow>
      <sequenceFlow id="no" sourceRef="g" targetRef="nok"/>`));
    const inst = await engine.start('p_task', { businessKey: 'BK-1', variables: { clerk: 'li.si', due: '2026-12-01T10:00:00+08:00', amount: 500 } });
    const task = await db('tasks').where({ instance_id: inst.id }).first();
    assert.equal(task.name, '审查');
    assert.equal(task.assignee, 'li.si');
    assert.deepEqual(task.candidate_groups, ['dept-market', 'dept-health']);
    assert.equal(task.form_key, 'review-form');
    assert.equal(new Date(task.due_at).toISOString(), '2026-12-01T02:00:00.000Z');
    await engine.claimTask(task.id, 'li.si');
    await assert.rejects(engine.claimTask(task.id, 'wang.wu'), (e: DubanError) => e.status === 409);
    const done = await engine.completeTask(task.id, { approved: true }, 'li.si');
    assert.equal(done.status, 'completed');
    assert.equal(done.variables.approved, true);
    const ends = await db('history').where({ instance_id: inst.id, kind: 'element.end' }).pluck('element_id');
    assert.ok(ends.includes('ok') && !ends.includes('nok'), `took the FEEL condition: ${ends.join(',')}`);
    await assert.rejects(engine.completeTask(task.id, {}, 'li.si'), (e: DubanError) => e.status === 409);
    await assert.rejects(engine.completeTask('00000000-0000-0000-0000-000000000000', {}, 'x'), (e: DubanError) => e.status === 404);
    await assert.rejects(engine.completeTask('not-a-uuid', {}, 'x'), (e: DubanError) => e.status === 404);
  });
});

describe('durable timers', () => {
  test('an interrupting deadline cancels the task; completing it afterwards is a 409', async () => {
    await engine.deploy(bpmn('p_deadline', `<startEvent id="s"/><userTask id="work"/><endEvent id="done"/>
      <boundaryEvent id="deadline" attachedToRef="work"><timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition></boundaryEvent>
      <endEvent id="late"/>${flows('s', 'work', 'done')}${flows('deadline', 'late')}`));
    const inst = await engine.start('p_deadline');
    const timer = await db('timers').where({ instance_id: inst.id }).first();
    assert.equal(timer.element_id, 'deadline');
    const hours = (new Date(timer.due_at).getTime() - Date.now()) / 3_600_000;
    assert.ok(hours > 0.99 && hours <= 1, `due in an hour, got ${hours}`);
    assert.equal(await scheduler.fireOne(), false, 'nothing is due yet');
    await db('timers').where({ id: timer.id }).update({ due_at: db.raw(`now() - interval '1 second'`) });
    assert.equal(await scheduler.drain(), 1);
    const task = await db('tasks').where({ instance_id: inst.id }).first();
    assert.equal(task.status, 'cancelled');
    await assert.rejects(engine.completeTask(task.id, {}, 'x'), (e: DubanError) => e.status === 409);
    const row = await db('process_instances').where({ id: inst.id }).first();
    assert.equal(row.status, 'completed');
    assert.equal(await db('history').where({ instance_id: inst.id, kind: 'timer.fired' }).count('* as n').first().then((r) => Number(r!.n)), 1);
  });

  test('a due but unfired deadline wins over a late completion (409), and fires once', async () => {
    const inst = await engine.start('p_deadline');
    await db('timers').where({ instance_id: inst.id }).update({ due_at: db.raw(`now() - interval '1 second'`) });
    const task = await db('tasks').where({ instance_id: inst.id }).first();
    await assert.rejects(engine.completeTask(task.id, {}, 'x'), (e: DubanError) => e.status === 409);
    assert.equal(await db('timers').where({ instance_id: inst.id }).count('* as n').first().then((r) => Number(r!.n)), 0);
    assert.equal(await scheduler.drain(), 0);
    assert.equal((await db('tasks').where({ id: task.id }).first()).status, 'cancelled');
    assert.equal(await db('history').where({ instance_id: inst.id, kind: 'timer.fired' }).count('* as n').first().then((r) => Number(r!.n)), 1);
  });

  test('durations beyond 24.8 days are stored and fire', async () => {
    await engine.deploy(bpmn('p_long', `<startEvent id="s"/><intermediateCatchEvent id="wait"><timerEventDefinition><timeDuration>P40D</timeDuration></timerEventDefinition></intermediateCatchEvent><endEvent id="e"/>${flows('s', 'wait', 'e')}`));
    const inst = await engine.start('p_long');
    const timer = await db('timers').where({ instance_id: inst.id }).first();
    const days = (new Date(timer.due_at).getTime() - Date.now()) / 86_400_000;
    assert.ok(days > 39.9 && days <= 40, `due in 40 days, got ${days}`);
    await db('timers').where({ id: timer.id }).update({ due_at: db.raw('now()') });
    await scheduler.drain();
    assert.equal((await db('process_instances').where({ id: inst.id }).first()).status, 'completed');
  });

  test('cycle timers re-arm until their repetitions are used', async () => {
    await engine.deploy(bpmn('p_cycle', `<startEvent id="s"/><userTask id="work"/><endEvent id="e"/>
      <boundaryEvent id="remind" attachedToRef="work" cancelActivity="false"><timerEventDefinition><timeCycle>R3/PT10M</timeCycle></timerEventDefinition></boundaryEvent>
      <serviceTask id="ping" camunda:type="external" camunda:topic="notify"/><endEvent id="e2"/>
      ${flows('s', 'work', 'e')}${flows('remind', 'ping', 'e2')}`));
    const inst = await engine.start('p_cycle', { businessKey: 'cycle' });
    for (let i = 0; i < 5; i++) {
      await db('timers').where({ instance_id: inst.id }).update({ due_at: db.raw('now()') });
      await scheduler.drain();
    }
    const fired = await db('history').where({ instance_id: inst.id, kind: 'timer.fired' }).count('* as n').first();
    assert.equal(Number(fired!.n), 3);
    assert.equal(await db('timers').where({ instance_id: inst.id }).count('* as n').first().then((r) => Number(r!.n)), 0);
    assert.equal((await db('tasks').where({ instance_id: inst.id }).first()).status, 'open', 'non-interrupting: the work goes on');
    assert.equal(await db('outbox').where({ instance_id: inst.id }).count('* as n').first().then((r) => Number(r!.n)), 3);
  });
});

describe('clock stop', () => {
  test('a suspended case fires no timers and takes no completions; resuming moves its timers', async () => {
    await engine.deploy(bpmn('p_susp', `<startEvent id="s"/><userTask id="work"/><endEvent id="done"/>
      <boundaryEvent id="deadline" attachedToRef="work"><timerEventDefinition><timeDate>\${deadlineAt}</timeDate></timerEventDefinition></boundaryEvent>
      <endEvent id="late"/>${flows('s', 'work', 'done')}${flows('deadline', 'late')}`));
    const deadlineAt = new Date(Date.now() + 60_000).toISOString();
    const inst = await engine.start('p_susp', { variables: { deadlineAt } });
    const task = await db('tasks').where({ instance_id: inst.id }).first();
    await engine.suspend(inst.id, 'clerk', { reason: '补正材料', kind: 'supplement' });
    await assert.rejects(engine.suspend(inst.id, 'clerk', {}), (e: DubanError) => e.status === 409);
    // The original deadline passes while the clock is stopped.
    await db('timers').where({ instance_id: inst.id }).update({ due_at: db.raw(`now() - interval '1 second'`) });
    assert.equal(await scheduler.drain(), 0, 'no timer of a suspended case fires');
    await assert.rejects(engine.completeTask(task.id, {}, 'clerk'), (e: DubanError) => e.status === 409 && /suspended/.test(e.message));
    await engine.resume(inst.id, 'clerk', (due) => new Date(due.getTime() + 3_600_000), { reason: 'materials supplied' });
    const moved = await db('timers').where({ instance_id: inst.id }).first();
    assert.ok(new Date(moved.due_at).getTime() > Date.now() + 3_500_000, 'the deadline moved by the suspension');
    // The engine's own copy of the (now past) original date must not fire on recovery.
    const done = await engine.completeTask(task.id, {}, 'clerk');
    assert.equal(done.status, 'completed');
    const ends = await db('history').where({ instance_id: inst.id, kind: 'element.end' }).pluck('element_id');
    assert.ok(ends.includes('done') && !ends.includes('late'), ends.join(','));
    const kinds = await db('history').where({ instance_id: inst.id }).pluck('kind');
    assert.ok(kinds.includes('instance.suspended') && kinds.includes('instance.resumed'));
    assert.equal(await db('history').where({ instance_id: inst.id, kind: 'timer.fired' }).count('* as n').first().then((r) => Number(r!.n)), 0);
  });
});

describe('services with the database', () => {
  test('an async service writes in the command transaction and its output continues the flow', async () => {
    const svc = new ServiceRegistry().register({
      name: 'record', description: 'writes a row',
      handler: async (ctx) => {
        const [row] = await ctx.trx!('incidents').insert({ instance_id: ctx.instanceId, kind: 'note', message: `seen ${ctx.businessKey}` }).returning('id');
        return { noteId: row.id };
      },
    });
    const eng = new WorkflowEngine(db, svc);
    await eng.deploy(bpmn('p_async', `<startEvent id="s"/><serviceTask id="r" camunda:type="external" camunda:topic="record"/><userTask id="u"/><endEvent id="e"/>${flows('s', 'r', 'u', 'e')}`));
    const inst = await eng.start('p_async', { businessKey: 'ASYNC' });
    assert.deepEqual(inst.activeElements, ['u']);
    assert.equal(typeof inst.variables.noteId, 'number');
    const note = await db('incidents').where({ instance_id: inst.id, kind: 'note' }).first();
    assert.equal(note.message, 'seen ASYNC');
  });
});

describe('messages and errors', () => {
  test('a message correlates by name and business key', async () => {
    await engine.deploy(bpmn('p_msg', `<startEvent id="s"/><receiveTask id="wait" messageRef="m1"/><endEvent id="e"/>${flows('s', 'wait', 'e')}`,
      '<message id="m1" name="supplement-received"/>'));
    const a = await engine.start('p_msg', { businessKey: 'A' });
    const b = await engine.start('p_msg', { businessKey: 'B' });
    const r = await engine.correlate('supplement-received', { businessKey: 'B', variables: { pages: 3 } });
    assert.equal(r.delivered, 1);
    assert.equal((await db('process_instances').where({ id: b.id }).first()).status, 'completed');
    assert.equal((await db('process_instances').where({ id: a.id }).first()).status, 'running');
    await assert.rejects(engine.correlate('nobody-waits', { businessKey: 'A' }), (e: DubanError) => e.status === 404);
  });

  test('a BPMN error from a service takes the error boundary', async () => {
    await engine.deploy(bpmn('p_err', `<startEvent id="s"/><serviceTask id="chk" camunda:type="external" camunda:topic="check"/><endEvent id="ok"/>
      <boundaryEvent id="neg" attachedToRef="chk"><errorEventDefinition errorRef="err1"/></boundaryEvent><endEvent id="rejected"/>
      ${flows('s', 'chk', 'ok')}${flows('neg', 'rejected')}`, '<error id="err1" errorCode="NEGATIVE"/>'));
    const bad = await engine.start('p_err', { variables: { amount: -1 } });
    const good = await engine.start('p_err', { variables: { amount: 1 } });
    const endsOf = (id: string) => db('history').where({ instance_id: id, kind: 'element.end' }).pluck('element_id');
    assert.ok((await endsOf(bad.id)).includes('rejected'));
    assert.ok((await endsOf(good.id)).includes('ok'));
    assert.equal(bad.status, 'completed');
  });
});

describe('outbox', () => {
  test('delivers once per dedup key, retries with backoff, opens an incident when retries run out, and can be retried', async () => {
    await engine.deploy(bpmn('p_out', `<startEvent id="s"/><serviceTask id="n" camunda:type="external" camunda:topic="notify"/><endEvent id="e"/>${flows('s', 'n', 'e')}`));
    await outbox.drain();
    delivered.length = 0;
    const inst = await engine.start('p_out', { businessKey: 'OUT-1' });
    failDeliveries = 2;
    await outbox.drain();
    await new Promise((r) => setTimeout(r, 20));
    await outbox.drain();
    const row = await db('outbox').where({ instance_id: inst.id }).first();
    assert.equal(row.status, 'sent');
    assert.equal(row.attempts, 3);
    assert.equal(delivered.filter((d) => d.payload.bk === 'OUT-1').length, 1);
    // the same dedup key again is ignored
    await db('outbox').insert({ service: 'sink', dedup_key: row.dedup_key, payload: JSON.stringify({}) }).onConflict('dedup_key').ignore();
    assert.equal(await outbox.drain(), 0);

    const inst2 = await engine.start('p_out', { businessKey: 'OUT-2' });
    failDeliveries = 100;
    for (let i = 0; i < 6; i++) {
      await outbox.drain();
      await new Promise((r) => setTimeout(r, 40));
    }
    const failed = await db('outbox').where({ instance_id: inst2.id }).first();
    assert.equal(failed.status, 'failed');
    const incident = await db('incidents').where({ outbox_id: failed.id }).first();
    assert.equal(incident.status, 'open');
    failDeliveries = 0;
    assert.deepEqual(await retryIncident(db, incident.id, 'admin'), { retried: true, kind: 'delivery' });
    await outbox.drain();
    assert.equal((await db('outbox').where({ id: failed.id }).first()).status, 'sent');
    assert.equal(delivered.filter((d) => d.payload.bk === 'OUT-2').length, 1);
  });
});

describe('at-most-once deliveries', () => {
  test('a crash mid-send becomes an incident, never a second message; a provider report settles it; deferral costs no attempt', async () => {
    const sent: string[] = [];
    let deferOnce = true;
    const svc = new ServiceRegistry()
      .register({ name: 'sms', description: 'queue an sms', handler: (ctx) => { ctx.enqueue('text', { to: ctx.businessKey }); } })
      .registerDelivery('text', async (payload) => {
        if (deferOnce) {
          deferOnce = false;
          throw new DeferDelivery(new Date(Date.now() + 60_000), 'quiet hours');
        }
        sent.push(String(payload.to));
        return { providerId: `SM${sent.length}`, status: 'queued' };
      }, 'atMostOnce');
    const eng = new WorkflowEngine(db, svc);
    const box = new OutboxDispatcher(db, svc, { pollMs: 50, concurrency: 1, log, sendingLeaseMs: 30_000 });
    await eng.deploy(bpmn('p_amo', `<startEvent id="s"/><serviceTask id="t" camunda:type="external" camunda:topic="sms"/><endEvent id="e"/>${flows('s', 't', 'e')}`));
    await box.drain();
    const a = await eng.start('p_amo', { businessKey: '+8613800000001' });
    await box.drain();
    const deferred = await db('outbox').where({ instance_id: a.id }).first();
    assert.equal(deferred.status, 'pending');
    assert.equal(deferred.attempts, 0, 'a deferral is not an attempt');
    assert.equal(await box.drain(), 0, 'a deferred message waits for its time');
    assert.equal((await db('outbox').where({ instance_id: a.id }).first()).status, 'pending');
    await clock.advance(60_001);
    await box.drain();
    const ok = await db('outbox').where({ instance_id: a.id }).first();
    assert.equal(ok.status, 'sent');
    assert.equal(ok.provider_ref, 'SM1');

    // Simulate a process that died after marking the attempt and calling the provider.
    const b = await eng.start('p_amo', { businessKey: '+8613800000002' });
    await db('outbox').where({ instance_id: b.id }).update({ status: 'sending', attempts: 1, sending_since: db.raw(`now()`) });
    await clock.advance(30_001); // past the sending lease
    await box.drain();
    const lost = await db('outbox').where({ instance_id: b.id }).first();
    assert.equal(lost.status, 'failed');
    assert.deepEqual(sent, ['+8613800000001'], 'never resent automatically');
    const incident = await db('incidents').where({ outbox_id: lost.id }).first();
    assert.match(incident.message, /outcome unknown/);
    assert.equal(await recordProviderStatus(db, lost.id, 'SM-late', 'delivered'), true);
    const settled = await db('outbox').where({ id: lost.id }).first();
    assert.equal(settled.status, 'sent');
    assert.equal(settled.provider_status, 'delivered');
    assert.equal((await db('incidents').where({ id: incident.id }).first()).status, 'resolved');
  });
});

describe('variables', () => {
  test('output of a task inside a sub-process reaches the process scope', async () => {
    await engine.deploy(bpmn('p_subvars', `<startEvent id="s"/>
      <subProcess id="sub"><startEvent id="ss"/><userTask id="decide"/><endEvent id="se"/>${flows('ss', 'decide', 'se')}</subProcess>
      <exclusiveGateway id="g" default="no"/><endEvent id="yes_end"/><endEvent id="no_end"/>
      <sequenceFlow id="yes" sourceRef="g" targetRef="yes_end"><conditionExpression>=decision = "approve"</conditionExpression></sequenceFlow>
      <sequenceFlow id="no" sourceRef="g" targetRef="no_end"/>${flows('s', 'sub', 'g')}`));
    const inst = await engine.start('p_subvars');
    const task = await db('tasks').where({ instance_id: inst.id }).first();
    const done = await engine.completeTask(task.id, { decision: 'approve' }, 'x');
    assert.equal(done.variables.decision, 'approve');
    const ends = await db('history').where({ instance_id: inst.id, kind: 'element.end' }).pluck('element_id');
    assert.ok(ends.includes('yes_end'), ends.join(','));
  });
});
