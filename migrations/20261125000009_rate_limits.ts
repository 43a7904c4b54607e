import type { Knex } from 'knex';

/** Rate-limit windows shared by every server process (login attempts), so N processes do not allow N× the tries. */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE rate_limits (
      key       text PRIMARY KEY CHECK (length(key) <= 300),
      count     integer NOT NULL,
      reset_at  timestamptz NOT NULL
    );
    CREATE INDEX rate_limits_reset_idx ON rate_limits (reset_at);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP TABLE rate_limits`);
}
