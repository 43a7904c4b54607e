import type { Db } from '../db/database.js';
import type { WorkflowEngine } from './engine.js';
import { PollingWorkers, type Notifier } from './notifier.js';
import { isRetryable } from './errors.js';

export interface SchedulerOptions {
  pollMs: number;
  concurrency: number;
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

/**
 * Fires due timers from the `timers` table. Each firing is one transaction that claims the timer
 * and its instance with SKIP LOCKED, so several processes never wait on each other or fire twice,
 * and a process killed mid-way leaves the timer for the next claim. Due-ness uses the database clock.
 */
export class TimerScheduler {
  private readonly workers: PollingWorkers;

  constructor(private readonly db: Db, private readonly engine: WorkflowEngine, private readonly opts: SchedulerOptions) {
    this.workers = new PollingWorkers({
      concurrency: opts.concurrency, pollMs: opts.pollMs, channel: 'duban_timers', log: opts.log, what: 'timer firing',
      step: () => this.fireOne(),
      // Sleep until the next timer falls due (at most the poll interval).
      idleMs: () => this.msUntilNextDue(),
    });
  }

  start(notifier?: Notifier): void {
    this.workers.start(notifier);
  }

  stop(): Promise<void> {
    return this.workers.stop();
  }

  /** Fire due timers until none is left; for tests and the CLI. */
  drain(): Promise<number> {
    return this.workers.drain();
  }

  async fireOne(): Promise<boolean> {
    let claimed: ClaimedTimer | undefined;
    try {
      return await this.db.transaction(async (trx) => {
        // Only the instance row is locked (SKIP LOCKED): every writer of an instance's timers holds
        // that lock first. Locking the timer row too would take it before the instance; a skipped
        // instance then leaves its timer row locked by this transaction while its own command waits
        // to delete that row — a deadlock as soon as this transaction waits for a lock that command holds
        // (the audit chain's), which turned a task completion into a 500.
        const { rows } = await trx.raw<{ rows: ClaimedTimer[] }>(`
          SELECT t.id, t.instance_id, t.execution_id, t.element_id, t.due_at,
                 (extract(epoch FROM clock_timestamp() - t.due_at) * 1000)::float8 AS lag_ms
            FROM timers t JOIN process_instances i ON i.id = t.instance_id
           WHERE t.due_at <= now() AND i.suspended_at IS NULL
           ORDER BY t.due_at
           LIMIT 1
             FOR UPDATE OF i SKIP LOCKED`);
        const candidate = rows[0];
        if (!candidate) return false;
        // Holding the instance, re-read its timer in a fresh snapshot: the command that held the
        // instance a moment ago may have fired, moved or deleted it.
        const still = await trx('timers').where({ id: candidate.id }).andWhere('due_at', '<=', trx.raw('now()')).forUpdate().first('id');
        if (!still) return true;
        claimed = candidate;
        await this.engine.fireTimer(trx, claimed);
        this.opts.onFired?.(claimed.lag_ms);
        return true;
      });
    } catch (err) {
      if (!claimed) throw err;
      // A serialization failure or deadlock rolled the firing back: it is simply claimed again.
      if (isRetryable(err)) return true;
      // The firing rolled back. Keep the timer, push it back and tell an admin: a failing timer must not spin.
      this.opts.log(`timer ${claimed.id} on ${claimed.instance_id} failed`, err);
      const failed = claimed;
      await this.db.transaction(async (trx) => {
        await trx('timers').where({ id: failed.id }).update({ due_at: trx.raw(`now() + interval '1 minute'`) });
        await trx('incidents').insert({ instance_id: failed.instance_id, element_id: failed.element_id, kind: 'timer', message: String((err as Error).message ?? err) });
      });
      return true;
    }
  }

  private async msUntilNextDue(): Promise<number> {
    const r = await this.db.raw<{ rows: Array<{ ms: number | null }> }>(
      `SELECT (extract(epoch FROM min(due_at) - now()) * 1000)::float8 AS ms FROM timers`);
    const ms = r.rows[0]?.ms;
    if (ms === null || ms === undefined) return this.opts.pollMs;
    return Math.max(5, Math.min(ms, this.opts.pollMs));
  }
}
