import type { Knex } from 'knex';
import type pg from 'pg';
import type { Db } from '../db/database.js';
import { withPooledConnection } from '../db/prepared.js';
import type { AuditKey } from './key.js';
import { AUDIT_LOCK, auditKey, GENESIS, keyedHash, rowContent, type StoredRow } from './chain.js';

/**
 * Sealing: linking queued audit entries (`audit_queue`, written by commands without a lock) into the
 * keyed chain `audit_log`. One sealer at a time holds the chain-head lock; it takes the entries of
 * transactions older than every transaction still running (their order is final), in transaction-id
 * order, hashes them with the key and hands ids and hashes to `duban_audit_seal`, which checks they are
 * exactly the oldest sealable entries and moves them (migration 20261202000000_audit_queue).
 */

const BATCH = 500;

/** This process's sealing, for the benchmark: rounds, entries sealed, and how long after their commit. */
export const auditSealStats = { rounds: 0, sealed: 0, busy: 0, lagMsSum: 0, lagMsMax: 0 };

export interface SealRound {
  /** Another process held the chain-head lock (only when not waiting for it). */
  busy: boolean;
  sealed: number;
  /** Entries left in the queue after this round: newer than a running transaction, or past the batch. */
  left: number;
}

interface QueuedRow extends Omit<StoredRow, 'prev_hash' | 'hash' | 'key_id'> {}

/**
 * Seal one batch in one transaction of two round trips on a connection of the pool: the lock and
 * the read, then the move and COMMIT. Both use the simple protocol (several statements, no
 * parameters): the second one inlines only numbers and hex strings this function made or checked.
 */
export async function sealRound(db: Db, opts: { wait?: boolean; key?: AuditKey } = {}): Promise<SealRound> {
  const key = opts.key ?? auditKey();
  return withPooledConnection(db, async (conn) => {
    try {
      return await sealOn(conn, key, opts.wait ?? false);
    } catch (err) {
      await conn.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  });
}

async function sealOn(conn: pg.ClientBase, key: AuditKey, wait: boolean): Promise<SealRound> {
  const read = await conn.query(readSql(wait)) as unknown as pg.QueryResult[];
  if (!read[1]!.rows[0]!.ok) {
    await conn.query('ROLLBACK');
    auditSealStats.busy++;
    return { busy: true, sealed: 0, left: -1 };
  }
  const queued = read[2]!.rows as QueuedRow[];
  const head = (read[3]!.rows[0]?.hash as string | undefined) ?? GENESIS;
  const waiting = Number(read[4]!.rows[0]!.n);
  if (!queued.length) {
    await conn.query('COMMIT');
    return { busy: false, sealed: 0, left: waiting };
  }
  let prev = head;
  const hashes = queued.map((r) => (prev = keyedHash(key, prev, rowContent(r, new Date(r.at).toISOString()))));
  await conn.query(`SELECT duban_audit_seal('{${queued.map((r) => integer(r.id)).join(',')}}'::bigint[],
    '{${hashes.map(hex).join(',')}}'::text[], '${hex(head)}', '${hex(key.id)}'); COMMIT`);
  countRound(queued);
  return { busy: false, sealed: queued.length, left: waiting - queued.length };
}

/**
 * BEGIN, the chain-head lock, then the oldest sealable entries, the head, and how many entries wait
 * in all (capped: only "more than a batch" matters). The reads are statements of their own, so their
 * snapshots are taken after the lock and see what the previous holder committed. Each reads only
 * while this transaction holds the lock (a held advisory lock is taken again at once; the InitPlan
 * runs once): a round that found another process sealing reads nothing.
 */
function readSql(wait: boolean): string {
  const held = `(SELECT pg_try_advisory_xact_lock(${AUDIT_LOCK}))`;
  return `BEGIN;
    ${wait ? `SELECT true AS ok FROM (SELECT pg_advisory_xact_lock(${AUDIT_LOCK})) l` : `SELECT pg_try_advisory_xact_lock(${AUDIT_LOCK}) AS ok`};
    SELECT id, at, actor, action, entity_type, entity_id, before, after FROM audit_queue
     WHERE ${held} AND xid < pg_snapshot_xmin(pg_current_snapshot())
     ORDER BY xid, id LIMIT ${BATCH};
    SELECT hash FROM audit_log WHERE ${held} ORDER BY id DESC LIMIT 1;
    SELECT count(*)::int AS n FROM (SELECT 1 FROM audit_queue WHERE ${held} LIMIT ${BATCH * 2}) q`;
}

function integer(v: unknown): string {
  if (!Number.isSafeInteger(v)) throw new Error(`audit seal: queue id ${String(v)} is not an integer`);
  return String(v);
}

function hex(v: string): string {
  if (!/^[0-9a-f]+$/.test(v)) throw new Error('audit seal: a hash or key id is not lowercase hex');
  return v;
}

function countRound(queued: QueuedRow[]): void {
  const now = Date.now();
  auditSealStats.rounds++;
  auditSealStats.sealed += queued.length;
  for (const r of queued) {
    const lag = now - new Date(r.at).getTime();
    auditSealStats.lagMsSum += lag;
    auditSealStats.lagMsMax = Math.max(auditSealStats.lagMsMax, lag);
  }
}

/**
 * Seal everything that can be sealed, waiting for the lock (verify, the CLI, shutdown). Entries that
 * must wait for an older transaction still open (in any database of the server: transaction ids are
 * server-wide) are retried for up to `settleMs`; returns how many still wait after that.
 */
export async function sealAudit(db: Db, opts: { key?: AuditKey; settleMs?: number } = {}): Promise<{ sealed: number; unsealed: number }> {
  const deadline = performance.now() + (opts.settleMs ?? 0);
  let sealed = 0;
  for (;;) {
    const round = await sealRound(db, { wait: true, ...(opts.key ? { key: opts.key } : {}) });
    sealed += round.sealed;
    if (round.sealed === BATCH) continue;
    if (round.left <= 0 || performance.now() >= deadline) return { sealed, unsealed: Math.max(0, round.left) };
    await new Promise((resolve) => setTimeout(resolve, SETTLE_STEP_MS));
  }
}

const SETTLE_STEP_MS = 20;

/**
 * The background sealer of one database handle: woken after every commit that queued entries. While
 * a round runs, further wake-ups make one more round; entries it could not seal yet (another process
 * was sealing, or an older transaction is still open) are retried with a growing delay.
 */
export class AuditSealer {
  private running: Promise<void> | undefined;
  private again = false;
  private retry: NodeJS.Timeout | undefined;
  private delayMs = RETRY_MIN_MS;
  private closed = false;
  private lastError = '';
  private woken = false;

  constructor(private db: Db, private log: (msg: string) => void = (m) => console.error(m)) {}

  wake(): void {
    if (this.closed) return;
    this.woken = true;
    if (this.running) {
      this.again = true;
      return;
    }
    // A retry is scheduled (another process is sealing, or entries wait for an open transaction): it
    // runs the next round; rounds on every commit meanwhile would only find the lock taken again.
    if (this.retry) return;
    this.running = this.rounds().finally(() => (this.running = undefined));
  }

  /** Wait for a running round, then seal what can be sealed (a CLI command's own entries included). */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    await this.running;
    if (!this.woken) return;
    try {
      await sealAudit(this.db, { settleMs: 2000 });
    } catch (err) {
      this.report(err);
    }
  }

  private async rounds(): Promise<void> {
    for (;;) {
      this.again = false;
      const round = await this.round();
      if (round?.sealed === BATCH) continue;
      if (round && !round.busy && round.sealed > 0) this.delayMs = RETRY_MIN_MS;
      // No progress (busy, blocked, failed): back off, doubling. Progress with more waiting: soon again.
      if (!round || round.busy || round.left > 0) return this.later();
      this.delayMs = RETRY_MIN_MS;
      if (!this.again || this.closed) return;
    }
  }

  private async round(): Promise<SealRound | undefined> {
    try {
      const round = await sealRound(this.db);
      this.lastError = '';
      return round;
    } catch (err) {
      this.report(err);
      return undefined;
    }
  }

  private later(): void {
    if (this.closed) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.wake();
    }, this.delayMs);
    this.retry.unref();
    this.delayMs = Math.min(this.delayMs * 2, RETRY_MAX_MS);
  }

  private report(err: unknown): void {
    const msg = `audit sealer: ${(err as Error).message ?? String(err)}`;
    if (msg !== this.lastError) this.log(msg);
    this.lastError = msg;
  }
}

const RETRY_MIN_MS = 20;
const RETRY_MAX_MS = 1000;

// One sealer per database handle; a transaction finds its handle's by the knex config they share.
const sealers = new WeakMap<object, AuditSealer>();

/** createDb attaches a sealer to every handle; destroying the handle first seals what it queued. */
export function attachAuditSealer(db: Db): AuditSealer {
  const sealer = new AuditSealer(db);
  sealers.set(db.client.config as object, sealer);
  const destroy = db.destroy.bind(db);
  // knex defines destroy as a non-writable (but configurable) property.
  Object.defineProperty(db, 'destroy', {
    configurable: true,
    value: async () => {
      await sealer.close();
      return destroy();
    },
  });
  return sealer;
}

/** After a commit that queued entries (src/audit/audit.ts). */
export function wakeSealerOf(trx: Knex.Transaction): void {
  sealers.get(trx.client.config as object)?.wake();
}

export function sealerOf(db: Db): AuditSealer | undefined {
  return sealers.get(db.client.config as object);
}
