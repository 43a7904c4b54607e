import type { Knex } from 'knex';

/**
 * An instance's engine state (~12 KB of JSON for the approval process) is written by every command and
 * read back whole, never queried inside: as jsonb PostgreSQL parsed it into its binary form and
 * compressed that with pglz on every write. Stored as json (the text, checked) and compressed with lz4
 * the same UPDATE costs PostgreSQL about half the CPU (bench/README.md). A server built without lz4
 * keeps pglz.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE process_instances ALTER COLUMN state TYPE json USING state::json');
  await knex.raw(`
    DO $$
    BEGIN
      ALTER TABLE process_instances ALTER COLUMN state SET COMPRESSION lz4;
    EXCEPTION WHEN feature_not_supported THEN
      RAISE NOTICE 'lz4 is not available: process_instances.state stays compressed with pglz';
    END $$`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE process_instances ALTER COLUMN state SET COMPRESSION default');
  await knex.raw('ALTER TABLE process_instances ALTER COLUMN state TYPE jsonb USING state::jsonb');
}
