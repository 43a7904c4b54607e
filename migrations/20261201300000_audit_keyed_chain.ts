import type { Knex } from 'knex';
import { sealLegacyRows } from '../src/audit/audit.js';

/**
 * The keyed audit chain: each row names the key that signed it (a fingerprint, not the key), no row
 * may have two successors, and a seal row attests how many unkeyed rows came before.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE audit_log ADD COLUMN key_id text;
    -- One successor per row: two appends that read the same head cannot both commit.
    CREATE UNIQUE INDEX audit_log_one_successor ON audit_log (prev_hash) WHERE key_id IS NOT NULL;
    REVOKE UPDATE, DELETE, TRUNCATE, TRIGGER, REFERENCES ON audit_log FROM PUBLIC;
  `);
  await sealLegacyRows(knex);
}

export async function down(knex: Knex): Promise<void> {
  // The seal row stays: the audit trail is append-only, also for a rollback of this migration.
  await knex.raw(`
    DROP INDEX IF EXISTS audit_log_one_successor;
    ALTER TABLE audit_log DROP COLUMN IF EXISTS key_id;`);
}
