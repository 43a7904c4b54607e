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
  const visible = taskVisibility(p, alias);
  return visible ? q.whereRaw(visible.sql, visible.values) : q;
}

/**
 * The rule above as one SQL condition with `?` for its values (for knex.whereRaw and for lists written
 * in SQL, src/http/sql-text.ts); none when the caller sees every department. `literal`, when given,
 * writes the department in as a quoted literal instead (see taskListStatements).
 */
export function taskVisibility(p: Principal, alias = 't', literal?: (value: string) => string): { sql: string; values: string[] } | null {
  if (seesAllDepartments(p)) return null;
  // `@>` rather than `= ANY(...)`: only containment can use the GIN indexes on the arrays.
  const terms = [`${alias}.assignee = ?`, `${alias}.candidate_users @> ARRAY[?]::text[]`];
  const values = [p.username, p.username];
  if (p.departmentId && literal) terms.unshift(`${alias}.candidate_groups @> ARRAY[${literal(p.departmentId)}]::text[]`);
  else if (p.departmentId) {
    terms.unshift(`${alias}.candidate_groups @> ARRAY[?]::text[]`);
    values.unshift(p.departmentId);
  }
  return { sql: `(${terms.join(' OR ')})`, values };
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
