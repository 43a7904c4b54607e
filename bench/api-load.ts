/**
 * API load: 200 concurrent clients listing tasks (GET /api/tasks) against a real server process on
 * loopback, measured with autocannon. Prints throughput and latency percentiles; never asserts.
 * Run alone: `node --import tsx bench/api-load.ts` (uses DATABASE_URL's server or the local one).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import pg from 'pg';
import { createDb, migrate } from '../src/db/database.js';
import { createRuntime } from '../src/runtime.js';
import { installShipped } from '../src/server.js';
import { seedDemo, DEMO_PASSWORD } from '../src/demo.js';

export interface ApiLoadResult {
  connections: number;
  durationS: number;
  requests: number;
  throughputRps: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  errors: number;
  non2xx: number;
  tasksVisible: number;
}

export async function apiLoad(adminUrl: string, opts: { connections?: number; durationS?: number; cases?: number; log?: (m: string) => void } = {}): Promise<ApiLoadResult> {
  const log = opts.log ?? ((m: string) => console.log(m));
  const name = `duban_bench_api_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const db = createDb(url.toString());
  const port = 3900 + Math.floor(Math.random() * 90);
  let server: ReturnType<typeof spawn> | undefined;
  try {
    await migrate(db);
    const runtime = await createRuntime(db, { print: () => undefined });
    await installShipped(runtime);
    log(`seeding ${opts.cases ?? 200} demo cases…`);
    await seedDemo(db, runtime, { cases: opts.cases ?? 200 });
    server = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start'], {
      env: { ...process.env, DATABASE_URL: url.toString(), PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'error' }, stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      server!.stdout!.on('data', (d) => { out += d; if (out.includes('is running at')) resolve(); });
      server!.on('exit', (code) => reject(new Error(`server exited ${code}`)));
    });
    const login = await fetch(`http://127.0.0.1:${port}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'market.clerk', password: DEMO_PASSWORD }) });
    const cookie = String(login.headers.get('set-cookie')).split(';')[0]!;
    const first = await (await fetch(`http://127.0.0.1:${port}/api/tasks?pageSize=20`, { headers: { cookie } })).json() as { total: number };
    const connections = opts.connections ?? 200;
    const durationS = opts.durationS ?? 10;
    log(`autocannon: ${connections} connections × ${durationS} s on GET /api/tasks (market.clerk sees ${first.total} tasks)`);
    const r = await autocannon({ url: `http://127.0.0.1:${port}/api/tasks?pageSize=20`, connections, duration: durationS, headers: { cookie } });
    return {
      connections, durationS, requests: r.requests.total, throughputRps: Math.round(r.requests.average),
      latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max },
      errors: r.errors + r.timeouts, non2xx: r.non2xx, tasksVisible: first.total,
    };
  } finally {
    server?.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    await db.destroy();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await apiLoad(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  console.log(JSON.stringify(r, null, 2));
}
