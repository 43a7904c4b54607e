import type { Knex } from 'knex';

/**
 * The stored engine state is written whole by every command and read whole on recovery; nothing
 * queries inside it. As `jsonb` PostgreSQL parsed every write into its binary form (for an 11 KB
 * state, about half of the write's own CPU); `json` keeps the text as sent, only checked. Its TOAST
 * compression becomes lz4 where the server has it (faster than the default pglz, which stays on a
 * server built without lz4, such as the embedded one).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE process_instances ALTER COLUMN state TYPE json USING state::json');
  await knex.raw(`
    DO $$
    BEGIN
      ALTER TABLE process_instances ALTER COLUMN state SET COMPRESSION lz4;
    EXCEPTION WHEN feature_not_supported THEN
      RAISE NOTICE 'lz4 is not available on this server: the state keeps the default compression';
    END $$`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE process_instances ALTER COLUMN state SET COMPRESSION default');
  await knex.raw('ALTER TABLE process_instances ALTER COLUMN state TYPE jsonb USING state::jsonb');
}
