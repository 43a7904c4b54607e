import { Type, type TSchema } from '@sinclair/typebox';
import type { Knex } from 'knex';
import { createHash } from 'node:crypto';
import { BadRequestError } from '../engine/errors.js';
import { queryPrepared } from '../db/prepared.js';

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
 * Run a hot query as a named prepared statement: PostgreSQL parses and plans it once per connection
 * instead of on every call. The name is the SQL text's hash (values stay bindings), so each shape of
 * a list query (its filters and sort) is one statement; past MAX_PREPARED shapes they run unnamed.
 * knex compiles the query once here and the text goes straight to a pooled connection (knex would
 * compile it again to run it).
 */
export async function runPreparedQuery(q: Knex.QueryBuilder, prefix: string): Promise<Array<Record<string, unknown>>> {
  const { sql, bindings } = q.toSQL().toNative();
  let name = preparedNames.get(sql);
  if (!name) {
    if (preparedNames.size >= MAX_PREPARED) return await q;
    name = `${prefix}_${createHash('sha1').update(sql).digest('hex').slice(0, 16)}`;
    preparedNames.set(sql, name);
  }
  return queryPrepared(q, { name, text: sql }, bindings as unknown[]);
}

/**
 * paginate() in one round trip: the count rides along as an uncorrelated scalar subquery (PostgreSQL
 * evaluates it once, as an InitPlan). Only a page past the end, which returns no row to carry it,
 * asks for the count on its own.
 */
export async function paginateInOne<R>(name: string, q: Knex.QueryBuilder, params: PageParams, columns: Record<string, string>, defaultSort: string,
  map: (row: Record<string, unknown>) => R): Promise<{ items: R[]; total: number; page: number; pageSize: number }> {
  const page = params.page ?? 1;
  const pageSize = params.pageSize ?? 20;
  if (!Number.isSafeInteger(page) || page < 1 || !Number.isSafeInteger(pageSize) || pageSize < 1) {
    throw new BadRequestError('page and pageSize must be positive integers');
  }
  const count = q.clone().clearSelect().clearOrder().count('* as count');
  const column = columns[params.sort ?? defaultSort] ?? columns[defaultSort]!;
  const rows = await runPreparedQuery(q.select(count.as('page_total')).orderBy(column, params.order ?? 'desc')
    .orderBy(columns.id ?? column, 'asc').limit(pageSize).offset((page - 1) * pageSize), name);
  const total = rows.length ? Number(rows[0]!.page_total) : page === 1 ? 0 : Number((await count.first())?.count ?? 0);
  return { items: rows.map(map), total, page, pageSize };
}

export const Uuid = Type.String({ format: 'uuid' });
export const IdParams = Type.Object({ id: Uuid });

/** A schema that also accepts null (nullable columns). */
export const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

/** A timestamp column as ISO 8601, or null. */
export const iso = (d: unknown): string | null => (d ? (d as Date).toISOString() : null);
