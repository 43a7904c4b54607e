import { Type, type TSchema } from '@sinclair/typebox';
import type { Knex } from 'knex';
import { BadRequestError } from '../engine/errors.js';

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

export const Uuid = Type.String({ format: 'uuid' });
export const IdParams = Type.Object({ id: Uuid });

/** A schema that also accepts null (nullable columns). */
export const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

/** A timestamp column as ISO 8601, or null. */
export const iso = (d: unknown): string | null => (d ? (d as Date).toISOString() : null);
