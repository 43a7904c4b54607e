import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Db } from '../db/database.js';
import type { WorkflowEngine } from '../engine/engine.js';
import { principalOf } from './auth.js';
import { IdParams, pageOf, paginate, pagingQuery, Nullable, iso } from './paging.js';
import { assertCanActOnTask, scopeTasks, type TaskAccessRow } from './visibility.js';
import type { CalendarCache, WorkingCalendar } from '../calendar/calendar.js';
import { lightOf, remainingOf } from '../domain/cases/deadlines.js';
import { assertDeclared, DEFAULT_TASK_FIELDS, type DeclarationStore } from '../domain/processes/declarations.js';
import type { SupervisionService } from '../domain/supervision/supervision.js';
import { BadRequestError } from '../engine/errors.js';

const Task = Type.Object({
  id: Type.String(), instanceId: Type.String(), elementId: Type.String(), name: Nullable(Type.String()),
  processKey: Type.String(), businessKey: Nullable(Type.String()), departmentId: Nullable(Type.String()),
  assignee: Nullable(Type.String()), candidateGroups: Type.Array(Type.String()), formKey: Nullable(Type.String()),
  dueAt: Nullable(Type.String()), status: Type.String(), createdAt: Type.String(), overdue: Type.Boolean(),
  /** The case (办件) behind the task, with its light and remaining working time. */
  caseNumber: Nullable(Type.String()), itemName: Nullable(Type.String()), light: Nullable(Type.String()),
  remaining: Type.Union([Type.Object({ workingDays: Type.Integer(), hours: Type.Integer(), overdue: Type.Boolean() }), Type.Null()]),
});

function toTask(r: Record<string, unknown>, calendar: WorkingCalendar, now: Date) {
  const due = r.due_at as Date | null;
  const hasCase = r.case_number !== null && r.case_number !== undefined;
  const timing = hasCase ? { status: String(r.case_status), promised_at: r.promised_at as Date, warning_at: r.warning_at as Date, completed_at: (r.completed_at as Date | null) ?? null } : null;
  return {
    caseNumber: hasCase ? String(r.case_number) : null, itemName: (r.item_name as string) ?? null,
    light: timing ? lightOf(timing, now) : null, remaining: timing ? remainingOf(calendar, timing, now) : null,
    id: String(r.id), instanceId: String(r.instance_id), elementId: String(r.element_id), name: (r.name as string) ?? null,
    processKey: String(r.process_key), businessKey: (r.business_key as string) ?? null, departmentId: (r.department_id as string) ?? null,
    assignee: (r.assignee as string) ?? null, candidateGroups: r.candidate_groups as string[], formKey: (r.form_key as string) ?? null,
    dueAt: iso(due), status: String(r.status), createdAt: iso(r.created_at)!, overdue: r.status === 'open' && !!due && due.getTime() < Date.now(),
  };
}

export async function taskRoutes(app: FastifyInstance, opts: { db: Db; engine: WorkflowEngine; calendars: CalendarCache; declarations: DeclarationStore; supervisions: SupervisionService }) {
  const { db, engine, calendars, declarations, supervisions } = opts;

  app.get('/api/tasks', {
    schema: {
      tags: ['tasks'], summary: 'Tasks visible to the caller; filter to mine, my department, a candidate group, or overdue',
      querystring: pagingQuery(['dueAt', 'createdAt'], {
        assignment: Type.Optional(Type.Union([Type.Literal('mine'), Type.Literal('department'), Type.Literal('unassigned')])),
        candidateGroup: Type.Optional(Type.String({ maxLength: 40 })),
        overdue: Type.Optional(Type.Boolean()),
        status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('completed'), Type.Literal('cancelled')])),
        instanceId: Type.Optional(Type.String({ format: 'uuid' })),
      }),
      response: { 200: pageOf(Task) },
    },
    config: { access: { roles: ['admin', 'clerk', 'inspector', 'leader'], scope: 'read' } },
  }, async (req) => {
    const p = principalOf(req);
    const q = req.query as { assignment?: string; candidateGroup?: string; overdue?: boolean; status?: string; instanceId?: string; order?: 'asc' | 'desc' };
    const query = scopeTasks(db('tasks as t').join('process_instances as i', 'i.id', 't.instance_id')
      .leftJoin('cases as c', 'c.id', 't.instance_id').leftJoin('items as it', 'it.code', 'c.item_code')
      .select('t.*', 'i.process_key', 'i.business_key', 'i.department_id', 'c.number as case_number', 'c.status as case_status',
        'c.promised_at', 'c.warning_at', 'c.completed_at', 'it.name as item_name'), p);
    query.where('t.status', q.status ?? 'open');
    if (q.assignment === 'mine') query.where('t.assignee', p.username);
    if (q.assignment === 'unassigned') query.whereNull('t.assignee');
    if (q.assignment === 'department') query.whereRaw('? = ANY(t.candidate_groups)', [p.departmentId ?? '']);
    if (q.candidateGroup) query.whereRaw('? = ANY(t.candidate_groups)', [q.candidateGroup]);
    if (q.overdue) query.where('t.due_at', '<', db.raw('now()'));
    if (q.instanceId) query.where('t.instance_id', q.instanceId);
    // Deadline order by default: the most urgent first.
    const params = { ...(req.query as object), order: q.order ?? 'asc' };
    const calendar = await calendars.get();
    const now = new Date();
    return paginate(query, params, { dueAt: 't.due_at', createdAt: 't.created_at', id: 't.id' }, 'dueAt', (r) => toTask(r, calendar, now));
  });

  async function taskFor(id: string): Promise<TaskAccessRow | undefined> {
    return db('tasks').where({ id }).first('id', 'candidate_groups', 'candidate_users', 'assignee');
  }

  const act = { roles: ['clerk', 'inspector'] as ('clerk' | 'inspector')[], scope: 'tasks:write' as const };

  app.post('/api/tasks/:id/claim', {
    schema: { tags: ['tasks'], summary: 'Claim a task', params: IdParams, response: { 204: Type.Null() } },
    config: { access: act },
  }, async (req, reply) => {
    const p = principalOf(req);
    const { id } = req.params as { id: string };
    assertCanActOnTask(p, await taskFor(id), id);
    await engine.claimTask(id, p.username);
    return reply.code(204).send();
  });

  app.post('/api/tasks/:id/unclaim', {
    schema: { tags: ['tasks'], summary: 'Give a claimed task back to the group', params: IdParams, response: { 204: Type.Null() } },
    config: { access: act },
  }, async (req, reply) => {
    const p = principalOf(req);
    const { id } = req.params as { id: string };
    assertCanActOnTask(p, await taskFor(id), id);
    await engine.unclaimTask(id, p.username);
    return reply.code(204).send();
  });

  app.post('/api/tasks/:id/complete', {
    schema: {
      tags: ['tasks'], summary: 'Complete a task with the variables its form declares (400 names any other or protected one); 409 when its deadline ended it first; the 督办 task closes its supervision by the rule of POST /api/supervisions/:id/close', params: IdParams,
      body: Type.Object({ variables: Type.Optional(Type.Record(Type.String({ maxLength: 100 }), Type.Unknown(), { maxProperties: 200 })) }, { additionalProperties: false }),
      response: { 200: Type.Object({ instanceId: Type.String(), status: Type.String(), activeElements: Type.Array(Type.String()) }) },
    },
    config: { access: act },
  }, async (req) => {
    const p = principalOf(req);
    const { id } = req.params as { id: string };
    assertCanActOnTask(p, await taskFor(id), id);
    const variables = (req.body as { variables?: Record<string, unknown> }).variables ?? {};
    const task = await db('tasks as t').join('process_instances as i', 'i.id', 't.instance_id').where('t.id', id)
      .first('t.element_id', 't.form_key', 't.instance_id', 'i.definition_id');
    const declared = (await declarations.of(task.definition_id)).tasks[task.element_id];
    assertDeclared(variables, await declarations.accepted({ formKey: task.form_key ?? declared?.formKey ?? null, fields: declared?.fields ?? null }, DEFAULT_TASK_FIELDS), `task ${task.element_id}`);
    // The 督办 task closes the supervision: the same rule as POST /api/supervisions/:id/close, the actor from the session.
    const supervision = await supervisions.ofTask({ instanceId: task.instance_id, elementId: task.element_id, formKey: task.form_key });
    if (supervision) {
      const result = variables.supervisionResult;
      if (typeof result !== 'string' || result.trim().length < 2 || result.length > 1000) {
        throw new BadRequestError('请填写督办结果(supervisionResult, 2–1000 characters)', { fields: [{ field: '/variables/supervisionResult', message: 'required' }] });
      }
      const r = await supervisions.close(supervision.id, result, p.username);
      return { instanceId: r.id, status: r.status, activeElements: r.activeElements };
    }
    const r = await engine.completeTask(id, variables, p.username);
    return { instanceId: r.id, status: r.status, activeElements: r.activeElements };
  });
}
