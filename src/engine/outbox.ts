import type { Db } from '../db/database.js';
import { DeferDelivery, type ServiceRegistry } from './services.js';
import { PollingWorkers, type Notifier } from './notifier.js';
import { appendAudit } from '../audit/audit.js';

export interface OutboxOptions {
  pollMs: number;
  concurrency: number;
  log: (msg: string, err?: unknown) => void;
  /** Backoff base; attempt n waits base·2^(n−1), capped at an hour. */
  backoffMs?: number;
  /** Write an audit row per delivered message (SMS sent, letter issued). */
  audit?: boolean;
  /** How long an at-most-once attempt may stay "sending" before it is declared lost. */
  sendingLeaseMs?: number;
}

type Trx = Parameters<Parameters<Db['transaction']>[0]>[0];

interface OutboxRow {
  id: number;
  instance_id: string | null;
  element_id: string | null;
  service: string;
  dedup_key: string;
  payload: Record<string, unknown>;
  attempts: number;
  max_attempts: number;
}

/**
 * Delivers outbox rows after their command committed. A row is held with FOR UPDATE SKIP LOCKED
 * while its delivery runs, so no two processes deliver it at once; a process killed mid-delivery
 * releases it and another retries with the same dedup key, which providers use as idempotency key.
 */
export class OutboxDispatcher {
  private readonly workers: PollingWorkers;
  private lastExpiryCheck = 0;

  constructor(private readonly db: Db, private readonly services: ServiceRegistry, private readonly opts: OutboxOptions) {
    this.workers = new PollingWorkers({
      concurrency: opts.concurrency, pollMs: opts.pollMs, channel: 'duban_outbox', log: opts.log, what: 'outbox delivery',
      step: () => this.deliverOne(),
    });
  }

  start(notifier?: Notifier): void {
    this.workers.start(notifier);
  }

  stop(): Promise<void> {
    return this.workers.stop();
  }

  drain(): Promise<number> {
    return this.workers.drain();
  }

  async deliverOne(): Promise<boolean> {
    await this.expireLostAttempts();
    const claimed = await this.db.transaction(async (trx) => {
      const row: OutboxRow | undefined = await trx('outbox')
        .where({ status: 'pending' }).andWhere('next_attempt_at', '<=', trx.raw('now()'))
        .orderBy('next_attempt_at').limit(1).forUpdate().skipLocked().first();
      if (!row) return { row: undefined, delivered: false };
      if (this.services.deliveryMode(row.service) === 'atMostOnce') {
        // Commit the attempt first: after a crash this row says "sending", never "pending".
        await trx('outbox').where({ id: row.id }).update({ status: 'sending', sending_since: trx.raw('now()'), attempts: row.attempts + 1 });
        return { row, delivered: false };
      }
      await this.attempt(trx, row);
      return { row, delivered: true };
    });
    if (claimed.row && !claimed.delivered) {
      await this.db.transaction(async (trx) => {
        const row = await trx('outbox').where({ id: claimed.row!.id, status: 'sending' }).forUpdate().first();
        if (row) await this.attempt(trx, { ...row, attempts: row.attempts - 1 });
      });
    }
    return !!claimed.row;
  }

  /** Deliver one row inside `trx`, then record success, deferral or failure. */
  private async attempt(trx: Trx, row: OutboxRow): Promise<void> {
    const attempt = row.attempts + 1;
    const deliver = this.services.delivery(row.service);
    try {
      if (!deliver) throw new Error(`no delivery is registered for "${row.service}"`);
      const result = await deliver(row.payload, { dedupKey: row.dedup_key, outboxId: row.id, attempt });
      await trx('outbox').where({ id: row.id }).update({
        status: 'sent', attempts: attempt, sent_at: trx.raw('now()'), result: JSON.stringify(result ?? {}), last_error: null, sending_since: null,
        provider_ref: typeof result?.providerId === 'string' ? result.providerId : null,
        provider_status: typeof result?.status === 'string' ? result.status : null,
      });
      if (this.opts.audit) {
        await appendAudit(trx, { actor: 'system', action: `${row.service}.sent`, entityType: 'outbox', entityId: String(row.id),
          after: { dedupKey: row.dedup_key, instanceId: row.instance_id, payload: row.payload, result: result ?? {} } });
      }
      if (row.instance_id) {
        await trx('history').insert({ instance_id: row.instance_id, kind: 'outbox.delivered', element_id: row.element_id, data: JSON.stringify({ outboxId: row.id, service: row.service, dedupKey: row.dedup_key, result: result ?? {} }) });
      }
    } catch (err) {
      if (err instanceof DeferDelivery) {
        await trx('outbox').where({ id: row.id }).update({ status: 'pending', attempts: row.attempts, sending_since: null, last_error: `deferred: ${err.message}`, next_attempt_at: err.until });
        return;
      }
      if (this.services.deliveryMode(row.service) === 'atMostOnce' && outcomeUnknown(err)) {
        // No answer from the provider (timeout, connection reset): it may have sent it. Never guess.
        await trx('outbox').where({ id: row.id }).update({ status: 'failed', attempts: attempt, last_error: `outcome unknown: ${String((err as Error).message)}`, sending_since: null });
        await trx('incidents').insert({
          instance_id: row.instance_id, outbox_id: row.id, element_id: row.element_id, kind: 'delivery',
          message: `${row.service}: outcome unknown (${String((err as Error).message)}); check the provider before retrying (never resent automatically)`,
        });
        return;
      }
      await this.recordFailure(trx, row, attempt, err, !deliver || (err as { permanent?: unknown }).permanent === true);
    }
  }

  /**
   * An at-most-once attempt still "sending" after the lease belongs to a process that died
   * mid-delivery: the provider may or may not have sent it, so an admin decides (incident).
   */
  private async expireLostAttempts(): Promise<void> {
    const leaseMs = this.opts.sendingLeaseMs ?? 120_000;
    if (Date.now() - this.lastExpiryCheck < Math.min(leaseMs / 4, 10_000)) return;
    this.lastExpiryCheck = Date.now();
    await this.db.transaction(async (trx) => {
      const lost: OutboxRow[] = await trx('outbox').where({ status: 'sending' })
        .andWhere('sending_since', '<', trx.raw(`now() - (? || ' milliseconds')::interval`, [String(leaseMs)]))
        .forUpdate().skipLocked().limit(20);
      for (const row of lost) {
        await trx('outbox').where({ id: row.id }).update({ status: 'failed', last_error: 'the sending process stopped mid-delivery; outcome unknown' });
        await trx('incidents').insert({
          instance_id: row.instance_id, outbox_id: row.id, element_id: row.element_id, kind: 'delivery',
          message: `${row.service}: outcome unknown after a crash during delivery; check the provider before retrying (never resent automatically)`,
        });
      }
    });
  }

  private async recordFailure(trx: Trx, row: OutboxRow, attempt: number, err: unknown, permanent: boolean): Promise<void> {
    const message = String((err as Error)?.message ?? err);
    if (attempt >= row.max_attempts || permanent) {
      await trx('outbox').where({ id: row.id }).update({ status: 'failed', attempts: attempt, last_error: message, sending_since: null });
      await trx('incidents').insert({
        instance_id: row.instance_id, outbox_id: row.id, element_id: row.element_id, kind: 'delivery',
        message: `${row.service} failed after ${attempt} attempt(s): ${message}`,
      });
      this.opts.log(`outbox ${row.id} (${row.service}) failed for good: ${message}`);
      return;
    }
    const delay = Math.min(3_600_000, (this.opts.backoffMs ?? 1000) * 2 ** (attempt - 1));
    await trx('outbox').where({ id: row.id }).update({
      status: 'pending', attempts: attempt, last_error: message, sending_since: null,
      next_attempt_at: trx.raw(`now() + (? || ' milliseconds')::interval`, [String(delay)]),
    });
  }
}

/**
 * A provider error without an HTTP status means the request may have arrived: the outcome is unknown.
 * Deliveries mark errors they know to be definite with `httpStatus` (the provider answered) or `definite`.
 */
function outcomeUnknown(err: unknown): boolean {
  const e = err as { httpStatus?: unknown; definite?: unknown; name?: unknown };
  return e?.name === 'SmsSendError' && typeof e.httpStatus !== 'number' && e.definite !== true;
}

/**
 * A provider's delivery report (e.g. Twilio's status callback) for an outbox row: records the status
 * and settles a row whose sender died mid-delivery, since the provider evidently sent it.
 */
export async function recordProviderStatus(db: Db, outboxId: number, providerRef: string | null, status: string): Promise<boolean> {
  return db.transaction(async (trx) => {
    const row = await trx('outbox').where({ id: outboxId }).forUpdate().first();
    if (!row) return false;
    const settle = row.status === 'sending' || (row.status === 'failed' && /outcome unknown/.test(row.last_error ?? ''));
    await trx('outbox').where({ id: outboxId }).update({
      provider_status: status, provider_ref: providerRef ?? row.provider_ref,
      ...(settle ? { status: 'sent', sent_at: trx.raw('now()'), sending_since: null, last_error: null } : {}),
    });
    if (settle) {
      await trx('incidents').where({ outbox_id: outboxId, status: 'open' }).update({ status: 'resolved', resolved_at: trx.raw('now()'), resolved_by: 'provider-callback' });
    }
    await appendAudit(trx, { actor: 'provider', action: `${row.service}.status`, entityType: 'outbox', entityId: String(outboxId), before: { providerStatus: row.provider_status }, after: { providerStatus: status, providerRef } });
    return true;
  });
}

/** Put a failed delivery back in the queue and resolve its incident. */
export async function retryIncident(db: Db, incidentId: number, actor: string | null): Promise<{ retried: boolean; kind: string }> {
  return db.transaction(async (trx) => {
    const inc = await trx('incidents').where({ id: incidentId }).forUpdate().first();
    if (!inc) return { retried: false, kind: 'missing' };
    if (inc.status !== 'open') return { retried: false, kind: inc.kind };
    if (inc.kind === 'delivery' && inc.outbox_id) {
      await trx('outbox').where({ id: inc.outbox_id }).update({ status: 'pending', attempts: 0, next_attempt_at: trx.raw('now()') });
      await trx.raw(`SELECT pg_notify('duban_outbox', '')`);
    } else if (inc.kind === 'timer') {
      await trx('timers').where({ instance_id: inc.instance_id, element_id: inc.element_id }).update({ due_at: trx.raw('now()') });
    } else {
      return { retried: false, kind: inc.kind };
    }
    await trx('incidents').where({ id: incidentId }).update({ status: 'resolved', resolved_at: trx.raw('now()'), resolved_by: actor });
    await appendAudit(trx, { actor, action: 'incident.retried', entityType: 'incident', entityId: String(incidentId), before: { status: 'open' }, after: { status: 'resolved' } });
    if (inc.instance_id) {
      await trx('history').insert({ instance_id: inc.instance_id, kind: 'incident.retried', actor, data: JSON.stringify({ incidentId }) });
    }
    return { retried: true, kind: inc.kind };
  });
}
