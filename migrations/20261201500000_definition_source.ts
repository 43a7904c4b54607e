import type { Knex } from 'knex';

/**
 * Where a version came from: `processes/<file>` for a shipped file, null for an admin's or an API deploy.
 * On start a shipped file is deployed only when it differs from the version last deployed from that
 * file, so an admin's newer version stays the latest across restarts. Earlier shipped versions carry
 * the note `shipped: <file>` written by the system.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE process_definitions ADD COLUMN source text;
    UPDATE process_definitions SET source = 'processes/' || substring(note from 9)
     WHERE deployed_by = 'system' AND note LIKE 'shipped: %.bpmn';
    CREATE INDEX process_definitions_source ON process_definitions (source, version DESC) WHERE source IS NOT NULL;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE process_definitions DROP COLUMN source`);
}
