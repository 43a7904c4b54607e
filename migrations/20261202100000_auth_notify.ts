import type { Knex } from 'knex';

/**
 * Every committed change to a user or a session tells every server process (NOTIFY duban_auth), so
 * their session caches (src/auth/session-cache.ts) forget it. A trigger rather than the code that
 * writes: whoever changes the tables (the API, the CLI, an operator in psql) cannot forget to tell.
 * Per statement: a deactivation that deletes a user's ten sessions sends one notification. A new
 * session (INSERT) changes no cached one and sends none.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE FUNCTION duban_auth_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('duban_auth', TG_TABLE_NAME);
      RETURN NULL;
    END $$;
    CREATE TRIGGER users_auth_changed AFTER UPDATE OR DELETE OR TRUNCATE ON users
      FOR EACH STATEMENT EXECUTE FUNCTION duban_auth_changed();
    CREATE TRIGGER sessions_auth_changed AFTER UPDATE OR DELETE OR TRUNCATE ON sessions
      FOR EACH STATEMENT EXECUTE FUNCTION duban_auth_changed();
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TRIGGER IF EXISTS users_auth_changed ON users;
    DROP TRIGGER IF EXISTS sessions_auth_changed ON sessions;
    DROP FUNCTION IF EXISTS duban_auth_changed();
  `);
}
