import type { Knex } from 'knex';

/** A suspended process version starts no new case; running cases go on. Starting by key uses the newest active version. */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE process_definitions
      ADD COLUMN suspended_at timestamptz,
      ADD COLUMN suspended_by text;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE process_definitions DROP COLUMN suspended_at, DROP COLUMN suspended_by`);
}
