import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Db } from '../db/database.js';
import { principalOf } from './auth.js';
import { pageOf, paginate, pagingQuery } from './paging.js';
import { appendAudit } from '../audit/audit.js';
import { BadRequestError, ConflictError, NotFoundError } from '../engine/errors.js';

const WarningRule = Type.Union([
  Type.Object({ kind: Type.Literal('days'), value: Type.Integer({ minimum: 0, maximum: 60 }) }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('share'), value: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 }) }, { additionalProperties: false }),
]);
const Item = Type.Object({
  code: Type.String(), name: Type.String(), departmentId: Type.String(), caseType: Type.Integer(), statutoryDays: Type.Union([Type.Integer(), Type.Null()]),
  promisedDays: Type.Integer(), limitUnit: Type.String(), warningRule: WarningRule, processKey: Type.String(), active: Type.Boolean(),
});
const CodeParams = Type.Object({ code: Type.String({ pattern: '^[0-9A-Za-z-]{1,40}$' }) });

export function toItem(r: Record<string, unknown>) {
  return {
    code: String(r.code), name: String(r.name), departmentId: String(r.department_id), caseType: Number(r.case_type),
    statutoryDays: r.statutory_days === null ? null : Number(r.statutory_days), promisedDays: Number(r.promised_days),
    limitUnit: String(r.limit_unit), warningRule: r.warning_rule as { kind: 'days'; value: number }, processKey: String(r.process_key), active: Boolean(r.active),
  };
}

/** 事项目录: the commitment items with their limits, warning rule and the process that handles them. */
export async function itemRoutes(app: FastifyInstance, opts: { db: Db }) {
  const { db } = opts;

  app.get('/api/items', {
    schema: {
      tags: ['items'], summary: 'Item catalogue',
      querystring: pagingQuery(['code', 'name', 'promisedDays'], { departmentId: Type.Optional(Type.String({ maxLength: 40 })), q: Type.Optional(Type.String({ maxLength: 50 })), active: Type.Optional(Type.Boolean()) }),
      response: { 200: pageOf(Item) },
    },
    config: { access: { roles: ['admin', 'clerk', 'inspector', 'leader', 'system'], scope: 'read' } },
  }, async (req) => {
    const q = req.query as { departmentId?: string; q?: string; active?: boolean; order?: 'asc' | 'desc' };
    const query = db('items').select('*');
    if (q.departmentId) query.where('department_id', q.departmentId);
    if (q.q) query.whereILike('name', `%${q.q.replace(/[%_\\]/g, '\\$&')}%`);
    if (q.active !== undefined) query.where('active', q.active);
    return paginate(query, { ...(req.query as object), order: q.order ?? 'asc' }, { code: 'code', name: 'name', promisedDays: 'promised_days', id: 'code' }, 'code', toItem);
  });

  app.get('/api/items/:code', {
    schema: { tags: ['items'], summary: 'One item', params: CodeParams, response: { 200: Item } },
    config: { access: { roles: ['admin', 'clerk', 'inspector', 'leader', 'system'], scope: 'read' } },
  }, async (req) => {
    const { code } = req.params as { code: string };
    const row = await db('items').where({ code }).first();
    if (!row) throw new NotFoundError('item', code);
    return toItem(row);
  });

  const fields = {
    name: Type.String({ minLength: 1, maxLength: 200 }), departmentId: Type.String({ maxLength: 40 }), caseType: Type.Union([Type.Literal(1), Type.Literal(2), Type.Literal(9)]),
    statutoryDays: Type.Union([Type.Integer({ minimum: 0, maximum: 365 }), Type.Null()]), promisedDays: Type.Integer({ minimum: 0, maximum: 365 }),
    limitUnit: Type.Union([Type.Literal('workday'), Type.Literal('minute'), Type.Literal('second')]), warningRule: WarningRule,
    processKey: Type.String({ pattern: '^[A-Za-z_][\\w.-]{0,99}$' }), active: Type.Boolean(),
  };

  app.post('/api/items', {
    schema: {
      tags: ['items'], summary: 'Add an item',
      body: Type.Object({ code: Type.String({ pattern: '^[0-9A-Za-z-]{1,40}$' }), ...fields, statutoryDays: Type.Optional(fields.statutoryDays), caseType: Type.Optional(fields.caseType),
        limitUnit: Type.Optional(fields.limitUnit), warningRule: Type.Optional(WarningRule), processKey: Type.Optional(fields.processKey), active: Type.Optional(fields.active) }, { additionalProperties: false }),
      response: { 201: Item },
    },
    config: { access: { roles: ['admin'], scope: 'admin' } },
  }, async (req, reply) => {
    const p = principalOf(req);
    const b = req.body as { code: string; name: string; departmentId: string; caseType?: number; statutoryDays?: number | null; promisedDays: number; limitUnit?: string; warningRule?: object; processKey?: string; active?: boolean };
    const row = await db.transaction(async (trx) => {
      if (await trx('items').where({ code: b.code }).first('code')) throw new ConflictError(`item ${b.code} exists`);
      if (!(await trx('departments').where({ id: b.departmentId }).first('id'))) throw new BadRequestError(`department ${b.departmentId} does not exist`);
      if (b.statutoryDays != null && b.promisedDays > b.statutoryDays && (b.limitUnit ?? 'workday') === 'workday') throw new BadRequestError('the promised limit cannot exceed the statutory limit');
      const r = {
        code: b.code, name: b.name, department_id: b.departmentId, case_type: b.caseType ?? 2, statutory_days: b.statutoryDays ?? null, promised_days: b.promisedDays,
        limit_unit: b.limitUnit ?? 'workday', warning_rule: JSON.stringify(b.warningRule ?? { kind: 'days', value: 1 }), process_key: b.processKey ?? 'approval-item', active: b.active ?? true,
      };
      await trx('items').insert(r);
      await appendAudit(trx, { actor: p.username, action: 'item.created', entityType: 'item', entityId: b.code, after: { ...r, warning_rule: JSON.parse(r.warning_rule) } });
      return trx('items').where({ code: b.code }).first();
    });
    return reply.code(201).send(toItem(row));
  });

  app.patch('/api/items/:code', {
    schema: {
      tags: ['items'], summary: 'Change an item (limits apply to cases received afterwards)', params: CodeParams,
      body: Type.Partial(Type.Object(fields), { additionalProperties: false, minProperties: 1 }), response: { 200: Item },
    },
    config: { access: { roles: ['admin'], scope: 'admin' } },
  }, async (req) => {
    const p = principalOf(req);
    const { code } = req.params as { code: string };
    const b = req.body as Record<string, unknown>;
    const row = await db.transaction(async (trx) => {
      const before = await trx('items').where({ code }).forUpdate().first();
      if (!before) throw new NotFoundError('item', code);
      if (b.departmentId && !(await trx('departments').where({ id: b.departmentId as string }).first('id'))) throw new BadRequestError(`department ${String(b.departmentId)} does not exist`);
      const map: Record<string, string> = { name: 'name', departmentId: 'department_id', caseType: 'case_type', statutoryDays: 'statutory_days', promisedDays: 'promised_days', limitUnit: 'limit_unit', warningRule: 'warning_rule', processKey: 'process_key', active: 'active' };
      const changes: Record<string, unknown> = { updated_at: trx.raw('now()') };
      for (const [k, col] of Object.entries(map)) if (k in b) changes[col] = k === 'warningRule' ? JSON.stringify(b[k]) : b[k];
      await trx('items').where({ code }).update(changes);
      const after = await trx('items').where({ code }).first();
      await appendAudit(trx, { actor: p.username, action: 'item.updated', entityType: 'item', entityId: code, before: toItem(before), after: toItem(after) });
      return after;
    });
    return toItem(row);
  });
}
