import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createTestDatabase } from './support/db.js';
import { seedDemo } from '../src/demo.js';
import { appendAudit } from '../src/audit/audit.js';

const exec = promisify(execFile);
let t: Awaited<ReturnType<typeof createTestDatabase>>;

before(async () => {
  t = await createTestDatabase();
  await seedDemo(t.db);
  for (let i = 0; i < 5; i++) await appendAudit(t.db, { actor: 'tester', action: 'case.touched', entityType: 'case', entityId: `C-${i}`, before: { n: i }, after: { n: i + 1, note: '备注' } });
});
after(async () => t.drop());

async function verify(): Promise<{ code: number; out: string }> {
  try {
    const r = await exec(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'audit', 'verify'], { env: { ...process.env, DATABASE_URL: t.url } });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

/** Tampering needs a superuser who switches the trigger off; the hash chain still tells. */
async function asSuperuser(sql: string): Promise<void> {
  await t.db.transaction(async (trx) => {
    await trx.raw('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only');
    await trx.raw(sql);
    await trx.raw('ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only');
  });
}

test('duban audit verify: intact, then an edited row is named, then a deleted row is found', { timeout: 120_000 }, async () => {
  const ok = await verify();
  assert.equal(ok.code, 0, ok.out);
  assert.match(ok.out, /intact: \d+ rows/);

  const target = await t.db('audit_log').where({ entity_id: 'C-2' }).first('id');
  await asSuperuser(`UPDATE audit_log SET after = '{"n": 99}' WHERE id = ${target.id}`);
  const edited = await verify();
  assert.equal(edited.code, 1);
  assert.match(edited.out, new RegExp(`BROKEN at row ${target.id}\\b`));
  assert.match(edited.out, /edited/);

  await asSuperuser(`UPDATE audit_log SET after = '{"n": 3, "note": "备注"}' WHERE id = ${target.id}`);
  assert.equal((await verify()).code, 0, 'restoring the content restores the chain');

  const victim = await t.db('audit_log').where({ entity_id: 'C-3' }).first('id');
  await asSuperuser(`DELETE FROM audit_log WHERE id = ${victim.id}`);
  const removed = await verify();
  assert.equal(removed.code, 1);
  const next = await t.db('audit_log').where('id', '>', victim.id).orderBy('id').first('id');
  assert.match(removed.out, new RegExp(`BROKEN at row ${next.id}\\b`));
});

test('the application cannot update, delete or truncate audit rows', async () => {
  await assert.rejects(t.db('audit_log').update({ actor: 'mallory' }), /append-only/);
  await assert.rejects(t.db('audit_log').where('id', 1).delete(), /append-only/);
  await assert.rejects(t.db.raw('TRUNCATE audit_log'), /append-only/);
});

test('concurrent appends outside a transaction keep one chain', async () => {
  const { verifyAudit } = await import('../src/audit/audit.js');
  // The earlier test tampered with the chain; a fresh database keeps this one honest.
  const fresh = await createTestDatabase();
  try {
    await Promise.all(Array.from({ length: 20 }, (_, i) => appendAudit(fresh.db, { actor: 'racer', action: 'race', entityType: 'test', entityId: String(i) })));
    assert.deepEqual(await verifyAudit(fresh.db), { ok: true, rows: 20 });
  } finally {
    await fresh.drop();
  }
});
