import path from 'node:path';
import { fileURLToPath } from 'node:url';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { grantApplicationRole } from './roles.js';
import { attachAuditSealer } from '../audit/seal.js';

// Timestamps come back as Date; bigint ids as JS numbers (they stay far below 2^53).
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export type Db = Knex;

const migrationsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations');

export function createDb(url: string, poolMax = 10): Db {
  const db = knexFactory({
    client: 'pg',
    connection: { connectionString: url, application_name: 'duban' },
    pool: { min: 0, max: poolMax },
  });
  // Audit entries that this handle's transactions queue are sealed into the chain in the background.
  attachAuditSealer(db);
  return db;
}

export async function migrate(db: Db): Promise<void> {
  const config = { directory: migrationsDir, loadExtensions: ['.ts'] };
  // Nothing pending: take no migration lock, which the application role may not write.
  const [, pending] = (await db.migrate.list(config)) as [unknown[], unknown[]];
  if (pending.length) await db.migrate.latest(config);
}

/**
 * Migrate as the owner role (when one is given) and grant the serving role its rows; without an
 * owner the serving role migrates itself, as before (tests and CI: a superuser).
 */
export async function migrateFor(serving: Db, ownerUrl: string | undefined): Promise<void> {
  if (!ownerUrl) {
    try {
      return await migrate(serving);
    } catch (err) {
      if ((err as { code?: string }).code !== '42501' && !/permission denied/.test(String(err))) throw err;
      throw new Error(`migrations are pending and the serving role may not run them (${(err as Error).message}): set DATABASE_OWNER_URL to the owner role`);
    }
  }
  const { rows } = await serving.raw<{ rows: Array<{ me: string }> }>('SELECT current_user AS me');
  const owner = createDb(ownerUrl, 2);
  try {
    await migrate(owner);
    await grantApplicationRole(owner, rows[0]!.me);
  } finally {
    await owner.destroy();
  }
}
