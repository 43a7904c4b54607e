import type { Knex } from 'knex';

/** A case whose process ended with an uncaught BPMN error is `failed` (the incident names the error and element). */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE cases DROP CONSTRAINT IF EXISTS cases_status_check;
    ALTER TABLE cases ADD CONSTRAINT cases_status_check CHECK (status IN ('handling', 'suspended', 'completed', 'cancelled', 'failed'));
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    UPDATE cases SET status = 'cancelled' WHERE status = 'failed';
    ALTER TABLE cases DROP CONSTRAINT IF EXISTS cases_status_check;
    ALTER TABLE cases ADD CONSTRAINT cases_status_check CHECK (status IN ('handling', 'suspended', 'completed', 'cancelled'));
  `);
}
