/**
 * `npm run bench`: one run on this machine of
 *   1. bpmn-engine in memory (the baseline) running the benchmark diagram,
 *   2. the durable engine in one process and in two processes against one PostgreSQL database,
 *   3. timer lag while 100 timers/s fall due with 100,000 pending,
 * printed as a table with the issue's targets and written to bench/results.json.
 * A benchmark, not a test: it exits 0 whether or not the targets are met. See bench/README.md.
 *
 * Sizes come from the environment (defaults in brackets): BENCH_INSTANCES [600] durable instances per
 * process, BENCH_MEMORY_INSTANCES [600], BENCH_CONCURRENCY [8] commands in flight per process,
 * BENCH_PENDING [100000], BENCH_TIMER_RATE [100], BENCH_TIMER_SECONDS [20], BENCH_BURST [10000] timers due at once (bench/burst.ts). `--quick` shrinks all.
 */
import { writeFileSync } from 'node:fs';
import { apiLoad, apiSummary, type ApiLoadResult } from './api-load.js';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadConfig } from '../src/config.js';
import { createDb, migrate } from '../src/db/database.js';
import { WorkflowEngine } from '../src/engine/engine.js';
import { ServiceRegistry } from '../src/engine/services.js';
import { BENCH_XML } from './diagram.js';
import type { MemoryResult } from './memory.js';
import { adminQuery, BenchChild, busyShare, cpuTicks, createBenchDatabase, findServer, LockWaitSampler, pgCpuDelta, pgCpuSample, round, sleep } from './support.js';
import { runTimerLag, type TimerLagResult } from './timer-lag.js';
import { printBurst, runBurst, type BurstResult } from './burst.js';
import type { DurablePhase, FromWorker, PhaseDone, ToWorker } from './worker.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const quick = process.argv.includes('--quick');
/** `--floor`: only what the engine floor needs (in-memory baseline, durable one process); nothing else runs. */
const floorOnly = process.argv.includes('--floor');
/** `--durable`: the in-memory baseline and the durable runs with one and two processes; no timers, burst or API. */
const durableOnly = process.argv.includes('--durable');
const num = (name: string, full: number, small: number) => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : quick ? small : full;
};
const P = {
  instances: num('BENCH_INSTANCES', 600, 100),
  memoryInstances: num('BENCH_MEMORY_INSTANCES', 600, 100),
  memoryBatch: 250,
  concurrency: num('BENCH_CONCURRENCY', 8, 8),
  warmup: quick ? 20 : 100,
  /**
   * Instances a durable worker starts and completes before it measures: as many as it then measures, so
   * its heap has grown to the size it keeps (the execution cache full) and the phases see a server's
   * steady state rather than its first minutes.
   */
  durableWarmup: num('BENCH_INSTANCES', 600, 100),
  /** The engine-floor ratios are measured this many times, baselines and durable side by side each time; the median counts. */
  floorRounds: num('BENCH_FLOOR_ROUNDS', 3, 1),
  pending: num('BENCH_PENDING', 100_000, 2_000),
  timerRate: num('BENCH_TIMER_RATE', 100, 100),
  timerSeconds: num('BENCH_TIMER_SECONDS', 20, 5),
  burst: num('BENCH_BURST', 10_000, 500),
};
const TARGET = { durableVsMemory: 0.7, twoVsOne: 1.6, timerP99Ms: 1000, floorRatio: 1.3, startVsMemory: 0.8, lockWaitMs: 1 };

const log = (m: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}`);

// ---------------------------------------------------------------- child processes

/** A durable-load or in-memory child process (worker.ts). */
class Worker extends BenchChild<ToWorker, FromWorker> {
  constructor(name: string, preload: string[] = []) {
    super(name, path.join(here, 'worker.ts'), preload);
  }
}

/**
 * Which smqp the in-memory baseline's bpmn-elements runs on: `published`, the release bpmn-elements
 * ships with (bpmn-engine as anyone installs it), or `patched`, the copy Duban runs
 * (patches/bpmn-elements++smqp+*.patch). Durable workers always run the patched one.
 */
type BaselineEngine = 'published' | 'patched';

interface InMemoryRun {
  engine: BaselineEngine;
  results: MemoryResult[];
  /** smqp queues one waiting instance holds: shows which smqp the child ran (bench/memory.ts). */
  queuesPerExecution: number;
}

// ---------------------------------------------------------------- durable load

interface PhaseResult {
  phase: DurablePhase;
  ops: number;
  seconds: number;
  opsPerSec: number;
  errors: string[];
  machineBusy: number;
  /** Node CPU (all worker processes) per operation. */
  nodeCpuMsPerOp: number;
  /** PostgreSQL CPU (this database's backends and the shared background processes) per operation. */
  pgCpuMsPerOp: number | null;
  perProcess: Array<{ ops: number; opsPerSec: number }>;
  /** PostgreSQL round trips per operation (BEGIN and COMMIT included). */
  roundTripsPerOp: number;
  /** Audit entries queued per operation (commands take no audit lock: entries are sealed after commit). */
  auditAppendsPerOp: number;
  /** Time this database's backends waited for any lock, per operation (sampled from pg_stat_activity). */
  lockWaitMsPerOp: number;
  /** That wait by lock type (pg_stat_activity.wait_event), in ms for the phase. */
  lockWaitMsByType: Record<string, number>;
  /** Audit sealing in the workers: entries per seal round and their mean and max time from commit to chain. */
  audit: { entriesPerRound: number; lagMsMean: number; lagMsMax: number };
  /** Share of the phase's commands served by a kept execution (no recovery; src/engine/execution-cache.ts). */
  cacheHitRate: number;
}

interface DurableResult {
  processes: number;
  concurrencyPerProcess: number;
  instancesPerProcess: number;
  phases: PhaseResult[];
  /** One process only: the same start and completions with the execution cache emptied before each phase. */
  coldPhases?: PhaseResult[];
  startsPerSec: number;
  completionsPerSec: number;
  verified: { completed: number; running: number; other: number };
}

/** `opts.tag` keeps business keys apart between runs; `opts.cold` adds the phases with the execution cache emptied. */
async function runDurable(url: string, dbName: string, processes: number, opts: { tag?: string; cold?: boolean } = {}): Promise<DurableResult> {
  const tag = opts.tag ?? `p${processes}`;
  const workers = Array.from({ length: processes }, (_, i) => new Worker(`durable-${tag}-${i}`));
  try {
    await Promise.all(workers.map((w, i) => w.request({ type: 'init', url, concurrency: P.concurrency, tag: `${tag}-${i}`, warmup: P.durableWarmup, executionCache: P.instances + P.durableWarmup + 100 }, 'ready')));
    const phases = await runPhases(workers, url, dbName, ['start', 'complete-review', 'complete-approve']);
    const coldPhases = (opts.cold ?? processes === 1) ? await runPhases(workers, url, dbName, ['start-cold', 'complete-review-cold', 'complete-approve-cold']) : undefined;
    const verified = { completed: 0, running: 0, other: 0 };
    for (const w of workers) {
      const v = await w.request({ type: 'verify' }, 'verified');
      verified.completed += v.completed;
      verified.running += v.running;
      verified.other += v.other;
    }
    const [s, r, a] = phases as [PhaseResult, PhaseResult, PhaseResult];
    return {
      processes,
      concurrencyPerProcess: P.concurrency,
      instancesPerProcess: P.instances,
      phases,
      coldPhases,
      startsPerSec: s.opsPerSec,
      completionsPerSec: (r.ops + a.ops) / (r.seconds + a.seconds),
      verified,
    };
  } finally {
    await Promise.all(workers.map((w) => w.exit()));
  }
}

/** Each phase lined up across the workers (prepare → go → done), measured. */
async function runPhases(workers: Worker[], url: string, dbName: string, names: DurablePhase[]): Promise<PhaseResult[]> {
  const processes = workers.length;
  const phases: PhaseResult[] = [];
  for (const phase of names) {
    await Promise.all(workers.map((w) => w.request({ type: 'prepare', phase, instances: P.instances }, 'prepared')));
    const locks = new LockWaitSampler(url, dbName);
    await locks.start();
    const cpu0 = cpuTicks();
    const pg0 = pgCpuSample(dbName);
    const done: PhaseDone[] = await Promise.all(workers.map((w) => w.request({ type: 'go' }, 'done')));
    const machineBusy = busyShare(cpu0, cpuTicks());
    const pgMs = pgCpuDelta(pg0, pgCpuSample(dbName), locks.pid);
    const waited = await locks.stop();
    const sum = (f: (d: PhaseDone) => number) => done.reduce((a, d) => a + f(d), 0);
    const ops = sum((d) => d.ops);
    const seconds = (Math.max(...done.map((d) => d.t1)) - Math.min(...done.map((d) => d.t0))) / 1000;
    phases.push({
      phase, ops, seconds, opsPerSec: ops / seconds, machineBusy,
      errors: done.flatMap((d) => d.errors),
      nodeCpuMsPerOp: sum((d) => d.cpuMs) / Math.max(1, ops),
      pgCpuMsPerOp: pgMs !== null ? pgMs / Math.max(1, ops) : null,
      perProcess: done.map((d) => ({ ops: d.ops, opsPerSec: d.ops / ((d.t1 - d.t0) / 1000) })),
      roundTripsPerOp: sum((d) => d.roundTrips) / Math.max(1, ops),
      auditAppendsPerOp: sum((d) => d.auditAppends) / Math.max(1, ops),
      lockWaitMsPerOp: waited.waitMs / Math.max(1, ops),
      lockWaitMsByType: waited.byType,
      audit: {
        entriesPerRound: sum((d) => d.seal.sealed) / Math.max(1, sum((d) => d.seal.rounds)),
        lagMsMean: sum((d) => d.seal.lagMsSum) / Math.max(1, sum((d) => d.seal.sealed)),
        lagMsMax: Math.max(0, ...done.map((d) => d.seal.lagMsMax)),
      },
      cacheHitRate: sum((d) => d.cacheHits) / Math.max(1, sum((d) => d.cacheHits + d.cacheMisses)),
    });
    log(`  ${processes}p ${phase}: ${describePhase(phases[phases.length - 1]!)}`);
  }
  return phases;
}

function describePhase(p: PhaseResult): string {
  const byType = Object.entries(p.lockWaitMsByType).map(([k, v]) => `${k} ${v} ms`).join(', ');
  return `${p.ops} ops in ${p.seconds.toFixed(1)} s = ${p.opsPerSec.toFixed(0)}/s; CPU per op: node ${p.nodeCpuMsPerOp.toFixed(1)} ms, `
    + `PostgreSQL ${p.pgCpuMsPerOp?.toFixed(1) ?? '?'} ms; machine ${(p.machineBusy * 100).toFixed(0)}% busy; ${p.roundTripsPerOp.toFixed(1)} round trips, `
    + `lock wait ${p.lockWaitMsPerOp.toFixed(3)} ms per op${byType ? ` (${byType})` : ''}; audit sealed ${p.audit.entriesPerRound.toFixed(0)} per round, `
    + `${p.audit.lagMsMean.toFixed(0)} ms after commit (max ${p.audit.lagMsMax.toFixed(0)}); ${(p.cacheHitRate * 100).toFixed(0)}% kept executions`;
}

/** Node + PostgreSQL CPU ms per operation over some phases (NaN without the PostgreSQL reading). */
function durableCpu(ps: PhaseResult[]): number {
  const ops = ps.reduce((a, p) => a + p.ops, 0);
  if (ps.some((p) => p.pgCpuMsPerOp === null)) return NaN;
  return ps.reduce((a, p) => a + (p.nodeCpuMsPerOp + p.pgCpuMsPerOp!) * p.ops, 0) / ops;
}

async function runInMemory(engine: BaselineEngine, variants: MemoryResult['variant'][] = ['cached', 'xml', 'cached+state', 'floor']): Promise<InMemoryRun> {
  const preload = engine === 'published' ? [pathToFileURL(path.join(here, 'upstream-engine.mjs')).href] : [];
  const w = new Worker(`memory-${engine}`, preload);
  try {
    const r = await w.request({ type: 'memory', variants, instances: P.memoryInstances, batch: P.memoryBatch, warmup: P.warmup }, 'memory-result');
    return { engine, results: r.results, queuesPerExecution: r.queuesPerExecution };
  } finally {
    await w.exit();
  }
}

/** Machine CPU busy share over one second before a section: other work on the machine skews results. */
async function idleCheck(label: string): Promise<number> {
  const a = cpuTicks();
  await sleep(1000);
  const busy = busyShare(a, cpuTicks());
  if (busy > 0.15) log(`WARNING: the machine is ${(busy * 100).toFixed(0)}% busy before ${label} (other processes): results will be low`);
  return busy;
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const began = Date.now();
  log(`Duban benchmark${quick ? ' (--quick)' : ''}: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const server = await findServer(log);
  const bench = await createBenchDatabase(server);
  const pgVersion = (await adminQuery<{ v: string }>(server.adminUrl, 'SELECT version() AS v'))[0]!.v.split(' on ')[0]!;
  const settings = Object.fromEntries((await adminQuery<{ name: string; setting: string }>(server.adminUrl,
    `SELECT name, setting FROM pg_settings WHERE name IN ('fsync','synchronous_commit','shared_buffers','max_connections')`)).map((r) => [r.name, r.setting]));
  log(`database ${bench.name} on ${server.source} ${pgVersion} (fsync=${settings.fsync}, synchronous_commit=${settings.synchronous_commit})`);
  const idle: Record<string, number> = {};
  const db = createDb(bench.url, 10);
  let published: InMemoryRun | undefined;
  let floorRounds: FloorRatios[] = [];
  // Two processes against one, in pairs run back to back (a pair's machine speed is alike).
  const twoVsOneRounds: TwoVsOne[] = [];
  const pairUp = (one: DurableResult, two: DurableResult) => {
    twoVsOneRounds.push(twoVsOne(one, two));
    log(`  2 processes ÷ 1, pair ${twoVsOneRounds.length}: ${describeTwoVsOne(twoVsOneRounds[twoVsOneRounds.length - 1]!)}`);
  };
  let patched: InMemoryRun | undefined;
  let one: DurableResult | undefined;
  let two: DurableResult | undefined;
  let timers: TimerLagResult | undefined;
  let api: ApiLoadResult | undefined;
  let burst: BurstResult | undefined;
  try {
    await migrate(db);
    const engine = new WorkflowEngine(db, new ServiceRegistry());
    const deployed = await engine.deploy(BENCH_XML, { note: 'benchmark' });
    log(`deployed ${deployed.id}`);

    idle.memory = await idleCheck('the in-memory baseline');
    for (const engine of ['published', 'patched'] as const) {
      log(`in-memory bpmn-engine, ${engine} smqp: ${P.memoryInstances} instances per variant, batches of ${P.memoryBatch} live`);
      const run = await runInMemory(engine);
      for (const m of run.results) log(`  ${m.variant}: ${m.startsPerSec.toFixed(0)} starts/s, ${m.completionsPerSec.toFixed(0)} completions/s (${m.completedOk}/${m.instances} ended)`);
      log(`  ${run.queuesPerExecution} smqp queues per waiting instance`);
      if (engine === 'published') published = run;
      else patched = run;
    }

    await db.raw('CHECKPOINT').catch(() => undefined);
    idle.durable1 = await idleCheck('durable, one process');
    log(`durable, one process: ${P.instances} instances, ${P.concurrency} commands in flight`);
    one = await runDurable(bench.url, bench.name, 1);
    floorRounds = [floorRatios(floorSection(published!, patched!, one))];
    let lastOne = one;
    for (let r = 2; r <= P.floorRounds; r++) {
      if (!floorOnly) {
        pairUp(lastOne, await runDurable(bench.url, bench.name, 2, { tag: `p2r${r - 1}`, cold: false }));
      }
      log(`engine floor, round ${r} of ${P.floorRounds}: both in-memory baselines and the durable process again, one after the other`);
      const pub = await runInMemory('published', ['cached', 'floor']);
      const pat = await runInMemory('patched', ['cached', 'floor']);
      const again = await runDurable(bench.url, bench.name, 1, { tag: `p1r${r}`, cold: false });
      floorRounds.push(floorRatios(floorSection(pub, pat, again)));
      log(`  ${describeRatios(floorRounds[floorRounds.length - 1]!)}`);
      lastOne = again;
    }

    if (floorOnly) {
      printFloor(floorSection(published!, patched!, one), floorRounds);
      return;
    }

    await db.raw('VACUUM ANALYZE').catch(() => undefined);
    await db.raw('CHECKPOINT').catch(() => undefined);
    idle.durable2 = await idleCheck('durable, two processes');
    log(`durable, two processes: ${P.instances} instances each, ${P.concurrency} commands in flight each`);
    two = await runDurable(bench.url, bench.name, 2);
    pairUp(lastOne, two);
    if (durableOnly) {
      printFloor(floorSection(published!, patched!, one, two), floorRounds);
      printTwoVsOne(twoVsOneRounds);
      return;
    }

    await db.raw('VACUUM ANALYZE').catch(() => undefined);
    idle.timers = await idleCheck('the timer run');
    const cfg = loadConfig();
    log(`timer lag: ${P.pending.toLocaleString('en')} pending, ${P.timerRate}/s for ${P.timerSeconds} s`);
    timers = await runTimerLag(db, engine, {
      url: bench.url, dbName: bench.name, pending: P.pending, rate: P.timerRate, seconds: P.timerSeconds, leadMs: 3000,
      pollMs: cfg.timerPollMs, concurrency: cfg.workerConcurrency, log,
    });

    await db.raw('VACUUM ANALYZE').catch(() => undefined);
    idle.burst = await idleCheck('the timer burst');
    log(`timer burst: ${P.burst.toLocaleString('en')} timers due at once, 1 and 2 processes, beside pg-boss`);
    burst = await runBurst(db, engine, { url: bench.url, dbName: bench.name, count: P.burst, concurrency: cfg.workerConcurrency, batchSize: cfg.timerBatch, pollMs: cfg.timerPollMs, log });

    // The burst and timer runs leave dirty buffers behind; flush them so the API run does not share the disk with a checkpoint.
    await db.raw('CHECKPOINT').catch(() => undefined);
    idle.api = await idleCheck('the API load');
    api = await apiLoad(server.adminUrl, { connections: [50, 200], durationS: quick ? 3 : 10, cases: quick ? 50 : 200, copies: quick ? 10 : 24, log });
    for (const x of api.runs) log(`  GET /api/tasks, ${x.connections} clients (Node flags ${x.node}): ${x.throughputRps} req/s, p50 ${x.latencyMs.p50} ms, p99 ${x.latencyMs.p99} ms, ${x.errors} errors, ${x.non2xx} non-2xx`);
  } finally {
    await db.destroy();
    await bench.drop().catch((err) => log(`could not drop ${bench.name}: ${err.message}`));
    await server.stop();
  }

  const base = published!.results.find((m) => m.variant === 'cached')!;
  const xml = published!.results.find((m) => m.variant === 'xml')!;
  const sameBase = patched!.results.find((m) => m.variant === 'cached')!;
  const ratios = {
    startVsMemory: one.startsPerSec / base.startsPerSec,
    completeVsMemory: one.completionsPerSec / base.completionsPerSec,
    startVsMemorySameEngine: one.startsPerSec / sameBase.startsPerSec,
    completeVsMemorySameEngine: one.completionsPerSec / sameBase.completionsPerSec,
    startVsMemoryXml: one.startsPerSec / xml.startsPerSec,
    completeVsMemoryXml: one.completionsPerSec / xml.completionsPerSec,
    startTwoVsOne: two.startsPerSec / one.startsPerSec,
    completeTwoVsOne: two.completionsPerSec / one.completionsPerSec,
    // The same comparison by CPU cost per operation, which other load on the machine barely moves.
    startCpuCost: base.startCpuMs / durableCpu(one.phases.slice(0, 1)),
    completeCpuCost: base.completeCpuMs / durableCpu(one.phases.slice(1)),
    // What two processes could reach at most here: all cores busy at the one-process CPU cost per op.
    startTwoVsOneCeiling: (os.cpus().length * 1000) / durableCpu(one.phases.slice(0, 1)) / one.startsPerSec,
    completeTwoVsOneCeiling: (os.cpus().length * 1000) / durableCpu(one.phases.slice(1)) / one.completionsPerSec,
    // GET /api/tasks at 200 clients: this code's requests/s ÷ the code before issue 12's, same run and data.
    ...(api?.throughputVsBefore?.c200 !== undefined ? { taskListVsBefore: api.throughputVsBefore.c200 } : {}),
  };
  const floorOne = floorSection(published!, patched!, one, two);
  const results = {
    at: new Date().toISOString(),
    quick,
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? null, memoryGb: round(os.totalmem() / 2 ** 30), node: process.version, postgres: pgVersion, postgresSettings: settings, databaseServer: server.source },
    machineBusyBeforeSection: idle,
    parameters: P,
    targets: TARGET,
    // bpmn-engine as published (the reference of every ratio without `SameEngine`), and on Duban's patched smqp.
    inMemory: published!.results,
    inMemoryPatched: patched!.results,
    queuesPerExecution: { published: published!.queuesPerExecution, patched: patched!.queuesPerExecution },
    durableOneProcess: one,
    durableTwoProcesses: two,
    ratios,
    ...floorOne,
    // The four ratios as measured in each round, and their medians (these replace round 1's above).
    floorRounds,
    ...medianRatios(floorRounds),
    // Two processes' CPU per op ÷ one process's, in pairs run back to back, and the medians (target <= 1.1).
    twoVsOneRounds,
    cpuPerOpTwoVsOne: medianTwoVsOne(twoVsOneRounds),
    timers,
    burst,
    // Top level as well, beside floorRatio: the two figures the issue tracks from run to run.
    burstVsPgBoss: burst?.burstVsPgBoss,
    apiLoad: api,
    // p50/p99/rps at 50 and 200 clients (targets: p99 < 100 ms at 50; 200 clients >= 4x the throughput before issue 12).
    api: api ? apiSummary(api) : undefined,
    seconds: Math.round((Date.now() - began) / 1000),
  };
  writeFileSync(path.join(here, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  printTable(results);
  printFloor(floorOne, floorRounds);
  printTwoVsOne(twoVsOneRounds);
  printBurst(burst);
}

function medianTwoVsOne(rounds: TwoVsOne[]): TwoVsOne | undefined {
  return rounds.length ? { start: median(rounds.map((r) => r.start)), completion: median(rounds.map((r) => r.completion)) } : undefined;
}

function printTwoVsOne(rounds: TwoVsOne[]): void {
  const m = medianTwoVsOne(rounds);
  if (!m) return;
  const ok = (v: number) => (v <= TWO_VS_ONE_MAX ? 'PASS' : 'MISS');
  console.log(`\nTwo processes ÷ one, CPU per op (Node + PostgreSQL), ${rounds.length} pair(s) run back to back; target <= ${TWO_VS_ONE_MAX}`);
  rounds.forEach((r, i) => console.log(`  pair ${i + 1}: ${describeTwoVsOne(r)}`));
  console.log(`  median: start ${m.start.toFixed(2)} ${ok(m.start)}, completion ${m.completion.toFixed(2)} ${ok(m.completion)}`);
}

/**
 * The engine floor (issue 12): a durable completion's CPU (Node + PostgreSQL per op, one process)
 * over plain bpmn-engine's recover + signal + getState + stringify (memory.ts `floor`); a durable
 * start's CPU over an in-memory start's; and the audit chain's lock wait per command with two processes.
 * Each ratio twice: over bpmn-engine as published (`floorRatio`, `startRatio`: the issue's reference),
 * and over the same in-memory work on the patched smqp Duban runs (`…SameEngine`: what durability
 * adds above Duban's own engine).
 */
function floorSection(published: InMemoryRun, patched: InMemoryRun, one: DurableResult, two?: DurableResult) {
  const variant = (run: InMemoryRun, v: MemoryResult['variant']) => run.results.find((m) => m.variant === v)!;
  const floor = variant(published, 'floor');
  const cached = variant(published, 'cached');
  const floorSame = variant(patched, 'floor');
  const cachedSame = variant(patched, 'cached');
  const completions = (d: DurableResult) => d.phases.slice(1);
  const per = (ps: PhaseResult[], f: (p: PhaseResult) => number) => ps.reduce((a, p) => a + f(p) * p.ops, 0) / Math.max(1, ps.reduce((a, p) => a + p.ops, 0));
  const durableCompletionCpuMs = durableCpu(completions(one));
  const durableStartCpuMs = durableCpu(one.phases.slice(0, 1));
  const cold = one.coldPhases;
  const coldCompletionCpuMs = cold ? durableCpu(cold.slice(1)) : NaN;
  return {
    floorRatio: durableCompletionCpuMs / floor.completeCpuMs,
    startRatio: durableStartCpuMs / cached.startCpuMs,
    floorRatioSameEngine: durableCompletionCpuMs / floorSame.completeCpuMs,
    startRatioSameEngine: durableStartCpuMs / cachedSame.startCpuMs,
    lockWaitMs: two ? per(two.phases, (p) => p.lockWaitMsPerOp) : NaN,
    // The same ratio when no completion finds its instance's execution kept (the execution cache emptied).
    floorRatioCold: coldCompletionCpuMs / floor.completeCpuMs,
    floorRatioColdSameEngine: coldCompletionCpuMs / floorSame.completeCpuMs,
    floor: {
      floorCompletionCpuMs: floor.completeCpuMs,
      floorCompletionCpuMsSameEngine: floorSame.completeCpuMs,
      durableCompletionCpuMs,
      durableCompletionNodeCpuMs: per(completions(one), (p) => p.nodeCpuMsPerOp),
      durableCompletionPgCpuMs: per(completions(one), (p) => p.pgCpuMsPerOp ?? NaN),
      inMemoryStartCpuMs: cached.startCpuMs,
      inMemoryStartCpuMsSameEngine: cachedSame.startCpuMs,
      durableStartCpuMs,
      durableStartNodeCpuMs: one.phases[0]!.nodeCpuMsPerOp,
      durableStartPgCpuMs: one.phases[0]!.pgCpuMsPerOp ?? NaN,
      queuesPerExecution: { published: published.queuesPerExecution, patched: patched.queuesPerExecution },
      roundTripsPerCompletion: per(completions(one), (p) => p.roundTripsPerOp),
      roundTripsPerStart: one.phases[0]!.roundTripsPerOp,
      completionCacheHitRate: per(completions(one), (p) => p.cacheHitRate),
      coldCompletionCpuMs,
      coldCompletionNodeCpuMs: cold ? per(cold.slice(1), (p) => p.nodeCpuMsPerOp) : NaN,
      coldCompletionPgCpuMs: cold ? per(cold.slice(1), (p) => p.pgCpuMsPerOp ?? NaN) : NaN,
      coldCompletionCacheHitRate: cold ? per(cold.slice(1), (p) => p.cacheHitRate) : NaN,
      lockWaitMsOneProcess: per(one.phases, (p) => p.lockWaitMsPerOp),
      lockWaitMsTwoProcesses: two ? per(two.phases, (p) => p.lockWaitMsPerOp) : NaN,
      auditSealLagMsMeanTwoProcesses: two ? per(two.phases, (p) => p.audit.lagMsMean) : NaN,
      auditSealLagMsMaxTwoProcesses: two ? Math.max(...two.phases.map((p) => p.audit.lagMsMax)) : NaN,
    },
  };
}

/** CPU per operation (Node + PostgreSQL) of two processes ÷ one process's, run back to back. */
interface TwoVsOne { start: number; completion: number }

function twoVsOne(one: DurableResult, two: DurableResult): TwoVsOne {
  return {
    start: durableCpu(two.phases.slice(0, 1)) / durableCpu(one.phases.slice(0, 1)),
    completion: durableCpu(two.phases.slice(1)) / durableCpu(one.phases.slice(1)),
  };
}

function describeTwoVsOne(r: TwoVsOne): string {
  return `CPU per op start ${r.start.toFixed(2)}, completion ${r.completion.toFixed(2)}`;
}

/** Issue 12: two processes' CPU per operation within 10% of one process's. */
const TWO_VS_ONE_MAX = 1.1;

/** The engine-floor ratios each round measures (and whose medians count). */
const FLOOR_RATIOS = ['floorRatio', 'startRatio', 'floorRatioSameEngine', 'startRatioSameEngine'] as const;
type FloorRatios = Record<(typeof FLOOR_RATIOS)[number], number>;

/** Just the four ratios of a floor section (a round's record). */
function floorRatios(f: FloorRatios): FloorRatios {
  return Object.fromEntries(FLOOR_RATIOS.map((k) => [k, f[k]])) as FloorRatios;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function medianRatios(rounds: FloorRatios[]): FloorRatios {
  return Object.fromEntries(FLOOR_RATIOS.map((k) => [k, median(rounds.map((r) => r[k]))])) as FloorRatios;
}

function describeRatios(r: FloorRatios): string {
  return `floorRatio ${r.floorRatio.toFixed(2)} (same engine ${r.floorRatioSameEngine.toFixed(2)}), startRatio ${r.startRatio.toFixed(2)} (same engine ${r.startRatioSameEngine.toFixed(2)})`;
}

function printFloor(f: ReturnType<typeof floorSection>, rounds: FloorRatios[]): void {
  const mark = (ok: boolean) => (ok ? 'PASS' : 'MISS');
  const x = f.floor;
  const startMax = 1 / TARGET.startVsMemory;
  const row = (label: string, ms: number, ratio: number, target: string, ok: boolean) =>
    console.log(`${label.padEnd(54)}${ms.toFixed(2).padStart(6)}  ${ratio.toFixed(2).padStart(6)}  ${target}  ${mark(ok)}`);
  console.log(`\nEngine floor (CPU per op, one process; smqp queues per waiting instance: published ${x.queuesPerExecution.published}, patched ${x.queuesPerExecution.patched})`);
  console.log(`${''.padEnd(54)}${'ms'.padStart(6)}  ${'ratio'.padStart(6)}  target`);
  console.log(`${`durable completion (node ${x.durableCompletionNodeCpuMs.toFixed(2)} + PostgreSQL ${x.durableCompletionPgCpuMs.toFixed(2)})`.padEnd(54)}${x.durableCompletionCpuMs.toFixed(2).padStart(6)}`);
  row('  ÷ floor, bpmn-engine as published', x.floorCompletionCpuMs, f.floorRatio, `<= ${TARGET.floorRatio}`, f.floorRatio <= TARGET.floorRatio);
  row('  ÷ floor, same engine (patched smqp)', x.floorCompletionCpuMsSameEngine, f.floorRatioSameEngine, `<= ${TARGET.floorRatio}`, f.floorRatioSameEngine <= TARGET.floorRatio);
  console.log(`  floor = recover + signal + getState + stringify; ${(x.completionCacheHitRate * 100).toFixed(0)}% of the completions used a kept execution; with none kept (cold: node ${x.coldCompletionNodeCpuMs.toFixed(2)} + PostgreSQL ${x.coldCompletionPgCpuMs.toFixed(2)} = ${x.coldCompletionCpuMs.toFixed(2)} ms) floorRatio ${f.floorRatioCold.toFixed(2)}, same engine ${f.floorRatioColdSameEngine.toFixed(2)}`);
  console.log(`${`durable start (node ${x.durableStartNodeCpuMs.toFixed(2)} + PostgreSQL ${x.durableStartPgCpuMs.toFixed(2)})`.padEnd(54)}${x.durableStartCpuMs.toFixed(2).padStart(6)}`);
  row('  ÷ in-memory (cached) start, as published', x.inMemoryStartCpuMs, f.startRatio, `<= ${startMax.toFixed(2)}`, f.startRatio <= startMax);
  row('  ÷ in-memory (cached) start, same engine', x.inMemoryStartCpuMsSameEngine, f.startRatioSameEngine, `<= ${startMax.toFixed(2)}`, f.startRatioSameEngine <= startMax);
  if (rounds.length > 1) {
    const m = medianRatios(rounds);
    console.log(`over ${rounds.length} rounds (this machine's speed drifts between runs): median ${describeRatios(m)}`);
    console.log(`  targets: floorRatio <= ${TARGET.floorRatio} ${mark(m.floorRatio <= TARGET.floorRatio)}, same engine ${mark(m.floorRatioSameEngine <= TARGET.floorRatio)}; startRatio <= ${startMax.toFixed(2)} ${mark(m.startRatio <= startMax)}, same engine ${mark(m.startRatioSameEngine <= startMax)}`);
    for (const [i, r] of rounds.entries()) console.log(`  round ${i + 1}: ${describeRatios(r)}`);
  }
  console.log(`round trips: ${x.roundTripsPerCompletion.toFixed(1)} per completion, ${x.roundTripsPerStart.toFixed(1)} per start (BEGIN and COMMIT included)`);
  console.log(`lock wait per command (any lock, sampled): ${x.lockWaitMsTwoProcesses.toFixed(3)} ms with 2 processes (${x.lockWaitMsOneProcess.toFixed(3)} ms with 1)  target < ${TARGET.lockWaitMs} ms  ${mark(f.lockWaitMs < TARGET.lockWaitMs)}`);
  console.log(`audit entries reach the chain ${x.auditSealLagMsMeanTwoProcesses.toFixed(0)} ms after commit on average with 2 processes (max ${x.auditSealLagMsMaxTwoProcesses.toFixed(0)} ms); commands take no audit lock`);
}

/** Issue 12: GET /api/tasks at 50 clients answers within this at p99. */
const API_TARGET_P99_MS = 100;
/** Issue 12: 200 clients get at least 4x the task list's throughput before the change (same run, same data). */
const API_TARGET_VS_BEFORE = 4;

function printTable(r: { inMemory: MemoryResult[]; inMemoryPatched: MemoryResult[]; durableOneProcess: DurableResult; durableTwoProcesses: DurableResult; ratios: Record<string, number>; timers: TimerLagResult; apiLoad?: ApiLoadResult; seconds: number }): void {
  const mark = (ok: boolean) => (ok ? 'PASS' : 'MISS');
  const f0 = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : '-');
  const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '-');
  const o = r.durableOneProcess;
  const t = r.durableTwoProcesses;
  const rows: string[][] = [['', 'starts/s', 'completions/s', 'note']];
  const note = (m: MemoryResult) => m.variant === 'cached' ? 'ratio denominator' : m.variant === 'xml' ? 'parses the XML on every start'
    : m.variant === 'floor' ? 'recover + signal + getState + stringify' : `+ getState() every step, ${m.stateBytes} B`;
  for (const m of r.inMemory) rows.push([`in-memory bpmn-engine (${m.variant})`, f0(m.startsPerSec), f0(m.completionsPerSec), note(m)]);
  for (const m of r.inMemoryPatched) rows.push([`  same, patched smqp (${m.variant})`, f0(m.startsPerSec), f0(m.completionsPerSec), m.variant === 'cached' ? '…SameEngine denominator' : '']);
  rows.push([`durable, 1 process`, f0(o.startsPerSec), f0(o.completionsPerSec), `${o.concurrencyPerProcess} commands in flight`]);
  rows.push([`durable, 2 processes`, f0(t.startsPerSec), f0(t.completionsPerSec), `${t.concurrencyPerProcess} in flight in each`]);
  const width = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const line = (row: string[]) => row.map((cell, c) => (c === 0 || c === 3 ? cell.padEnd(width[c]!) : cell.padStart(width[c]!))).join('  ');
  console.log('\nThroughput (one run, this machine)');
  console.log(line(rows[0]!));
  for (const row of rows.slice(1)) console.log(line(row));

  console.log(`\n${'CPU per operation (ms)'.padEnd(30)}${'node'.padStart(6)}${'PostgreSQL'.padStart(12)}${'machine busy'.padStart(14)}`);
  const cpuRow = (label: string, ps: PhaseResult[]) => {
    const ops = ps.reduce((a, p) => a + p.ops, 0);
    const node = ps.reduce((a, p) => a + p.nodeCpuMsPerOp * p.ops, 0) / ops;
    const pgv = ps.every((p) => p.pgCpuMsPerOp !== null) ? ps.reduce((a, p) => a + p.pgCpuMsPerOp! * p.ops, 0) / ops : NaN;
    const busy = ps.reduce((a, p) => a + p.machineBusy * p.seconds, 0) / ps.reduce((a, p) => a + p.seconds, 0);
    console.log(`${label.padEnd(30)}${f2(node).padStart(6)}${f2(pgv).padStart(12)}${`${f0(busy * 100)}%`.padStart(14)}`);
  };
  cpuRow('1 process, start', o.phases.slice(0, 1));
  cpuRow('1 process, completion', o.phases.slice(1));
  cpuRow('2 processes, start', t.phases.slice(0, 1));
  cpuRow('2 processes, completion', t.phases.slice(1));
  console.log(`${'timer firing'.padEnd(30)}${f2(r.timers.nodeCpuMsPerFire).padStart(6)}${f2(r.timers.pgCpuMsPerFire ?? NaN).padStart(12)}${`${f0(r.timers.machineBusy * 100)}%`.padStart(14)}`);
  const mem = r.inMemory.find((m) => m.variant === 'cached')!;
  console.log(`${'in-memory (cached) start'.padEnd(30)}${f2(mem.startCpuMs).padStart(6)}${'-'.padStart(12)}`);
  console.log(`${'in-memory (cached) completion'.padEnd(30)}${f2(mem.completeCpuMs).padStart(6)}${'-'.padStart(12)}`);

  const q = r.ratios;
  console.log('\nRatios                                   start   complete  target');
  console.log(`durable 1 process / in-memory (cached)   ${f2(q.startVsMemory!).padStart(5)}   ${f2(q.completeVsMemory!).padStart(8)}  >= ${TARGET.durableVsMemory}  ${mark(q.startVsMemory! >= TARGET.durableVsMemory)} / ${mark(q.completeVsMemory! >= TARGET.durableVsMemory)}`);
  console.log(`  same, patched smqp in memory too        ${f2(q.startVsMemorySameEngine!).padStart(5)}   ${f2(q.completeVsMemorySameEngine!).padStart(8)}  (what durability costs on the same engine)`);
  console.log(`durable 1 process / in-memory (xml)      ${f2(q.startVsMemoryXml!).padStart(5)}   ${f2(q.completeVsMemoryXml!).padStart(8)}  (for reference)`);
  console.log(`durable 2 processes / 1 process          ${f2(q.startTwoVsOne!).padStart(5)}   ${f2(q.completeTwoVsOne!).padStart(8)}  >= ${TARGET.twoVsOne}  ${mark(q.startTwoVsOne! >= TARGET.twoVsOne)} / ${mark(q.completeTwoVsOne! >= TARGET.twoVsOne)}`);
  console.log(`2-process ceiling on this machine          ${f2(q.startTwoVsOneCeiling!).padStart(5)}   ${f2(q.completeTwoVsOneCeiling!).padStart(8)}  (all ${os.cpus().length} cores busy at the 1-process CPU cost per op)`);
  console.log(`cost check: in-memory CPU / durable CPU  ${f2(q.startCpuCost!).padStart(5)}   ${f2(q.completeCpuCost!).padStart(8)}  (node + PostgreSQL CPU per op; insensitive to other load)`);

  const tm = r.timers;
  console.log(`\nTimer lag: ${tm.pending.toLocaleString('en')} pending, ${tm.scheduled.toLocaleString('en')} due at ${tm.targetRatePerSec}/s; fired ${tm.fired} at ${f0(tm.achievedRatePerSec)}/s (scheduler concurrency ${tm.schedulerConcurrency})`);
  console.log(`  at claim:  p50 ${f0(tm.claimLagMs.p50)} ms  p99 ${f0(tm.claimLagMs.p99)} ms  max ${f0(tm.claimLagMs.max)} ms   target p99 < ${TARGET.timerP99Ms} ms  ${mark(tm.claimLagMs.p99 < TARGET.timerP99Ms)}`);
  if (tm.commitLagMs) console.log(`  at commit: p50 ${f0(tm.commitLagMs.p50)} ms  p99 ${f0(tm.commitLagMs.p99)} ms  max ${f0(tm.commitLagMs.max)} ms`);
  console.log(`  escalated correctly: ${tm.escalatedOk}/${tm.scheduled}; last-quarter p99 ${f0(tm.lastQuarterP99Ms)} ms; bulk insert ${tm.bulkInsertSeconds.toFixed(1)} s`);
  const a = r.apiLoad;
  if (a) {
    console.log(`\nAPI load: GET /api/tasks as a clerk who sees ${a.tasksVisible} of ${a.openTasks} open tasks (autocannon, loopback, one server process)`);
    for (const x of a.runs) {
      const target = x.connections === 50 && x.node === 'shipped' && x.code === 'current' ? `  target p99 < ${API_TARGET_P99_MS} ms  ${mark(x.latencyMs.p99 < API_TARGET_P99_MS)}` : '';
      const who = x.code === 'before' ? ` the code before (${a.before?.rev})` : '';
      console.log(`  ${String(x.connections).padStart(3)} clients × ${x.durationS} s${who}${x.node === 'default' ? ' (Node default young generation)' : ''}: ${x.throughputRps} req/s; p50 ${x.latencyMs.p50} ms  p90 ${x.latencyMs.p90} ms  p99 ${x.latencyMs.p99} ms  max ${x.latencyMs.max} ms; server CPU ${x.serverCpuMsPerRequest ?? '-'} ms/req; errors ${x.errors}, non-2xx ${x.non2xx}${target}`);
    }
    if (a.before?.skipped) console.log(`  no side-by-side with the code before: ${a.before.skipped}`);
    for (const [k, v] of Object.entries(a.throughputVsBefore ?? {})) {
      const target = k === 'c200' ? `  target ≥ ${API_TARGET_VS_BEFORE}×  ${mark(v >= API_TARGET_VS_BEFORE)}` : '';
      console.log(`  throughput ÷ the code before's, ${k.slice(1)} clients: ${f2(v)}${target}`);
    }
  }
  const problems = [
    ...o.phases.flatMap((p) => p.errors), ...t.phases.flatMap((p) => p.errors), ...tm.errors,
    ...(o.verified.completed !== o.instancesPerProcess ? [`1 process: ${o.verified.completed}/${o.instancesPerProcess} instances completed`] : []),
    ...(t.verified.completed !== 2 * t.instancesPerProcess ? [`2 processes: ${t.verified.completed}/${2 * t.instancesPerProcess} instances completed`] : []),
  ];
  if (problems.length) console.log(`\nProblems:\n  ${problems.slice(0, 10).join('\n  ')}`);
  console.log(`\nWritten to bench/results.json (${r.seconds} s).`);
}

main().then(() => process.exit(0), (err) => {
  console.error(err);
  process.exit(1);
});
