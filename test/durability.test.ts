/**
 * Durability with real processes (issue acceptance point 2): engine workers are separate Node
 * processes (test/support/worker.ts) on one real PostgreSQL database, killed with SIGKILL mid-work,
 * delivering to a real HTTP sink on 127.0.0.1 that records every request.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDatabase } from './support/db.js';
import type { Db } from '../src/db/database.js';
import { WorkflowEngine } from '../src/engine/engine.js';
import { ConflictError } from '../src/engine/errors.js';
import { ServiceRegistry } from '../src/engine/services.js';
import { appendAudit, verifyAuditTrail } from '../src/audit/audit.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const workerScript = path.join(root, 'test/support/worker.ts');

// ---------------------------------------------------------------------------------------------
// Diagrams

const NS = `xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" targetNamespace="duban-test"`;

/** Wait on a timer, notify the sink, end. */
const TIMER_XML = `<?xml version="1.0" encoding="UTF-8"?>
<definitions ${NS} id="d_timer">
 <process id="timed" name="Timed notify" isExecutable="true">
  <startEvent id="s" name="start"/>
  <sequenceFlow id="f1" sourceRef="s" targetRef="wait"/>
  <intermediateCatchEvent id="wait" name="wait"><timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition></intermediateCatchEvent>
  <sequenceFlow id="f2" sourceRef="wait" targetRef="notify"/>
  <serviceTask id="notify" name="notify" camunda:type="external" camunda:topic="notify"/>
  <sequenceFlow id="f3" sourceRef="notify" targetRef="e"/>
  <endEvent id="e" name="end"/>
 </process>
</definitions>`;

/** Wait on a timer, notify the sink, then a person completes a review task. */
const KILL_XML = `<?xml version="1.0" encoding="UTF-8"?>
<definitions ${NS} id="d_kill">
 <process id="timedReview" name="Timed review" isExecutable="true">
  <startEvent id="s" name="start"/>
  <sequenceFlow id="f1" sourceRef="s" targetRef="wait"/>
  <intermediateCatchEvent id="wait" name="wait"><timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition></intermediateCatchEvent>
  <sequenceFlow id="f2" sourceRef="wait" targetRef="notify"/>
  <serviceTask id="notify" name="notify" camunda:type="external" camunda:topic="notify"/>
  <sequenceFlow id="f3" sourceRef="notify" targetRef="review"/>
  <userTask id="review" name="Review"/>
  <sequenceFlow id="f4" sourceRef="review" targetRef="e"/>
  <endEvent id="e" name="end"/>
 </process>
</definitions>`;

/** Notify the sink right away. */
const NOTIFY_XML = `<?xml version="1.0" encoding="UTF-8"?>
<definitions ${NS} id="d_notify">
 <process id="notifyNow" name="Notify now" isExecutable="true">
  <startEvent id="s" name="start"/>
  <sequenceFlow id="f1" sourceRef="s" targetRef="notify"/>
  <serviceTask id="notify" name="notify" camunda:type="external" camunda:topic="notify"/>
  <sequenceFlow id="f2" sourceRef="notify" targetRef="e"/>
  <endEvent id="e" name="end"/>
 </process>
</definitions>`;

/** The same `notify` service as the worker's; the test process only runs it when a start reaches it. */
function testServices(): ServiceRegistry {
  return new ServiceRegistry().register({
    name: 'notify',
    description: 'Tell the sink that this instance got here',
    handler: (ctx) => {
      ctx.enqueue('sink', { instanceId: ctx.instanceId, businessKey: ctx.businessKey, elementId: ctx.elementId });
      return { notified: true };
    },
  });
}

// ---------------------------------------------------------------------------------------------
// The HTTP sink: an outside provider on 127.0.0.1 that records every request.

interface SinkRequest {
  key: string;
  worker: string;
  body: { instanceId: string; businessKey: string | null; elementId: string };
}

interface Sink {
  url: string;
  requests: SinkRequest[];
  /** Requests received and not yet answered. */
  inFlight: number;
  delayMs: number;
  reset(): void;
  close(): Promise<void>;
}

async function startSink(): Promise<Sink> {
  const sink: Sink = {
    url: '',
    requests: [],
    inFlight: 0,
    delayMs: 0,
    reset() {
      this.requests = [];
      this.delayMs = 0;
    },
    close: async () => undefined,
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      sink.inFlight++;
      let counted = true;
      const done = () => {
        if (counted) sink.inFlight--;
        counted = false;
      };
      res.on('close', done);
      sink.requests.push({
        key: String(req.headers['idempotency-key'] ?? ''),
        worker: String(req.headers['x-worker'] ?? ''),
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
      });
      const answer = () => {
        if (res.destroyed) return done();
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      };
      if (sink.delayMs > 0) setTimeout(answer, sink.delayMs);
      else answer();
    });
    req.on('error', () => undefined);
    res.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  sink.url = `http://127.0.0.1:${port}/deliveries`;
  sink.close = () => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return sink;
}

// ---------------------------------------------------------------------------------------------
// Worker processes. Each is spawned as its own process group; every one is killed in after().

interface Worker {
  id: string;
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children = new Set<ChildProcess>();

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try { child.kill(signal); } catch { /* already gone */ }
  }
}

// Even if the runner dies without after(), no worker outlives this process.
process.on('exit', () => { for (const c of children) killGroup(c, 'SIGKILL'); });

async function spawnWorker(id: string, dbUrl: string, sinkUrl: string, extra: Record<string, string> = {}): Promise<Worker> {
  const child = spawn(process.execPath, ['--import', 'tsx', workerScript], {
    cwd: root,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DATABASE_URL: dbUrl, WORKER_ID: id, SINK_URL: sinkUrl, POLL_MS: '100', ...extra },
  });
  children.add(child);
  const w: Worker = {
    id, child, stdout: '', stderr: '',
    exited: new Promise((resolve) => child.on('exit', (code, signal) => { children.delete(child); resolve({ code, signal }); })),
  };
  child.stdout!.setEncoding('utf8').on('data', (s: string) => { w.stdout += s; });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => { w.stderr += s; });
  await waitFor(() => /^ready$/m.test(w.stdout), 30_000, `${id} ready`, () => w.stderr, () => child.exitCode !== null);
  return w;
}

/** SIGTERM, wait for the graceful stop, return the worker's own counters. */
async function stopWorker(w: Worker): Promise<{ fired: number; delivered: number; completed: number; conflicts: number }> {
  killGroup(w.child, 'SIGTERM');
  const { code } = await withTimeout(w.exited, 20_000, `${w.id} to stop`);
  assert.equal(code, 0, `${w.id} exited with ${code}; stderr:\n${w.stderr}`);
  const line = w.stdout.split('\n').find((l) => l.startsWith('stats '));
  assert.ok(line, `${w.id} printed no stats`);
  return JSON.parse(line.slice('stats '.length));
}

async function kill9(w: Worker): Promise<void> {
  killGroup(w.child, 'SIGKILL');
  const { signal } = await withTimeout(w.exited, 10_000, `${w.id} to die`);
  assert.equal(signal, 'SIGKILL');
}

// ---------------------------------------------------------------------------------------------
// Helpers

async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string,
  diag: () => string = () => '', abort: () => boolean = () => false): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (abort()) throw new Error(`gave up waiting for ${what}\n${diag()}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${diag()}`);
    await sleep(25);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, reject) => { t = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms); })])
    .finally(() => clearTimeout(t));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Start n instances from the test process, a few at a time. */
async function startMany(engine: WorkflowEngine, key: string, n: number, parallel = 8): Promise<string[]> {
  const ids: string[] = new Array(n);
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < n) {
      const i = next++;
      const inst = await engine.start(key, { businessKey: `${key}-${i}` });
      ids[i] = inst.id;
    }
  }));
  return ids;
}

async function count(db: Db, sql: string): Promise<number> {
  const r = await db.raw<{ rows: Array<{ n: number }> }>(sql);
  return Number(r.rows[0]!.n);
}

/** Make every waiting timer due now (database clock) and wake the schedulers. */
async function makeTimersDue(db: Db): Promise<void> {
  await db.raw(`UPDATE timers SET due_at = now()`);
  await db.raw(`SELECT pg_notify('duban_timers', '')`);
}

async function timerFiredPerInstance(db: Db): Promise<Map<string, number>> {
  const rows: Array<{ instance_id: string; n: number }> = await db('history').where({ kind: 'timer.fired' })
    .groupBy('instance_id').select('instance_id', db.raw('count(*)::int AS n'));
  return new Map(rows.map((r) => [r.instance_id, r.n]));
}

function byKey(requests: SinkRequest[]): Map<string, SinkRequest[]> {
  const m = new Map<string, SinkRequest[]>();
  for (const r of requests) {
    if (!m.has(r.key)) m.set(r.key, []);
    m.get(r.key)!.push(r);
  }
  return m;
}

/** Every repeat of one instance's notification carries the same key, so a provider can collapse it. */
function assertOneKeyPerInstance(requests: SinkRequest[]): void {
  const keys = new Map<string, Set<string>>();
  for (const r of requests) {
    assert.ok(r.key, 'every delivery carries an Idempotency-Key');
    if (!keys.has(r.body.instanceId)) keys.set(r.body.instanceId, new Set());
    keys.get(r.body.instanceId)!.add(r.key);
  }
  for (const [instanceId, set] of keys) assert.equal(set.size, 1, `instance ${instanceId} was delivered under ${set.size} keys`);
}

// ---------------------------------------------------------------------------------------------

let sink: Sink;
const databases: Array<{ drop(): Promise<void> }> = [];

before(async () => {
  sink = await startSink();
});

after(async () => {
  for (const c of [...children]) killGroup(c, 'SIGKILL');
  await sleep(100);
  await sink?.close();
  for (const d of databases) await d.drop().catch((err) => console.error('drop failed', err));
});

test('three worker processes on one database fire 1,000 due timers exactly once', { timeout: 120_000 }, async () => {
  const N = 1000;
  const t = await createTestDatabase();
  databases.push(t);
  sink.reset();
  const engine = new WorkflowEngine(t.db, testServices());
  await engine.deploy(TIMER_XML);

  const t0 = Date.now();
  const ids = await startMany(engine, 'timed', N);
  const startedMs = Date.now() - t0;
  assert.equal(await count(t.db, `SELECT count(*) AS n FROM timers`), N);

  const workers = await Promise.all(['w1', 'w2', 'w3'].map((id) => spawnWorker(id, t.url, sink.url)));
  const t1 = Date.now();
  await makeTimersDue(t.db);
  await waitFor(async () => sink.requests.length >= N &&
    (await count(t.db, `SELECT count(*) AS n FROM process_instances WHERE status = 'completed'`)) === N &&
    (await count(t.db, `SELECT count(*) AS n FROM outbox WHERE status <> 'sent'`)) === 0,
  90_000, `${N} instances to complete and be delivered`, () => `sink=${sink.requests.length}\n${workers.map((w) => w.stderr).join('\n')}`);
  const firedMs = Date.now() - t1;
  await sleep(300); // a late duplicate would show up now
  const stats = await Promise.all(workers.map(stopWorker));
  console.log(`${N} starts in ${startedMs} ms; fired+delivered in ${firedMs} ms; per worker ${JSON.stringify(stats)}`);

  // Every instance completed; no timer left, none failed.
  assert.equal(await count(t.db, `SELECT count(*) AS n FROM process_instances WHERE status = 'completed'`), N);
  assert.equal(await count(t.db, `SELECT count(*) AS n FROM timers`), 0);
  assert.equal(await count(t.db, `SELECT count(*) AS n FROM incidents`), 0);
  // Exactly one timer.fired per instance.
  const fired = await timerFiredPerInstance(t.db);
  assert.equal(fired.size, N);
  for (const id of ids) assert.equal(fired.get(id), 1, `instance ${id} fired ${fired.get(id) ?? 0} times`);
  // The workers' own counts agree, and the work was shared.
  assert.equal(stats.reduce((s, x) => s + x.fired, 0), N);
  assert.ok(stats.filter((s) => s.fired > 0).length > 1, `only one worker fired timers: ${JSON.stringify(stats)}`);
  // The sink got exactly one request per instance.
  assert.equal(sink.requests.length, N);
  const keys = byKey(sink.requests);
  assert.equal(keys.size, N);
  assertOneKeyPerInstance(sink.requests);
  assert.deepEqual(new Set(sink.requests.map((r) => r.body.instanceId)), new Set(ids));
  const deliverers = new Set(sink.requests.map((r) => r.worker));
  assert.ok(deliverers.size > 1, `only ${[...deliverers]} delivered`);
  assert.equal(await count(t.db, `SELECT count(*) AS n FROM history WHERE kind = 'outbox.delivered'`), N);
});

test('a worker killed with kill -9 while firing timers and completing tasks loses nothing', { timeout: 120_000 }, async () => {
  const N = 400;
  const OUTBOX_CONCURRENCY = 3;
  const t = await createTestDatabase();
  databases.push(t);
  sink.reset();
  const engine = new WorkflowEngine(t.db, testServices(), { audit: appendAudit });
  await engine.deploy(KILL_XML);
  const ids = await startMany(engine, 'timedReview', N);

  // The test process is a second user completing review tasks concurrently with the workers.
  let userRunning = true;
  const user = { completed: 0, conflicts: 0 };
  const userLoop = (async () => {
    while (userRunning) {
      const open: Array<{ id: string }> = await t.db('tasks').where({ status: 'open' }).orderByRaw('random()').limit(10).select('id');
      for (const task of open) {
        try {
          await engine.completeTask(task.id, { approved: true, by: 'test' }, 'test');
          user.completed++;
        } catch (err) {
          if (!(err instanceof ConflictError)) throw err;
          user.conflicts++;
        }
      }
      await sleep(open.length ? 20 : 50);
    }
  })();

  try {
    const env = { COMPLETE_TASKS: '1', OUTBOX_CONCURRENCY: String(OUTBOX_CONCURRENCY), TIMER_CONCURRENCY: '3' };
    const w1 = await spawnWorker('k1', t.url, sink.url, env);
    const t0 = Date.now();
    await makeTimersDue(t.db);
    // Kill when about 30% of the notifications arrived: timers are still being fired then.
    await waitFor(() => sink.requests.length >= N * 0.3, 60_000, '30% of deliveries', () => w1.stderr);
    const inFlightAtKill = sink.inFlight;
    await kill9(w1);
    const atKill = {
      ms: Date.now() - t0,
      sink: sink.requests.length,
      timersLeft: await count(t.db, `SELECT count(*) AS n FROM timers`),
      workerCompleted: await count(t.db, `SELECT count(*) AS n FROM tasks WHERE completed_by = 'k1'`),
      openTasks: await count(t.db, `SELECT count(*) AS n FROM tasks WHERE status = 'open'`),
    };
    console.log(`killed k1 at ${JSON.stringify(atKill)}, sink in flight ${inFlightAtKill}`);
    // It really died mid-way: some timers fired, some not; it had completed tasks and more were waiting.
    assert.ok(atKill.timersLeft > 0 && atKill.timersLeft < N, `kill was not mid-firing: ${atKill.timersLeft} timers left`);
    assert.ok(atKill.workerCompleted > 0, 'the killed worker had not completed any task yet');

    const w2 = await spawnWorker('k2', t.url, sink.url, env);
    await waitFor(async () =>
      (await count(t.db, `SELECT count(*) AS n FROM process_instances WHERE status = 'completed'`)) === N &&
      (await count(t.db, `SELECT count(*) AS n FROM outbox WHERE status <> 'sent'`)) === 0,
    90_000, 'every instance to complete after the restart', () => `sink=${sink.requests.length}\n${w2.stderr}`);
    await sleep(300);
    const stats = await stopWorker(w2);
    console.log(`done in ${Date.now() - t0} ms; k2 ${JSON.stringify(stats)}; test user ${JSON.stringify(user)}`);

    // Nothing lost: every instance completed, each timer fired exactly once.
    assert.equal(await count(t.db, `SELECT count(*) AS n FROM process_instances WHERE status = 'completed'`), N);
    assert.equal(await count(t.db, `SELECT count(*) AS n FROM timers`), 0);
    assert.equal(await count(t.db, `SELECT count(*) AS n FROM incidents`), 0);
    const fired = await timerFiredPerInstance(t.db);
    for (const id of ids) assert.equal(fired.get(id), 1, `instance ${id} fired ${fired.get(id) ?? 0} times`);
    // Each instance had one review task, completed exactly once (by whoever got there first).
    const tasks: Array<{ id: string; instance_id: string; status: string; completed_by: string | null }> =
      await t.db('tasks').select('id', 'instance_id', 'status', 'completed_by');
    assert.equal(tasks.length, N);
    assert.deepEqual(new Set(tasks.map((x) => x.instance_id)), new Set(ids));
    for (const task of tasks) assert.equal(task.status, 'completed', `task ${task.id} is ${task.status}`);
    const completions: Array<{ task_id: string; n: number }> = await t.db('history').where({ kind: 'task.completed' })
      .groupByRaw(`data->>'taskId'`).select(t.db.raw(`data->>'taskId' AS task_id`), t.db.raw('count(*)::int AS n'));
    assert.equal(completions.length, N);
    for (const c of completions) assert.equal(c.n, 1, `task ${c.task_id} completed ${c.n} times`);
    assert.equal(await count(t.db, `SELECT count(*) AS n FROM history WHERE kind = 'instance.completed'`), N);
    // The audit trail kept every committed completion exactly once across the kill, and its chain verifies.
    const report = await verifyAuditTrail(t.db, { settleMs: 30_000 });
    assert.deepEqual([report.ok, report.queued, report.broken], [true, 0, []]);
    const audited: Array<{ entity_id: string; n: number }> = await t.db('audit_log').where({ action: 'task.completed' })
      .groupBy('entity_id').select('entity_id', t.db.raw('count(*)::int AS n'));
    assert.deepEqual(new Set(audited.map((a) => a.entity_id)), new Set(tasks.map((x) => x.id)), 'every completed task is audited');
    for (const a of audited) assert.equal(a.n, 1, `task ${a.entity_id} audited ${a.n} times`);

    // Delivery is at-least-once with a stable Idempotency-Key (the outbox dedup key): a worker killed
    // after the provider got a request but before its commit leaves the row pending, and the next
    // worker sends it again under the same key, which an idempotent provider collapses. So: every
    // key arrives, a repeat always carries the same key as the original, and repeats can only come
    // from deliveries in flight at the kill, at most the dispatcher's concurrency.
    const keys = byKey(sink.requests);
    const expected: Array<{ dedup_key: string }> = await t.db('outbox').select('dedup_key');
    assert.equal(expected.length, N);
    assert.deepEqual(new Set(keys.keys()), new Set(expected.map((r) => r.dedup_key)));
    assert.equal(keys.size, N);
    assertOneKeyPerInstance(sink.requests);
    const repeats = sink.requests.length - keys.size;
    assert.ok(repeats <= OUTBOX_CONCURRENCY, `${repeats} repeated deliveries, more than the ${OUTBOX_CONCURRENCY} that can be in flight`);
    for (const [key, reqs] of keys) if (reqs.length > 1) assert.ok(reqs.some((r) => r.worker === 'k1'), `${key} repeated without a kill`);
    assert.equal(await count(t.db, `SELECT count(*) AS n FROM history WHERE kind = 'outbox.delivered'`), N);
  } finally {
    userRunning = false;
    await userLoop;
  }
});

test('an outbox message is delivered once per deduplication key across a kill', { timeout: 120_000 }, async () => {
  const M = 60;
  const OUTBOX_CONCURRENCY = 4;
  const t = await createTestDatabase();
  databases.push(t);
  sink.reset();
  const engine = new WorkflowEngine(t.db, testServices());
  await engine.deploy(NOTIFY_XML);
  const ids = await startMany(engine, 'notifyNow', M);
  assert.equal(await count(t.db, `SELECT count(*) AS n FROM outbox WHERE status = 'pending'`), M);

  sink.delayMs = 300; // a slow provider: deliveries stay in flight long enough to be cut
  const env = { OUTBOX_CONCURRENCY: String(OUTBOX_CONCURRENCY), TIMER_CONCURRENCY: '1' };
  const t0 = Date.now();
  const w1 = await spawnWorker('o1', t.url, sink.url, env);
  await waitFor(() => sink.requests.length >= 12 && sink.inFlight >= 2, 30_000, 'deliveries in flight', () => w1.stderr);
  const inFlightAtKill = sink.inFlight;
  const receivedAtKill = sink.requests.length;
  await kill9(w1);
  const sentAtKill = await count(t.db, `SELECT count(*) AS n FROM outbox WHERE status = 'sent'`);
  console.log(`killed o1 with ${inFlightAtKill} in flight, ${receivedAtKill} received, ${sentAtKill} committed`);
  assert.ok(sentAtKill > 0 && sentAtKill < M);

  const w2 = await spawnWorker('o2', t.url, sink.url, env);
  await waitFor(async () => (await count(t.db, `SELECT count(*) AS n FROM outbox WHERE status <> 'sent'`)) === 0,
    60_000, 'every outbox row to be sent', () => `sink=${sink.requests.length}\n${w2.stderr}`);
  await sleep(500);
  await stopWorker(w2);
  console.log(`outbox kill test done in ${Date.now() - t0} ms; ${sink.requests.length} requests for ${M} keys`);

  // Each key reached the provider; every row is sent once, with its attempt recorded, none failed.
  const rows: Array<{ id: number; dedup_key: string; status: string; attempts: number; sent_at: Date | null; last_error: string | null }> =
    await t.db('outbox').select('id', 'dedup_key', 'status', 'attempts', 'sent_at', 'last_error');
  assert.equal(rows.length, M);
  for (const r of rows) {
    assert.equal(r.status, 'sent', `outbox ${r.id} is ${r.status}`);
    // The killed attempt rolled back with its transaction, so the committed count is the successful one.
    assert.ok(r.attempts >= 1, `outbox ${r.id} records ${r.attempts} attempts`);
    assert.ok(r.sent_at, `outbox ${r.id} has no sent_at`);
    assert.equal(r.last_error, null);
  }
  assert.equal(await count(t.db, `SELECT count(*) AS n FROM outbox WHERE status = 'failed'`), 0);
  const delivered: Array<{ outbox_id: string; n: number }> = await t.db('history').where({ kind: 'outbox.delivered' })
    .groupByRaw(`data->>'outboxId'`).select(t.db.raw(`data->>'outboxId' AS outbox_id`), t.db.raw('count(*)::int AS n'));
  assert.equal(delivered.length, M);
  for (const d of delivered) assert.equal(d.n, 1, `outbox ${d.outbox_id} recorded ${d.n} deliveries`);

  // At-least-once with a stable key: all keys arrived; repeats only for what was cut by the kill.
  const keys = byKey(sink.requests);
  assert.deepEqual(new Set(keys.keys()), new Set(rows.map((r) => r.dedup_key)));
  assert.equal(keys.size, M);
  assertOneKeyPerInstance(sink.requests);
  assert.deepEqual(new Set(sink.requests.map((r) => r.body.instanceId)), new Set(ids));
  const repeats = sink.requests.length - keys.size;
  // Everything in flight at the kill was never committed, so it is sent again, and nothing else is.
  assert.ok(repeats >= inFlightAtKill, `${repeats} repeats but ${inFlightAtKill} were cut in flight`);
  assert.ok(repeats <= OUTBOX_CONCURRENCY, `${repeats} repeats, more than the ${OUTBOX_CONCURRENCY} in flight`);
  for (const reqs of keys.values()) {
    if (reqs.length > 1) {
      assert.equal(reqs.length, 2);
      assert.deepEqual(reqs.map((r) => r.worker), ['o1', 'o2']);
    }
  }
});
