import type { Knex } from 'knex';

/** SMS sending rules count recent messages per number (src/notify/policy.ts). */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE INDEX outbox_sms_to_idx ON outbox ((payload->>'to'), sent_at) WHERE service = 'sms'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS outbox_sms_to_idx');
}
