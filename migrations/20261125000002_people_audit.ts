import type { Knex } from 'knex';

/** Departments, users, sessions, API tokens, and the tamper-evident audit trail. */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE departments (
      id          text PRIMARY KEY,            -- short code, used as the BPMN candidate group
      name        text NOT NULL,
      name_en     text,
      head_user   uuid,
      phone       text,
      created_at  timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE users (
      id             uuid PRIMARY KEY,
      username       text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9._-]{2,40}$'),
      display_name   text NOT NULL,
      password_hash  text,
      department_id  text REFERENCES departments(id),
      roles          text[] NOT NULL DEFAULT '{}' CHECK (roles <@ ARRAY['admin','clerk','inspector','leader','system']::text[]),
      phone          text,
      active         boolean NOT NULL DEFAULT true,
      created_at     timestamptz NOT NULL DEFAULT now(),
      updated_at     timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE sessions (
      id          text PRIMARY KEY,             -- sha256 of the cookie value
      user_id     uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      csrf_token  text NOT NULL,
      created_at  timestamptz NOT NULL DEFAULT now(),
      expires_at  timestamptz NOT NULL
    );
    CREATE INDEX sessions_user_idx ON sessions (user_id);

    CREATE TABLE api_tokens (
      id            uuid PRIMARY KEY,
      name          text NOT NULL,
      secret_hash   text NOT NULL,
      user_id       uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      scopes        text[] NOT NULL,
      created_by    uuid REFERENCES users(id),
      created_at    timestamptz NOT NULL DEFAULT now(),
      expires_at    timestamptz,
      revoked_at    timestamptz,
      last_used_at  timestamptz
    );

    ALTER TABLE process_instances ADD COLUMN department_id text;
    CREATE INDEX process_instances_department_idx ON process_instances (department_id, status);
    CREATE INDEX tasks_groups_idx ON tasks USING gin (candidate_groups);

    CREATE TABLE audit_log (
      id           bigserial PRIMARY KEY,
      at           timestamptz NOT NULL DEFAULT clock_timestamp(),
      actor        text,
      action       text NOT NULL,
      entity_type  text NOT NULL,
      entity_id    text,
      before       jsonb,
      after        jsonb,
      prev_hash    text NOT NULL,
      hash         text NOT NULL
    );

    -- Append-only for every role, the application's included; the hash chain catches edits made
    -- by someone who can switch the trigger off (a superuser).
    CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
      FOR EACH ROW EXECUTE FUNCTION duban_forbid_change();
    CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
      FOR EACH STATEMENT EXECUTE FUNCTION duban_forbid_change();
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TABLE IF EXISTS audit_log, api_tokens, sessions, users, departments CASCADE;
    ALTER TABLE process_instances DROP COLUMN IF EXISTS department_id;
    DROP INDEX IF EXISTS tasks_groups_idx;`);
}
