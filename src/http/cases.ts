import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Db } from '../db/database.js';
import type { CalendarCache } from '../calendar/calendar.js';
import { forbidden, principalOf } from './auth.js';
import { IdParams, pageOf, paginate, pagingQuery, Nullable, iso } from './paging.js';
import { hasRole, seesAllDepartments, type Principal } from '../auth/principal.js';
import { toView, type CaseRow, type CaseService } from '../domain/cases/cases.js';
import { NotFoundError } from '../engine/errors.js';
import { maskPhone } from '../notify/phone.js';

export const Remaining = Type.Object({ workingDays: Type.Integer(), hours: Type.Integer(), overdue: Type.Boolean(), officeHours: Type.Integer() });
export const CaseSchema = Type.Object({
  id: Type.String(), number: Type.String(), itemCode: Type.String(), itemName: Type.String(), departmentId: Type.String(),
  applicantName: Type.String(), applicantType: Type.Integer(), idType: Type.String(), idNumber: Type.String(),
  contactName: Nullable(Type.String()), phone: Type.String(), source: Type.String(),
  receivedAt: Type.String(), promisedAt: Type.String(), warningAt: Type.String(), completedAt: Nullable(Type.String()),
  status: Type.String(), result: Nullable(Type.String()), light: Type.String(), remaining: Remaining,
  calendarConfirmed: Type.Boolean(), suspendedDays: Type.Integer(), escalatedAt: Nullable(Type.String()),
  /** GB/T 39046 result code: 6 准予许可, 7 不予许可, 1 退回 (不予受理), 2 作废, 5 补正不来办结. */
  resultCode: Nullable(Type.String()),
  /** The deadline day (the case is due at its end): '2026-11-24', '2026-11-24 24:00', '11月24日 当日'. */
  deadlineDay: Type.String(), deadlineText: Type.String(), deadlineTextZh: Type.String(),
  limitUnit: Type.String(), clockStoppedAt: Nullable(Type.String()),
});
const LIGHTS = ['green', 'yellow', 'red', 'suspended', 'done', 'done-late', 'cancelled', 'failed'] as const;

function scopeCases(q: ReturnType<Db>, p: Principal) {
  return seesAllDepartments(p) ? q : q.where('c.department_id', p.departmentId ?? '');
}

/** 办件: intake, lists by light, detail, the clock stop. */
export async function caseRoutes(app: FastifyInstance, opts: { db: Db; cases: CaseService; calendars: CalendarCache }) {
  const { db, cases, calendars } = opts;

  app.post('/api/cases', {
    schema: {
      tags: ['cases'], summary: 'Take in a case (受理): starts its item’s process with working-day deadlines',
      body: Type.Object({
        itemCode: Type.String({ pattern: '^[0-9A-Za-z-]{1,40}$' }),
        applicantName: Type.String({ minLength: 1, maxLength: 100 }),
        applicantType: Type.Union([Type.Literal(1), Type.Literal(2)]),
        idType: Type.Union([Type.Literal('resident_id'), Type.Literal('uscc')]),
        idNumber: Type.String({ minLength: 18, maxLength: 18 }),
        contactName: Type.Optional(Type.String({ maxLength: 50 })),
        // Normalized to E.164 at intake (13800000000 → +8613800000000); refused when it cannot be.
        phone: Type.String({ minLength: 1, maxLength: 40 }),
        source: Type.Optional(Type.Union(['window', 'online', 'mobile', 'self-service', 'mail'].map((s) => Type.Literal(s)))),
        receivedAt: Type.Optional(Type.String({ format: 'date-time' })),
      }, { additionalProperties: false }),
      response: { 201: CaseSchema },
    },
    config: { access: { roles: ['admin', 'clerk', 'system'], scope: 'instances:write' } },
  }, async (req, reply) => {
    const p = principalOf(req);
    const b = req.body as { itemCode: string; applicantName: string; applicantType: 1 | 2; idType: 'resident_id' | 'uscc'; idNumber: string; contactName?: string; phone: string; source?: string; receivedAt?: string };
    if (b.receivedAt && !hasRole(p, 'admin', 'system')) throw forbidden('only imports (admin or system) may set the intake time');
    const view = await cases.intake({ ...b, receivedAt: b.receivedAt ? new Date(b.receivedAt) : undefined },
      { username: p.username, departmentId: p.departmentId, admin: hasRole(p, 'admin', 'system') });
    return reply.code(201).send(view);
  });

  app.get('/api/cases', {
    schema: {
      tags: ['cases'], summary: 'Cases with their light and remaining working time',
      querystring: pagingQuery(['promisedAt', 'receivedAt', 'number'], {
        light: Type.Optional(Type.Union(LIGHTS.map((l) => Type.Literal(l)))),
        departmentId: Type.Optional(Type.String({ maxLength: 40 })),
        itemCode: Type.Optional(Type.String({ maxLength: 40 })),
        number: Type.Optional(Type.String({ maxLength: 50 })),
        q: Type.Optional(Type.String({ maxLength: 50 })),
        escalated: Type.Optional(Type.Boolean()),
      }),
      response: { 200: pageOf(CaseSchema) },
    },
    config: { access: { roles: ['admin', 'clerk', 'inspector', 'leader', 'system'], scope: 'read' } },
  }, async (req) => {
    const p = principalOf(req);
    const q = req.query as { light?: string; departmentId?: string; itemCode?: string; number?: string; q?: string; escalated?: boolean; order?: 'asc' | 'desc' };
    const query = scopeCases(db('cases as c').join('items as it', 'it.code', 'c.item_code').select('c.*', 'it.name as item_name'), p);
    if (q.departmentId) query.where('c.department_id', q.departmentId);
    if (q.itemCode) query.where('c.item_code', q.itemCode);
    if (q.number) query.where('c.number', q.number);
    if (q.q) query.where((w) => w.whereILike('c.applicant_name', `%${q.q!.replace(/[%_\\]/g, '\\$&')}%`).orWhere('c.number', q.q!));
    if (q.escalated !== undefined) query[q.escalated ? 'whereNotNull' : 'whereNull']('c.escalated_at');
    switch (q.light) {
      case 'red': query.where('c.status', 'handling').andWhere('c.promised_at', '<=', db.raw('now()')); break;
      case 'yellow': query.where('c.status', 'handling').andWhere('c.warning_at', '<=', db.raw('now()')).andWhere('c.promised_at', '>', db.raw('now()')); break;
      case 'green': query.where('c.status', 'handling').andWhere('c.warning_at', '>', db.raw('now()')); break;
      case 'suspended': query.where('c.status', 'suspended'); break;
      case 'done': query.where('c.status', 'completed').andWhereRaw('c.completed_at <= c.promised_at'); break;
      case 'done-late': query.where('c.status', 'completed').andWhereRaw('c.completed_at > c.promised_at'); break;
      case 'cancelled': query.where('c.status', 'cancelled'); break;
      case 'failed': query.where('c.status', 'failed'); break;
    }
    const calendar = await calendars.get();
    const now = new Date();
    return paginate(query, { ...(req.query as object), order: q.order ?? 'asc' }, { promisedAt: 'c.promised_at', receivedAt: 'c.received_at', number: 'c.number', id: 'c.id' }, 'promisedAt',
      (r) => toView(r as unknown as CaseRow, String(r.item_name), calendar, now));
  });

  const Detail = Type.Intersect([CaseSchema, Type.Object({
    /** byProcess: stopped by a step of the process (补正, 特别程序), which restarts it when its task is completed. */
    suspensions: Type.Array(Type.Object({ kind: Type.String(), reason: Type.String(), startedAt: Type.String(), endedAt: Nullable(Type.String()), workingDays: Type.Union([Type.Integer(), Type.Null()]), byProcess: Type.Boolean() })),
    supervision: Type.Union([Type.Object({ id: Type.String(), number: Type.String(), status: Type.String(), openedAt: Type.String(), result: Nullable(Type.String()) }), Type.Null()]),
    sms: Type.Array(Type.Object({ to: Type.String(), template: Type.String(), status: Type.String(), providerStatus: Nullable(Type.String()), createdAt: Type.String(), sentAt: Nullable(Type.String()) })),
  })]);

  app.get('/api/cases/:id', {
    schema: { tags: ['cases'], summary: 'One case with its clock stops, supervision and SMS log (numbers masked except for inspectors and admins; process detail: /api/process-instances/:id)', params: IdParams, response: { 200: Detail } },
    config: { access: { roles: ['admin', 'clerk', 'inspector', 'leader', 'system'], scope: 'read' } },
  }, async (req) => {
    const p = principalOf(req);
    const { id } = req.params as { id: string };
    const row = await scopeCases(db('cases as c').select('c.*'), p).where('c.id', id).first();
    if (!row) throw new NotFoundError('case', id);
    const seesPhones = hasRole(p, 'admin', 'inspector');
    const [view, suspensions, supervision, sms] = await Promise.all([
      cases.view(row),
      db('case_suspensions').where({ case_id: id }).orderBy('id'),
      db('supervisions').where({ case_id: id }).first(),
      db('outbox').where({ instance_id: id, service: 'sms' }).orderBy('id'),
    ]);
    return {
      ...view,
      suspensions: suspensions.map((s) => ({ kind: s.kind, reason: s.reason, startedAt: iso(s.started_at)!, endedAt: iso(s.ended_at), workingDays: s.working_days, byProcess: Boolean(s.by_process) })),
      supervision: supervision ? { id: supervision.id, number: supervision.number, status: supervision.status, openedAt: iso(supervision.opened_at)!, result: supervision.result } : null,
      // Inspectors' and clerks' numbers are personal data: only inspectors and admins read them whole.
      sms: sms.map((m) => ({ to: seesPhones ? String(m.payload.to) : maskPhone(String(m.payload.to)), template: String(m.payload.template), status: m.status, providerStatus: m.provider_status ?? null, createdAt: iso(m.created_at)!, sentAt: iso(m.sent_at) })),
    };
  });

  async function ownCase(p: Principal, id: string): Promise<void> {
    const row = await db('cases').where({ id }).first('department_id');
    if (!row || (!seesAllDepartments(p) && row.department_id !== p.departmentId)) throw new NotFoundError('case', id);
    if (!hasRole(p, 'admin') && row.department_id !== p.departmentId) throw forbidden('only the handling department stops or restarts the clock');
  }

  app.post('/api/cases/:id/suspend', {
    schema: {
      tags: ['cases'], summary: 'Stop the clock for 补正 (supplement) or 特别程序 (special procedure)', params: IdParams,
      body: Type.Object({ kind: Type.Union([Type.Literal('supplement'), Type.Literal('special')]), reason: Type.String({ minLength: 2, maxLength: 500 }) }, { additionalProperties: false }),
      response: { 200: CaseSchema },
    },
    config: { access: { roles: ['admin', 'clerk'], scope: 'instances:write' } },
  }, async (req) => {
    const p = principalOf(req);
    const { id } = req.params as { id: string };
    await ownCase(p, id);
    const b = req.body as { kind: 'supplement' | 'special'; reason: string };
    return cases.suspend(id, b.kind, b.reason, p.username);
  });

  app.post('/api/cases/:id/resume', {
    schema: {
      tags: ['cases'], summary: 'Restart the clock; the deadline and pending timers move by the working days spent suspended', params: IdParams,
      body: Type.Object({ note: Type.Optional(Type.String({ maxLength: 500 })) }, { additionalProperties: false }),
      response: { 200: CaseSchema },
    },
    config: { access: { roles: ['admin', 'clerk'], scope: 'instances:write' } },
  }, async (req) => {
    const p = principalOf(req);
    const { id } = req.params as { id: string };
    await ownCase(p, id);
    return cases.resume(id, p.username, (req.body as { note?: string }).note);
  });
}
