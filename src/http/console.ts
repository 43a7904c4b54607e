import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Db } from '../db/database.js';
import { Nullable, iso, pageOf } from './paging.js';

/** The operations console's read-only views that no other route gives: timers falling due soon, and the SMS backlog at a glance. */
export async function consoleRoutes(app: FastifyInstance, opts: { db: Db }) {
  const { db } = opts;

  const Timer = Type.Object({
    id: Type.Integer(), instanceId: Type.String(), elementId: Type.String(), timerType: Nullable(Type.String()), definition: Nullable(Type.String()),
    dueAt: Type.String(), processKey: Type.String(), businessKey: Nullable(Type.String()), instanceStatus: Type.String(), caseNumber: Nullable(Type.String()),
  });

  app.get('/api/timers', {
    schema: {
      tags: ['operations'], summary: 'Timers due within the next hours (overdue ones first), soonest first',
      querystring: Type.Object({
        withinHours: Type.Optional(Type.Integer({ minimum: 1, maximum: 24 * 60, default: 24 })),
        page: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000, default: 1 })),
        pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 20 })),
      }, { additionalProperties: false }),
      response: { 200: pageOf(Timer) },
    },
    config: { access: { roles: ['admin'], scope: 'admin' } },
  }, async (req) => {
    const q = req.query as { withinHours?: number; page?: number; pageSize?: number };
    const page = q.page ?? 1;
    const pageSize = q.pageSize ?? 20;
    const base = db('timers as t').join('process_instances as i', 'i.id', 't.instance_id').leftJoin('cases as c', 'c.id', 't.instance_id')
      .where('t.due_at', '<=', db.raw(`now() + (? || ' hours')::interval`, [String(q.withinHours ?? 24)]));
    const [count, rows] = await Promise.all([
      base.clone().count<{ count: string }[]>('* as count').first(),
      base.clone().select('t.id', 't.instance_id', 't.element_id', 't.timer_type', 't.definition', 't.due_at', 'i.process_key', 'i.business_key', 'i.status', 'c.number')
        .orderBy('t.due_at', 'asc').orderBy('t.id', 'asc').limit(pageSize).offset((page - 1) * pageSize),
    ]);
    return {
      items: rows.map((r) => ({
        id: Number(r.id), instanceId: String(r.instance_id), elementId: String(r.element_id), timerType: r.timer_type ?? null, definition: r.definition ?? null,
        dueAt: iso(r.due_at)!, processKey: String(r.process_key), businessKey: r.business_key ?? null, instanceStatus: String(r.status), caseNumber: r.number ?? null,
      })),
      total: Number(count?.count ?? 0), page, pageSize,
    };
  });

  app.get('/api/sms/backlog', {
    schema: {
      tags: ['sms'], summary: 'SMS not yet delivered: pending (of which deferred by the sending rules), failed, and the oldest waiting one',
      response: { 200: Type.Object({ pending: Type.Integer(), deferred: Type.Integer(), failed: Type.Integer(), oldestPendingAt: Nullable(Type.String()) }) },
    },
    config: { access: { roles: ['admin', 'inspector'], scope: 'read' } },
  }, async () => {
    // Deferral is recorded as last_error 'deferred: …' on a pending row (OutboxDispatcher); it counts no attempt.
    const row = await db('outbox').where({ service: 'sms' }).first(
      db.raw(`count(*) FILTER (WHERE status IN ('pending', 'sending'))::int AS pending`),
      db.raw(`count(*) FILTER (WHERE status = 'pending' AND last_error LIKE 'deferred:%')::int AS deferred`),
      db.raw(`count(*) FILTER (WHERE status = 'failed')::int AS failed`),
      db.raw(`min(created_at) FILTER (WHERE status IN ('pending', 'sending')) AS oldest`),
    );
    return { pending: Number(row?.pending ?? 0), deferred: Number(row?.deferred ?? 0), failed: Number(row?.failed ?? 0), oldestPendingAt: iso(row?.oldest) };
  });
}
