import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Db } from '../db/database.js';
import { principalOf } from './auth.js';
import { IdParams, pageOf, paginate, pagingQuery, Nullable, iso } from './paging.js';
import type { SupervisionService } from '../domain/supervision/supervision.js';
import { appendAudit } from '../audit/audit.js';
import { BadRequestError } from '../engine/errors.js';

const Supervision = Type.Object({
  id: Type.String(), number: Type.String(), caseId: Type.String(), caseNumber: Type.String(), itemName: Type.String(),
  departmentId: Type.String(), content: Type.String(), status: Type.String(), openedAt: Type.String(), ageHours: Type.Number(),
  followUpAt: Nullable(Type.String()), caseCompletedAt: Nullable(Type.String()), closedAt: Nullable(Type.String()), result: Nullable(Type.String()),
  hoursToClose: Type.Union([Type.Number(), Type.Null()]), urgings: Type.Integer(),
});

function toSupervision(r: Record<string, unknown>) {
  const opened = r.opened_at as Date;
  const end = (r.case_completed_at as Date | null) ?? null;
  return {
    id: String(r.id), number: String(r.number), caseId: String(r.case_id), caseNumber: String(r.case_number), itemName: String(r.item_name),
    departmentId: String(r.department_id), content: String(r.content), status: String(r.status), openedAt: opened.toISOString(),
    ageHours: Math.round(((((r.closed_at as Date | null) ?? new Date()).getTime() - opened.getTime()) / 3_600_000) * 10) / 10,
    followUpAt: iso(r.follow_up_at), caseCompletedAt: iso(end), closedAt: iso(r.closed_at), result: (r.result as string) ?? null,
    hoursToClose: end ? Math.round(((end.getTime() - opened.getTime()) / 3_600_000) * 10) / 10 : null, urgings: Number(r.urgings ?? 0),
  };
}

const INSPECT = { roles: ['admin', 'inspector', 'leader'] as ('admin' | 'inspector' | 'leader')[], scope: 'read' as const };
const ACT = { roles: ['inspector'] as 'inspector'[], scope: 'tasks:write' as const };

/** The inspection office's console: escalations queue, urging notices, follow-ups, closing. */
export async function supervisionRoutes(app: FastifyInstance, opts: { db: Db; supervisions: SupervisionService }) {
  const { db, supervisions } = opts;
  const base = () => db('supervisions as s').join('cases as c', 'c.id', 's.case_id').join('items as it', 'it.code', 'c.item_code')
    .select('s.*', 'c.number as case_number', 'it.name as item_name',
      db.raw('(SELECT count(*) FROM urgings u WHERE u.supervision_id = s.id)::int AS urgings'));

  app.get('/api/supervisions', {
    schema: {
      tags: ['supervision'], summary: 'Escalations queue (督办件), oldest first',
      querystring: pagingQuery(['openedAt', 'followUpAt', 'number', 'caseNumber', 'itemName', 'departmentId', 'status', 'closedAt'], {
        status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('closed')])), departmentId: Type.Optional(Type.String({ maxLength: 40 })),
        /** Search: 监察编号 or 办件编号 (exact or prefix), applicant, item name (contains). */
        q: Type.Optional(Type.String({ maxLength: 50, pattern: '^[^\\u0000]*$' })), itemCode: Type.Optional(Type.String({ maxLength: 40 })),
      }),
      response: { 200: pageOf(Supervision) },
    },
    config: { access: INSPECT },
  }, async (req) => {
    const q = req.query as { status?: string; departmentId?: string; q?: string; itemCode?: string; order?: 'asc' | 'desc' };
    const query = base();
    if (q.status) query.where('s.status', q.status);
    if (q.departmentId) query.where('s.department_id', q.departmentId);
    if (q.itemCode) query.where('c.item_code', q.itemCode);
    if (q.q) {
      const text = q.q.trim();
      const esc = text.replace(/[%_\\]/g, '\\$&');
      query.where((w) => w.whereILike('s.number', `${esc}%`).orWhereILike('c.number', `${esc}%`).orWhereILike('c.applicant_name', `%${esc}%`).orWhereILike('it.name', `%${esc}%`));
    }
    const columns = { openedAt: 's.opened_at', followUpAt: 's.follow_up_at', number: 's.number', caseNumber: 'c.number', itemName: 'it.name', departmentId: 's.department_id', status: 's.status', closedAt: 's.closed_at', id: 's.id' };
    return paginate(query, { ...(req.query as object), order: q.order ?? 'asc' }, columns, 'openedAt', toSupervision);
  });

  app.get('/api/supervisions/:id', {
    schema: {
      tags: ['supervision'], summary: 'One supervision record with its urging notices', params: IdParams,
      response: { 200: Type.Intersect([Supervision, Type.Object({ urgingNotices: Type.Array(Type.Object({ id: Type.Integer(), content: Type.String(), replyBy: Nullable(Type.String()), recipient: Nullable(Type.String()), issuedBy: Type.String(), issuedAt: Type.String() })) })]) },
    },
    config: { access: INSPECT },
  }, async (req) => {
    const { id } = req.params as { id: string };
    await supervisions.get(id);
    const row = await base().where('s.id', id).first();
    const urgings = await db('urgings').where({ supervision_id: id }).orderBy('id');
    return { ...toSupervision(row), urgingNotices: urgings.map((u) => ({ id: Number(u.id), content: u.content, replyBy: iso(u.reply_by), recipient: u.recipient, issuedBy: u.issued_by, issuedAt: iso(u.issued_at)! })) };
  });

  app.post('/api/supervisions/:id/urge', {
    schema: {
      tags: ['supervision'], summary: 'Issue an urging notice (督办通知) to the department head: recorded, and sent by SMS', params: IdParams,
      body: Type.Object({ content: Type.String({ minLength: 2, maxLength: 1000 }), replyBy: Type.Optional(Type.String({ format: 'date-time' })) }, { additionalProperties: false }),
      response: { 201: Type.Object({ urgingId: Type.Integer() }) },
    },
    config: { access: ACT },
  }, async (req, reply) => {
    const b = req.body as { content: string; replyBy?: string };
    return reply.code(201).send(await supervisions.urge((req.params as { id: string }).id, { content: b.content, replyBy: b.replyBy ? new Date(b.replyBy) : null }, principalOf(req).username));
  });

  app.post('/api/supervisions/:id/follow-up', {
    schema: {
      tags: ['supervision'], summary: 'Set a follow-up date that re-alerts the inspectors', params: IdParams,
      body: Type.Object({ at: Type.String({ format: 'date-time' }) }, { additionalProperties: false }), response: { 204: Type.Null() },
    },
    config: { access: ACT },
  }, async (req, reply) => {
    const at = new Date((req.body as { at: string }).at);
    if (at.getTime() < Date.now() - 60_000) throw new BadRequestError('the follow-up date lies in the past');
    await supervisions.followUp((req.params as { id: string }).id, at, principalOf(req).username);
    return reply.code(204).send();
  });

  app.post('/api/supervisions/:id/close', {
    schema: {
      tags: ['supervision'], summary: 'Close with a result (监察结果) once the case is done', params: IdParams,
      body: Type.Object({ result: Type.String({ minLength: 2, maxLength: 1000 }) }, { additionalProperties: false }), response: { 204: Type.Null() },
    },
    config: { access: ACT },
  }, async (req, reply) => {
    await supervisions.close((req.params as { id: string }).id, (req.body as { result: string }).result, principalOf(req).username);
    return reply.code(204).send();
  });

  const RosterDay = Type.Object({ day: Type.String(), userId: Type.String(), username: Type.String(), displayName: Type.String(), departmentId: Type.String() });

  app.get('/api/roster', {
    schema: {
      tags: ['supervision'], summary: 'Duty roster: who receives overdue alerts, by date and department',
      querystring: Type.Object({ from: Type.String({ format: 'date' }), to: Type.String({ format: 'date' }) }, { additionalProperties: false }),
      response: { 200: Type.Array(RosterDay) },
    },
    config: { access: INSPECT },
  }, async (req) => {
    const q = req.query as { from: string; to: string };
    const rows = await db('duty_roster as r').join('users as u', 'u.id', 'r.user_id').whereBetween('r.day', [q.from, q.to])
      .orderBy(['r.day', 'u.username']).select('r.day', 'r.user_id', 'r.department_id', 'u.username', 'u.display_name');
    return rows.map((r) => ({ day: typeof r.day === 'string' ? r.day : new Date(r.day.getTime() - r.day.getTimezoneOffset() * 60_000).toISOString().slice(0, 10), userId: r.user_id, username: r.username, displayName: r.display_name, departmentId: r.department_id }));
  });

  app.put('/api/roster/:day', {
    schema: {
      tags: ['supervision'], summary: 'Set who is on duty on a day (replaces that day’s entries)',
      params: Type.Object({ day: Type.String({ format: 'date' }) }),
      body: Type.Object({ entries: Type.Array(Type.Object({ userId: Type.String({ format: 'uuid' }), departmentId: Type.Optional(Type.String({ maxLength: 40 })) }, { additionalProperties: false }), { maxItems: 50 }) }, { additionalProperties: false }),
      response: { 204: Type.Null() },
    },
    config: { access: { roles: ['admin'], scope: 'admin' } },
  }, async (req, reply) => {
    const p = principalOf(req);
    const { day } = req.params as { day: string };
    const { entries } = req.body as { entries: Array<{ userId: string; departmentId?: string }> };
    await db.transaction(async (trx) => {
      const ids = entries.map((e) => e.userId);
      const inspectors = ids.length ? await trx('users').whereIn('id', ids).whereRaw(`'inspector' = ANY(roles)`).pluck('id') : [];
      const notInspectors = ids.filter((i) => !inspectors.includes(i));
      if (notInspectors.length) throw new BadRequestError(`not inspectors: ${notInspectors.join(', ')}`);
      // An inspector on duty must be reachable: alerts go by SMS.
      const noPhone = ids.length ? await trx('users').whereIn('id', ids).whereNull('phone').pluck('username') : [];
      if (noPhone.length) throw new BadRequestError(`值班人员须有手机号:${noPhone.join(', ')} (no phone number: cannot receive overdue alerts)`, { fields: noPhone.map((u: string) => ({ field: '/entries', message: `${u} has no phone` })) });
      const before = await trx('duty_roster').where({ day }).select('user_id', 'department_id');
      await trx('duty_roster').where({ day }).delete();
      if (entries.length) await trx('duty_roster').insert(entries.map((e) => ({ day, user_id: e.userId, department_id: e.departmentId ?? '*' }))).onConflict(['day', 'user_id', 'department_id']).ignore();
      await appendAudit(trx, { actor: p.username, action: 'roster.set', entityType: 'roster', entityId: day, before, after: entries });
    });
    return reply.code(204).send();
  });
}
