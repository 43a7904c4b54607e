import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createDb, migrate, type Db } from '../../src/db/database.js';
import { CLOCK_SQL, clockSearchPathSql } from './clock.js';

/**
 * Every test file gets its own fresh database on the server named by TEST_DATABASE_URL
 * (set by test/run.ts: the local PostgreSQL in CI, an embedded one elsewhere).
 */
export function serverUrl(): string {
  const url = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  if (!url) throw new Error('TEST_DATABASE_URL is not set: run the tests with `npm test`');
  return url;
}

/** `virtualClock: true` installs the test clock (support/clock.ts) before migrating; drive it with `new VirtualClock(db)`. */
export async function createTestDatabase(prefix = 'duban_t', opts: { virtualClock?: boolean } = {}): Promise<{ url: string; db: Db; drop(): Promise<void> }> {
  const admin = new URL(serverUrl());
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const url = new URL(admin.toString());
  url.pathname = `/${name}`;
  if (opts.virtualClock) {
    const c = new pg.Client({ connectionString: url.toString() });
    await c.connect();
    await c.query(CLOCK_SQL);
    await c.query(clockSearchPathSql(name));
    await c.end();
  }
  const db = createDb(url.toString());
  await migrate(db);
  return {
    url: url.toString(),
    db,
    async drop() {
      await db.destroy();
      const c = new pg.Client({ connectionString: admin.toString() });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
