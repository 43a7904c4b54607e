import type { Knex } from 'knex';

/**
 * The limit promised at intake, kept on the case: later item edits do not touch it, and a calendar change
 * (a holiday added, next year's arrangement confirmed) recomputes open cases' deadlines from it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE cases
      ADD COLUMN promised_days integer CHECK (promised_days >= 0),
      ADD COLUMN limit_unit text CHECK (limit_unit IN ('workday', 'minute', 'second')),
      ADD COLUMN warning_rule jsonb;
    UPDATE cases c SET promised_days = i.promised_days, limit_unit = i.limit_unit, warning_rule = i.warning_rule FROM items i WHERE i.code = c.item_code;
    ALTER TABLE cases ALTER COLUMN promised_days SET NOT NULL, ALTER COLUMN limit_unit SET NOT NULL, ALTER COLUMN warning_rule SET NOT NULL;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE cases DROP COLUMN promised_days, DROP COLUMN limit_unit, DROP COLUMN warning_rule`);
}
