import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { createTestDatabase } from './support/db.js';
import { freePort } from './support/ports.js';
import { seedDemo } from '../src/demo.js';
import { appendAudit, canonical, sealAudit, verifyAuditTrail } from '../src/audit/audit.js';
import { createDb, migrateFor, type Db } from '../src/db/database.js';
import { auditProtection } from '../src/db/roles.js';
import { loadConfig } from '../src/config.js';
import { startServer } from '../src/server.js';

/**
 * The audit trail proves what happened: appends keep one chain inside a transaction, across
 * transactions and across processes; the serving role cannot change the table; and an edit, a
 * re-hash without the key or a removed newest row (against an anchor) is named by `duban audit verify`.
 */
const exec = promisify(execFile);
// The key lives outside the database: here in the environment, shared with the CLI and worker processes.
process.env.DUBAN_AUDIT_KEY = randomBytes(32).toString('hex');
const scratch = mkdtempSync(path.join(tmpdir(), 'duban-audit-'));
const dropLater: Array<() => Promise<void>> = [];

after(async () => {
  for (const d of dropLater.reverse()) await d().catch(() => undefined);
  rmSync(scratch, { recursive: true, force: true });
});

async function freshDb(): Promise<Awaited<ReturnType<typeof createTestDatabase>>> {
  const t = await createTestDatabase('duban_audit');
  dropLater.push(t.drop);
  return t;
}

async function cli(url: string, ...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await exec(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'audit', ...args], { env: { ...process.env, DATABASE_URL: url } });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

/** Tampering as a superuser would: switch the trigger off, change rows, switch it on again. */
async function tamper(db: Db, fn: (trx: Db) => Promise<void>): Promise<void> {
  await db.transaction(async (trx) => {
    await trx.raw('ALTER TABLE audit_log DISABLE TRIGGER ALL');
    await fn(trx as unknown as Db);
    await trx.raw('ALTER TABLE audit_log ENABLE TRIGGER ALL');
  });
}

async function touch(db: Db, n: number, prefix = 'C'): Promise<number[]> {
  for (let i = 0; i < n; i++) await appendAudit(db, { actor: 'tester', action: 'case.touched', entityType: 'case', entityId: `${prefix}-${i}`, before: { n: i }, after: { n: i + 1, note: '备注' } });
  await sealAudit(db, { settleMs: 30_000 });
  return (await db('audit_log').where('entity_id', 'like', `${prefix}-%`).orderBy('id').select('id')).map((r) => Number(r.id));
}

test('several rows in one transaction, savepoints and many transactions from two processes at once keep one chain', { timeout: 180_000 }, async () => {
  const t = await freshDb();
  await seedDemo(t.db);
  // The defect of old: two appends in one transaction (a timer firing that warns and escalates) read one head.
  await t.db.transaction(async (trx) => {
    await appendAudit(trx, { actor: 'system', action: 'case.warned', entityType: 'case', entityId: 'TQ1' });
    await appendAudit(trx, { actor: 'system', action: 'case.escalated', entityType: 'supervision', entityId: 'DB1' });
    await trx.transaction(async (sp) => appendAudit(sp, { actor: 'system', action: 'kept', entityType: 'test', entityId: 'savepoint' }));
    await trx.transaction(async (sp) => {
      await appendAudit(sp, { actor: 'system', action: 'dropped', entityType: 'test', entityId: 'savepoint' });
      throw new Error('roll the savepoint back');
    }).catch(() => undefined);
    await appendAudit(trx, { actor: 'system', action: 'case.third', entityType: 'case', entityId: 'TQ1' });
  });
  await sealAudit(t.db, { settleMs: 30_000 });
  const actions = (await t.db('audit_log').whereIn('entity_id', ['TQ1', 'DB1', 'savepoint']).orderBy('id').select('action')).map((r) => r.action);
  assert.deepEqual(actions, ['case.warned', 'case.escalated', 'kept', 'case.third'], 'in order, the rolled-back savepoint left nothing');

  // A rolled-back transaction writes no audit row.
  await t.db.transaction(async (trx) => {
    await appendAudit(trx, { actor: 'system', action: 'never', entityType: 'test' });
    throw new Error('rollback');
  }).catch(() => undefined);
  assert.equal(await t.db('audit_log').where({ action: 'never' }).first(), undefined);

  const workers = ['w1', 'w2'].map((name) => new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/audit-worker.ts'], {
      env: { ...process.env, DATABASE_URL: t.url, WORKER_NAME: name, WORKER_TRANSACTIONS: '40', WORKER_ROWS: '3' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${name} exited ${code}: ${out}`))));
  }));
  // In this process too, at the same time.
  await Promise.all([...workers, ...Array.from({ length: 10 }, (_, i) => t.db.transaction(async (trx) => {
    await appendAudit(trx, { actor: 'main', action: 'race', entityType: 'test', entityId: `main-${i}-a` });
    await appendAudit(trx, { actor: 'main', action: 'race', entityType: 'test', entityId: `main-${i}-b` });
  }))]);
  // The workers' handles sealed what they queued before exiting; this process's sealer runs in the background.
  await sealAudit(t.db, { settleMs: 30_000 });
  assert.equal(Number((await t.db('audit_queue').count('* as n').first())!.n), 0, 'every committed entry is in the chain');
  assert.equal(Number((await t.db('audit_log').where({ action: 'race' }).count('* as n').first())!.n), 2 * 40 * 3 + 20);
  const forks = await t.db.raw('SELECT prev_hash FROM audit_log GROUP BY prev_hash HAVING count(*) > 1');
  assert.equal(forks.rows.length, 0, 'no row has two successors');

  const r = await cli(t.url, 'verify');
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /intact: \d+ rows/);
});

test('commands take no audit lock; the chain takes entries in transaction order, and waits for an open older transaction', { timeout: 60_000 }, async () => {
  const t = await freshDb();
  const slow = await t.db.transaction();
  // `slow` has written (so it has a transaction id) and is still open.
  await slow.raw("SET LOCAL lock_timeout = '10s'");
  await slow('departments').insert({ id: 'slowdept', name: '慢' });
  await appendAudit(slow, { actor: 'slow', action: 'slow.started', entityType: 'test' });
  // Meanwhile another command appends and commits; an audit lock held by `slow` would time out here.
  await t.db.transaction(async (trx) => {
    await trx.raw("SET LOCAL lock_timeout = '10s'");
    await appendAudit(trx, { actor: 'fast', action: 'fast.done', entityType: 'test' });
  });
  const chained = async () => (await t.db('audit_log').where('entity_type', 'test').orderBy('id').select('action')).map((r) => r.action);
  const waiting = await verifyAuditTrail(t.db);
  assert.equal(waiting.ok, true);
  assert.equal(waiting.queued, 1, 'the committed entry waits for the older transaction still open');
  assert.deepEqual(await chained(), [], 'nothing can enter the chain before an open older transaction');
  const out = await cli(t.url, 'verify');
  assert.match(out.out, /intact: .*1 newer entry waits for an older transaction still open/, out.out);

  await appendAudit(slow, { actor: 'slow', action: 'slow.finished', entityType: 'test' });
  await slow.commit();
  const done = await verifyAuditTrail(t.db, { settleMs: 30_000 });
  assert.deepEqual([done.ok, done.queued], [true, 0]);
  assert.deepEqual(await chained(), ['slow.started', 'slow.finished', 'fast.done'], 'in transaction order, a transaction\'s rows together');
});

test('queued entries survive their process: the next server seals them', { timeout: 120_000 }, async () => {
  const t = await freshDb();
  await sealAudit(t.db, { settleMs: 30_000 });
  // A handle without a sealer, as a process killed right after its commit leaves things.
  const bare = (await import('knex')).default({ client: 'pg', connection: t.url, pool: { min: 0, max: 1 } });
  try {
    await bare.transaction((trx) => appendAudit(trx, { actor: 'gone', action: 'before.kill', entityType: 'test' }));
  } finally {
    await bare.destroy();
  }
  assert.equal(Number((await t.db('audit_queue').count('* as n').first())!.n), 1);
  const env: NodeJS.ProcessEnv = { DATABASE_URL: t.url, PORT: String(await freePort()), HOST: '127.0.0.1', LOG_LEVEL: 'warn', DUBAN_DATA_DIR: scratch, DUBAN_AUDIT_KEY: process.env.DUBAN_AUDIT_KEY };
  const server = await startServer(loadConfig(env), { log: () => undefined });
  try {
    for (let i = 0; i < 600 && !(await t.db('audit_log').where({ action: 'before.kill' }).first()); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(await t.db('audit_log').where({ action: 'before.kill' }).first(), 'sealed by the server that started next');
  } finally {
    await server.stop();
  }
  assert.equal((await cli(t.url, 'verify')).code, 0);
});

test('the serving role can only read and append: no trigger changes, no UPDATE, DELETE or TRUNCATE; start and health tell', { timeout: 180_000 }, async () => {
  const t = await freshDb();
  const role = `duban_app_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(12).toString('hex');
  await t.db.raw(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
  // Run before the database is dropped (the list runs backwards), so its grants go with the database.
  dropLater.splice(dropLater.indexOf(t.drop), 0, async () => {
    const c = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await c.connect();
    try {
      await c.query(`DROP ROLE IF EXISTS ${role}`);
    } finally {
      await c.end();
    }
  });
  const appUrl = new URL(t.url);
  appUrl.username = role;
  appUrl.password = password;
  const app = createDb(appUrl.toString(), 2);
  try {
    // The production path: migrations as the owner (here the test superuser), then the grants.
    await migrateFor(app, t.url);
    await appendAudit(app, { actor: role, action: 'app.wrote', entityType: 'test' });
    await sealAudit(app, { settleMs: 30_000 });
    assert.ok(await app('audit_log').where({ action: 'app.wrote' }).first(), 'it appends, seals and reads');
    // Queued entries are the trail too: the serving role cannot drop or change one before it is sealed,
    // nor seal out of order (the seal function checks it is given the oldest entries).
    await app.transaction(async (trx) => {
      await appendAudit(trx, { actor: role, action: 'app.queued', entityType: 'test' });
      await trx.raw("SET LOCAL duban.audit_sealing = 'on'");
    });
    await assert.rejects(app('audit_queue').delete(), /permission denied/);
    await assert.rejects(app('audit_queue').update({ actor: 'mallory' }), /permission denied/);
    await assert.rejects(app.raw('TRUNCATE audit_queue'), /permission denied/);
    await assert.rejects(app.raw("SELECT duban_audit_seal(ARRAY[-1]::bigint[], ARRAY['x'], 'y', 'z')"), /not the oldest sealable entries/);

    await assert.rejects(app.raw('ALTER TABLE audit_log DISABLE TRIGGER ALL'), /must be owner/);
    await assert.rejects(app.raw('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only'), /must be owner/);
    await assert.rejects(app.raw('DROP TRIGGER audit_log_append_only ON audit_log'), /must be owner/);
    await assert.rejects(app.raw('DROP TABLE audit_log'), /must be owner/);
    await assert.rejects(app.raw('CREATE TRIGGER t2 BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION duban_forbid_change()'), /permission denied/);
    await assert.rejects(app('audit_log').update({ actor: 'mallory' }), /permission denied/);
    await assert.rejects(app('audit_log').where('id', 1).delete(), /permission denied/);
    await assert.rejects(app.raw('TRUNCATE audit_log'), /permission denied/);
    await assert.rejects(app.raw('CREATE TABLE mine (id int)'), /permission denied/);

    // Every other table, also one a later migration adds, is readable and writable row by row.
    await t.db.raw('CREATE TABLE added_later (id int)');
    await app('added_later').insert({ id: 1 });
    const { rows } = await t.db.raw(`SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname NOT IN ('audit_log', 'audit_queue', 'knex_migrations', 'knex_migrations_lock')
        AND NOT has_table_privilege(?, c.oid, 'SELECT, INSERT, UPDATE, DELETE')`, [role]);
    assert.deepEqual(rows, [], 'no table is left without grants');

    assert.deepEqual(await auditProtection(app), { protected: true, role, problems: [] });
    const su = await auditProtection(t.db);
    assert.equal(su.protected, false);
    assert.match(su.problems.join(), /superuser/);
    assert.equal((await verifyAuditTrail(t.db)).ok, true);
  } finally {
    await app.destroy();
  }

  // The whole server serves as that role; as the superuser it starts too, with a loud warning.
  for (const [url, owner, expected] of [[appUrl.toString(), t.url, true], [t.url, undefined, false]] as const) {
    const lines: string[] = [];
    const env: NodeJS.ProcessEnv = { DATABASE_URL: url, PORT: String(await freePort()), HOST: '127.0.0.1', LOG_LEVEL: 'warn', DUBAN_DATA_DIR: scratch, DUBAN_AUDIT_KEY: process.env.DUBAN_AUDIT_KEY };
    if (owner) env.DATABASE_OWNER_URL = owner;
    const server = await startServer(loadConfig(env), { log: (m) => lines.push(m) });
    try {
      const health = (await (await fetch(`${server.url.replace('localhost', '127.0.0.1')}/api/health`)).json()) as { audit: { protected: boolean; problems: string[] } };
      assert.equal(health.audit.protected, expected, JSON.stringify(health));
      assert.equal(lines.some((l) => /WARNING: the server's database role .* can change the audit trail/.test(l)), !expected, lines.join('\n'));
    } finally {
      await server.stop();
    }
  }
});

test('verify names every edited row, a removed row, a chain re-hashed without the key, and newest rows removed after an anchor', { timeout: 180_000 }, async () => {
  const t = await freshDb();
  const ids = await touch(t.db, 8);
  assert.equal((await cli(t.url, 'verify')).code, 0);

  // Two edits: both named, not only the first.
  await tamper(t.db, async (trx) => {
    await trx('audit_log').where({ id: ids[2] }).update({ after: JSON.stringify({ n: 99 }) });
    await trx('audit_log').where({ id: ids[5] }).update({ actor: 'mallory' });
  });
  const edited = await cli(t.url, 'verify');
  assert.equal(edited.code, 1);
  assert.match(edited.out, new RegExp(`row ${ids[2]}: content does not match its keyed hash`));
  assert.match(edited.out, new RegExp(`row ${ids[5]}: content does not match its keyed hash`));
  assert.match(edited.out, /2 problem\(s\)/);

  // A row removed in the middle: the next one is named.
  const t2 = await freshDb();
  const ids2 = await touch(t2.db, 5);
  await tamper(t2.db, async (trx) => void (await trx('audit_log').where({ id: ids2[1] }).delete()));
  const removed = await cli(t2.url, 'verify');
  assert.equal(removed.code, 1);
  assert.match(removed.out, new RegExp(`row ${ids2[2]}: prev_hash does not match`));

  // Re-hashed from an edit on, as an insider without the key would (the algorithm is public, the key is not).
  const t3 = await freshDb();
  const ids3 = await touch(t3.db, 6);
  await tamper(t3.db, async (trx) => {
    const rows = await trx('audit_log').where('id', '>=', ids3[2]!).orderBy('id');
    let prev = (await trx('audit_log').where('id', '<', ids3[2]!).orderBy('id', 'desc').first()).hash as string;
    for (const r of rows) {
      const after = r.id === ids3[2] ? { n: 1000 } : r.after;
      const content = { at: new Date(r.at).toISOString(), actor: r.actor, action: r.action, entity_type: r.entity_type, entity_id: r.entity_id, before: r.before, after };
      const hash = createHmac('sha256', 'a guessed key').update(prev).update('\n').update(r.key_id).update('\n').update(canonical(content)).digest('hex');
      await trx('audit_log').where({ id: r.id }).update({ after: JSON.stringify(after), prev_hash: prev, hash });
      prev = hash;
    }
  });
  const rehashed = await cli(t3.url, 'verify');
  assert.equal(rehashed.code, 1);
  for (const id of ids3.slice(2)) assert.match(rehashed.out, new RegExp(`row ${id}: content does not match its keyed hash`), rehashed.out);
  for (const id of ids3.slice(0, 2)) assert.doesNotMatch(rehashed.out, new RegExp(`row ${id}:`));
  // Passing the rows off as pre-key (unkeyed SHA-256) rows does not help either.
  await tamper(t3.db, async (trx) => void (await trx('audit_log').where({ id: ids3[5] }).update({ key_id: null })));
  assert.match((await cli(t3.url, 'verify')).out, new RegExp(`row ${ids3[5]}: an unkeyed row after the keyed chain began`));

  // The newest row removed: invisible to the chain alone, named against an anchor kept outside.
  const t4 = await freshDb();
  const ids4 = await touch(t4.db, 4);
  const anchorFile = path.join(scratch, `anchor-${randomBytes(3).toString('hex')}.json`);
  const anchored = await cli(t4.url, 'anchor', '-o', anchorFile);
  assert.equal(anchored.code, 0, anchored.out);
  assert.match(anchored.out, new RegExp(`anchored row ${ids4[3]}`));
  assert.equal((await cli(t4.url, 'verify', '--anchor', anchorFile)).code, 0);
  await touch(t4.db, 2, 'LATER');
  assert.equal((await cli(t4.url, 'verify', '--anchor', anchorFile)).code, 0, 'rows after the anchor are fine');
  const newest = (await t4.db('audit_log').max('id as id').first())!.id as number;
  await tamper(t4.db, async (trx) => void (await trx('audit_log').where('id', '>=', ids4[3]!).delete()));
  assert.equal((await cli(t4.url, 'verify')).code, 0, 'without an anchor, removing the newest rows leaves a valid chain');
  const cut = await cli(t4.url, 'verify', '--anchor', anchorFile);
  assert.equal(cut.code, 1);
  assert.match(cut.out, new RegExp(`row ${ids4[3]}: the anchored row is missing: rows ${ids4[3]}–${ids4[3]} were removed`), cut.out);
  assert.ok(newest > ids4[3]!);
});

test('an empty table, a missing seal and a wrong key are reported, not passed', { timeout: 60_000 }, async () => {
  const t = await freshDb();
  await touch(t.db, 2);
  const other = { secret: Buffer.from('x'.repeat(40)), id: 'ffffffffffffffff', source: 'test' };
  const wrong = await verifyAuditTrail(t.db, { key: other });
  assert.equal(wrong.ok, false);
  assert.match(wrong.broken[0]!.reason, /signed with another key/);
  await tamper(t.db, async (trx) => void (await trx('audit_log').delete()));
  const empty = await verifyAuditTrail(t.db);
  assert.equal(empty.ok, false);
  assert.match(empty.broken[0]!.reason, /empty/);
});
