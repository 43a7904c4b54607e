/**
 * A burst of timers due at the same instant (working-day deadlines all end at 24:00): `count` waiting
 * instances of the bench diagram whose review deadlines are moved to now() in one UPDATE, drained by
 * TimerScheduler in one child process and then in two, beside pg-boss draining `count` empty jobs on
 * the same database in the same run (the reference). Every firing is a real command: claim, recover,
 * fire the boundary timer, cancel the review task, open the escalation task, write state and history.
 *
 * Standalone: `node --import tsx bench/burst.ts [--quick]` (BENCH_BURST sets the count); `npm run bench`
 * runs it as its own section. BENCH_BURST_COMPARE_BATCH=1 adds drains at one timer per claim, interleaved, in the same run.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Knex } from 'knex';
import type { Db } from '../src/db/database.js';
import type { WorkflowEngine } from '../src/engine/engine.js';
import type { FromBurstWorker, ToBurstWorker } from './burst-worker.js';
import { PROCESS_KEY } from './diagram.js';
import { BenchChild, busyShare, cpuTicks, pgCpuDelta, pgCpuSample, sleep } from './support.js';
import { makeTemplate, type Template } from './timer-lag.js';

const here = path.dirname(fileURLToPath(import.meta.url));

export interface BurstOptions {
  url: string;
  dbName: string;
  count: number;
  /** Scheduler loops per process and pg-boss work() loops (the server's DUBAN_WORKER_CONCURRENCY). */
  concurrency: number;
  /** Timers per scheduler claim (the server's DUBAN_TIMER_BATCH). */
  batchSize: number;
  pollMs: number;
  /** Also drain with this batch size (e.g. 1, one timer per transaction) in the same run, interleaved: a before/after. */
  compareBatch?: number;
  log: (m: string) => void;
}

export interface DrainResult {
  processes: number;
  timers: number;
  seconds: number;
  firedPerSec: number;
  perProcess: number[];
  nodeCpuMsPerFire: number;
  pgCpuMsPerFire: number | null;
  machineBusy: number;
  /** Checked afterwards: fired exactly once (one timer.fired history row, one escalation task), none left. */
  firedOnce: number;
  left: number;
  errors: string[];
}

export interface BurstResult {
  count: number;
  concurrency: number;
  batchSize: number;
  one: DrainResult;
  two: DrainResult;
  pgBoss: { jobs: number; seconds: number; jobsPerSec: number; workers: number; batchSize: number; nodeCpuMsPerJob: number };
  /** Duban drain time (one process) ÷ pg-boss drain time (one process); target ≤ 3. */
  burstVsPgBoss: number;
  burstTwoVsPgBoss: number;
  /** One-process drain time ÷ two-process drain time. */
  twoVsOneSpeedup: number;
  /** With compareBatch: the same drains at that batch size, and their ratios to pg-boss. */
  compare?: { batchSize: number; one: DrainResult; two: DrainResult; burstVsPgBoss: number; burstTwoVsPgBoss: number };
}

/** A burst child process (burst-worker.ts). */
class Child extends BenchChild<ToBurstWorker, FromBurstWorker> {
  constructor(name: string) {
    super(name, path.join(here, 'burst-worker.ts'));
  }
}

export async function runBurst(db: Db, engine: WorkflowEngine, opts: BurstOptions): Promise<BurstResult> {
  const template = await makeTemplate(db, engine);
  const compareBatch = opts.compareBatch ?? (Number(process.env.BENCH_BURST_COMPARE_BATCH) || undefined);
  const other = compareBatch ? { ...opts, batchSize: compareBatch } : undefined;
  const run = async (o: BurstOptions, processes: number) => {
    const r = await drain(db, template, o, processes);
    await db.raw('VACUUM ANALYZE').catch(() => undefined);
    return r;
  };
  // Interleaved, so a burst of other load on the machine hits both sizes alike.
  const oneBefore = other && (await run(other, 1));
  const one = await run(opts, 1);
  const twoBefore = other && (await run(other, 2));
  const two = await run(opts, 2);
  const pgBoss = await runPgBoss(opts);
  return {
    count: opts.count, concurrency: opts.concurrency, batchSize: opts.batchSize, one, two, pgBoss,
    burstVsPgBoss: one.seconds / pgBoss.seconds,
    burstTwoVsPgBoss: two.seconds / pgBoss.seconds,
    twoVsOneSpeedup: one.seconds / two.seconds,
    compare: other && oneBefore && twoBefore ? {
      batchSize: other.batchSize, one: oneBefore, two: twoBefore,
      burstVsPgBoss: oneBefore.seconds / pgBoss.seconds, burstTwoVsPgBoss: twoBefore.seconds / pgBoss.seconds,
    } : undefined,
  };
}

async function drain(db: Db, template: Template, opts: BurstOptions, processes: number): Promise<DrainResult> {
  const tag = `burst${processes}p${opts.batchSize}b`;
  const children = Array.from({ length: processes }, (_, i) => new Child(`${tag}-${i}`));
  try {
    await Promise.all(children.map((c) => c.request({ type: 'init', url: opts.url, concurrency: opts.concurrency, batchSize: opts.batchSize, pollMs: opts.pollMs }, 'ready')));
    // Warm-up (untimed), as a long-running server is warm: a few hundred copies already due.
    await insertCopies(db, template, `${tag}-warm`, 150 * processes);
    await moveDue(db, `${tag}-warm`, `now() - interval '1 second'`);
    await Promise.all(children.map((c) => c.request({ type: 'warm' }, 'warmed')));
    await insertCopies(db, template, tag, opts.count);
    await db.raw('ANALYZE');
    await db.raw('CHECKPOINT').catch(() => undefined);
    // The burst: every deadline falls due at the same instant.
    await moveDue(db, tag, 'now()');
    const cpu0 = cpuTicks();
    const pg0 = pgCpuSample(opts.dbName);
    const t0 = performance.now();
    await Promise.all(children.map((c) => c.request({ type: 'go' }, 'started')));
    // Drained when no due timer is left: a timer row goes in the same transaction as its firing commits.
    while (Number((await db.raw<{ rows: Array<{ n: number }> }>(`SELECT count(*)::int AS n FROM timers WHERE due_at <= now()`)).rows[0]!.n) > 0) await sleep(20);
    const seconds = (performance.now() - t0) / 1000;
    const machineBusy = busyShare(cpu0, cpuTicks());
    const pg1 = pgCpuSample(opts.dbName);
    const pgMs = pgCpuDelta(pg0, pg1);
    const stopped = await Promise.all(children.map((c) => c.request({ type: 'stop' }, 'stopped')));
    const fired = stopped.reduce((a, s) => a + s.fired, 0);
    const check = await verify(db, tag);
    const result: DrainResult = {
      processes, timers: opts.count, seconds, firedPerSec: opts.count / seconds, perProcess: stopped.map((s) => s.fired),
      nodeCpuMsPerFire: stopped.reduce((a, s) => a + s.cpuMs, 0) / Math.max(1, fired),
      pgCpuMsPerFire: pgMs === null ? null : pgMs / Math.max(1, fired),
      machineBusy, ...check, errors: stopped.flatMap((s) => s.errors).slice(0, 10),
    };
    opts.log(`  ${processes} process(es), ${opts.batchSize} per claim: ${opts.count} timers drained in ${seconds.toFixed(1)} s = ${result.firedPerSec.toFixed(0)}/s (per process ${result.perProcess.join(' + ')}); CPU per firing: node ${result.nodeCpuMsPerFire.toFixed(1)} ms, PostgreSQL ${result.pgCpuMsPerFire?.toFixed(1) ?? '?'} ms; fired once ${check.firedOnce}/${opts.count}, left ${check.left}`);
    return result;
  } finally {
    await Promise.all(children.map((c) => c.exit()));
  }
}

async function runPgBoss(opts: BurstOptions): Promise<BurstResult['pgBoss']> {
  const child = new Child('pg-boss');
  const workers = opts.concurrency;
  // pg-boss 10 sleeps the polling interval (0.5 s at least) after every fetch, so its drain rate is
  // loops × batchSize ÷ 0.5 s; 50 per fetch keeps that ceiling (400/s with 4 loops) above what it reaches here.
  const batchSize = Number(process.env.BENCH_PGBOSS_BATCH) > 0 ? Number(process.env.BENCH_PGBOSS_BATCH) : 50;
  try {
    const r = await child.request({ type: 'pgboss', url: opts.url, jobs: opts.count, workers, batchSize }, 'pgboss-done');
    const seconds = (r.t1 - r.t0) / 1000;
    opts.log(`  pg-boss: ${r.jobs} jobs drained in ${seconds.toFixed(1)} s = ${(r.jobs / seconds).toFixed(0)}/s (${workers} work() loops, batchSize ${batchSize}, empty handler; insert ${r.insertSeconds.toFixed(1)} s)`);
    return { jobs: r.jobs, seconds, jobsPerSec: r.jobs / seconds, workers, batchSize, nodeCpuMsPerJob: r.cpuMs / Math.max(1, r.jobs) };
  } finally {
    await child.exit();
  }
}

/** Each burst instance fired exactly once: one timer.fired row, review cancelled, one open escalation, no timer left. */
async function verify(db: Db, tag: string): Promise<{ firedOnce: number; left: number }> {
  const { rows } = await db.raw<{ rows: Array<{ once: number; left: number }> }>(`
    SELECT count(*) FILTER (WHERE f.n = 1 AND e.n = 1 AND r.status = 'cancelled')::int AS once,
           count(*) FILTER (WHERE EXISTS (SELECT 1 FROM timers t WHERE t.instance_id = i.id))::int AS left
      FROM process_instances i
      JOIN tasks r ON r.instance_id = i.id AND r.element_id = 'review'
      CROSS JOIN LATERAL (SELECT count(*) AS n FROM history h WHERE h.instance_id = i.id AND h.kind = 'timer.fired') f
      CROSS JOIN LATERAL (SELECT count(*) AS n FROM tasks x WHERE x.instance_id = i.id AND x.element_id = 'escalate' AND x.status = 'open') e
     WHERE i.business_key LIKE ? || '-%' AND i.business_key NOT LIKE ? || '-warm-%'`, [tag, tag]);
  return { firedOnce: rows[0]?.once ?? 0, left: rows[0]?.left ?? 0 };
}

/** One UPDATE moves the deadlines of the instances tagged `tag` to `dueSql`. */
async function moveDue(db: Db, tag: string, dueSql: string): Promise<void> {
  await db.raw(`UPDATE timers t SET due_at = ${dueSql} FROM process_instances i WHERE i.id = t.instance_id AND i.business_key LIKE ? || '-%'`, [tag]);
}

/** `n` copies of the template (instance, open review task, deadline a year ahead), business keys `<tag>-<g>`. */
async function insertCopies(db: Db, t: Template, tag: string, n: number): Promise<void> {
  for (let from = 1; from <= n; from += 10_000) {
    await db.raw(`
      WITH ins AS (
        INSERT INTO process_instances (id, definition_id, process_key, business_key, status, state, variables, version, started_by)
        SELECT gen_random_uuid(), ?, ?, ? || '-' || g, 'running', ?::jsonb, ?::jsonb, 1, 'bench'
          FROM generate_series(?::int, ?::int) g
        RETURNING id
      ), tim AS (
        INSERT INTO timers (instance_id, execution_id, element_id, timer_type, definition, due_at)
        SELECT id, ?, ?, ?, ?, now() + interval '1 year' FROM ins
      )
      INSERT INTO tasks (id, instance_id, execution_id, element_id, name, assignee, candidate_groups, form_key, status)
      SELECT gen_random_uuid(), id, ?, ?, ?, ?, ?::text[], ?, 'open' FROM ins`,
    [
      t.definitionId, PROCESS_KEY, tag, t.state, t.variables, from, Math.min(n, from + 9_999),
      t.timer.execution_id, t.timer.element_id, t.timer.timer_type, t.timer.definition,
      t.task.execution_id, t.task.element_id, t.task.name, t.task.assignee, t.task.candidate_groups, t.task.form_key,
    ] as Knex.Value[]);
  }
}

export function printBurst(b: BurstResult | undefined): void {
  if (!b) return;
  const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');
  const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '-');
  console.log(`\nTimer burst: ${b.count.toLocaleString('en')} timers due at the same instant (bench diagram; scheduler concurrency ${b.concurrency} per process, ${b.batchSize} timers per claim)`);
  for (const d of [b.one, b.two]) {
    console.log(`  Duban, ${d.processes} process${d.processes > 1 ? 'es' : ''}: ${f1(d.seconds)} s (${d.firedPerSec.toFixed(0)}/s); CPU per firing node ${f1(d.nodeCpuMsPerFire)} ms, PostgreSQL ${f1(d.pgCpuMsPerFire ?? NaN)} ms; fired exactly once ${d.firedOnce}/${d.timers}, left ${d.left}`);
  }
  console.log(`  pg-boss, 1 process:  ${f1(b.pgBoss.seconds)} s (${b.pgBoss.jobsPerSec.toFixed(0)}/s; ${b.pgBoss.workers} work() loops, batchSize ${b.pgBoss.batchSize}, empty jobs)`);
  const ok = b.burstVsPgBoss <= 3 ? 'PASS' : 'MISS';
  console.log(`  burstVsPgBoss (Duban 1 process ÷ pg-boss) ${f2(b.burstVsPgBoss)}  target <= 3  ${ok}; 2 processes ÷ pg-boss ${f2(b.burstTwoVsPgBoss)}; 1 ÷ 2 processes ${f2(b.twoVsOneSpeedup)}`);
  const c = b.compare;
  if (c) {
    console.log(`  same run, ${c.batchSize} timer${c.batchSize > 1 ? 's' : ''} per claim: 1 process ${f1(c.one.seconds)} s (CPU node ${f1(c.one.nodeCpuMsPerFire)} + PostgreSQL ${f1(c.one.pgCpuMsPerFire ?? NaN)} ms), 2 processes ${f1(c.two.seconds)} s (CPU ${f1(c.two.nodeCpuMsPerFire)} + ${f1(c.two.pgCpuMsPerFire ?? NaN)} ms); ÷ pg-boss ${f2(c.burstVsPgBoss)} and ${f2(c.burstTwoVsPgBoss)}`);
  }
  const bad = [b.one, b.two, ...(c ? [c.one, c.two] : [])].filter((d) => d.firedOnce !== d.timers || d.left || d.errors.length);
  for (const d of bad) console.log(`  PROBLEM (${d.processes}p): fired once ${d.firedOnce}/${d.timers}, left ${d.left}; ${d.errors.slice(0, 3).join('; ')}`);
}

// Standalone run: a fresh bench database, this section only.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  void (async () => {
    const { loadConfig } = await import('../src/config.js');
    const { createDb, migrate } = await import('../src/db/database.js');
    const { WorkflowEngine } = await import('../src/engine/engine.js');
    const { ServiceRegistry } = await import('../src/engine/services.js');
    const { BENCH_XML } = await import('./diagram.js');
    const { createBenchDatabase, findServer } = await import('./support.js');
    const log = (m: string) => console.log(`[burst ${new Date().toISOString().slice(11, 19)}] ${m}`);
    const quick = process.argv.includes('--quick');
    const count = Number(process.env.BENCH_BURST) > 0 ? Number(process.env.BENCH_BURST) : quick ? 500 : 10_000;
    const server = await findServer(log);
    const bench = await createBenchDatabase(server);
    const db = createDb(bench.url, 4);
    try {
      await migrate(db);
      const engine = new WorkflowEngine(db, new ServiceRegistry());
      await engine.deploy(BENCH_XML, { note: 'benchmark' });
      const cfg = loadConfig();
      log(`${count} timers due at once`);
      const r = await runBurst(db, engine, { url: bench.url, dbName: bench.name, count, concurrency: cfg.workerConcurrency, batchSize: cfg.timerBatch, pollMs: cfg.timerPollMs, log });
      printBurst(r);
    } finally {
      await db.destroy();
      await bench.drop();
      await server.stop();
    }
    process.exit(0);
  })().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
