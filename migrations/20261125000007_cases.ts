import type { Knex } from 'knex';

/**
 * Approval items (事项), cases (办件, GB/T 39046 fields), clock stops, supervision (督办件) with
 * urging notices, and the inspectors' duty roster.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE items (
      code            text PRIMARY KEY,                  -- 实施编码
      name            text NOT NULL,                     -- 事项名称
      department_id   text NOT NULL REFERENCES departments(id),
      case_type       smallint NOT NULL DEFAULT 2 CHECK (case_type IN (1, 2, 9)),  -- 1 即办件, 2 承诺件, 9 其他
      statutory_days  integer CHECK (statutory_days >= 0),
      promised_days   integer NOT NULL CHECK (promised_days >= 0),
      limit_unit      text NOT NULL DEFAULT 'workday' CHECK (limit_unit IN ('workday', 'minute', 'second')),  -- minute, second: drills and tests
      warning_rule    jsonb NOT NULL DEFAULT '{"kind":"days","value":1}',
      process_key     text NOT NULL DEFAULT 'approval-item',
      active          boolean NOT NULL DEFAULT true,
      created_at      timestamptz NOT NULL DEFAULT now(),
      updated_at      timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX items_department_idx ON items (department_id);

    CREATE TABLE case_numbers (day text PRIMARY KEY, last integer NOT NULL);

    CREATE TABLE cases (
      id                  uuid PRIMARY KEY REFERENCES process_instances(id),
      number              text NOT NULL UNIQUE CHECK (length(number) <= 50),   -- 办件编号
      item_code           text NOT NULL REFERENCES items(code),
      department_id       text NOT NULL REFERENCES departments(id),
      applicant_name      text NOT NULL,
      applicant_type      smallint NOT NULL CHECK (applicant_type IN (1, 2)), -- 1 个人, 2 法人
      id_type             text NOT NULL CHECK (id_type IN ('resident_id', 'uscc')),
      id_number           text NOT NULL,
      contact_name        text,
      phone               text NOT NULL,
      source              text NOT NULL DEFAULT 'window',
      received_at         timestamptz NOT NULL,                               -- 受理时间
      promised_at         timestamptz NOT NULL,                               -- 承诺办结时间
      warning_at          timestamptz NOT NULL,
      calendar_confirmed  boolean NOT NULL DEFAULT true,
      status              text NOT NULL DEFAULT 'handling' CHECK (status IN ('handling', 'suspended', 'completed', 'cancelled')),
      suspended_days      integer NOT NULL DEFAULT 0,
      warned_at           timestamptz,
      escalated_at        timestamptz,
      completed_at        timestamptz,                                        -- 办结时间
      result              text,
      created_by          text,
      created_at          timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX cases_department_idx ON cases (department_id, status);
    CREATE INDEX cases_item_idx ON cases (item_code, received_at);
    CREATE INDEX cases_received_idx ON cases (received_at);
    CREATE INDEX cases_open_promised_idx ON cases (promised_at) WHERE status IN ('handling', 'suspended');

    CREATE TABLE case_suspensions (
      id            bigserial PRIMARY KEY,
      case_id       uuid NOT NULL REFERENCES cases(id),
      kind          text NOT NULL CHECK (kind IN ('supplement', 'special')),   -- 补正, 特别程序
      reason        text NOT NULL,
      started_at    timestamptz NOT NULL DEFAULT now(),
      started_by    text,
      ended_at      timestamptz,
      ended_by      text,
      working_days  integer
    );
    CREATE UNIQUE INDEX case_suspensions_open_idx ON case_suspensions (case_id) WHERE ended_at IS NULL;

    CREATE TABLE supervisions (
      id             uuid PRIMARY KEY,
      number         text NOT NULL UNIQUE,                                   -- 监察编号
      case_id        uuid NOT NULL REFERENCES cases(id),
      rule_code      text NOT NULL DEFAULT 'OVERDUE',                        -- 监察规则编号
      warning_type   text NOT NULL DEFAULT 'red',                            -- 监察预警类型
      content        text NOT NULL,                                          -- 督办内容
      department_id  text NOT NULL REFERENCES departments(id),               -- 被督办机构
      opened_at      timestamptz NOT NULL DEFAULT now(),                     -- 督办发出时间
      status         text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
      follow_up_at   timestamptz,
      case_completed_at timestamptz,
      closed_at      timestamptz,
      closed_by      text,
      result         text,                                                   -- 监察结果描述
      UNIQUE (case_id, rule_code)
    );
    CREATE INDEX supervisions_status_idx ON supervisions (status, opened_at);

    CREATE TABLE urgings (
      id              bigserial PRIMARY KEY,
      supervision_id  uuid NOT NULL REFERENCES supervisions(id),
      content         text NOT NULL,
      reply_by        timestamptz,
      recipient       text,
      phone           text,
      issued_by       text NOT NULL,
      issued_at       timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE duty_roster (
      day            date NOT NULL,
      user_id        uuid NOT NULL REFERENCES users(id),
      department_id  text NOT NULL DEFAULT '*',   -- '*' covers every department
      PRIMARY KEY (day, user_id, department_id)
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP TABLE IF EXISTS duty_roster, urgings, supervisions, case_suspensions, cases, case_numbers, items CASCADE`);
}
