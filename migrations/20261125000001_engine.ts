import type { Knex } from 'knex';

/** Engine tables: every instance, task, timer, outgoing message and history row lives here. */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE process_definitions (
      id            text PRIMARY KEY,              -- <key>:<version>
      key           text NOT NULL,
      version       integer NOT NULL,
      name          text,
      xml           text NOT NULL,
      compiled      jsonb NOT NULL,                -- serialized moddle context, parsed once per version
      meta          jsonb NOT NULL DEFAULT '{}',   -- start events, message names, user tasks
      note          text,
      deployed_by   text,
      deployed_at   timestamptz NOT NULL DEFAULT now(),
      checksum      text NOT NULL,
      UNIQUE (key, version)
    );

    CREATE TABLE process_instances (
      id             uuid PRIMARY KEY,
      definition_id  text NOT NULL REFERENCES process_definitions(id),
      process_key    text NOT NULL,
      business_key   text,
      status         text NOT NULL CHECK (status IN ('running','completed','failed','cancelled')),
      state          jsonb,                         -- bpmn-engine state without the XML source
      variables      jsonb NOT NULL DEFAULT '{}',
      version        integer NOT NULL DEFAULT 1,    -- bumped by every command
      started_by     text,
      started_at     timestamptz NOT NULL DEFAULT now(),
      updated_at     timestamptz NOT NULL DEFAULT now(),
      ended_at       timestamptz,
      error          text
    );
    CREATE INDEX process_instances_key_idx ON process_instances (process_key, status);
    CREATE INDEX process_instances_business_key_idx ON process_instances (business_key);

    CREATE TABLE tasks (
      id               uuid PRIMARY KEY,
      instance_id      uuid NOT NULL REFERENCES process_instances(id) ON DELETE CASCADE,
      execution_id     text NOT NULL,
      element_id       text NOT NULL,
      name             text,
      assignee         text,
      candidate_groups text[] NOT NULL DEFAULT '{}',
      candidate_users  text[] NOT NULL DEFAULT '{}',
      form_key         text,
      due_at           timestamptz,
      status           text NOT NULL CHECK (status IN ('open','completed','cancelled')),
      created_at       timestamptz NOT NULL DEFAULT now(),
      claimed_by       text,
      claimed_at       timestamptz,
      completed_by     text,
      ended_at         timestamptz,
      output           jsonb,
      UNIQUE (instance_id, execution_id)
    );
    CREATE INDEX tasks_open_idx ON tasks (status, due_at) WHERE status = 'open';
    CREATE INDEX tasks_instance_idx ON tasks (instance_id);

    CREATE TABLE timers (
      id            bigserial PRIMARY KEY,
      instance_id   uuid NOT NULL REFERENCES process_instances(id) ON DELETE CASCADE,
      execution_id  text NOT NULL,                  -- stable across recover
      element_id    text NOT NULL,
      timer_type    text,
      definition    text,
      repeat        integer,
      due_at        timestamptz NOT NULL,
      created_at    timestamptz NOT NULL DEFAULT now(),
      UNIQUE (instance_id, execution_id)
    );
    CREATE INDEX timers_due_idx ON timers (due_at);

    CREATE TABLE message_subscriptions (
      instance_id   uuid NOT NULL REFERENCES process_instances(id) ON DELETE CASCADE,
      message_name  text NOT NULL,
      element_id    text NOT NULL,
      business_key  text,
      PRIMARY KEY (instance_id, message_name, element_id)
    );
    CREATE INDEX message_subscriptions_name_idx ON message_subscriptions (message_name, business_key);

    CREATE TABLE outbox (
      id              bigserial PRIMARY KEY,
      instance_id     uuid REFERENCES process_instances(id) ON DELETE SET NULL,
      element_id      text,
      service         text NOT NULL,
      dedup_key       text NOT NULL UNIQUE,
      payload         jsonb NOT NULL,
      status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','sent','failed')),
      attempts        integer NOT NULL DEFAULT 0,
      max_attempts    integer NOT NULL DEFAULT 5,
      next_attempt_at timestamptz NOT NULL DEFAULT now(),
      last_error      text,
      result          jsonb,
      created_at      timestamptz NOT NULL DEFAULT now(),
      sent_at         timestamptz
    );
    CREATE INDEX outbox_pending_idx ON outbox (next_attempt_at) WHERE status = 'pending';

    CREATE TABLE incidents (
      id           bigserial PRIMARY KEY,
      instance_id  uuid REFERENCES process_instances(id) ON DELETE CASCADE,
      outbox_id    bigint REFERENCES outbox(id),
      element_id   text,
      kind         text NOT NULL,
      message      text NOT NULL,
      status       text NOT NULL DEFAULT 'open' CHECK (status IN ('open','resolved')),
      created_at   timestamptz NOT NULL DEFAULT now(),
      resolved_at  timestamptz,
      resolved_by  text
    );
    CREATE INDEX incidents_open_idx ON incidents (status, created_at);

    CREATE TABLE history (
      id            bigserial PRIMARY KEY,
      instance_id   uuid NOT NULL REFERENCES process_instances(id) ON DELETE CASCADE,
      kind          text NOT NULL,
      element_id    text,
      element_type  text,
      execution_id  text,
      actor         text,
      data          jsonb,
      at            timestamptz NOT NULL DEFAULT clock_timestamp()
    );
    CREATE INDEX history_instance_idx ON history (instance_id, id);

    -- History is append-only for everyone, the application included.
    CREATE FUNCTION duban_forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$;
    CREATE TRIGGER history_append_only BEFORE UPDATE ON history
      FOR EACH ROW EXECUTE FUNCTION duban_forbid_change();
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP TABLE IF EXISTS history, incidents, outbox, message_subscriptions, timers, tasks, process_instances, process_definitions CASCADE;
    DROP FUNCTION IF EXISTS duban_forbid_change();`);
}
