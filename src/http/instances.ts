import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Db } from '../db/database.js';
import type { WorkflowEngine } from '../engine/engine.js';
import { principalOf } from './auth.js';
import { IdParams, pageOf, paginate, pagingQuery, Nullable, iso } from './paging.js';
import { scopeInstances } from './visibility.js';
import { NotFoundError } from '../engine/errors.js';

const Summary = Type.Object({
  id: Type.String(), definitionId: Type.String(), processKey: Type.String(), businessKey: Nullable(Type.String()),
  departmentId: Nullable(Type.String()), status: Type.String(), startedAt: Type.String(), endedAt: Nullable(Type.String()),
  startedBy: Nullable(Type.String()),
});

function toSummary(r: Record<string, unknown>) {
  return {
    id: String(r.id), definitionId: String(r.definition_id), processKey: String(r.process_key), businessKey: (r.business_key as string) ?? null,
    departmentId: (r.department_id as string) ?? null, status: String(r.status), startedAt: iso(r.started_at)!, endedAt: iso(r.ended_at),
    startedBy: (r.started_by as string) ?? null,
  };
}

const READ = { roles: ['admin', 'clerk', 'inspector', 'leader', 'system'] as const, scope: 'read' as const };

export async function instanceRoutes(app: FastifyInstance, opts: { db: Db; engine: WorkflowEngine }) {
  const { db, engine } = opts;

  app.get('/api/process-instances', {
    schema: {
      tags: ['instances'], summary: 'Process instances (cases) visible to the caller',
      querystring: pagingQuery(['startedAt', 'endedAt', 'businessKey'], {
        status: Type.Optional(Type.Union(['running', 'completed', 'failed', 'cancelled'].map((s) => Type.Literal(s)))),
        processKey: Type.Optional(Type.String({ maxLength: 100 })),
        definitionId: Type.Optional(Type.String({ maxLength: 110 })),
        businessKey: Type.Optional(Type.String({ maxLength: 100 })),
        departmentId: Type.Optional(Type.String({ maxLength: 40 })),
      }),
      response: { 200: pageOf(Summary) },
    },
    config: { access: { roles: [...READ.roles], scope: READ.scope } },
  }, async (req) => {
    const p = principalOf(req);
    const q = req.query as { status?: string; processKey?: string; definitionId?: string; businessKey?: string; departmentId?: string };
    const query = scopeInstances(db('process_instances as i').select('i.*'), p);
    if (q.status) query.where('i.status', q.status);
    if (q.processKey) query.where('i.process_key', q.processKey);
    if (q.definitionId) query.where('i.definition_id', q.definitionId);
    if (q.businessKey) query.where('i.business_key', q.businessKey);
    if (q.departmentId) query.where('i.department_id', q.departmentId);
    return paginate(query, req.query as object, { startedAt: 'i.started_at', endedAt: 'i.ended_at', businessKey: 'i.business_key', id: 'i.id' }, 'startedAt', toSummary);
  });

  app.get('/api/process-instances/:id', {
    schema: {
      tags: ['instances'], summary: 'One case: current activities, variables, tasks, timers, incidents and history',
      params: IdParams,
      response: {
        200: Type.Intersect([Summary, Type.Object({
          variables: Type.Record(Type.String(), Type.Unknown()),
          activeElements: Type.Array(Type.String()),
          tasks: Type.Array(Type.Object({ id: Type.String(), elementId: Type.String(), name: Nullable(Type.String()), status: Type.String(), assignee: Nullable(Type.String()), dueAt: Nullable(Type.String()) })),
          timers: Type.Array(Type.Object({ elementId: Type.String(), dueAt: Type.String(), timerType: Nullable(Type.String()), definition: Nullable(Type.String()) })),
          incidents: Type.Array(Type.Object({ id: Type.Integer(), kind: Type.String(), message: Type.String(), status: Type.String(), createdAt: Type.String() })),
          history: Type.Array(Type.Object({ id: Type.Integer(), kind: Type.String(), elementId: Nullable(Type.String()), elementType: Nullable(Type.String()), actor: Nullable(Type.String()), at: Type.String(), data: Type.Unknown() })),
        })]),
      },
    },
    config: { access: { roles: [...READ.roles], scope: READ.scope } },
  }, async (req) => {
    const p = principalOf(req);
    const { id } = req.params as { id: string };
    const row = await scopeInstances(db('process_instances as i').select('i.*'), p).where('i.id', id).first();
    if (!row) throw new NotFoundError('process instance', id);
    const [tasks, timers, incidents, history] = await Promise.all([
      db('tasks').where({ instance_id: id }).orderBy('created_at'),
      db('timers').where({ instance_id: id }).orderBy('due_at'),
      db('incidents').where({ instance_id: id }).orderBy('id'),
      db('history').where({ instance_id: id }).orderBy('id').limit(2000),
    ]);
    const open = tasks.filter((t) => t.status === 'open').map((t) => t.element_id);
    const active = [...new Set([...open, ...timers.map((t) => t.element_id)])];
    return {
      ...toSummary(row), variables: row.variables ?? {}, activeElements: active,
      tasks: tasks.map((t) => ({ id: t.id, elementId: t.element_id, name: t.name, status: t.status, assignee: t.assignee, dueAt: iso(t.due_at) })),
      timers: timers.map((t) => ({ elementId: t.element_id, dueAt: iso(t.due_at)!, timerType: t.timer_type, definition: t.definition })),
      incidents: incidents.map((i) => ({ id: i.id, kind: i.kind, message: i.message, status: i.status, createdAt: iso(i.created_at)! })),
      history: history.map((h) => ({ id: h.id, kind: h.kind, elementId: h.element_id, elementType: h.element_type, actor: h.actor, at: iso(h.at)!, data: h.data })),
    };
  });

  app.post('/api/process-instances/:id/cancel', {
    schema: {
      tags: ['instances'], summary: 'Cancel a running case', params: IdParams,
      body: Type.Object({ reason: Type.String({ minLength: 1, maxLength: 500 }) }, { additionalProperties: false }),
      response: { 204: Type.Null() },
    },
    config: { access: { roles: ['admin'], scope: 'instances:write' } },
  }, async (req, reply) => {
    const p = principalOf(req);
    await engine.cancel((req.params as { id: string }).id, p.username, (req.body as { reason: string }).reason);
    return reply.code(204).send();
  });

}
