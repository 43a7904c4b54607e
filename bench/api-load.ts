/**
 * API load: concurrent clients listing tasks (GET /api/tasks) as a clerk against a real server process
 * on loopback, measured with autocannon at 50 and 200 connections. The demo cases go through the real
 * intake and engine; they are then copied in SQL (instances, cases, tasks, no timers) until the list
 * holds a few thousand open tasks over several departments, the clerk's own a few hundred.
 * Prints throughput and latency percentiles; never asserts.
 * Run alone: `node --import tsx bench/api-load.ts [--quick]` (uses DATABASE_URL's server or the local one).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
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
}

export interface ApiLoadResult {
  /** What the list holds: open tasks in all departments, and those the clerk sees. */
  openTasks: number;
  tasksVisible: number;
  runs: ApiLoadRun[];
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

export async function measure(url: string, cookie: string, connections: number, durationS: number, serverPid?: number, node: ApiLoadRun['node'] = 'shipped'): Promise<ApiLoadRun> {
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

export async function apiLoad(adminUrl: string, opts: { connections?: number[]; durationS?: number; cases?: number; copies?: number; log?: (m: string) => void } = {}): Promise<ApiLoadResult> {
  const log = opts.log ?? ((m: string) => console.log(m));
  const name = `duban_bench_api_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const db = createDb(url.toString());
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  try {
    const cases = opts.cases ?? 200;
    const copies = opts.copies ?? 24;
    log(`seeding ${cases} demo cases, then ${copies} copies of each…`);
    const openTasks = await seedTaskList(db, { cases, copies });
    const durationS = opts.durationS ?? 10;
    const runs: ApiLoadRun[] = [];
    let visible = 0;
    // As shipped at each client count; then, for reference, the most clients once more on Node's default young generation.
    const plan: Array<{ node: ApiLoadRun['node']; connections: number[] }> = [
      { node: 'shipped', connections: opts.connections ?? [50, 200] },
      { node: 'default', connections: [Math.max(...(opts.connections ?? [50, 200]))] },
    ];
    for (const step of plan) {
      server = await startServer(url.toString(), process.cwd(), step.node === 'shipped' ? SHIPPED_NODE_FLAGS : []);
      const cookie = await loginCookie(server.port, 'market.clerk');
      const target = `http://127.0.0.1:${server.port}/api/tasks?pageSize=20`;
      visible = ((await (await fetch(target, { headers: { cookie } })).json()) as { total: number }).total;
      for (const connections of step.connections) {
        log(`autocannon: ${connections} connections × ${durationS} s on GET /api/tasks (market.clerk sees ${visible} of ${openTasks} open tasks; Node flags ${step.node})`);
        runs.push(await measure(target, cookie, connections, durationS, server.pid, step.node));
      }
      await server.stop();
      server = undefined;
    }
    return { openTasks, tasksVisible: visible, runs };
  } finally {
    await server?.stop();
    await db.destroy();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

/** The results.json shape: p50/p99/rps per client count. */
export function apiSummary(r: ApiLoadResult): Record<string, unknown> {
  return {
    openTasks: r.openTasks, tasksVisible: r.tasksVisible,
    ...Object.fromEntries(r.runs.map((x) => [`c${x.connections}${x.node === 'default' ? 'DefaultNode' : ''}`, { p50Ms: x.latencyMs.p50, p99Ms: x.latencyMs.p99, rps: x.throughputRps, serverCpuMsPerRequest: x.serverCpuMsPerRequest, errors: x.errors, non2xx: x.non2xx }])),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes('--quick');
  const r = await apiLoad(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres', quick ? { durationS: 3, cases: 50, copies: 10 } : {});
  console.log(JSON.stringify(apiSummary(r), null, 2));
}
