/**
 * A benchmark child process (`node --import tsx bench/worker.ts`, forked by bench/index.ts with an IPC
 * channel). It runs either the in-memory baseline or the durable load against the database the
 * parent names; the parent lines the durable phases up across children (prepare → go → done) so two
 * children run each phase at the same time.
 */
import { createDb, type Db } from '../src/db/database.js';
import pg from 'pg';
import { appendAudit, auditQueueStats, auditSealStats, sealAudit } from '../src/audit/audit.js';
import { WorkflowEngine } from '../src/engine/engine.js';
import { ServiceRegistry } from '../src/engine/services.js';
import { APPROVE_OUTPUT, PROCESS_KEY, REVIEW_OUTPUT, startVariables } from './diagram.js';
import { queuesPerExecution, runMemory, type MemoryVariant } from './memory.js';
import { runPool } from './support.js';

/**
 * The `-cold` phases are the same work with the execution cache emptied before the phase, so every
 * completion recovers its instance from the stored state (the case days after the previous step).
 */
export type DurablePhase = 'start' | 'complete-review' | 'complete-approve' | 'start-cold' | 'complete-review-cold' | 'complete-approve-cold';

export type ToWorker =
  | { type: 'memory'; variants: MemoryVariant[]; instances: number; batch: number; warmup: number }
  | { type: 'init'; url: string; concurrency: number; tag: string; warmup: number; executionCache: number }
  | { type: 'prepare'; phase: DurablePhase; instances: number }
  | { type: 'go' }
  | { type: 'verify' }
  | { type: 'exit' };

export interface PhaseDone {
  type: 'done';
  phase: DurablePhase;
  ops: number;
  errors: string[];
  t0: number;
  t1: number;
  /** CPU time (user + system) this process used in the phase. */
  cpuMs: number;
  /** Round trips to PostgreSQL (pg Client.query calls, BEGIN and COMMIT included) in the phase. */
  roundTrips: number;
  /** Audit entries queued in the phase, and this process's sealing of them into the chain. */
  auditAppends: number;
  seal: { rounds: number; sealed: number; lagMsSum: number; lagMsMax: number };
  /** Commands served by a kept execution (no recovery) and commands that recovered, in the phase. */
  cacheHits: number;
  cacheMisses: number;
}

export type FromWorker =
  | { type: 'memory-result'; results: Awaited<ReturnType<typeof runMemory>>[]; queuesPerExecution: number }
  | { type: 'ready' }
  | { type: 'prepared'; ops: number }
  | PhaseDone
  | { type: 'verified'; completed: number; running: number; other: number }
  | { type: 'error'; message: string };

const now = () => performance.timeOrigin + performance.now();

function send(msg: FromWorker): void {
  process.send!(msg);
}

let db: Db | undefined;
let engine: WorkflowEngine | undefined;
let concurrency = 8;
let tag = 'w';
let instanceIds: string[] = [];
let armed: { phase: DurablePhase; count: number; op: (i: number) => Promise<unknown> } | undefined;

async function handle(msg: ToWorker): Promise<void> {
  switch (msg.type) {
    case 'memory': {
      // Warm the JIT on every variant first, then measure.
      for (const v of msg.variants) await runMemory(v, msg.warmup, msg.batch);
      const results = [];
      for (const v of msg.variants) results.push(await runMemory(v, msg.instances, msg.batch));
      send({ type: 'memory-result', results, queuesPerExecution: await queuesPerExecution() });
      return;
    }
    case 'init': {
      concurrency = msg.concurrency;
      tag = msg.tag;
      db = createDb(msg.url, concurrency + 2);
      // The production path: every command appends to the audit chain (src/runtime.ts does the same).
      // The execution cache is sized to this worker's working set (its instances and the warm-up), so
      // the warm phases measure a kept execution; the cold phases empty it (bench/README.md).
      engine = new WorkflowEngine(db, new ServiceRegistry(), { audit: appendAudit, executionCache: msg.executionCache });
      await warmup(msg.warmup);
      send({ type: 'ready' });
      return;
    }
    case 'prepare': {
      armed = await prepare(msg.phase, msg.instances);
      send({ type: 'prepared', ops: armed.count });
      return;
    }
    case 'go': {
      if (!armed) throw new Error('go before prepare');
      const { phase, count, op } = armed;
      armed = undefined;
      const rt0 = roundTrips;
      const audit0 = { ...auditQueueStats };
      const seal0 = { ...auditSealStats, lagMsMax: 0 };
      auditSealStats.lagMsMax = 0;
      const cache0 = { ...engine!.executions.stats };
      const cpu0 = process.cpuUsage();
      const t0 = now();
      const { results, errors } = await runPool(count, concurrency, op);
      const t1 = now();
      // The phase's last entries are sealed after their commands: that work is counted in its CPU.
      await sealAudit(db!, { settleMs: 10_000 });
      const cpu = process.cpuUsage(cpu0);
      if (phase.startsWith('start')) instanceIds = results.filter((r): r is string => typeof r === 'string');
      send({ type: 'done', phase, ops: count - errors.length, errors: errors.slice(0, 5), t0, t1, cpuMs: (cpu.user + cpu.system) / 1000,
        roundTrips: roundTrips - rt0, auditAppends: auditQueueStats.appends - audit0.appends,
        seal: { rounds: auditSealStats.rounds - seal0.rounds, sealed: auditSealStats.sealed - seal0.sealed, lagMsSum: auditSealStats.lagMsSum - seal0.lagMsSum, lagMsMax: auditSealStats.lagMsMax },
        cacheHits: engine!.executions.stats.hits - cache0.hits, cacheMisses: engine!.executions.stats.misses - cache0.misses });
      return;
    }
    case 'verify': {
      const rows: Array<{ status: string; n: number }> = await db!('process_instances').whereIn('id', instanceIds)
        .groupBy('status').select('status').count<Array<{ status: string; n: number }>>({ n: '*' });
      const by = Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
      send({ type: 'verified', completed: by.completed ?? 0, running: by.running ?? 0, other: instanceIds.length - (by.completed ?? 0) - (by.running ?? 0) });
      return;
    }
    case 'exit': {
      await db?.destroy();
      process.exit(0);
    }
  }
}

/** The untimed part of a phase: the task list lookup a client would have done already. */
async function prepare(phase: DurablePhase, instances: number): Promise<NonNullable<typeof armed>> {
  const e = engine!;
  if (phase.endsWith('-cold')) e.executions.clear();
  if (phase.startsWith('start')) {
    return {
      phase,
      count: instances,
      op: async (i) => (await e.start(PROCESS_KEY, { businessKey: phase === 'start' ? `${tag}-${i}` : `${tag}-cold-${i}`, variables: startVariables(i), actor: 'bench' })).id,
    };
  }
  const review = phase.startsWith('complete-review');
  const elementId = review ? 'review' : 'approve';
  const output = review ? REVIEW_OUTPUT : APPROVE_OUTPUT;
  const taskIds = await openTasks(elementId, instanceIds);
  return { phase, count: taskIds.length, op: (i) => e.completeTask(taskIds[i]!, output, `officer${i % 50}`) };
}

async function openTasks(elementId: string, ids: string[]): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < ids.length; i += 5000) {
    out.push(...await db!('tasks').whereIn('instance_id', ids.slice(i, i + 5000)).andWhere({ element_id: elementId, status: 'open' }).pluck('id'));
  }
  return out;
}

/** JIT, definition cache and connection pool warm-up: a small run of the whole load. */
async function warmup(n: number): Promise<void> {
  const e = engine!;
  const { results } = await runPool(n, concurrency, async (i) => (await e.start(PROCESS_KEY, { businessKey: `${tag}-warm-${i}`, variables: startVariables(i) })).id);
  const ids = results.filter((r): r is string => typeof r === 'string');
  const review = await openTasks('review', ids);
  await runPool(review.length, concurrency, (i) => e.completeTask(review[i]!, REVIEW_OUTPUT, 'bench'));
  const approve = await openTasks('approve', ids);
  await runPool(approve.length, concurrency, (i) => e.completeTask(approve[i]!, APPROVE_OUTPUT, 'bench'));
}

/** Every statement the pool's connections send (knex and direct pg queries alike) is one round trip. */
let roundTrips = 0;
const clientQuery = pg.Client.prototype.query;
pg.Client.prototype.query = function countedQuery(this: pg.Client, ...args: unknown[]) {
  roundTrips++;
  return (clientQuery as (...a: unknown[]) => unknown).apply(this, args);
} as typeof clientQuery;

let queue = Promise.resolve();
process.on('message', (msg: ToWorker) => {
  queue = queue.then(() => handle(msg)).catch((err: Error) => {
    send({ type: 'error', message: err.stack ?? err.message });
  });
});
process.on('disconnect', () => process.exit(0));
