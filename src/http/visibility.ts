import type { Knex } from 'knex';
import { forbidden } from './auth.js';
import { NotFoundError } from '../engine/errors.js';
import { hasRole, seesAllDepartments, type Principal } from '../auth/principal.js';

/**
 * Department rules in one place. A clerk sees and works on tasks offered to their department
 * (candidate group = department id) or to them; inspectors, leaders and admins see all, and only
 * clerks and inspectors act on tasks — each on their own department's.
 */
export function scopeTasks(q: Knex.QueryBuilder, p: Principal, alias = 't'): Knex.QueryBuilder {
  if (seesAllDepartments(p)) return q;
  return q.where((w) => {
    // `@>` rather than `= ANY(...)`: only containment can use the GIN indexes on the arrays.
    if (p.departmentId) w.orWhereRaw(`${alias}.candidate_groups @> ARRAY[?]::text[]`, [p.departmentId]);
    w.orWhere(`${alias}.assignee`, p.username).orWhereRaw(`${alias}.candidate_users @> ARRAY[?]::text[]`, [p.username]);
  });
}

export function scopeInstances(q: Knex.QueryBuilder, p: Principal, alias = 'i'): Knex.QueryBuilder {
  if (seesAllDepartments(p)) return q;
  return q.where((w) => {
    if (p.departmentId) w.orWhere(`${alias}.department_id`, p.departmentId);
    w.orWhereExists(function visibleTask(this: Knex.QueryBuilder) {
      this.select(1).from('tasks as vt').whereRaw(`vt.instance_id = ${alias}.id`);
      scopeTasks(this, p, 'vt');
    });
  });
}

export interface TaskAccessRow {
  id: string;
  candidate_groups: string[];
  candidate_users: string[];
  assignee: string | null;
}

export function canSeeTask(p: Principal, t: TaskAccessRow): boolean {
  return seesAllDepartments(p) || isOfferedTo(p, t);
}

function isOfferedTo(p: Principal, t: TaskAccessRow): boolean {
  return (!!p.departmentId && t.candidate_groups.includes(p.departmentId)) || t.assignee === p.username || t.candidate_users.includes(p.username);
}

/** 404 when the caller may not even see the task (no existence leak), 403 when they see but may not act. */
export function assertCanActOnTask(p: Principal, t: TaskAccessRow | undefined, id: string): asserts t is TaskAccessRow {
  if (!t || !canSeeTask(p, t)) throw new NotFoundError('task', id);
  if (!hasRole(p, 'clerk', 'inspector') || !isOfferedTo(p, t)) throw forbidden('this task belongs to another department');
}
