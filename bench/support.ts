import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '../src/db/embedded.js';

/** Where the benchmark databases live: DATABASE_URL's server, else the local server, else an embedded one. */
export interface BenchServer {
  /** A URL of the server's maintenance database (CREATE/DROP DATABASE run there). */
  adminUrl: string;
  source: 'DATABASE_URL' | 'local' | 'embedded';
  stop(): Promise<void>;
}

const LOCAL_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export async function findServer(log: (m: string) => void): Promise<BenchServer> {
  if (process.env.DATABASE_URL) {
    const u = new URL(process.env.DATABASE_URL);
    u.pathname = '/postgres';
    return { adminUrl: u.toString(), source: 'DATABASE_URL', stop: async () => undefined };
  }
  if (await answers(LOCAL_URL)) return { adminUrl: LOCAL_URL, source: 'local', stop: async () => undefined };
  log('no PostgreSQL at DATABASE_URL or 127.0.0.1:5432: starting an embedded one under .data/bench');
  const port = Number(process.env.DUBAN_BENCH_PG_PORT ?? 54331);
  const embedded = await startEmbeddedPostgres(path.resolve('.data/bench'), port, log);
  return { adminUrl: embedded.url.replace(/\/duban$/, '/postgres'), source: 'embedded', stop: embedded.stop };
}

async function answers(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

export async function adminQuery<T extends pg.QueryResultRow = pg.QueryResultRow>(adminUrl: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

/** A fresh database `duban_bench_<random>` on the server; drop() removes it. */
export async function createBenchDatabase(server: BenchServer): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `duban_bench_${randomBytes(4).toString('hex')}`;
  await adminQuery(server.adminUrl, `CREATE DATABASE ${name}`);
  const url = new URL(server.adminUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: async () => {
      await adminQuery(server.adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/** Run fn(0..n-1) with at most `concurrency` calls in flight; errors are counted, not thrown. */
export async function runPool<T>(n: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<{ results: Array<T | undefined>; errors: string[] }> {
  const results: Array<T | undefined> = new Array(n);
  const errors: string[] = [];
  let next = 0;
  const lane = async () => {
    while (next < n) {
      const i = next++;
      try {
        results[i] = await fn(i);
      } catch (err) {
        errors.push((err as Error).message ?? String(err));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, lane));
  return { results, errors };
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

export function summarize(values: number[]): { n: number; p50: number; p90: number; p99: number; max: number; mean: number } {
  const s = [...values].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / (s.length || 1);
  return { n: s.length, p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), max: s[s.length - 1] ?? NaN, mean };
}

/** Machine-wide CPU busy share between two readings of /proc/stat (Linux only; NaN elsewhere). */
export function cpuTicks(): { busy: number; total: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    const total = f.reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

export function busyShare(a: ReturnType<typeof cpuTicks>, b: ReturnType<typeof cpuTicks>): number {
  if (!a || !b || b.total === a.total) return NaN;
  return (b.busy - a.busy) / (b.total - a.total);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/**
 * CPU time (ms) used so far by the PostgreSQL processes serving `dbName` plus the server's shared
 * background processes (WAL writer, checkpointer, …); null when the server is not local or not Linux.
 * Backends that exit in between are missed, so take readings while the pools are open.
 */
export function pgCpuMs(dbName: string): number | null {
  const sample = pgCpuSample(dbName);
  return sample ? [...sample.values()].reduce((a, b) => a + b, 0) : null;
}

/**
 * CPU between two samples of pgCpuSample, backend by backend: a backend that ended in between (an idle
 * pool connection closed) takes its whole past CPU with it, which a difference of totals would count
 * as negative work. Those are left out; backends that started in between count from zero.
 */
export function pgCpuDelta(before: Map<string, number> | null, after: Map<string, number> | null, leaveOut?: string): number | null {
  if (!before || !after) return null;
  let total = 0;
  for (const [pid, ms] of after) if (pid !== leaveOut) total += ms - (before.get(pid) ?? 0);
  return total;
}

/** CPU ms so far of each PostgreSQL process of `dbName` (and the server's writers), by pid. */
export function pgCpuSample(dbName: string): Map<string, number> | null {
  const out = new Map<string, number>();
  let found = false;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return null;
  }
  for (const pid of pids) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (!cmd.startsWith('postgres:')) continue;
      if (!cmd.includes(` ${dbName} `) && !/checkpointer|background writer|walwriter|wal writer|autovacuum launcher/.test(cmd)) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(pid, (Number(fields[11]) + Number(fields[12])) * 10); // utime + stime, in 10 ms ticks
      found = true;
    } catch {
      // the process ended meanwhile
    }
  }
  return found ? out : null;
}

/** The Node flags bin/duban.js and `npm start` run the server with (README, Configuration). */
export const SHIPPED_NODE_FLAGS = ['--max-semi-space-size=64'];

/**
 * A bench child process (`node --import tsx <script>`) spoken to by typed messages: request() sends one
 * and resolves with the first reply of the named type; a reply of type `error` rejects the oldest
 * request; the child's exit rejects whatever still waits.
 */
export class BenchChild<To extends { type: string }, From extends { type: string }> {
  private readonly proc: ChildProcess;
  private waiting: Array<{ type: From['type']; resolve: (m: From) => void; reject: (e: Error) => void }> = [];

  /** `preload`: modules the child imports before its script (`--import`), e.g. bench/upstream-engine.mjs. */
  constructor(readonly name: string, script: string, preload: string[] = []) {
    // Every child (durable workers, the in-memory baseline, pg-boss) runs with the server's Node flags.
    const imports = [...preload, 'tsx'].flatMap((m) => ['--import', m]);
    // BENCH_CHILD_ARGS: extra Node flags for the children (profiling: `--cpu-prof --cpu-prof-dir=/tmp/prof`).
    const extra = (process.env.BENCH_CHILD_ARGS ?? '').split(' ').filter(Boolean);
    this.proc = fork(script, [], { execArgv: [...SHIPPED_NODE_FLAGS, ...extra, ...imports], stdio: 'inherit' });
    this.proc.on('message', (m: From) => {
      if (m.type === 'error') return void this.waiting.shift()?.reject(new Error(`${this.name}: ${(m as { message?: string }).message}`));
      const i = this.waiting.findIndex((w) => w.type === m.type);
      if (i >= 0) this.waiting.splice(i, 1)[0]!.resolve(m);
    });
    this.proc.on('exit', (code) => {
      for (const w of this.waiting.splice(0)) w.reject(new Error(`${this.name} exited with ${code}`));
    });
  }

  request<T extends From['type']>(msg: To, reply: T): Promise<Extract<From, { type: T }>> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ type: reply, resolve: resolve as (m: From) => void, reject });
      this.proc.send(msg);
    });
  }

  /** Ask the child to exit (its `exit` message); kill it when it has not gone within 10 s. */
  async exit(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    const gone = new Promise((r) => this.proc.once('exit', r));
    this.proc.send({ type: 'exit' });
    await Promise.race([gone, sleep(10_000)]);
    if (this.proc.exitCode === null) this.proc.kill();
  }
}

/**
 * Time commands spend waiting for any heavyweight lock (row, advisory, transaction), sampled: every
 * `everyMs` one query counts this database's backends whose wait_event_type is 'Lock'; the sum times
 * the interval estimates total lock-wait time. It covers every lock, not only one we know of.
 */
export class LockWaitSampler {
  private client: pg.Client;
  private timer: NodeJS.Timeout | undefined;
  private waitingSamples = 0;
  private samples = 0;
  private inFlight: Promise<void> | undefined;
  /** Waiting backends seen per lock type (advisory, transactionid, tuple, relation…), to tell what waited. */
  readonly byType = new Map<string, number>();
  /** The sampler's own backend: its CPU is the instrument's, not the load's (pgCpuDelta leaves it out). */
  pid: string | undefined;

  constructor(url: string, private dbName: string, private everyMs = 20) {
    this.client = new pg.Client({ connectionString: url, application_name: 'duban-bench-sampler' });
  }

  async start(): Promise<void> {
    await this.client.connect();
    this.pid = String((await this.client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid);
    this.timer = setInterval(() => {
      this.inFlight ??= this.sample().finally(() => (this.inFlight = undefined));
    }, this.everyMs);
  }

  private async sample(): Promise<void> {
    const { rows } = await this.client.query<{ type: string; n: number }>(
      `SELECT wait_event AS type, count(*)::int AS n FROM pg_stat_activity
        WHERE datname = $1 AND wait_event_type = 'Lock' AND application_name <> 'duban-bench-sampler' GROUP BY wait_event`, [this.dbName]);
    for (const r of rows) {
      this.waitingSamples += r.n;
      this.byType.set(r.type, (this.byType.get(r.type) ?? 0) + r.n);
    }
    this.samples++;
  }

  /** Estimated milliseconds of lock waiting in all, over the samples taken. */
  async stop(): Promise<{ waitMs: number; samples: number; byType: Record<string, number> }> {
    clearInterval(this.timer);
    await this.inFlight?.catch(() => undefined);
    await this.client.end();
    const byType = Object.fromEntries([...this.byType].map(([k, n]) => [k, n * this.everyMs]));
    return { waitMs: this.waitingSamples * this.everyMs, samples: this.samples, byType };
  }
}
