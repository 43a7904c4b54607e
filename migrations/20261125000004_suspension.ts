import type { Knex } from 'knex';

/** Clock stop (补正, 特别程序): a suspended instance fires no timers until it resumes. */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE process_instances ADD COLUMN suspended_at timestamptz`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE process_instances DROP COLUMN suspended_at`);
}
