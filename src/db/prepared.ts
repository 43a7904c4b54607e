import type { Knex } from 'knex';
import type pg from 'pg';

/**
 * A hot statement, prepared once per connection by name: PostgreSQL parses and plans it once and
 * each command sends only its values (and knex builds no SQL). knex.raw cannot name a statement, so
 * it runs on the transaction's own pg connection, which knex hands out for the transaction.
 * Texts must be constant per name; list columns explicitly (a `*` would break a prepared statement
 * when a migration adds a column under a running server).
 */
export interface PreparedStatement {
  name: string;
  text: string;
}

export async function runPrepared<R extends pg.QueryResultRow>(trx: Knex.Transaction, statement: PreparedStatement, values: unknown[]): Promise<R[]> {
  const client = trx.client as unknown as { acquireConnection(): Promise<pg.ClientBase> };
  const connection = await client.acquireConnection();
  const result = await connection.query<R>({ name: statement.name, text: statement.text, values });
  return result.rows;
}

interface PooledClient {
  acquireConnection(): Promise<pg.ClientBase>;
  releaseConnection(connection: pg.ClientBase): Promise<void>;
}

/**
 * A named statement on a pooled connection, outside any transaction: a hot read (the session lookup,
 * a list page) that knex would otherwise build and compile on every call. Same pool, same type parsers.
 */
export async function queryPrepared<R extends pg.QueryResultRow>(db: Pick<Knex, 'client'>, statement: PreparedStatement, values: unknown[]): Promise<R[]> {
  return withPooledConnection(db, async (connection) => (await connection.query<R>({ name: statement.name, text: statement.text, values })).rows);
}

/** One connection of the knex pool for `fn`, released after it whatever happens. */
export async function withPooledConnection<T>(db: Pick<Knex, 'client'>, fn: (connection: pg.ClientBase) => Promise<T>): Promise<T> {
  const client = db.client as unknown as PooledClient;
  const connection = await client.acquireConnection();
  try {
    return await fn(connection);
  } finally {
    await client.releaseConnection(connection);
  }
}
