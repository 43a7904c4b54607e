import type { Knex } from 'knex';
import type { Db } from '../db/database.js';
import type { AuditKey } from './key.js';
import { AUDIT_LOCK, auditKey, GENESIS, keyedHash, normalize, SEAL_ACTION, type AuditRow } from './chain.js';
import { runPrepared, type PreparedStatement } from '../db/prepared.js';
import { wakeSealerOf } from './seal.js';

/**
 * The audit trail: one row per state change, each carrying an HMAC of its content and of the previous
 * row's hash, keyed with a secret the database does not hold (src/audit/key.ts).
 *
 * A command's entries are kept with its transaction and inserted into `audit_queue` with its
 * transaction id, just before COMMIT (or earlier, by an engine command's own write statement:
 * takeQueuedAudit): no lock, so no command waits for another's audit. The
 * sealer (src/audit/seal.ts) then links committed entries into the chain `audit_log` in
 * transaction-id order (migration 20261202000000_audit_queue). A unique index on `prev_hash` makes a
 * fork impossible: a second successor of the same row is refused.
 */
export interface AuditEntry {
  actor: string | null;
  action: string;
  entityType: string;
  entityId?: string | null;
  before?: unknown;
  after?: unknown;
}

export type AuditWriter = (trx: Knex.Transaction | Db, entry: AuditEntry) => Promise<void>;

/** Entries this process queued (the benchmark reports them per command). */
export const auditQueueStats = { appends: 0 };

// ---------------------------------------------------------------------------------------------
// Appending

const pending = new WeakMap<Knex.Transaction, AuditRow[]>();
/** Transactions whose entries a statement of their own took (takeQueuedAudit): the sealer is woken after their commit too. */
const takenByStatement = new WeakSet<Knex.Transaction>();

/** Queue an entry on the transaction; it is written when the transaction commits (and only then). */
export async function appendAudit(db: Knex.Transaction | Db, entry: AuditEntry): Promise<void> {
  if (!(db as Knex.Transaction).isTransaction) return (db as Db).transaction((trx) => appendAudit(trx, entry));
  queueRows(db as Knex.Transaction, [toRow(entry)]);
}

function toRow(entry: AuditEntry): AuditRow {
  return {
    at: new Date().toISOString(),
    actor: entry.actor,
    action: entry.action,
    entity_type: entry.entityType,
    entity_id: entry.entityId ?? null,
    before: normalize(entry.before),
    after: normalize(entry.after),
  };
}

type Transactor = Knex.Transaction & { parentTransaction?: Knex.Transaction };

/**
 * Knex commits a transaction through `transactor.commit` (also when a transaction callback resolves),
 * so wrapping it is the one place that sees every commit. A savepoint hands its rows to its parent
 * when released and drops them when rolled back.
 */
function queueRows(trx: Transactor, rows: AuditRow[]): void {
  const queued = pending.get(trx);
  if (queued) {
    queued.push(...rows);
    return;
  }
  pending.set(trx, [...rows]);
  const commit = trx.commit.bind(trx);
  trx.commit = (async (value?: unknown) => {
    const mine = pending.get(trx) ?? [];
    pending.delete(trx);
    const top = !trx.parentTransaction;
    try {
      if (!top) queueRows(trx.parentTransaction!, mine);
      else await insertQueued(trx, mine);
    } catch (err) {
      return trx.rollback(err);
    }
    const result = await commit(value);
    if (top && (mine.length || takenByStatement.has(trx))) wakeSealerOf(trx);
    return result;
  }) as typeof trx.commit;
}

export const INSERT_QUEUED: PreparedStatement = { name: 'duban_audit_enqueue', text: insertQueuedSql('$1') };

/**
 * The entries queued so far on a top-level transaction, as the JSON INSERT_QUEUED takes, handed to
 * a statement that inserts them into audit_queue itself (the engine's command write: one round trip
 * fewer). Entries queued afterwards are still inserted at commit; null when there are none (or the
 * transaction is a savepoint, whose entries wait for its parent).
 */
export function takeQueuedAudit(trx: Knex.Transaction): string | null {
  const rows = pending.get(trx);
  if (!rows?.length || (trx as Transactor).parentTransaction) return null;
  const taken = rows.splice(0);
  auditQueueStats.appends += taken.length;
  takenByStatement.add(trx);
  return JSON.stringify(taken);
}

/** The INSERT of queued entries given as JSON in parameter `param` ('$1'), in their order (the queue's ids keep it). */
export function insertQueuedSql(param: string): string {
  return `INSERT INTO audit_queue (at, actor, action, entity_type, entity_id, before, after)
         SELECT at, actor, action, entity_type, entity_id, before, after
           FROM ROWS FROM (jsonb_to_recordset(${param}::jsonb) AS (at timestamptz, actor text, action text,
                  entity_type text, entity_id text, before jsonb, after jsonb))
                WITH ORDINALITY AS e(at, actor, action, entity_type, entity_id, before, after, n)
          ORDER BY n`;
}

/** One statement for all of a transaction's entries; the queue's ids keep their order. */
async function insertQueued(trx: Knex.Transaction, rows: AuditRow[]): Promise<void> {
  if (!rows.length) return;
  auditQueueStats.appends += rows.length;
  await runPrepared(trx, INSERT_QUEUED, [JSON.stringify(rows)]);
}

/** Lock the head, read it, insert the rows linked after it (the migration's seal row). */
async function writeChainLocked(trx: Knex.Transaction, rows: AuditRow[], key: AuditKey): Promise<void> {
  await trx.raw('SELECT pg_advisory_xact_lock(?)', [AUDIT_LOCK]);
  const head = await trx('audit_log').orderBy('id', 'desc').first('hash');
  let prevHash: string = head?.hash ?? GENESIS;
  const values = rows.map((row) => {
    const hash = keyedHash(key, prevHash, row);
    const value = { ...row, before: jsonOrNull(row.before), after: jsonOrNull(row.after), key_id: key.id, prev_hash: prevHash, hash };
    prevHash = hash;
    return value;
  });
  await trx('audit_log').insert(values);
}

function jsonOrNull(v: unknown): string | null {
  return v === null ? null : JSON.stringify(v);
}

/**
 * Written once by the migration that introduced the key: the first keyed row, attesting how many
 * unkeyed (SHA-256) rows precede it, so nobody can later pass keyed rows off as legacy ones.
 */
export async function sealLegacyRows(db: Knex): Promise<void> {
  if (!(db as Knex.Transaction).isTransaction) return db.transaction((t) => sealLegacyRows(t));
  const trx = db as Knex.Transaction;
  const { rows } = await trx.raw<{ rows: Array<{ n: number; hash: string | null }> }>(
    'SELECT count(*)::int AS n, (SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1) AS hash FROM audit_log');
  const key = auditKey();
  await writeChainLocked(trx, [toRow({
    actor: 'system', action: SEAL_ACTION, entityType: 'audit_log',
    after: { legacyRows: rows[0]!.n, legacyHead: rows[0]!.hash, keyId: key.id },
  })], key);
}


// The chain, the sealer and verification live beside this file; callers import them from here too.
export { auditKey, useAuditKey, canonical, GENESIS, AUDIT_LOCK, type AuditRow } from './chain.js';
export { sealAudit, sealerOf, AuditSealer, auditSealStats } from './seal.js';
export { verifyAuditTrail, verifyAudit, takeAnchor, parseAnchor, type AuditAnchor, type AuditBreak, type AuditReport } from './verify.js';
