import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import type { Db } from '../db/database.js';

/**
 * The audit trail: one row per state change, each carrying the hash of the previous row.
 * Appends are serialised by a transaction-scoped advisory lock so the chain has one order.
 */
export interface AuditEntry {
  actor: string | null;
  action: string;
  entityType: string;
  entityId?: string | null;
  before?: unknown;
  after?: unknown;
}

const GENESIS = '0'.repeat(64);
const AUDIT_LOCK = 0x6475_6261; // "duba"

export type AuditWriter = (trx: Knex.Transaction | Db, entry: AuditEntry) => Promise<void>;

export async function appendAudit(db: Knex.Transaction | Db, entry: AuditEntry): Promise<void> {
  // The lock lives as long as a transaction: outside one it would not cover the read and the insert.
  if (!(db as Knex.Transaction).isTransaction) return (db as Db).transaction((trx) => appendAudit(trx, entry));
  const trx = db as Knex.Transaction;
  await trx.raw('SELECT pg_advisory_xact_lock(?)', [AUDIT_LOCK]);
  const last = await trx('audit_log').orderBy('id', 'desc').first('hash');
  const prevHash: string = last?.hash ?? GENESIS;
  const at = new Date();
  const row = {
    at: at.toISOString(),
    actor: entry.actor,
    action: entry.action,
    entity_type: entry.entityType,
    entity_id: entry.entityId ?? null,
    before: normalize(entry.before),
    after: normalize(entry.after),
  };
  await trx('audit_log').insert({
    ...row,
    before: row.before === null ? null : JSON.stringify(row.before),
    after: row.after === null ? null : JSON.stringify(row.after),
    prev_hash: prevHash,
    hash: hashRow(prevHash, row),
  });
}

/** Recompute the chain; returns the first row whose content or link does not match. */
export async function verifyAudit(db: Db): Promise<{ ok: true; rows: number } | { ok: false; rows: number; brokenId: number; reason: string }> {
  let prevHash = GENESIS;
  let rows = 0;
  let lastId = 0;
  for (;;) {
    const batch = await db('audit_log').where('id', '>', lastId).orderBy('id').limit(5000);
    if (!batch.length) return { ok: true, rows };
    for (const r of batch) {
      rows++;
      lastId = r.id;
      if (r.prev_hash !== prevHash) return { ok: false, rows, brokenId: r.id, reason: 'prev_hash does not match the previous row (a row was removed or reordered)' };
      const expected = hashRow(prevHash, {
        at: new Date(r.at).toISOString(), actor: r.actor, action: r.action, entity_type: r.entity_type,
        entity_id: r.entity_id, before: r.before, after: r.after,
      });
      if (expected !== r.hash) return { ok: false, rows, brokenId: r.id, reason: 'content does not match its hash (the row was edited)' };
      prevHash = r.hash;
    }
  }
}

function hashRow(prevHash: string, row: Record<string, unknown>): string {
  return createHash('sha256').update(prevHash).update('\n').update(canonical(row)).digest('hex');
}

/** JSON with sorted keys, so jsonb's reordering does not change the hash. */
export function canonical(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    return `{${Object.keys(obj).filter((k) => obj[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonical(obj[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Round-trip through JSON so what is hashed is exactly what jsonb stores (no undefined, no Dates). */
function normalize(v: unknown): unknown {
  if (v === undefined || v === null) return null;
  return JSON.parse(JSON.stringify(v));
}
