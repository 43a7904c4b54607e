import { createHmac } from 'node:crypto';
import type { Db } from '../db/database.js';
import type { AuditKey } from './key.js';
import { auditKey, canonical, GENESIS, keyedHash, legacyHash, rowContent, sameHex, SEAL_ACTION, type StoredRow } from './chain.js';
import { sealAudit } from './seal.js';

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
  /**
   * Committed entries still queued for the chain: those of transactions newer than one still open
   * (they are sealed when it ends), or all of them when this key is not the one signing the chain.
   */
  queued: number;
}

/** Recompute the whole chain; every row that fails is named (not only the first). */
export async function verifyAuditTrail(db: Db, opts: { anchor?: AuditAnchor; key?: AuditKey; settleMs?: number } = {}): Promise<AuditReport> {
  const key = opts.key ?? auditKey();
  const queued = await sealBeforeVerify(db, key, opts);
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
  return { ok: broken.length === 0, rows: state.rows, legacyRows: state.legacyRows, broken, head: state.head, keyId: key.id, queued };
}

/**
 * Seal what the server's sealer has not yet, so the check covers every committed entry; but only with
 * the key that signs the chain (a verify run with a wrong key must not write rows signed with it).
 */
async function sealBeforeVerify(db: Db, key: AuditKey, opts: { settleMs?: number }): Promise<number> {
  const head = await db('audit_log').whereNotNull('key_id').orderBy('id', 'desc').first('key_id');
  if (head?.key_id === key.id) return (await sealAudit(db, { key, settleMs: opts.settleMs ?? 2000 })).unsealed;
  const { rows } = await db.raw<{ rows: Array<{ n: number }> }>('SELECT count(*)::int AS n FROM audit_queue');
  return rows[0]!.n;
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

