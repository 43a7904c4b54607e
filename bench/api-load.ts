/**
 * API load: concurrent clients listing tasks (GET /api/tasks) as a clerk against a real server process
 * on loopback, measured with autocannon at 50 and 200 connections. The demo cases go through the real
 * intake and engine; they are then copied in SQL (instances, cases, tasks, no timers) until the list
 * holds a few thousand open tasks over several departments, the clerk's own a few hundred.
 * Prints throughput and latency percentiles; never asserts.
 * Run alone: `node --import tsx bench/api-load.ts [--quick]` (uses DATABASE_URL's server or the local one).
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import pg from 'pg';
import { createDb, migrate, type Db } from '../src/db/database.js';
import { createRuntime } from '../src/runtime.js';
import { installShipped } from '../src/server.js';
import { seedDemo, DEMO_PASSWORD } from '../src/demo.js';
import { SHIPPED_NODE_FLAGS } from './support.js';

export interface ApiLoadRun {
  connections: number;
  durationS: number;
  requests: number;
  throughputRps: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  errors: number;
  non2xx: number;
  /** The server process's CPU time per request (Linux), which other load on the machine barely moves. */
  serverCpuMsPerRequest: number | null;
  /** The server's Node flags: `shipped` (as bin/duban.js and npm start run it) or `default` (Node's own young generation). */
  node: 'shipped' | 'default';
  /** This checkout, or the code before issue 12 (API_BEFORE_REV) on the same data and load. */
  code: 'current' | 'before';
}

export interface ApiLoadResult {
  /** What the list holds: open tasks in all departments, and those the clerk sees. */
  openTasks: number;
  tasksVisible: number;
  runs: ApiLoadRun[];
  /** The reference revision, or why it did not run. */
  before?: { rev: string; skipped?: string };
  /** This code's requests/s ÷ the code before's, per client count (`c50`, `c200`). */
  throughputVsBefore?: Record<string, number>;
}

/** Copy every seeded instance `copies` times (new ids, new case numbers), so the lists are long. */
export async function multiply(db: Db, copies: number): Promise<void> {
  if (copies <= 0) return;
  await db.transaction(async (trx) => {
    await trx.raw(`CREATE TEMP TABLE copy_map ON COMMIT DROP AS
      SELECT i.id AS old, gen_random_uuid() AS new, g AS copy FROM process_instances i, generate_series(1, ?) g`, [copies]);
    // jsonb_populate_record: the copy keeps every column, whatever the migrations added, with new keys.
    await trx.raw(`INSERT INTO process_instances SELECT (jsonb_populate_record(NULL::process_instances,
      to_jsonb(i) || jsonb_build_object('id', m.new, 'business_key', i.business_key || '-' || m.copy))).*
      FROM process_instances i JOIN copy_map m ON m.old = i.id`);
    await trx.raw(`INSERT INTO cases SELECT (jsonb_populate_record(NULL::cases,
      to_jsonb(c) || jsonb_build_object('id', m.new, 'number', c.number || '-' || m.copy))).*
      FROM cases c JOIN copy_map m ON m.old = c.id`);
    await trx.raw(`INSERT INTO tasks SELECT (jsonb_populate_record(NULL::tasks,
      to_jsonb(t) || jsonb_build_object('id', gen_random_uuid(), 'instance_id', m.new))).*
      FROM tasks t JOIN copy_map m ON m.old = t.instance_id`);
  });
  await db.raw('ANALYZE');
}

/** A server process (`duban start`) from the checkout at `cwd`, on a free loopback port; Node's flags as shipped unless told. */
export async function startServer(databaseUrl: string, cwd = process.cwd(), nodeFlags = SHIPPED_NODE_FLAGS): Promise<{ port: number; pid: number; stop: () => Promise<void> }> {
  const port = 3900 + Math.floor(Math.random() * 90);
  const server = spawn(process.execPath, [...nodeFlags, ...(process.env.BENCH_SERVER_ARGS ?? '').split(' ').filter(Boolean), '--import', 'tsx', 'src/cli.ts', 'start'], {
    cwd, env: { ...process.env, DATABASE_URL: databaseUrl, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'error' }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    server.stdout!.on('data', (d) => { out += d; if (out.includes('is running at')) resolve(); });
    server.on('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
  const stop = async () => {
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  };
  return { port, pid: server.pid!, stop };
}

/** The session cookie of a demo user. */
export async function loginCookie(port: number, username: string): Promise<string> {
  const login = await fetch(`http://127.0.0.1:${port}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: DEMO_PASSWORD }) });
  return String(login.headers.get('set-cookie')).split(';')[0]!;
}

/** CPU time (user + system) a process has used so far, in ms; null off Linux. */
function cpuMsOf(pid: number): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return null;
  }
}

export async function measure(url: string, cookie: string, connections: number, durationS: number, serverPid?: number, node: ApiLoadRun['node'] = 'shipped'): Promise<Omit<ApiLoadRun, 'code'>> {
  // A short warm-up at the same concurrency: JIT, pool connections, PostgreSQL's plan and buffer caches.
  await autocannon({ url, connections, duration: 1, headers: { cookie } });
  const cpu0 = serverPid ? cpuMsOf(serverPid) : null;
  const r = await autocannon({ url, connections, duration: durationS, headers: { cookie } });
  const cpu1 = serverPid ? cpuMsOf(serverPid) : null;
  return {
    connections, durationS, requests: r.requests.total, throughputRps: Math.round(r.requests.average),
    latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max },
    errors: r.errors + r.timeouts, non2xx: r.non2xx,
    serverCpuMsPerRequest: cpu0 !== null && cpu1 !== null && r.requests.total ? round2((cpu1 - cpu0) / r.requests.total) : null,
    node,
  };
}

const round2 = (n: number) => Math.round(n * 100) / 100;

/** A fresh database with the task list seeded: `cases` demo cases through the engine, then `copies` copies. */
export async function seedTaskList(db: Db, opts: { cases: number; copies: number }): Promise<number> {
  await migrate(db);
  const runtime = await createRuntime(db, { print: () => undefined });
  await installShipped(runtime);
  await seedDemo(db, runtime, { cases: opts.cases });
  await multiply(db, opts.copies);
  const open = await db('tasks').where({ status: 'open' }).count<{ count: string }[]>('* as count').first();
  return Number(open?.count ?? 0);
}

/**
 * The code before issue 12's work on the command path and the task list: the reference its API targets
 * are measured against ("200 clients: at least 4x the throughput"), run in the same bench, on the same
 * data shape and load, so the ratio holds on any machine. BENCH_API_BEFORE names another revision;
 * `none` skips it.
 */
export const API_BEFORE_REV = process.env.BENCH_API_BEFORE ?? 'd727460';

/** A detached worktree of `rev` with its dependencies installed, or why there is none. */
async function referenceCheckout(rev: string): Promise<{ dir: string; remove: () => void } | { skipped: string }> {
  if (rev === 'none') return { skipped: 'BENCH_API_BEFORE=none' };
  const dir = mkdtempSync(path.join(tmpdir(), 'duban-before-'));
  const git = (...args: string[]) => execFileSync('git', args, { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  try {
    git('worktree', 'add', '--detach', '--force', dir, rev);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    return { skipped: `no checkout of ${rev} (${String((err as Error).message).split('\n')[0]})` };
  }
  const remove = () => { try { git('worktree', 'remove', '--force', dir); } catch { rmSync(dir, { recursive: true, force: true }); } };
  try {
    // Its own dependencies as its lockfile pins them (it used some this code no longer does), from npm's cache where it can.
    execFileSync('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    remove();
    return { skipped: `npm ci failed in the checkout of ${rev} (${String((err as Error).message).split('\n')[0]})` };
  }
  return { dir, remove };
}

/** The reference's database, seeded by the reference's own migrations, processes and demo, then copied alike. */
async function seedReference(dir: string, url: string, opts: { cases: number; copies: number }): Promise<void> {
  const { createDb: create, migrate: up } = await import(path.join(dir, 'src/db/database.ts'));
  const { createRuntime: runtimeOf } = await import(path.join(dir, 'src/runtime.ts'));
  const { installShipped: install } = await import(path.join(dir, 'src/server.ts'));
  const { seedDemo: seed } = await import(path.join(dir, 'src/demo.ts'));
  const db = create(url) as Db;
  try {
    await up(db);
    const runtime = await runtimeOf(db, { print: () => undefined });
    await install(runtime);
    await seed(db, runtime, { cases: opts.cases });
    await multiply(db, opts.copies);
  } finally {
    await db.destroy();
  }
}

interface LoadStep { code: ApiLoadRun['code']; node: ApiLoadRun['node']; connections: number; dir: string; url: string }

export async function apiLoad(adminUrl: string, opts: { connections?: number[]; durationS?: number; cases?: number; copies?: number; before?: string; log?: (m: string) => void } = {}): Promise<ApiLoadResult> {
  const log = opts.log ?? ((m: string) => console.log(m));
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  const databases: string[] = [];
  const databaseUrl = async (label: string) => {
    const name = `duban_bench_api_${label}_${randomBytes(4).toString('hex')}`;
    await admin.query(`CREATE DATABASE ${name}`);
    databases.push(name);
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    return url.toString();
  };
  const url = await databaseUrl('now');
  const db = createDb(url);
  const rev = opts.before ?? API_BEFORE_REV;
  const reference = await referenceCheckout(rev);
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  try {
    const cases = opts.cases ?? 200;
    const copies = opts.copies ?? 24;
    log(`seeding ${cases} demo cases, then ${copies} copies of each…`);
    const openTasks = await seedTaskList(db, { cases, copies });
    const connections = opts.connections ?? [50, 200];
    const here = process.cwd();
    const steps: LoadStep[] = [];
    let before: ApiLoadResult['before'] = 'skipped' in reference ? { rev, skipped: reference.skipped } : undefined;
    if (!('skipped' in reference)) {
      log(`seeding the same for the code before (${rev}), with its own migrations and demo…`);
      const beforeUrl = await databaseUrl('before');
      await seedReference(reference.dir, beforeUrl, { cases, copies });
      // Alternating at each client count, so that a machine's drift in speed moves both alike.
      for (const c of connections) steps.push({ code: 'current', node: 'shipped', connections: c, dir: here, url }, { code: 'before', node: 'shipped', connections: c, dir: reference.dir, url: beforeUrl });
      before = { rev };
    } else {
      log(`no side-by-side reference: ${reference.skipped}`);
      for (const c of connections) steps.push({ code: 'current', node: 'shipped', connections: c, dir: here, url });
    }
    // For reference, the most clients once more on Node's default young generation.
    steps.push({ code: 'current', node: 'default', connections: Math.max(...connections), dir: here, url });
    const durationS = opts.durationS ?? 10;
    const runs: ApiLoadRun[] = [];
    let visible = 0;
    for (const step of steps) {
      server = await startServer(step.url, step.dir, step.node === 'shipped' ? SHIPPED_NODE_FLAGS : []);
      const cookie = await loginCookie(server.port, 'market.clerk');
      const target = `http://127.0.0.1:${server.port}/api/tasks?pageSize=20`;
      const seen = ((await (await fetch(target, { headers: { cookie } })).json()) as { total: number }).total;
      if (step.code === 'current') visible = seen;
      log(`autocannon: ${step.connections} connections × ${durationS} s on GET /api/tasks, ${step.code === 'before' ? `the code before (${rev})` : 'this code'} (market.clerk sees ${seen} of ${openTasks} open tasks; Node flags ${step.node})`);
      runs.push({ ...(await measure(target, cookie, step.connections, durationS, server.pid, step.node)), code: step.code });
      await server.stop();
      server = undefined;
    }
    return { openTasks, tasksVisible: visible, runs, before, throughputVsBefore: throughputRatios(runs) };
  } finally {
    await server?.stop();
    await db.destroy();
    if (!('skipped' in reference)) reference.remove();
    for (const name of databases) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

/** This code's requests/s ÷ the code before's, per client count (Node flags as shipped for both). */
function throughputRatios(runs: ApiLoadRun[]): Record<string, number> | undefined {
  const out: Record<string, number> = {};
  for (const b of runs.filter((r) => r.code === 'before')) {
    const now = runs.find((r) => r.code === 'current' && r.node === 'shipped' && r.connections === b.connections);
    if (now && b.throughputRps > 0) out[`c${b.connections}`] = round2(now.throughputRps / b.throughputRps);
  }
  return Object.keys(out).length ? out : undefined;
}

/** The results.json shape: p50/p99/rps per client count. */
export function apiSummary(r: ApiLoadResult): Record<string, unknown> {
  const runOf = (x: ApiLoadRun) => ({ p50Ms: x.latencyMs.p50, p99Ms: x.latencyMs.p99, rps: x.throughputRps, serverCpuMsPerRequest: x.serverCpuMsPerRequest, errors: x.errors, non2xx: x.non2xx });
  const keyOf = (x: ApiLoadRun) => `c${x.connections}${x.node === 'default' ? 'DefaultNode' : ''}`;
  const before = r.runs.filter((x) => x.code === 'before');
  return {
    openTasks: r.openTasks, tasksVisible: r.tasksVisible,
    ...Object.fromEntries(r.runs.filter((x) => x.code === 'current').map((x) => [keyOf(x), runOf(x)])),
    before: r.before && { ...r.before, ...Object.fromEntries(before.map((x) => [keyOf(x), runOf(x)])) },
    throughputVsBefore: r.throughputVsBefore,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes('--quick');
  const r = await apiLoad(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres', quick ? { durationS: 3, cases: 50, copies: 10 } : {});
  console.log(JSON.stringify(apiSummary(r), null, 2));
}
