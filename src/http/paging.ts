import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { Knex } from 'knex';
import { createHash } from 'node:crypto';
import { BadRequestError } from '../engine/errors.js';
import { queryPrepared, withPooledConnection } from '../db/prepared.js';

/** Every list pages and sorts on the server; sort keys are whitelisted per list. */
export function pagingQuery<T extends Record<string, TSchema>>(sortKeys: readonly string[], filters: T) {
  return Type.Object({
    page: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000, default: 1 })),
    pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 20 })),
    sort: Type.Optional(Type.Union(sortKeys.map((k) => Type.Literal(k)))),
    order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')])),
    ...filters,
  }, { additionalProperties: false });
}

export function pageOf<T extends TSchema>(item: T) {
  return Type.Object({ items: Type.Array(item), total: Type.Integer(), page: Type.Integer(), pageSize: Type.Integer() });
}

export interface PageParams {
  page?: number;
  pageSize?: number;
  sort?: string;
  order?: 'asc' | 'desc';
}

export async function paginate<R>(q: Knex.QueryBuilder, params: PageParams, columns: Record<string, string>, defaultSort: string,
  map: (row: Record<string, unknown>) => R): Promise<{ items: R[]; total: number; page: number; pageSize: number }> {
  const page = params.page ?? 1;
  const pageSize = params.pageSize ?? 20;
  // A route whose own query schema forgot the bounds still never hands SQL a non-integer offset.
  if (!Number.isSafeInteger(page) || page < 1 || !Number.isSafeInteger(pageSize) || pageSize < 1) {
    throw new BadRequestError('page and pageSize must be positive integers');
  }
  const countRow = await q.clone().clearSelect().clearOrder().count<{ count: string }[]>('* as count').first();
  const column = columns[params.sort ?? defaultSort] ?? columns[defaultSort]!;
  const rows = await q.orderBy(column, params.order ?? 'desc').orderBy(columns.id ?? column, 'asc').limit(pageSize).offset((page - 1) * pageSize);
  return { items: rows.map(map), total: Number(countRow?.count ?? 0), page, pageSize };
}

/** Named statements this process has handed out, by SQL text; a bound on what each pooled connection keeps prepared. */
const preparedNames = new Map<string, string>();
const MAX_PREPARED = 200;

/**
 * Run a hot list's statement as a named prepared statement: PostgreSQL parses and plans it once per
 * connection instead of on every call. The name is the SQL text's hash (values stay bindings), so each
 * shape of a list query (its filters and sort) is one statement; past MAX_PREPARED shapes, or with no
 * prefix (a statement not worth keeping), they run unnamed.
 */
export async function queryNamed(db: Pick<Knex, 'client'>, prefix: string | null, text: string, values: unknown[]): Promise<Array<Record<string, unknown>>> {
  const name = prefix === null ? undefined : nameOf(prefix, text);
  if (name) return queryPrepared(db, { name, text }, values);
  return withPooledConnection(db, async (connection) => (await connection.query(text, values)).rows as Array<Record<string, unknown>>);
}

/** The statement name of a text, the same in every process; none past MAX_PREPARED shapes. */
function nameOf(prefix: string, text: string): string | undefined {
  let name = preparedNames.get(text);
  if (!name) {
    if (preparedNames.size >= MAX_PREPARED) return undefined;
    name = `${prefix}_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
    preparedNames.set(text, name);
  }
  return name;
}

export const Uuid = Type.String({ format: 'uuid' });
export const IdParams = Type.Object({ id: Uuid });

/**
 * A schema that also accepts null (nullable columns). As `nullable: true` (OpenAPI 3.0, and a keyword
 * ajv knows) rather than a union with null: fast-json-stringify serializes a union by running a
 * validator on each value to choose its branch, which cost the task list a tenth of its serialization.
 */
export const Nullable = <T extends TSchema>(t: T) => Type.Unsafe<Static<T> | null>({ ...t, nullable: true });

/** A timestamp column as ISO 8601, or null. */
export const iso = (d: unknown): string | null => (d ? (d as Date).toISOString() : null);
