/**
 * Engine semantics that must hold across recovery (issue 9): every diagram here runs through the
 * production path — commands on the durable engine, timers fired only by the TimerScheduler's own
 * claim on a virtual clock that moves JavaScript's Date and PostgreSQL's now() together, and
 * "restart" meaning new engine and scheduler objects on the same database (nothing kept in memory).
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase } from './support/db.js';
import { VirtualClock } from './support/clock.js';
import { bpmn, flows } from './support/bpmn.js';
import { WorkflowEngine, type EngineOptions } from '../src/engine/engine.js';
import { ServiceRegistry, BpmnServiceError } from '../src/engine/services.js';
import { TimerScheduler } from '../src/engine/scheduler.js';
import { ConflictError, InvalidDefinitionError } from '../src/engine/errors.js';
import type { Db } from '../src/db/database.js';
import { createRuntime } from '../src/runtime.js';

let t: Awaited<ReturnType<typeof createTestDatabase>>;
let db: Db;
let clock: VirtualClock;

const HOUR = 3_600_000;
const services = new ServiceRegistry()
  .register({ name: 'sms', description: 'queue an SMS', handler: (ctx) => { ctx.enqueue('sms', { element: ctx.elementId, to: ctx.businessKey }); } })
  .register({ name: 'decide', description: 'record a decision step', handler: (ctx) => { ctx.enqueue('sink', { element: ctx.elementId }); return { decided: true }; } })
  .register({ name: 'reject', description: 'fails with a BPMN error', handler: () => { throw new BpmnServiceError('MATERIALS_MISSING', 'materials are missing'); } });

/** One "server": an engine and its scheduler. A restart is a new server on the same database. */
function server(opts: EngineOptions = {}) {
  const engine = new WorkflowEngine(db, services, opts);
  const scheduler = new TimerScheduler(db, engine, { pollMs: 50, concurrency: 1, log: () => undefined });
  return { engine, scheduler };
}

before(async () => {
  t = await createTestDatabase('duban_sem', { virtualClock: true });
  db = t.db;
  clock = new VirtualClock(db);
});
after(async () => t.drop());

const openTasks = (instanceId: string) => db('tasks').where({ instance_id: instanceId, status: 'open' }).orderBy('element_id').pluck('element_id');
const ended = (id: string) => db('history').where({ instance_id: id, kind: 'element.end' }).pluck('element_id');
const instance = (id: string) => db('process_instances').where({ id }).first();
async function task(instanceId: string, elementId: string): Promise<string> {
  const row = await db('tasks').where({ instance_id: instanceId, element_id: elementId, status: 'open' }).first('id');
  assert.ok(row, `an open task ${elementId}`);
  return row.id;
}

describe('1. a timer found due on recovery fires after the instance is restored', () => {
  // 受理 with a reminder: an hour later a non-interrupting timer throws a signal; the supervisor's
  // branch, which waits for that signal, opens a 督办 task.
  const REMINDER = bpmn('reminder', `
    <startEvent id="s"/><parallelGateway id="fork"/>
    <userTask id="handle" name="受理"/><endEvent id="handled"/>
    <boundaryEvent id="remind" attachedToRef="handle" cancelActivity="false"><timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition></boundaryEvent>
    <intermediateThrowEvent id="throwRemind"><signalEventDefinition signalRef="sigRemind"/></intermediateThrowEvent><endEvent id="reminded"/>
    <intermediateCatchEvent id="waitRemind"><signalEventDefinition signalRef="sigRemind"/></intermediateCatchEvent>
    <userTask id="supervise" name="督办"/><endEvent id="supervised"/>
    ${flows('s', 'fork', 'handle', 'handled')}${flows('remind', 'throwRemind', 'reminded')}
    <sequenceFlow id="toWait" sourceRef="fork" targetRef="waitRemind"/>${flows('waitRemind', 'supervise', 'supervised')}`,
  '<signal id="sigRemind" name="remind"/>');

  test('a reminder that fell due while every server was down reaches the other branch after restart', async () => {
    const first = server();
    await first.engine.deploy(REMINDER);
    const inst = await first.engine.start('reminder', { businessKey: 'R-1' });
    assert.deepEqual(await openTasks(inst.id), ['handle']);
    // Every server is down for three hours: no scheduler runs.
    await clock.advance(3 * HOUR);
    const restarted = server();
    assert.ok(await restarted.scheduler.drain() >= 1, 'the due reminder fires through the scheduler');
    assert.deepEqual(await openTasks(inst.id), ['handle', 'supervise'], 'the signal reached the supervisor branch');
    assert.equal((await instance(inst.id)).status, 'running');
    assert.equal(await db('timers').where({ instance_id: inst.id }).count<{ count: string }[]>('* as count').then((r) => Number(r[0]!.count)), 0);
    // Nothing fires twice: another restart and drain changes nothing.
    assert.equal(await server().scheduler.drain(), 0);
    await restarted.engine.completeTask(await task(inst.id, 'supervise'), {}, 'inspector');
    const done = await restarted.engine.completeTask(await task(inst.id, 'handle'), {}, 'clerk');
    assert.equal(done.status, 'completed');
  });

  test('a due reminder found by a completion fires first, in the same command, and its signal is received', async () => {
    const srv = server();
    const inst = await srv.engine.start('reminder', { businessKey: 'R-2' });
    await clock.advance(2 * HOUR);
    // No scheduler ran: the completion's own recovery finds the timer due in the timers table.
    const done = await srv.engine.completeTask(await task(inst.id, 'handle'), {}, 'clerk');
    assert.equal(done.status, 'running');
    assert.deepEqual(await openTasks(inst.id), ['supervise']);
    assert.ok((await db('history').where({ instance_id: inst.id, kind: 'timer.fired', element_id: 'remind' })).length === 1);
  });

  test('a passed deadline still beats a late completion (409), the timers table deciding', async () => {
    const srv = server();
    await srv.engine.deploy(bpmn('deadline', `<startEvent id="s"/><userTask id="work"/><endEvent id="e"/>
      <boundaryEvent id="late" attachedToRef="work"><timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition></boundaryEvent>
      <userTask id="explain"/><endEvent id="e2"/>${flows('s', 'work', 'e')}${flows('late', 'explain', 'e2')}`));
    const inst = await srv.engine.start('deadline');
    const work = await task(inst.id, 'work');
    await clock.advance(HOUR + 1000);
    const err = await srv.engine.completeTask(work, {}, 'clerk').then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof ConflictError, String(err));
    assert.equal(err.status, 409);
    assert.deepEqual(await openTasks(inst.id), ['explain']);
  });
});

describe('5. the converging inclusive gateway waits for every token that can still reach it', () => {
  // 审查: the split sends the case to the legal review, the technical review, or both; the decision
  // (a service) runs once after every chosen review is done.
  const REVIEWS = bpmn('reviews', `
    <startEvent id="s"/><inclusiveGateway id="split"/>
    <userTask id="legal" name="法律审查"/><userTask id="technical" name="技术审查"/>
    <inclusiveGateway id="join"/><serviceTask id="decision" camunda:type="external" camunda:topic="decide"/><userTask id="conclude"/><endEvent id="e"/>
    <sequenceFlow id="toLegal" sourceRef="split" targetRef="legal"><conditionExpression>=needsLegal = true</conditionExpression></sequenceFlow>
    <sequenceFlow id="toTech" sourceRef="split" targetRef="technical"><conditionExpression>=needsTech = true</conditionExpression></sequenceFlow>
    ${flows('s', 'split')}${flows('legal', 'join')}${flows('technical', 'join')}${flows('join', 'decision', 'conclude', 'e')}`);

  const decisions = async (id: string) => (await db('history').where({ instance_id: id, kind: 'element.start', element_id: 'decision' })).length;

  test('two parallel reviews join once, across separate commands and restarts', async () => {
    await server().engine.deploy(REVIEWS);
    const inst = await server().engine.start('reviews', { variables: { needsLegal: true, needsTech: true } });
    assert.deepEqual(await openTasks(inst.id), ['legal', 'technical']);
    await server().engine.completeTask(await task(inst.id, 'legal'), {}, 'a');
    assert.equal(await decisions(inst.id), 0, 'the join waits for the technical review');
    assert.deepEqual(await openTasks(inst.id), ['technical']);
    await server().engine.completeTask(await task(inst.id, 'technical'), {}, 'b');
    assert.equal(await decisions(inst.id), 1, 'the decision runs once');
    assert.deepEqual(await openTasks(inst.id), ['conclude']);
    assert.equal(await db('outbox').where({ instance_id: inst.id }).count<{ count: string }[]>('* as count').then((r) => Number(r[0]!.count)), 1);
    const done = await server().engine.completeTask(await task(inst.id, 'conclude'), {}, 'c');
    assert.equal(done.status, 'completed');
  });

  test('with one review chosen the join does not wait for the branch no token can reach', async () => {
    const inst = await server().engine.start('reviews', { variables: { needsLegal: false, needsTech: true } });
    assert.deepEqual(await openTasks(inst.id), ['technical']);
    await server().engine.completeTask(await task(inst.id, 'technical'), {}, 'b');
    assert.equal(await decisions(inst.id), 1);
    assert.deepEqual(await openTasks(inst.id), ['conclude']);
  });

  test('a converging inclusive gateway on a loop is refused at deploy, naming it', async () => {
    const err = await server().engine.deploy(bpmn('orloop', `<startEvent id="s"/><inclusiveGateway id="join"/><userTask id="work"/>
      <exclusiveGateway id="again" default="out"/><endEvent id="e"/>
      ${flows('s', 'join', 'work', 'again')}<sequenceFlow id="back" sourceRef="again" targetRef="join"><conditionExpression>=redo = true</conditionExpression></sequenceFlow>
      <sequenceFlow id="out" sourceRef="again" targetRef="e"/>`)).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof InvalidDefinitionError, String(err));
    const p = err.problems.find((x) => x.elementId === 'join');
    assert.ok(p, JSON.stringify(err.problems));
    assert.match(p.message, /inclusive gateway/);
  });
});

describe('6. an uncaught BPMN error fails the instance with an incident naming code and element', () => {
  test('an error end event that nothing catches ends the instance failed', async () => {
    const srv = server();
    await srv.engine.deploy(bpmn('reject_end', `<startEvent id="s"/><userTask id="check" name="材料核验"/><endEvent id="rejected" name="不予受理"><errorEventDefinition errorRef="errMissing"/></endEvent>${flows('s', 'check', 'rejected')}`,
      '<error id="errMissing" errorCode="MATERIALS_MISSING"/>'));
    const inst = await srv.engine.start('reject_end');
    const done = await server().engine.completeTask(await task(inst.id, 'check'), {}, 'clerk');
    assert.equal(done.status, 'failed');
    const row = await instance(inst.id);
    assert.equal(row.status, 'failed');
    assert.match(row.error, /MATERIALS_MISSING/);
    const incident = await db('incidents').where({ instance_id: inst.id }).first();
    assert.equal(incident.element_id, 'rejected');
    assert.match(incident.message, /MATERIALS_MISSING.*rejected/);
  });

  test('a BPMN error from a service that no boundary catches fails the instance, naming code and element', async () => {
    const srv = server();
    await srv.engine.deploy(bpmn('reject_svc', `<startEvent id="s"/><serviceTask id="verify" camunda:type="external" camunda:topic="reject"/><endEvent id="e"/>${flows('s', 'verify', 'e')}`));
    const inst = await srv.engine.start('reject_svc');
    assert.equal(inst.status, 'failed');
    const incident = await db('incidents').where({ instance_id: inst.id }).first();
    assert.equal(incident.element_id, 'verify');
    assert.match(incident.message, /MATERIALS_MISSING/);
  });

  test('an error thrown in a sub-process without a boundary fails the instance and cancels its other work', async () => {
    const srv = server();
    await srv.engine.deploy(bpmn('reject_sub', `<startEvent id="s"/><parallelGateway id="fork"/><userTask id="other"/><endEvent id="e1"/>
      <subProcess id="sub"><startEvent id="ss"/><userTask id="check"/><endEvent id="bad"><errorEventDefinition errorRef="errMissing"/></endEvent>${flows('ss', 'check', 'bad')}</subProcess>
      <userTask id="after"/><endEvent id="e2"/>${flows('s', 'fork', 'other', 'e1')}${flows('fork', 'sub', 'after', 'e2')}`,
      '<error id="errMissing" errorCode="MATERIALS_MISSING"/>'));
    const inst = await srv.engine.start('reject_sub');
    const done = await srv.engine.completeTask(await task(inst.id, 'check'), {}, 'clerk');
    assert.equal(done.status, 'failed');
    assert.deepEqual(await openTasks(inst.id), [], 'no task of a failed instance stays open');
    assert.equal((await db('tasks').where({ instance_id: inst.id, element_id: 'after' })).length, 0, 'nothing after the error runs');
  });

  test('the case behind a failed instance shows it', async () => {
    const runtime = await createRuntime(db);
    await db('departments').insert({ id: 'market', name: '市场监管局' }).onConflict('id').ignore();
    await db('items').insert({ code: 'ERR-1', name: '材料核验(演练)', department_id: 'market', promised_days: 5, process_key: 'reject_end' });
    const c = await runtime.cases.intake({ itemCode: 'ERR-1', applicantName: '张三', applicantType: 1, idType: 'resident_id', idNumber: '11010519491231002X', phone: '+8613800000021' },
      { username: 'admin', departmentId: null, admin: true });
    await runtime.engine.completeTask(await task(c.id, 'check'), {}, 'clerk');
    const view = await runtime.cases.view(await runtime.cases.byId(c.id));
    assert.equal(view.status, 'failed');
    assert.equal(view.light, 'failed');
    assert.match(view.result ?? '', /MATERIALS_MISSING/);
  });

  test('a caught error does not fail the instance', async () => {
    const srv = server();
    await srv.engine.deploy(bpmn('caught_err', `<startEvent id="s"/><subProcess id="sub"><startEvent id="ss"/><endEvent id="bad"><errorEventDefinition errorRef="errMissing"/></endEvent>${flows('ss', 'bad')}</subProcess>
      <boundaryEvent id="onErr" attachedToRef="sub"><errorEventDefinition errorRef="errMissing"/></boundaryEvent><userTask id="supplement"/><endEvent id="e"/><endEvent id="e2"/>
      ${flows('s', 'sub', 'e')}${flows('onErr', 'supplement', 'e2')}`, '<error id="errMissing" errorCode="MATERIALS_MISSING"/>'));
    const inst = await srv.engine.start('caught_err');
    assert.equal(inst.status, 'running');
    assert.deepEqual(await openTasks(inst.id), ['supplement']);
  });
});

describe('3. after an interrupting escalation is caught nothing of the interrupted scope runs', () => {
  const escalationDiagram = (id: string, interrupting: boolean) => bpmn(id, `
    <startEvent id="s"/>
    <subProcess id="review" name="审查">
      <startEvent id="rs"/><userTask id="examine" name="审查材料"/>
      <intermediateThrowEvent id="needsSupervision"><escalationEventDefinition escalationRef="escSupervise"/></intermediateThrowEvent>
      <serviceTask id="smsApplicant" name="短信通知申请人" camunda:type="external" camunda:topic="sms"/>
      <userTask id="conclude" name="办结"/><endEvent id="re"/>
      ${flows('rs', 'examine', 'needsSupervision', 'smsApplicant', 'conclude', 're')}
    </subProcess>
    <boundaryEvent id="onEscalation" attachedToRef="review" cancelActivity="${interrupting}"><escalationEventDefinition escalationRef="escSupervise"/></boundaryEvent>
    <userTask id="supervise" name="督办"/><endEvent id="e"/><endEvent id="e2"/>
    ${flows('s', 'review', 'e')}${flows('onEscalation', 'supervise', 'e2')}`,
  '<escalation id="escSupervise" escalationCode="SUPERVISE"/>');

  test('an SMS service after an interrupting escalation is never queued', async () => {
    const srv = server();
    await srv.engine.deploy(escalationDiagram('esc_interrupt', true));
    const inst = await srv.engine.start('esc_interrupt', { businessKey: '+8613800000011' });
    await server().engine.completeTask(await task(inst.id, 'examine'), {}, 'clerk');
    assert.deepEqual(await openTasks(inst.id), ['supervise'], 'the interrupted review opens no task');
    assert.equal((await db('outbox').where({ instance_id: inst.id })).length, 0, 'no SMS from the interrupted path');
    assert.equal((await db('history').where({ instance_id: inst.id, kind: 'element.end', element_id: 'smsApplicant' })).length, 0);
    const done = await server().engine.completeTask(await task(inst.id, 'supervise'), {}, 'inspector');
    assert.equal(done.status, 'completed');
    assert.equal((await db('outbox').where({ instance_id: inst.id })).length, 0);
  });

  const callDiagram = (id: string, interrupting: boolean) => `<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs_${id}" targetNamespace="http://duban.dev/test">
  <escalation id="escOverdue" escalationCode="OVERDUE"/>
  <process id="${id}" isExecutable="true">
    <startEvent id="s"/><callActivity id="handleCase" calledElement="${id}_handling"/><endEvent id="e"/>
    <boundaryEvent id="onOverdue" attachedToRef="handleCase" cancelActivity="${interrupting}"><escalationEventDefinition escalationRef="escOverdue"/></boundaryEvent>
    <userTask id="supervise" name="督办"/><endEvent id="e2"/>
    ${flows('s', 'handleCase', 'e')}${flows('onOverdue', 'supervise', 'e2')}
  </process>
  <process id="${id}_handling" isExecutable="false">
    <startEvent id="hs"/><intermediateThrowEvent id="overdue"><escalationEventDefinition escalationRef="escOverdue"/></intermediateThrowEvent>
    <serviceTask id="smsDepartment" camunda:type="external" camunda:topic="sms"/><userTask id="handle"/><endEvent id="he"/>
    ${flows('hs', 'overdue', 'smsDepartment', 'handle', 'he')}
  </process>
</definitions>`;

  test('an escalation from a called process reaches the call activity boundary and stops the called process', async () => {
    const srv = server();
    await srv.engine.deploy(callDiagram('call_interrupt', true));
    const inst = await srv.engine.start('call_interrupt');
    assert.deepEqual(await openTasks(inst.id), ['supervise']);
    assert.equal((await db('outbox').where({ instance_id: inst.id })).length, 0, 'no SMS from the interrupted called process');
    const done = await server().engine.completeTask(await task(inst.id, 'supervise'), {}, 'inspector');
    assert.equal(done.status, 'completed');
  });

  test('a non-interrupting boundary on the call activity runs beside the called process', async () => {
    const srv = server();
    await srv.engine.deploy(callDiagram('call_parallel', false));
    const inst = await srv.engine.start('call_parallel');
    assert.deepEqual(await openTasks(inst.id), ['handle', 'supervise']);
    assert.equal((await db('outbox').where({ instance_id: inst.id })).length, 1);
  });

  test('a non-interrupting escalation lets the throwing path go on (the SMS is queued once)', async () => {
    const srv = server();
    await srv.engine.deploy(escalationDiagram('esc_parallel', false));
    const inst = await srv.engine.start('esc_parallel', { businessKey: '+8613800000012' });
    await srv.engine.completeTask(await task(inst.id, 'examine'), {}, 'clerk');
    assert.deepEqual(await openTasks(inst.id), ['conclude', 'supervise']);
    assert.equal((await db('outbox').where({ instance_id: inst.id })).length, 1);
  });
});

describe('2. event sub-processes on a running instance', () => {
  // 撤回申请: the applicant withdraws; an interrupting message event sub-process ends the case's work.
  // 催办: an hour in, a non-interrupting timer event sub-process reminds the department.
  const CASE = bpmn('withdrawable', `
    <startEvent id="s"/><userTask id="accept" name="受理"/><userTask id="decide" name="决定"/><endEvent id="e"/>
    ${flows('s', 'accept', 'decide', 'e')}
    <subProcess id="withdrawal" triggeredByEvent="true">
      <startEvent id="onWithdraw" isInterrupting="true"><messageEventDefinition messageRef="msgWithdraw"/></startEvent>
      <userTask id="archive" name="撤回归档"/><endEvent id="we"/>${flows('onWithdraw', 'archive', 'we')}
    </subProcess>
    <subProcess id="reminder" triggeredByEvent="true">
      <startEvent id="onHour" isInterrupting="false"><timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition></startEvent>
      <serviceTask id="remindSms" camunda:type="external" camunda:topic="sms"/><endEvent id="re"/>${flows('onHour', 'remindSms', 're')}
    </subProcess>`, '<message id="msgWithdraw" name="withdraw"/>');

  const count = async (q: Promise<Array<unknown>>) => (await q).length;

  test('a withdraw message interrupts the running case and no second instance exists', async () => {
    await server().engine.deploy(CASE);
    const inst = await server().engine.start('withdrawable', { businessKey: 'CASE-W1' });
    assert.deepEqual(inst.activeElements, ['accept']);
    assert.deepEqual(await db('message_subscriptions').where({ instance_id: inst.id }).pluck('message_name'), ['withdraw'], 'the running instance subscribes');
    const r = await server().engine.correlate('withdraw', { businessKey: 'CASE-W1', variables: { reason: '申请人撤回' } });
    assert.equal(r.delivered, 1);
    assert.equal(r.started, null, 'correlation starts no instance');
    assert.equal(await count(db('process_instances').where({ business_key: 'CASE-W1' })), 1, 'no twin case');
    assert.deepEqual(await openTasks(inst.id), ['archive']);
    assert.equal((await db('tasks').where({ instance_id: inst.id, element_id: 'accept' }).first()).status, 'cancelled');
    assert.equal(await count(db('timers').where({ instance_id: inst.id })), 0, 'the interrupted scope has no reminder any more');
    assert.equal(await count(db('message_subscriptions').where({ instance_id: inst.id })), 0);
    // After the interruption the case's own work is gone for good, across restarts and time.
    await clock.advance(2 * HOUR);
    await server().scheduler.drain();
    assert.equal(await count(db('outbox').where({ instance_id: inst.id })), 0);
    const done = await server().engine.completeTask(await task(inst.id, 'archive'), {}, 'clerk');
    assert.equal(done.status, 'completed');
    assert.deepEqual((await ended(inst.id)).filter((x) => x === 'decide' || x === 'e'), []);
    // A second withdraw finds nothing to interrupt and starts nothing.
    const again = await server().engine.correlate('withdraw', { businessKey: 'CASE-W1' }).then(() => 'ok', (e: Error) => e.constructor.name);
    assert.equal(again, 'NotFoundError');
    assert.equal(await count(db('process_instances').where({ business_key: 'CASE-W1' })), 1);
  });

  test('a timer start is a timer row while the scope runs; it fires once through the scheduler after a restart, non-interrupting', async () => {
    const inst = await server().engine.start('withdrawable', { businessKey: 'CASE-W2' });
    const rows = await db('timers').where({ instance_id: inst.id });
    assert.deepEqual(rows.map((x) => x.element_id), ['onHour']);
    await clock.advance(HOUR + 1000);
    assert.ok(await server().scheduler.drain() >= 1);
    assert.deepEqual((await db('outbox').where({ instance_id: inst.id })).map((o) => o.element_id), ['remindSms']);
    assert.deepEqual(await openTasks(inst.id), ['accept'], 'the case goes on');
    await clock.advance(2 * HOUR);
    await server().scheduler.drain();
    assert.equal(await count(db('outbox').where({ instance_id: inst.id })), 1, 'a duration timer start fires once per scope');
    await server().engine.completeTask(await task(inst.id, 'accept'), {}, 'clerk');
    const done = await server().engine.completeTask(await task(inst.id, 'decide'), {}, 'clerk');
    assert.equal(done.status, 'completed', 'listening event sub-processes do not keep a finished case open');
    assert.equal(await count(db('message_subscriptions').where({ instance_id: inst.id })), 0);
  });

  test('signal, error and escalation starts: interrupting and non-interrupting', async () => {
    await server().engine.deploy(bpmn('esp_kinds', `
      <startEvent id="s"/><parallelGateway id="fork"/>
      <userTask id="work"/><intermediateThrowEvent id="raise"><escalationEventDefinition escalationRef="escLate"/></intermediateThrowEvent><userTask id="more"/><endEvent id="e1"/>
      <userTask id="check"/><endEvent id="fail"><errorEventDefinition errorRef="errBad"/></endEvent>
      <intermediateThrowEvent id="announce"><signalEventDefinition signalRef="sigNote"/></intermediateThrowEvent><endEvent id="e3"/>
      ${flows('s', 'fork', 'work', 'raise', 'more', 'e1')}${flows('fork', 'check', 'fail')}${flows('fork', 'announce', 'e3')}
      <subProcess id="onSignal" triggeredByEvent="true"><startEvent id="sigStart" isInterrupting="false"><signalEventDefinition signalRef="sigNote"/></startEvent><userTask id="noted"/><endEvent id="x1"/>${flows('sigStart', 'noted', 'x1')}</subProcess>
      <subProcess id="onEscalation" triggeredByEvent="true"><startEvent id="escStart" isInterrupting="false"><escalationEventDefinition escalationRef="escLate"/></startEvent><userTask id="supervise"/><endEvent id="x2"/>${flows('escStart', 'supervise', 'x2')}</subProcess>
      <subProcess id="onError" triggeredByEvent="true"><startEvent id="errStart" isInterrupting="true"><errorEventDefinition errorRef="errBad"/></startEvent><userTask id="repair"/><endEvent id="x3"/>${flows('errStart', 'repair', 'x3')}</subProcess>`,
    '<signal id="sigNote" name="note"/><escalation id="escLate" escalationCode="LATE"/><error id="errBad" errorCode="BAD"/>'));
    const inst = await server().engine.start('esp_kinds');
    assert.deepEqual(await openTasks(inst.id), ['check', 'noted', 'work'], 'the signal thrown at start reached the signal event sub-process');
    await server().engine.completeTask(await task(inst.id, 'work'), {}, 'a');
    assert.deepEqual(await openTasks(inst.id), ['check', 'more', 'noted', 'supervise'], 'a non-interrupting escalation start runs beside the work');
    const r = await server().engine.completeTask(await task(inst.id, 'check'), {}, 'b');
    assert.equal(r.status, 'running', 'the error is caught by the event sub-process');
    assert.deepEqual(await openTasks(inst.id), ['repair'], 'the interrupting error start ended everything else');
    const done = await server().engine.completeTask(await task(inst.id, 'repair'), {}, 'c');
    assert.equal(done.status, 'completed');
  });

  test('what Duban cannot run is refused at deploy, naming element and construct', async () => {
    const err = await server().engine.deploy(bpmn('esp_cond', `<startEvent id="s"/><userTask id="u"/><endEvent id="e"/>${flows('s', 'u', 'e')}
      <subProcess id="espc" triggeredByEvent="true"><startEvent id="condStart"><conditionalEventDefinition><condition xsi:type="tFormalExpression" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">=x > 1</condition></conditionalEventDefinition></startEvent><endEvent id="ce"/>${flows('condStart', 'ce')}</subProcess>`))
      .then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof InvalidDefinitionError, String(err));
    const p = err.problems.find((x) => x.elementId === 'condStart');
    assert.ok(p, JSON.stringify(err.problems));
    assert.match(p.message, /event sub-process with a conditional start/);
  });
});
