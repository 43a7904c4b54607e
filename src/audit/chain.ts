import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { loadConfig } from '../config.js';
import { loadAuditKey, type AuditKey } from './key.js';

/** The keyed hash chain of `audit_log`: what a row is, how it is hashed, and the key that signs it. */

export const GENESIS = '0'.repeat(64);
/** The chain-head lock: the sealer's, and the migration's that wrote the first keyed row. */
export const AUDIT_LOCK = 0x6475_6261; // "duba"

export interface AuditRow {
  at: string;
  actor: string | null;
  action: string;
  entity_type: string;
  entity_id: string | null;
  before: unknown;
  after: unknown;
}

/** A row as read back: the entry (its time as the driver returns it) with its place in the chain. */
export interface StoredRow extends Omit<AuditRow, 'at'> {
  id: number;
  at: Date | string;
  prev_hash: string;
  hash: string;
  key_id: string | null;
}

/** The first keyed row, written by the migration that introduced the key. */
export const SEAL_ACTION = 'audit.chain.keyed';

let currentKey: AuditKey | undefined;

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
// Hashing

/** What is hashed: the entry's fields, its time as ISO text (a chain row's or a queued entry's). */
export function rowContent(r: Omit<StoredRow, 'id' | 'prev_hash' | 'hash' | 'key_id'>, at: string): AuditRow {
  return { at, actor: r.actor, action: r.action, entity_type: r.entity_type, entity_id: r.entity_id, before: r.before, after: r.after };
}

export function keyedHash(key: AuditKey, prevHash: string, row: AuditRow): string {
  return createHmac('sha256', key.secret).update(prevHash).update('\n').update(key.id).update('\n').update(canonical(row)).digest('hex');
}

/** The unkeyed hash of rows written before the keyed chain. */
export function legacyHash(prevHash: string, row: AuditRow): string {
  return createHash('sha256').update(prevHash).update('\n').update(canonical(row)).digest('hex');
}

export function sameHex(a: string, b: string): boolean {
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
export function normalize(v: unknown): unknown {
  if (v === undefined || v === null) return null;
  return JSON.parse(JSON.stringify(v));
}
