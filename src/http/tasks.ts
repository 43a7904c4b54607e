import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import pg from 'pg';
import { isValidDay, startOfShanghaiDay } from '../calendar/calendar.js';
import type { Db } from '../db/database.js';
import type { WorkflowEngine } from '../engine/engine.js';
import { principalOf } from './auth.js';
import { IdParams, pageOf, pagingQuery, Nullable, iso, queryNamed, type PageParams } from './paging.js';
import { SqlText } from './sql-text.js';
import { assertCanActOnTask, taskVisibility, type TaskAccessRow } from './visibility.js';
import type { CalendarCache, WorkingCalendar } from '../calendar/calendar.js';
import { lightOf, remainingOf } from '../domain/cases/deadlines.js';
import { assertDeclared, DEFAULT_TASK_FIELDS, type DeclarationStore } from '../domain/processes/declarations.js';
import type { SupervisionService } from '../domain/supervision/supervision.js';
import { ConflictError, NotFoundError, BadRequestError } from '../engine/errors.js';
import { appendAudit } from '../audit/audit.js';
import { forbidden } from './auth.js';
import { hasRole, type Principal } from '../auth/principal.js';
import { Remaining } from './cases.js';

const Text = (max: number) => Type.String({ minLength: 1, maxLength: max, pattern: '^[^\\u0000]*$' });
const LIGHT_FILTERS = ['green', 'yellow', 'red', 'suspended'] as const;
/** Sortable columns of the task list (every column the list shows). */
const TASK_SORT: Record<string, string> = {
  // light: by the case's deadline, so the red (earliest) come first in ascending order.
  dueAt: 't.due_at', createdAt: 't.created_at', name: 't.name', assignee: 't.assignee', caseNumber: 'c.number', light: 'c.promised_at',
  applicantName: 'c.applicant_name', itemName: 'it.name', promisedAt: 'c.promised_at', status: 't.status', id: 't.id',
};
/**
 * What the list shows of a task (not its output variables, which can be large), with its case, item and
 * assignee. Written out once: knex quoting two dozen identifiers and five joins on every request cost
 * more than the rest of building the query.
 */
const TASK_LIST_SELECT = `t.id, t.instance_id, t.element_id, t.name, t.assignee, t.candidate_groups, t.form_key, t.due_at, t.status,
  t.created_at, i.process_key, i.business_key, i.department_id, c.number AS case_number, c.status AS case_status, c.promised_at,
  c.warning_at, c.completed_at, c.clock_stopped_at, c.applicant_name, c.item_code, it.name AS item_name, u.display_name AS assignee_name`;
/**
 * Every join is to a unique key and a LEFT one (a task's instance always exists: NOT NULL REFERENCES),
 * so PostgreSQL drops the joins the count does not need and counts from the task indexes alone.
 */
const TASK_LIST_JOINS = `LEFT JOIN process_instances i ON i.id = t.instance_id LEFT JOIN cases c ON c.id = t.instance_id
  LEFT JOIN items it ON it.code = c.item_code LEFT JOIN users u ON u.username = t.assignee`;
const TaskQuery = {
  assignment: Type.Optional(Type.Union([Type.Literal('mine'), Type.Literal('department'), Type.Literal('unassigned')])),
  candidateGroup: Type.Optional(Type.String({ maxLength: 40 })),
  overdue: Type.Optional(Type.Boolean()),
  status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('completed'), Type.Literal('cancelled')])),
  instanceId: Type.Optional(Type.String({ format: 'uuid' })),
  /** Search: 办件编号 (exact or prefix), applicant name, item name or code (contains). */
  q: Type.Optional(Type.String({ maxLength: 50, pattern: '^[^\\u0000]*$' })),
  itemCode: Type.Optional(Type.String({ maxLength: 40 })),
  light: Type.Optional(Type.Union(LIGHT_FILTERS.map((l) => Type.Literal(l)))),
  /** A Beijing day (YYYY-MM-DD, the whole day included) or an instant (ISO 8601). */
  dueFrom: Type.Optional(Type.Union([Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' }), Type.String({ format: 'date-time' })])),
  dueTo: Type.Optional(Type.Union([Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' }), Type.String({ format: 'date-time' })])),
  assignee: Type.Optional(Type.String({ maxLength: 60 })),
};
type TaskFilters = { assignment?: string; candidateGroup?: string; overdue?: boolean; status?: string; instanceId?: string; q?: string; itemCode?: string;
  light?: string; dueFrom?: string; dueTo?: string; assignee?: string; order?: 'asc' | 'desc' };

const isDay = (v: string) => /^\d{4}-\d{2}-\d{2}$/.test(v);

/** A Beijing day's start (plus `days` days), or the instant itself. */
function dayOrInstant(v: string, days: number): Date {
  if (!isDay(v)) return new Date(v);
  if (!isValidDay(v)) throw new BadRequestError(`${v} is not a day of the calendar`).withZh(`${v} 不是有效日期`);
  return new Date(startOfShanghaiDay(v).getTime() + days * 86_400_000);
}

function likeOf(v: string): string {
  return `%${v.replace(/[%_\\]/g, '\\$&')}%`;
}

/**
 * The status as a literal, not a binding: the list runs as a prepared statement, and only a literal
 * `status = 'open'` lets its generic plan use the partial indexes (WHERE status = 'open'). With a
 * binding the generic plan is so much worse that PostgreSQL re-plans the statement on every call.
 */
const STATUS_SQL: Record<string, string> = { open: "t.status = 'open'", completed: "t.status = 'completed'", cancelled: "t.status = 'cancelled'" };

/** The filters of the task list as SQL conditions (the light from the case's own times, as the case list counts it). */
function taskConditions(q: TaskFilters, p: Principal, sql: SqlText): string[] {
  const where: string[] = [STATUS_SQL[q.status ?? 'open']!];
  // The caller's department as a literal: its share of the tasks is what decides the plan. As a
  // binding, the generic plan assumed the default half a percent of them, rated itself worse than
  // a plan for the department and was replaced by one made afresh on every request. Departments
  // are few, so are the statements.
  const visible = taskVisibility(p, 't', pg.escapeLiteral);
  if (visible) where.push(sql.add(visible.sql, ...visible.values));
  if (q.assignment === 'mine') where.push(sql.add('t.assignee = ?', p.username));
  if (q.assignment === 'unassigned') where.push('t.assignee IS NULL');
  if (q.assignment === 'department') where.push(`t.candidate_groups @> ARRAY[${pg.escapeLiteral(p.departmentId ?? '')}]::text[]`);
  if (q.candidateGroup) where.push(sql.add('t.candidate_groups @> ARRAY[?]::text[]', q.candidateGroup));
  // Overdue: past its due date (the case's deadline or the step's own limit), unless the case's clock is stopped.
  if (q.overdue) where.push("t.due_at < now() AND (c.id IS NULL OR c.status = 'handling')");
  if (q.instanceId) where.push(sql.add('t.instance_id = ?', q.instanceId));
  if (q.itemCode) where.push(sql.add('c.item_code = ?', q.itemCode));
  if (q.assignee) where.push(sql.add('t.assignee = ?', q.assignee));
  // A day is the deadline day: due at 24:00 of it is due on it (after 00:00, up to and including the next 00:00).
  if (q.dueFrom) where.push(sql.add(`t.due_at ${isDay(q.dueFrom) ? '>' : '>='} ?`, dayOrInstant(q.dueFrom, 0)));
  if (q.dueTo) where.push(sql.add(`t.due_at ${isDay(q.dueTo) ? '<=' : '<'} ?`, dayOrInstant(q.dueTo, 1)));
  if (q.q) {
    const text = q.q.trim();
    where.push(sql.add('(c.number = ? OR c.number ILIKE ? OR c.applicant_name ILIKE ? OR it.name ILIKE ? OR c.item_code = ?)',
      text, likeOf(text).slice(1), likeOf(text), likeOf(text), text));
  }
  const light = q.light ? LIGHT_SQL[q.light] : undefined;
  if (light) where.push(light);
  return where;
}

const LIGHT_SQL: Record<string, string> = {
  red: "c.status = 'handling' AND c.promised_at <= now()",
  yellow: "c.status = 'handling' AND c.warning_at <= now() AND c.promised_at > now()",
  green: "c.status = 'handling' AND c.warning_at > now()",
  suspended: "c.status = 'suspended'",
};

/**
 * One page of the task list and its total in one statement (the count an uncorrelated scalar
 * subquery, evaluated once); the count alone for a page past the end, which has no row to carry it.
 */
export function taskListStatements(q: TaskFilters & PageParams, p: Principal): { page: { text: string; values: unknown[]; keep: boolean }; count: { text: string; values: unknown[] } } {
  const sql = new SqlText();
  const where = taskConditions(q, p, sql).join(' AND ');
  const from = `FROM tasks t ${TASK_LIST_JOINS} WHERE ${where}`;
  // Deadline order by default, ascending: the most urgent first.
  const column = TASK_SORT[q.sort ?? 'dueAt'] ?? TASK_SORT.dueAt!;
  const pageSize = q.pageSize ?? 20;
  // The page as literals. As bindings PostgreSQL assumed a tenth of the rows for each, rated the
  // generic plan worse than one for the call's values, and planned the statement afresh on every
  // request, which cost more than running it (test/task-list-plans.test.ts). Page sizes are few, so
  // the first pages are few statements, kept; a later page runs unnamed, planned once for its call.
  if (!Number.isSafeInteger(pageSize) || pageSize < 1 || pageSize > 200) throw new BadRequestError('pageSize must be an integer from 1 to 200');
  const offset = ((q.page ?? 1) - 1) * pageSize;
  if (!Number.isSafeInteger(offset)) throw new BadRequestError('page is out of range');
  const paging = offset ? `LIMIT ${pageSize} OFFSET ${offset}` : `LIMIT ${pageSize}`;
  return {
    page: { text: `SELECT ${TASK_LIST_SELECT}, (SELECT count(*) ${from}) AS page_total ${from} ORDER BY ${column} ${q.order === 'desc' ? 'DESC' : 'ASC'}, t.id ASC ${paging}`, values: sql.values, keep: offset === 0 },
    count: { text: `SELECT count(*) AS count ${from}`, values: sql.values },
  };
}

const Task = Type.Object({
  id: Type.String(), instanceId: Type.String(), elementId: Type.String(), name: Nullable(Type.String()),
  processKey: Type.String(), businessKey: Nullable(Type.String()), departmentId: Nullable(Type.String()),
  assignee: Nullable(Type.String()), candidateGroups: Type.Array(Type.String()), formKey: Nullable(Type.String()),
  dueAt: Nullable(Type.String()), status: Type.String(), createdAt: Type.String(), overdue: Type.Boolean(),
  /** The case (办件) behind the task, with its light and remaining working time. */
  caseNumber: Nullable(Type.String()), itemName: Nullable(Type.String()), light: Nullable(Type.String()),
  remaining: Nullable(Remaining),
  applicantName: Nullable(Type.String()), itemCode: Nullable(Type.String()),
  /** People's names, not usernames. */
  assigneeName: Nullable(Type.String()),
  /** The deadline day of the case (its end): '2026-11-24'; and whether this step has a limit of its own. */
  deadlineDay: Nullable(Type.String()), stepLimit: Type.Boolean(),
  /** A step with its own limit has its own light: green, yellow (last working day), red (over the step's limit). */
  stepLight: Nullable(Type.String()),
});

function toTask(r: Record<string, unknown>, calendar: WorkingCalendar, now: Date) {
  const due = r.due_at as Date | null;
  const hasCase = r.case_number !== null && r.case_number !== undefined;
  const timing = hasCase ? { status: String(r.case_status), promised_at: r.promised_at as Date, warning_at: r.warning_at as Date,
    completed_at: (r.completed_at as Date | null) ?? null, clock_stopped_at: (r.clock_stopped_at as Date | null) ?? null } : null;
  const caseLight = timing ? lightOf(timing, now) : null;
  // A due date other than the case's deadline is the step's own limit (添加步骤时限).
  const stepLimit = !!due && (!timing || new Date(due).getTime() !== new Date(timing.promised_at).getTime());
  const stepLight = !stepLimit || !due || r.status !== 'open' ? null : caseLight === 'suspended' ? 'suspended'
    : now >= due ? 'red' : now >= calendar.shiftByWorkingDays(due, -1) ? 'yellow' : 'green';
  // Overdue is the case's red light (a stopped clock is never overdue), or the step's own limit passed.
  const overdue = r.status === 'open' && (timing ? caseLight === 'red' || stepLight === 'red' : !!due && due.getTime() < Date.now());
  return {
    applicantName: (r.applicant_name as string) ?? null, itemCode: (r.item_code as string) ?? null, assigneeName: (r.assignee_name as string) ?? null,
    deadlineDay: timing ? calendar.shanghaiDay(new Date(new Date(timing.promised_at).getTime() - 1)) : null, stepLimit, stepLight,
    caseNumber: hasCase ? String(r.case_number) : null, itemName: (r.item_name as string) ?? null,
    light: caseLight, remaining: timing ? remainingOf(calendar, timing, now) : null,
    id: String(r.id), instanceId: String(r.instance_id), elementId: String(r.element_id), name: (r.name as string) ?? null,
    processKey: String(r.process_key), businessKey: (r.business_key as string) ?? null, departmentId: (r.department_id as string) ?? null,
    assignee: (r.assignee as string) ?? null, candidateGroups: r.candidate_groups as string[], formKey: (r.form_key as string) ?? null,
    dueAt: iso(due), status: String(r.status), createdAt: iso(r.created_at)!, overdue,
  };
}

export async function taskRoutes(app: FastifyInstance, opts: { db: Db; engine: WorkflowEngine; calendars: CalendarCache; declarations: DeclarationStore; supervisions: SupervisionService }) {
  const { db, engine, calendars, declarations, supervisions } = opts;

  app.get('/api/tasks', {
    schema: {
      tags: ['tasks'], summary: 'Tasks visible to the caller: search by case number, applicant or item; filter by item, light, due date, assignee; sort by any column',
      querystring: pagingQuery(Object.keys(TASK_SORT).filter((k) => k !== 'id'), TaskQuery),
      response: { 200: pageOf(Task) },
    },
    config: { access: { roles: ['admin', 'clerk', 'inspector', 'leader'], scope: 'read' } },
  }, async (req) => {
    const p = principalOf(req);
    const q = req.query as TaskFilters & PageParams;
    const page = q.page ?? 1;
    const pageSize = q.pageSize ?? 20;
    const statements = taskListStatements(q, p);
    const calendar = await calendars.get();
    const rows = await queryNamed(db, statements.page.keep ? 'task_list' : null, statements.page.text, statements.page.values);
    const now = new Date();
    const total = rows.length ? Number(rows[0]!.page_total) : page === 1 ? 0
      : Number((await queryNamed(db, 'task_count', statements.count.text, statements.count.values))[0]?.count ?? 0);
    return { items: rows.map((r) => toTask(r, calendar, now)), total, page, pageSize };
  });

  // ---- saved filters (per user) -------------------------------------------------------------
  const SavedFilter = Type.Object({ id: Type.Integer(), name: Type.String(), scope: Type.String(), query: Type.Record(Type.String(), Type.Unknown()), createdAt: Type.String() });
  const toFilter = (r: Record<string, unknown>) => ({ id: Number(r.id), name: String(r.name), scope: String(r.scope), query: r.query as Record<string, unknown>, createdAt: iso(r.created_at)! });
  const everyone = { roles: ['admin', 'clerk', 'inspector', 'leader'] as ('admin' | 'clerk' | 'inspector' | 'leader')[], scope: 'read' as const };

  app.get('/api/saved-filters', {
    schema: { tags: ['tasks'], summary: 'The caller’s saved list filters', querystring: Type.Object({ scope: Type.Optional(Type.Union([Type.Literal('tasks'), Type.Literal('cases'), Type.Literal('supervisions')])) }, { additionalProperties: false }),
      response: { 200: Type.Array(SavedFilter) } },
    config: { access: everyone },
  }, async (req) => {
    const p = principalOf(req);
    const q = db('saved_filters').where({ username: p.username }).orderBy('name');
    const scope = (req.query as { scope?: string }).scope;
    if (scope) q.where({ scope });
    return (await q).map(toFilter);
  });

  app.post('/api/saved-filters', {
    schema: {
      tags: ['tasks'], summary: 'Save a list filter under a name (the same name replaces it)',
      body: Type.Object({
        name: Text(50), scope: Type.Optional(Type.Union([Type.Literal('tasks'), Type.Literal('cases'), Type.Literal('supervisions')])),
        query: Type.Record(Type.String({ maxLength: 40, pattern: '^[A-Za-z]+$' }), Type.Union([Type.String({ maxLength: 100, pattern: '^[^\\u0000]*$' }), Type.Number(), Type.Boolean()]), { maxProperties: 20, additionalProperties: false }),
      }, { additionalProperties: false }),
      response: { 201: SavedFilter },
    },
    config: { access: { ...everyone, scope: 'tasks:write' as const } },
  }, async (req, reply) => {
    const p = principalOf(req);
    const b = req.body as { name: string; scope?: string; query: Record<string, unknown> };
    const scope = b.scope ?? 'tasks';
    const row = await db.transaction(async (trx) => {
      const [r] = await trx('saved_filters').insert({ username: p.username, scope, name: b.name, query: JSON.stringify(b.query) })
        .onConflict(['username', 'scope', 'name']).merge(['query']).returning('*');
      await appendAudit(trx, { actor: p.username, action: 'filter.saved', entityType: 'saved_filter', entityId: String(r.id), after: { name: b.name, scope, query: b.query } });
      return r;
    });
    return reply.code(201).send(toFilter(row));
  });

  app.delete('/api/saved-filters/:id', {
    schema: { tags: ['tasks'], summary: 'Delete one of the caller’s saved filters', params: Type.Object({ id: Type.Integer({ minimum: 1, maximum: 2147483647 }) }), response: { 204: Type.Null() } },
    config: { access: { ...everyone, scope: 'tasks:write' as const } },
  }, async (req, reply) => {
    const p = principalOf(req);
    const { id } = req.params as { id: number };
    await db.transaction(async (trx) => {
      const n = await trx('saved_filters').where({ id, username: p.username }).delete();
      if (!n) throw new NotFoundError('saved filter', String(id));
      await appendAudit(trx, { actor: p.username, action: 'filter.deleted', entityType: 'saved_filter', entityId: String(id) });
    });
    return reply.code(204).send();
  });

  async function taskFor(id: string): Promise<(TaskAccessRow & { instance_id: string; status: string; element_id: string; execution_id: string; name: string | null }) | undefined> {
    return db('tasks').where({ id }).first('id', 'candidate_groups', 'candidate_users', 'assignee', 'instance_id', 'status', 'element_id', 'execution_id', 'name');
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
  app.post('/api/tasks/:id/assign', {
    schema: {
      tags: ['tasks'], summary: 'Reassign or delegate a task to a named colleague of the same department (recorded in the history)', params: IdParams,
      body: Type.Object({ to: Type.String({ minLength: 1, maxLength: 60, pattern: '^[A-Za-z0-9._-]+$' }), mode: Type.Optional(Type.Union([Type.Literal('reassign'), Type.Literal('delegate')])), note: Type.Optional(Text(500)) }, { additionalProperties: false }),
      response: { 204: Type.Null() },
    },
    config: { access: act },
  }, async (req, reply) => {
    const p = principalOf(req);
    const { id } = req.params as { id: string };
    const b = req.body as { to: string; mode?: 'reassign' | 'delegate'; note?: string };
    const task = await taskFor(id);
    assertCanActOnTask(p, task, id);
    if (task.status !== 'open') throw new ConflictError(`the task is ${task.status}`);
    const inst = await db('process_instances').where({ id: task.instance_id }).first('department_id');
    const department = inst?.department_id ?? p.departmentId;
    const colleague = await db('users').where({ username: b.to, active: true }).first('username', 'display_name', 'department_id', 'roles');
    if (!colleague || colleague.department_id !== department || !(colleague.roles as string[]).some((r) => r === 'clerk' || r === 'inspector')) {
      throw new BadRequestError(`${b.to} is not an active colleague of department ${department}`, { fields: [{ field: '/to', message: '只能转交给本部门在岗同事' }] });
    }
    if (hasRole(p, 'clerk') && !hasRole(p, 'inspector') && p.departmentId !== department) throw forbidden('only the handling department reassigns its tasks');
    const mode = b.mode ?? 'reassign';
    await db.transaction(async (trx) => {
      const row = await trx('tasks').where({ id }).forUpdate().first('status', 'assignee');
      if (row.status !== 'open') throw new ConflictError(`the task is ${row.status}`);
      await trx('tasks').where({ id }).update({ assignee: colleague.username, claimed_by: colleague.username, claimed_at: trx.raw('now()') });
      const data = { taskId: id, mode, from: row.assignee, to: colleague.username, toName: colleague.display_name, by: p.username, note: b.note ?? null };
      await trx('history').insert({ instance_id: task.instance_id, kind: mode === 'delegate' ? 'task.delegated' : 'task.reassigned', element_id: task.element_id, execution_id: task.execution_id, actor: p.username, data: JSON.stringify(data) });
      await appendAudit(trx, { actor: p.username, action: `task.${mode === 'delegate' ? 'delegated' : 'reassigned'}`, entityType: 'task', entityId: id, before: { assignee: row.assignee }, after: data });
    });
    return reply.code(204).send();
  });

  const Comment = Type.Object({ id: Type.Integer(), taskId: Nullable(Type.String()), taskName: Nullable(Type.String()), author: Type.String(), authorName: Nullable(Type.String()), body: Type.String(), createdAt: Type.String() });

  app.post('/api/tasks/:id/comments', {
    schema: { tags: ['tasks'], summary: 'Comment on a task (shown in the case history)', params: IdParams, body: Type.Object({ body: Text(2000) }, { additionalProperties: false }), response: { 201: Comment } },
    config: { access: { roles: ['clerk', 'inspector', 'leader', 'admin'] as ('clerk' | 'inspector' | 'leader' | 'admin')[], scope: 'tasks:write' } },
  }, async (req, reply) => {
    const p = principalOf(req);
    const { id } = req.params as { id: string };
    const task = await taskFor(id);
    if (!task || !canSee(p, task)) throw new NotFoundError('task', id);
    return reply.code(201).send(await addComment(db, p.username, task.instance_id, { id, name: task.name, elementId: task.element_id }, (req.body as { body: string }).body));
  });

  app.get('/api/cases/:id/comments', {
    schema: { tags: ['cases'], summary: 'Comments on a case and its tasks', params: IdParams, response: { 200: Type.Array(Comment) } },
    config: { access: { roles: ['admin', 'clerk', 'inspector', 'leader'], scope: 'read' } },
  }, async (req) => {
    const p = principalOf(req);
    const { id } = req.params as { id: string };
    await visibleCase(db, p, id);
    const rows = await db('comments as m').leftJoin('tasks as t', 't.id', 'm.task_id').leftJoin('users as u', 'u.username', 'm.author')
      .where('m.instance_id', id).orderBy('m.id').select('m.*', 't.name as task_name', 'u.display_name as author_name');
    return rows.map(toComment);
  });

  app.post('/api/cases/:id/comments', {
    schema: { tags: ['cases'], summary: 'Comment on a case (shown in its history)', params: IdParams, body: Type.Object({ body: Text(2000) }, { additionalProperties: false }), response: { 201: Comment } },
    config: { access: { roles: ['clerk', 'inspector', 'leader', 'admin'] as ('clerk' | 'inspector' | 'leader' | 'admin')[], scope: 'tasks:write' } },
  }, async (req, reply) => {
    const p = principalOf(req);
    const { id } = req.params as { id: string };
    await visibleCase(db, p, id);
    return reply.code(201).send(await addComment(db, p.username, id, null, (req.body as { body: string }).body));
  });
}

function canSee(p: ReturnType<typeof principalOf>, t: TaskAccessRow): boolean {
  try {
    assertVisible(p, t);
    return true;
  } catch {
    return false;
  }
}

function assertVisible(p: ReturnType<typeof principalOf>, t: TaskAccessRow): void {
  if (hasRole(p, 'admin', 'inspector', 'leader')) return;
  if ((p.departmentId && t.candidate_groups.includes(p.departmentId)) || t.assignee === p.username || t.candidate_users.includes(p.username)) return;
  throw new NotFoundError('task', t.id);
}

async function visibleCase(db: Db, p: ReturnType<typeof principalOf>, id: string): Promise<void> {
  const row = await db('cases').where({ id }).first('department_id');
  if (!row || (!hasRole(p, 'admin', 'inspector', 'leader') && row.department_id !== p.departmentId)) throw new NotFoundError('case', id);
}

function toComment(r: Record<string, unknown>) {
  return { id: Number(r.id), taskId: (r.task_id as string) ?? null, taskName: (r.task_name as string) ?? null, author: String(r.author), authorName: (r.author_name as string) ?? null, body: String(r.body), createdAt: iso(r.created_at)! };
}

async function addComment(db: Db, author: string, instanceId: string, task: { id: string; name: string | null; elementId: string } | null, body: string) {
  return db.transaction(async (trx) => {
    const [row] = await trx('comments').insert({ instance_id: instanceId, task_id: task?.id ?? null, author, body }).returning('*');
    await trx('history').insert({ instance_id: instanceId, kind: 'comment.added', element_id: task?.elementId ?? null, actor: author, data: JSON.stringify({ commentId: row.id, taskId: task?.id ?? null, body }) });
    await appendAudit(trx, { actor: author, action: 'comment.added', entityType: task ? 'task' : 'case', entityId: task?.id ?? instanceId, after: { commentId: row.id, body } });
    const user = await trx('users').where({ username: author }).first('display_name');
    return toComment({ ...row, task_name: task?.name ?? null, author_name: user?.display_name ?? null });
  });
}
