import type { Knex } from 'knex';

/**
 * The approval process as a procedure (issue 11): a case's result code (GB/T 39046), the moment its clock
 * stopped (remaining time freezes there), comments on tasks and cases, and saved task-list filters per user.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE cases
      ADD COLUMN result_code text,                 -- 6 准予许可, 7 不予许可, 1 退回 (不予受理), 2 作废, 5 补正不来办结
      ADD COLUMN clock_stopped_at timestamptz;     -- set while suspended: the view counts remaining time up to here
    UPDATE cases c SET clock_stopped_at = s.started_at FROM case_suspensions s
     WHERE s.case_id = c.id AND s.ended_at IS NULL AND c.status = 'suspended';
    UPDATE cases SET result_code = CASE result WHEN '准予许可' THEN '6' WHEN '不予许可' THEN '7' ELSE NULL END WHERE status = 'completed';
    ALTER TABLE case_suspensions ADD COLUMN by_process boolean NOT NULL DEFAULT false;  -- stopped by a step of the process (补正, 特别程序)

    CREATE TABLE comments (
      id           bigserial PRIMARY KEY,
      instance_id  uuid NOT NULL REFERENCES process_instances(id),
      task_id      uuid REFERENCES tasks(id),
      author       text NOT NULL,
      body         text NOT NULL CHECK (length(body) BETWEEN 1 AND 2000),
      created_at   timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX comments_instance_idx ON comments (instance_id, id);

    CREATE TABLE saved_filters (
      id          bigserial PRIMARY KEY,
      username    text NOT NULL,
      scope       text NOT NULL DEFAULT 'tasks' CHECK (scope IN ('tasks', 'cases', 'supervisions')),
      name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 50),
      query       jsonb NOT NULL,
      created_at  timestamptz NOT NULL DEFAULT now(),
      UNIQUE (username, scope, name)
    );

    CREATE INDEX cases_applicant_idx ON cases (lower(applicant_name));
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TABLE IF EXISTS saved_filters, comments;
    DROP INDEX IF EXISTS cases_applicant_idx;
    ALTER TABLE case_suspensions DROP COLUMN by_process;
    ALTER TABLE cases DROP COLUMN result_code, DROP COLUMN clock_stopped_at;
  `);
}
