import type { FastifyInstance, FastifyRequest, preValidationHookHandler } from 'fastify';
import formbody from '@fastify/formbody';
import { Type } from '@sinclair/typebox';
import twilio from 'twilio';
import type { Db } from '../db/database.js';
import { recordProviderStatus } from '../engine/outbox.js';
import { appendAudit } from '../audit/audit.js';
import { renderTemplate } from '../notify/sms.js';
import { NotFoundError } from '../engine/errors.js';
import { sendProblem } from './problem.js';
import { pageOf, paginate, pagingQuery, Uuid, Nullable, iso } from './paging.js';

export interface SmsRoutesOptions {
  db: Db;
  /** Twilio's auth token signs every callback; without it no callback is accepted. */
  authToken?: string | null;
  /**
   * Duban's public URL as Twilio sees it (DUBAN_PUBLIC_URL), without a trailing slash; the signed URL is
   * this plus the request's path and query. Unset: the request's own scheme and Host header.
   */
  publicUrl?: string | null;
  log?: (msg: string) => void;
}

/** Twilio message statuses after which nothing further happens to the message. */
const FINAL = new Set(['delivered', 'undelivered', 'failed', 'read', 'canceled']);
const NOT_DELIVERED = new Set(['undelivered', 'failed']);

export type StatusOutcome = 'recorded' | 'failed' | 'stale' | 'missing';

/**
 * A delivery report for an SMS outbox row. Records the provider status (settling a row whose sender
 * died mid-delivery), ignores a report that would step back from a final status or belongs to an
 * earlier message of the row (a resend after retry has a new SID), and turns "undelivered"/"failed"
 * into a failed row with an incident an admin can retry. All in one transaction.
 */
export async function applySmsStatus(db: Db, outboxId: number, providerRef: string | null, status: string, errorCode: string | null): Promise<StatusOutcome> {
  return db.transaction(async (trx) => {
    const row = await trx('outbox').where({ id: outboxId, service: 'sms' }).forUpdate().first();
    if (!row) return 'missing';
    if (providerRef && row.provider_ref && row.provider_ref !== providerRef) return 'stale';
    if (row.provider_status && FINAL.has(row.provider_status) && !FINAL.has(status)) return 'stale';
    await recordProviderStatus(trx, outboxId, providerRef, status);
    if (!NOT_DELIVERED.has(status)) return 'recorded';
    // Only a message that counts as sent can fail now (not one already failed, or queued again by a retry).
    const now = await trx('outbox').where({ id: outboxId }).first('status');
    if (now?.status !== 'sent') return 'recorded';
    const reason = `the provider reported the message ${status}${errorCode ? ` (error ${errorCode})` : ''}`;
    await trx('outbox').where({ id: outboxId }).update({ status: 'failed', last_error: reason, sending_since: null });
    const open = await trx('incidents').where({ outbox_id: outboxId, status: 'open' }).first('id');
    if (!open) {
      await trx('incidents').insert({
        instance_id: row.instance_id, outbox_id: outboxId, element_id: row.element_id, kind: 'delivery',
        message: `sms to ${String(row.payload?.to ?? '')}: ${reason}; retrying sends it again`,
      });
    }
    await appendAudit(trx, { actor: 'provider', action: 'sms.failed', entityType: 'outbox', entityId: String(outboxId),
      before: { status: row.status }, after: { status: 'failed', providerStatus: status, errorCode } });
    return 'failed';
  });
}


const SmsRow = Type.Object({
  id: Type.Integer(), instanceId: Nullable(Type.String()), elementId: Nullable(Type.String()),
  to: Type.String(), template: Type.String(), vars: Type.Record(Type.String(), Type.String()), text: Nullable(Type.String()),
  status: Type.String(), provider: Nullable(Type.String()), providerRef: Nullable(Type.String()), providerStatus: Nullable(Type.String()),
  attempts: Type.Integer(), maxAttempts: Type.Integer(), lastError: Nullable(Type.String()),
  nextAttemptAt: Type.String(), createdAt: Type.String(), sentAt: Nullable(Type.String()),
});

const StatusStr = Type.Union(['pending', 'sending', 'sent', 'failed'].map((s) => Type.Literal(s)));

/** Twilio's delivery reports (signed) and the SMS log. */
export async function smsRoutes(app: FastifyInstance, opts: SmsRoutesOptions) {
  const { db } = opts;
  const log = opts.log ?? ((m: string) => app.log.info(m));
  // Twilio posts form bodies; the parser stays inside this plugin.
  await app.register(formbody, { bodyLimit: 64 * 1024 });

  const signedUrl = (req: FastifyRequest) => `${(opts.publicUrl || `${req.protocol}://${req.host}`).replace(/\/+$/, '')}${req.url}`;

  // Before validation: an unsigned request learns nothing about what a valid body looks like.
  const verifySignature: preValidationHookHandler = async (req, reply) => {
    const signature = req.headers['x-twilio-signature'];
    const params = (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, unknown>;
    const ok = !!opts.authToken && typeof signature === 'string' && signature.length > 0
      && twilio.validateRequest(opts.authToken, signature, signedUrl(req), params);
    if (!ok) {
      log(`sms status callback refused: ${signature ? 'bad' : 'missing'} X-Twilio-Signature for ${req.url}`);
      return sendProblem(reply, 403, 'forbidden', opts.authToken ? 'missing or invalid X-Twilio-Signature' : 'status callbacks are not configured (no TWILIO_AUTH_TOKEN)');
    }
  };

  app.post('/api/sms/status', {
    schema: {
      tags: ['sms'], summary: 'Twilio delivery status callback (signed with X-Twilio-Signature)',
      consumes: ['application/x-www-form-urlencoded'],
      querystring: Type.Object({ outbox: Type.Integer({ minimum: 1, maximum: 2 ** 53 }) }),
      body: Type.Object({
        MessageSid: Type.String({ minLength: 1, maxLength: 64 }),
        MessageStatus: Type.String({ minLength: 1, maxLength: 32 }),
        ErrorCode: Type.Optional(Type.String({ maxLength: 16 })),
      }, { additionalProperties: true }),
      response: { 204: Type.Null() },
    },
    config: { access: { public: true } },
    preValidation: verifySignature,
  }, async (req, reply) => {
    const { outbox } = req.query as { outbox: number };
    const body = req.body as { MessageSid: string; MessageStatus: string; ErrorCode?: string };
    const outcome = await applySmsStatus(db, outbox, body.MessageSid, body.MessageStatus, body.ErrorCode || null);
    if (outcome === 'missing') throw new NotFoundError('SMS outbox row', String(outbox));
    if (outcome === 'stale') log(`sms status ${body.MessageStatus} for ${body.MessageSid} (outbox ${outbox}) ignored: out of order or for an earlier message`);
    return reply.code(204).send();
  });

  app.get('/api/sms', {
    schema: {
      tags: ['sms'], summary: 'The SMS log: every message, its delivery attempts and the provider status',
      querystring: pagingQuery(['createdAt', 'sentAt'], {
        status: Type.Optional(StatusStr), instanceId: Type.Optional(Uuid), to: Type.Optional(Type.String({ maxLength: 32 })),
      }),
      response: { 200: pageOf(SmsRow) },
    },
    config: { access: { roles: ['admin', 'inspector'], scope: 'read' } },
  }, async (req) => {
    const q = req.query as { status?: string; instanceId?: string; to?: string };
    const query = db('outbox').select('*').where({ service: 'sms' });
    if (q.status) query.where('status', q.status);
    if (q.instanceId) query.where('instance_id', q.instanceId);
    if (q.to) query.whereRaw(`payload->>'to' = ?`, [q.to]);
    return paginate(query, req.query as object, { createdAt: 'created_at', sentAt: 'sent_at', id: 'id' }, 'createdAt', (r) => {
      const payload = (r.payload ?? {}) as { to?: unknown; template?: unknown; vars?: Record<string, string> };
      const result = (r.result ?? {}) as { text?: unknown; provider?: unknown };
      const vars = payload.vars ?? {};
      return {
        id: Number(r.id), instanceId: (r.instance_id as string) ?? null, elementId: (r.element_id as string) ?? null,
        to: String(payload.to ?? ''), template: String(payload.template ?? ''), vars,
        text: typeof result.text === 'string' ? result.text : renderOrNull(String(payload.template ?? ''), vars),
        status: String(r.status), provider: typeof result.provider === 'string' ? result.provider : null,
        providerRef: (r.provider_ref as string) ?? null, providerStatus: (r.provider_status as string) ?? null,
        attempts: Number(r.attempts), maxAttempts: Number(r.max_attempts), lastError: (r.last_error as string) ?? null,
        nextAttemptAt: iso(r.next_attempt_at)!, createdAt: iso(r.created_at)!, sentAt: iso(r.sent_at),
      };
    });
  });
}

function renderOrNull(template: string, vars: Record<string, string>): string | null {
  try {
    return renderTemplate(template, vars);
  } catch {
    return null;
  }
}
