import type { Knex } from 'knex';

/**
 * The working-day calendar an administrator maintains on top of the official data (chinese-days):
 * single-day overrides, and years whose arrangement has been entered completely.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE calendar_days (
      day         date PRIMARY KEY,
      kind        text NOT NULL CHECK (kind IN ('holiday','workday')),  -- holiday: no work; workday: make-up working day
      note        text,
      updated_by  text,
      updated_at  timestamptz NOT NULL DEFAULT now()
    );

    -- A year not covered by the official data is counted Monday–Friday and flagged until an
    -- administrator has entered the State Council's arrangement and confirms the year here.
    CREATE TABLE calendar_years (
      year        integer PRIMARY KEY CHECK (year BETWEEN 1900 AND 2200),
      confirmed   boolean NOT NULL DEFAULT false,
      note        text,
      updated_by  text,
      updated_at  timestamptz NOT NULL DEFAULT now()
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS calendar_days, calendar_years');
}
