import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Knex } from 'knex';
import type { Db } from '../db/database.js';
import { loadConfig } from '../config.js';
import { loadAuditKey, type AuditKey } from './key.js';

/**
 * The audit trail: one row per state change, each carrying an HMAC of its content and of the previous
 * row's hash, keyed with a secret the database does not hold (src/audit/key.ts).
 *
 * A command's entries are kept with its transaction and written at its end, just before COMMIT: only
 * then is the chain head locked (transaction-scoped advisory lock), read, extended and committed. The
 * lock is held for one INSERT and the COMMIT, not across the command, and rows of one transaction
 * follow each other. A unique index on `prev_hash` makes a fork impossible even if the lock were
 * bypassed: a second successor of the same row is refused.
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

const GENESIS = '0'.repeat(64);
const AUDIT_LOCK = 0x6475_6261; // "duba"

interface AuditRow {
  at: string;
  actor: string | null;
  action: string;
  entity_type: string;
  entity_id: string | null;
  before: unknown;
  after: unknown;
}

let currentKey: AuditKey | undefined;

/**
 * Chain appends in this process and the time they waited for the chain-head lock, as PostgreSQL's
 * clock measured it around pg_advisory_xact_lock (the benchmark reports wait per command).
 */
export const auditLockStats = { appends: 0, waitMs: 0 };

/** The server and the CLI set the key once at start; elsewhere it is resolved from the environment on first use. */
export function useAuditKey(key: AuditKey): void {
  currentKey = key;
}

export function auditKey(): AuditKey {
  if (!currentKey) {
    const c = loadConfig();
    currentKey = loadAuditKey({ key: c.auditKey, keyFile: c.auditKeyFile, dataDir: c.dataDir });
  }
  return currentKey;
}

// ---------------------------------------------------------------------------------------------
// Appending

const pending = new WeakMap<Knex.Transaction, AuditRow[]>();

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
    try {
      if (trx.parentTransaction) queueRows(trx.parentTransaction, mine);
      else await writeChain(trx, mine);
    } catch (err) {
      return trx.rollback(err);
    }
    return commit(value);
  }) as typeof trx.commit;
}

/** Lock the head, read it, insert the rows linked after it. The caller commits right after. */
export async function writeChain(trx: Knex.Transaction, rows: AuditRow[], key: AuditKey = auditKey()): Promise<void> {
  if (!rows.length) return;
  // One round trip, two statements (simple protocol, so no bindings): the head is read by a statement
  // of its own after the lock, so in READ COMMITTED it sees what the previous holder committed.
  // The server's clock around the lock gives how long this command waited for the chain head.
  const results = await trx.raw<Array<{ rows: Array<{ hash?: string; wait_ms?: number }> }>>(
    `SELECT (extract(epoch FROM clock_timestamp() - l.t0) * 1000)::float8 AS wait_ms
       FROM (SELECT clock_timestamp() AS t0, pg_advisory_xact_lock(${AUDIT_LOCK}) OFFSET 0) l;
     SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1`);
  auditLockStats.appends++;
  auditLockStats.waitMs += Number(results[0]!.rows[0]?.wait_ms ?? 0);
  let prevHash = results[1]!.rows[0]?.hash ?? GENESIS;
  const values = rows.map((row) => {
    const hash = keyedHash(key, prevHash, row);
    const value = {
      ...row,
      before: row.before === null ? null : JSON.stringify(row.before),
      after: row.after === null ? null : JSON.stringify(row.after),
      key_id: key.id,
      prev_hash: prevHash,
      hash,
    };
    prevHash = hash;
    return value;
  });
  // One multi-row VALUES list: ids are drawn in list order, so id order is chain order.
  await trx('audit_log').insert(values);
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
  await writeChain(trx, [toRow({
    actor: 'system', action: SEAL_ACTION, entityType: 'audit_log',
    after: { legacyRows: rows[0]!.n, legacyHead: rows[0]!.hash, keyId: key.id },
  })], key);
}

const SEAL_ACTION = 'audit.chain.keyed';

// ---------------------------------------------------------------------------------------------
// Verifying

export interface AuditBreak {
  id: number;
  reason: string;
}

export interface AuditAnchor {
  id: number;
  hash: string;
  at: string;
  rows: number;
  keyId: string;
  takenAt: string;
  /** HMAC of the other fields: an anchor file altered later, or made with another key, is refused. */
  mac?: string;
}

export interface AuditReport {
  ok: boolean;
  rows: number;
  /** Rows written before the keyed chain (plain SHA-256); the seal row attests how many. */
  legacyRows: number;
  broken: AuditBreak[];
  head: { id: number; hash: string; at: string } | null;
  keyId: string;
}

/** A row as read back: the entry (its time as the driver returns it) with its place in the chain. */
interface StoredRow extends Omit<AuditRow, 'at'> {
  id: number;
  at: Date | string;
  prev_hash: string;
  hash: string;
  key_id: string | null;
}

/** Recompute the whole chain; every row that fails is named (not only the first). */
export async function verifyAuditTrail(db: Db, opts: { anchor?: AuditAnchor; key?: AuditKey } = {}): Promise<AuditReport> {
  const key = opts.key ?? auditKey();
  const broken: AuditBreak[] = [];
  const state = new ChainWalk(key, broken);
  let lastId = 0;
  for (;;) {
    const batch: StoredRow[] = await db('audit_log').where('id', '>', lastId).orderBy('id').limit(5000);
    if (!batch.length) break;
    for (const r of batch) state.visit(r);
    lastId = batch[batch.length - 1]!.id;
  }
  state.finish();
  if (opts.anchor) await checkAnchor(db, key, opts.anchor, broken);
  broken.sort((a, b) => a.id - b.id);
  return { ok: broken.length === 0, rows: state.rows, legacyRows: state.legacyRows, broken, head: state.head, keyId: key.id };
}

class ChainWalk {
  rows = 0;
  legacyRows = 0;
  head: AuditReport['head'] = null;
  private prev: StoredRow | null = null;
  private sealed = false;

  constructor(private key: AuditKey, private broken: AuditBreak[]) {}

  visit(r: StoredRow): void {
    this.rows++;
    const at = new Date(r.at).toISOString();
    const fail = (reason: string) => this.broken.push({ id: r.id, reason });
    if (r.key_id === null) this.visitLegacy(r, at, fail);
    else this.visitKeyed(r, at, fail);
    this.prev = r;
    this.head = { id: r.id, hash: r.hash, at };
  }

  private visitLegacy(r: StoredRow, at: string, fail: (reason: string) => void): void {
    this.legacyRows++;
    if (this.sealed) fail('an unkeyed row after the keyed chain began (written without the key)');
    // Versions before the keyed chain let two appends of one transaction read the same head: such a
    // row shares its predecessor's prev_hash. That is the known defect, not tampering.
    const linked = r.prev_hash === (this.prev?.hash ?? GENESIS) || (this.prev?.key_id === null && r.prev_hash === this.prev.prev_hash);
    if (!linked) fail('prev_hash does not match the previous row (a row before it was removed, or rows were reordered)');
    if (legacyHash(r.prev_hash, rowContent(r, at)) !== r.hash) fail('content does not match its hash (the row was edited)');
  }

  private visitKeyed(r: StoredRow, at: string, fail: (reason: string) => void): void {
    if (!this.sealed) {
      this.sealed = true;
      const attested = r.action === SEAL_ACTION ? (r.after as { legacyRows?: unknown } | null)?.legacyRows : undefined;
      if (attested !== this.legacyRows) {
        fail(attested === undefined
          ? 'the first keyed row is not the seal written by the migration (rows before it were removed or re-written)'
          : `the seal attests ${String(attested)} older unkeyed rows, ${this.legacyRows} are present (rows were removed or added before it)`);
      }
    }
    if (r.prev_hash !== (this.prev?.hash ?? GENESIS)) fail('prev_hash does not match the previous row (a row before it was removed, or rows were reordered)');
    if (r.key_id !== this.key.id) {
      fail(`signed with another key (id ${r.key_id}; this key is ${this.key.id}): re-hashed without the key, or verified with the wrong key`);
    } else if (!sameHex(keyedHash(this.key, r.prev_hash, rowContent(r, at)), r.hash)) {
      fail('content does not match its keyed hash (the row was edited, or re-hashed without the key)');
    }
  }

  finish(): void {
    // The migration that introduced the key wrote the seal row: an empty table means every row went.
    if (this.rows === 0) this.broken.push({ id: 0, reason: 'the audit trail is empty: every row, the seal written by the migration included, was removed' });
    else if (!this.sealed) this.broken.push({ id: this.prev!.id, reason: 'no keyed row at all: the chain was re-written without the key' });
  }
}

async function checkAnchor(db: Db, key: AuditKey, anchor: AuditAnchor, broken: AuditBreak[]): Promise<void> {
  if (anchor.mac !== undefined && !sameHex(anchorMac(key, anchor), anchor.mac)) {
    broken.push({ id: anchor.id, reason: 'the anchor file does not match its MAC (altered, or made with another key)' });
  }
  const row = await db('audit_log').where({ id: anchor.id }).first('hash');
  const { n } = (await db('audit_log').where('id', '<=', anchor.id).count<{ n: string }[]>('* as n').first()) ?? { n: '0' };
  if (!row) {
    const newest = await db('audit_log').max<{ id: number | null }>('id as id').first();
    broken.push({ id: anchor.id, reason: (newest?.id ?? 0) < anchor.id
      ? `the anchored row is missing: rows ${(newest?.id ?? 0) + 1}–${anchor.id} were removed after the anchor of ${anchor.takenAt}`
      : `the anchored row is missing: it was removed after the anchor of ${anchor.takenAt}` });
  } else if (row.hash !== anchor.hash) {
    broken.push({ id: anchor.id, reason: 'the row differs from the anchor: it was replaced after the anchor was taken' });
  }
  if (Number(n) < anchor.rows) {
    broken.push({ id: anchor.id, reason: `${anchor.rows - Number(n)} row(s) up to the anchored row were removed (${anchor.rows} at the anchor, ${n} now)` });
  }
}

/** The head of the chain, to keep outside the database (`duban audit anchor`). */
export async function takeAnchor(db: Db, key: AuditKey = auditKey()): Promise<AuditAnchor | null> {
  const head = await db('audit_log').orderBy('id', 'desc').first('id', 'hash', 'at');
  if (!head) return null;
  const { n } = (await db('audit_log').where('id', '<=', head.id).count<{ n: string }[]>('* as n').first())!;
  const anchor: AuditAnchor = { id: Number(head.id), hash: head.hash, at: new Date(head.at).toISOString(), rows: Number(n), keyId: key.id, takenAt: new Date().toISOString() };
  return { ...anchor, mac: anchorMac(key, anchor) };
}

export function parseAnchor(text: string): AuditAnchor {
  const a = JSON.parse(text) as Partial<AuditAnchor>;
  if (!Number.isInteger(a.id) || typeof a.hash !== 'string' || !Number.isInteger(a.rows)) throw new Error('not a Duban audit anchor (needs id, hash, rows)');
  return a as AuditAnchor;
}

function anchorMac(key: AuditKey, a: AuditAnchor): string {
  const { mac: _mac, ...fields } = a;
  return createHmac('sha256', key.secret).update('duban-audit-anchor\n').update(canonical(fields)).digest('hex');
}

/**
 * Compatible summary for older callers (`GET /api/audit/verify`): `{ ok, rows }`, or the first
 * broken row as `brokenId`/`reason` plus every broken row in `broken`.
 */
export async function verifyAudit(db: Db): Promise<{ ok: true; rows: number } | { ok: false; rows: number; brokenId: number; reason: string; broken: AuditBreak[] }> {
  const r = await verifyAuditTrail(db);
  if (r.ok) return { ok: true, rows: r.rows };
  return { ok: false, rows: r.rows, brokenId: r.broken[0]!.id, reason: r.broken[0]!.reason, broken: r.broken };
}

// ---------------------------------------------------------------------------------------------
// Hashing

function rowContent(r: StoredRow, at: string): AuditRow {
  return { at, actor: r.actor, action: r.action, entity_type: r.entity_type, entity_id: r.entity_id, before: r.before, after: r.after };
}

function keyedHash(key: AuditKey, prevHash: string, row: AuditRow): string {
  return createHmac('sha256', key.secret).update(prevHash).update('\n').update(key.id).update('\n').update(canonical(row)).digest('hex');
}

/** The unkeyed hash of rows written before the keyed chain. */
function legacyHash(prevHash: string, row: AuditRow): string {
  return createHash('sha256').update(prevHash).update('\n').update(canonical(row)).digest('hex');
}

function sameHex(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
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
