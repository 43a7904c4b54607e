import type { Knex } from 'knex';

/** At-most-once deliveries (SMS) record the attempt before calling the provider. */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE outbox DROP CONSTRAINT outbox_status_check;
    ALTER TABLE outbox ADD CONSTRAINT outbox_status_check CHECK (status IN ('pending','sending','sent','failed'));
    ALTER TABLE outbox ADD COLUMN sending_since timestamptz;
    ALTER TABLE outbox ADD COLUMN provider_ref text;
    ALTER TABLE outbox ADD COLUMN provider_status text;
    CREATE INDEX outbox_sending_idx ON outbox (sending_since) WHERE status = 'sending';
    CREATE INDEX outbox_provider_ref_idx ON outbox (provider_ref) WHERE provider_ref IS NOT NULL;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP INDEX IF EXISTS outbox_provider_ref_idx; DROP INDEX IF EXISTS outbox_sending_idx;
    ALTER TABLE outbox DROP COLUMN provider_status, DROP COLUMN provider_ref, DROP COLUMN sending_since;
    ALTER TABLE outbox DROP CONSTRAINT outbox_status_check;
    ALTER TABLE outbox ADD CONSTRAINT outbox_status_check CHECK (status IN ('pending','sent','failed'));`);
}
