import type { Knex } from 'knex';
import type { Db } from '../db/database.js';
import type { WorkflowEngine } from './engine.js';
import { PollingWorkers, type Notifier } from './notifier.js';
import { isRetryable } from './errors.js';

export interface SchedulerOptions {
  pollMs: number;
  concurrency: number;
  /** Timers one claim takes (default 8): fired one after another in one transaction, committed together. */
  batchSize?: number;
  log: (msg: string, err?: unknown) => void;
  /** Observed lag (fire time − due time) of every timer fired here. */
  onFired?: (lagMs: number) => void;
}

interface ClaimedTimer {
  id: number;
  instance_id: string;
  execution_id: string;
  element_id: string;
  due_at: Date;
  lag_ms: number;
}

interface Claim {
  timers: ClaimedTimer[];
  /** ms until the next timer not yet due falls due (null: none), read in the same round trip. */
  nextDueMs: number | null;
}

/** What one round of work did: timers claimed (go on while > 0) and timers fired. */
export interface FireRound {
  claimed: number;
  fired: number;
}

const DEFAULT_BATCH = 8;

/**
 * Fires due timers from the `timers` table. A round claims up to `batchSize` due timers of distinct
 * instances with one SKIP LOCKED query, fires them one after another in that transaction and commits
 * once, so several processes never wait on each other or fire twice, and a process killed mid-way
 * leaves all of its batch for the next claim. `concurrency` rounds run at once, each on its own
 * connection. Failure rule: a firing that throws rolls its whole batch back; a deadlock or
 * serialization failure is simply claimed again, any other error makes each timer of the batch fire
 * alone in its own transaction, where the failing one is pushed back with an incident.
 * Due-ness uses the database clock.
 */
export class TimerScheduler {
  private readonly workers: PollingWorkers;
  private readonly batchSize: number;
  private nextDueMs: number | null = null;

  constructor(private readonly db: Db, private readonly engine: WorkflowEngine, private readonly opts: SchedulerOptions) {
    this.batchSize = Math.max(1, opts.batchSize ?? DEFAULT_BATCH);
    this.workers = new PollingWorkers({
      concurrency: opts.concurrency, pollMs: opts.pollMs, channel: 'duban_timers', log: opts.log, what: 'timer firing',
      step: async () => (await this.fireDue()).claimed > 0,
      // Sleep until the next timer falls due (at most the poll interval), as the last claim read it.
      idleMs: async () => this.idleMs(),
    });
  }

  start(notifier?: Notifier): void {
    this.workers.start(notifier);
  }

  stop(): Promise<void> {
    return this.workers.stop();
  }

  /** Fire due timers until none is left; returns how many fired. For tests and the CLI. */
  async drain(): Promise<number> {
    let fired = 0;
    for (;;) {
      const round = await this.fireDue();
      if (!round.claimed) return fired;
      fired += round.fired;
    }
  }

  /** Fire at most one due timer; false when none was due. */
  async fireOne(): Promise<boolean> {
    return (await this.fireDue(1)).claimed > 0;
  }

  /** One round: claim up to `limit` due timers and fire them in one transaction. */
  async fireDue(limit = this.batchSize): Promise<FireRound> {
    let claimed: ClaimedTimer[] = [];
    try {
      const fired = await this.db.transaction(async (trx) => {
        const claim = await claimDue(trx, limit);
        this.nextDueMs = claim.nextDueMs;
        claimed = claim.timers;
        // A full batch: more is probably due, so idle loops (this process's) join in.
        if (claimed.length === limit && limit > 1) this.workers.wakeAll();
        return this.fireClaimed(trx, claimed);
      });
      for (const t of fired) this.opts.onFired?.(t.lag_ms);
      return { claimed: claimed.length, fired: fired.length };
    } catch (err) {
      if (!claimed.length) throw err;
      // A serialization failure or deadlock rolled the batch back: it is simply claimed again.
      if (isRetryable(err)) return { claimed: claimed.length, fired: 0 };
      if (claimed.length === 1) {
        await this.pushBack(claimed[0]!, err);
        return { claimed: 1, fired: 0 };
      }
      // Which firing failed is unknown once the batch rolled back: each fires alone now.
      let fired = 0;
      for (const t of claimed) fired += (await this.fireAlone(t)) ? 1 : 0;
      return { claimed: claimed.length, fired };
    }
  }

  /** Fire the claimed timers (their instances are locked by this transaction); returns those that fired. */
  private async fireClaimed(trx: Knex.Transaction, claimed: ClaimedTimer[]): Promise<ClaimedTimer[]> {
    if (!claimed.length) return [];
    // Holding the instances, re-read their timers in a fresh snapshot: a command that held an instance
    // a moment ago may have fired, moved or deleted its timer.
    const still = new Set<number>(await trx('timers').whereIn('id', claimed.map((t) => t.id)).andWhere('due_at', '<=', trx.raw('now()')).pluck('id'));
    const fired: ClaimedTimer[] = [];
    for (const t of claimed) {
      if (!still.has(t.id)) continue;
      await this.engine.fireTimer(trx, t);
      fired.push(t);
    }
    return fired;
  }

  /** Fire one timer of a failed batch in its own transaction; on failure push it back with an incident. */
  private async fireAlone(timer: ClaimedTimer): Promise<boolean> {
    try {
      return await this.db.transaction(async (trx) => {
        const locked = await trx.raw<{ rows: unknown[] }>(
          `SELECT 1 FROM process_instances WHERE id = ? AND suspended_at IS NULL FOR UPDATE SKIP LOCKED`, [timer.instance_id]);
        // Another process took it meanwhile, or it was suspended: not ours to fire now.
        if (!locked.rows.length) return false;
        const fired = await this.fireClaimed(trx, [timer]);
        for (const t of fired) this.opts.onFired?.(t.lag_ms);
        return fired.length > 0;
      });
    } catch (err) {
      if (!isRetryable(err)) await this.pushBack(timer, err);
      return false;
    }
  }

  /**
   * The firing rolled back. Keep the timer, push it back and tell an admin: a failing timer must not spin.
   * Another loop or process may have failed on the same timer at the same moment (between a batch's
   * rollback and the push-back it is due and unlocked): the first push-back wins, the others only
   * see it pushed back already, so one failure makes one incident.
   */
  private async pushBack(timer: ClaimedTimer, err: unknown): Promise<void> {
    const pushed = await this.db.transaction(async (trx) => {
      // The UPDATE locks the row and re-checks its condition after a concurrent push-back commits.
      const moved = await trx('timers').where({ id: timer.id }).andWhere('due_at', '<=', trx.raw('now()'))
        .update({ due_at: trx.raw(`now() + interval '1 minute'`) });
      if (!moved) return false;
      await trx('incidents').insert({ instance_id: timer.instance_id, element_id: timer.element_id, kind: 'timer', message: String((err as Error).message ?? err) });
      return true;
    });
    if (pushed) this.opts.log(`timer ${timer.id} on ${timer.instance_id} failed`, err);
  }

  private idleMs(): number {
    const ms = this.nextDueMs;
    if (ms === null) return this.opts.pollMs;
    return Math.max(5, Math.min(ms, this.opts.pollMs));
  }
}

/**
 * Claim up to `limit` due timers of distinct running, unsuspended instances, and read when the next
 * one falls due, in one round trip.
 *
 * Only the instance rows are locked (SKIP LOCKED): every writer of an instance's timers holds that lock
 * first. Locking the timer rows too would take them before the instance; a skipped instance then
 * leaves its timer row locked by this transaction while its own command waits to delete that row — a
 * deadlock as soon as this transaction waits for a lock that command holds (the audit chain's), which
 * turned a task completion into a 500. One timer per instance: the firing command fires every due
 * timer of its instance anyway.
 */
async function claimDue(trx: Knex.Transaction, limit: number): Promise<Claim> {
  const { rows } = await trx.raw<{ rows: Array<{ timers: Array<Omit<ClaimedTimer, 'due_at'> & { due_at: string }>; next_due_ms: number | null }> }>(`
    WITH claimed AS (
      SELECT t.id, t.instance_id, t.execution_id, t.element_id, t.due_at,
             (extract(epoch FROM clock_timestamp() - t.due_at) * 1000)::float8 AS lag_ms
        FROM timers t JOIN process_instances i ON i.id = t.instance_id
       WHERE t.due_at <= now() AND i.suspended_at IS NULL
       ORDER BY t.due_at
       LIMIT ?
         FOR UPDATE OF i SKIP LOCKED
    )
    SELECT (SELECT coalesce(json_agg(claimed ORDER BY due_at), '[]') FROM claimed) AS timers,
           (SELECT (extract(epoch FROM min(due_at) - now()) * 1000)::float8 FROM timers WHERE due_at > now()) AS next_due_ms`,
  [limit]);
  const row = rows[0]!;
  const seen = new Set<string>();
  const timers: ClaimedTimer[] = [];
  for (const t of row.timers) {
    if (seen.has(t.instance_id)) continue;
    seen.add(t.instance_id);
    timers.push({ ...t, due_at: new Date(t.due_at) });
  }
  return { timers, nextDueMs: row.next_due_ms };
}
