import type { Knex } from 'knex';

/**
 * Key projects (重点项目): the project record with its plan and investment, milestones (节点), problems
 * raised (存在的问题), progress reports (进度报告) with uploaded files, the phone links of 监督一点通, and the
 * thresholds that turn a project yellow or red against 序时进度. A project's id is its process instance's.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE key_projects (
      id                  uuid PRIMARY KEY,
      code                text NOT NULL UNIQUE CHECK (length(code) BETWEEN 1 AND 40),
      name                text NOT NULL CHECK (length(name) BETWEEN 2 AND 200),
      department_id       text NOT NULL REFERENCES departments(id),   -- 责任单位
      responsible_person  text NOT NULL,                              -- 责任人
      responsible_phone   text,
      location            text NOT NULL DEFAULT '',
      category            text NOT NULL DEFAULT '',                   -- 项目类别: 产业 / 基础设施 / 社会民生 …
      industry            text NOT NULL DEFAULT '',
      level               text NOT NULL DEFAULT '区级',               -- 省级 / 市级 / 区级
      content             text NOT NULL DEFAULT '',                   -- 建设内容及规模
      total_investment    numeric(14,2) NOT NULL DEFAULT 0 CHECK (total_investment >= 0),   -- 万元
      annual_target       numeric(14,2) NOT NULL DEFAULT 0 CHECK (annual_target >= 0),      -- 年度计划投资, 万元
      invested_this_year  numeric(14,2) NOT NULL DEFAULT 0 CHECK (invested_this_year >= 0), -- 本年完成投资, 万元
      planned_start       date NOT NULL,
      planned_finish      date NOT NULL CHECK (planned_finish > planned_start),
      progress            integer NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),    -- 形象进度, last report
      status              text NOT NULL DEFAULT 'building' CHECK (status IN ('building', 'completed')),
      misses              integer NOT NULL DEFAULT 0,                 -- milestones missed so far (letters issued)
      completed_at        timestamptz,
      created_by          text NOT NULL,
      created_at          timestamptz NOT NULL DEFAULT now(),
      updated_at          timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX key_projects_department ON key_projects (department_id);

    CREATE TABLE project_milestones (
      id              bigserial PRIMARY KEY,
      project_id      uuid NOT NULL REFERENCES key_projects(id),
      seq             integer NOT NULL CHECK (seq >= 1),
      name            text NOT NULL,                               -- 节点名称
      due_date        date NOT NULL,                               -- 完成时限 (end of that day)
      current_due     date NOT NULL,                               -- after a 回告 with a new date
      department_id   text NOT NULL REFERENCES departments(id),    -- 责任单位
      owner_person    text NOT NULL DEFAULT '',                    -- 责任人
      status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done')),
      done_at         timestamptz,                                 -- 完成情况: actual date
      done_late       boolean,
      evidence        text,
      misses          integer NOT NULL DEFAULT 0,
      UNIQUE (project_id, seq)
    );

    CREATE TABLE project_problems (
      id              bigserial PRIMARY KEY,
      project_id      uuid NOT NULL REFERENCES key_projects(id),
      content         text NOT NULL,                               -- 存在的问题
      department_id   text NOT NULL REFERENCES departments(id),    -- 责任单位
      due_date        date,                                        -- 解决时限
      resolution      text,                                        -- 解决情况
      resolved_at     timestamptz,
      raised_by       text NOT NULL,
      raised_at       timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE project_reports (
      id              bigserial PRIMARY KEY,
      project_id      uuid NOT NULL REFERENCES key_projects(id),
      progress        integer NOT NULL CHECK (progress BETWEEN 0 AND 100),
      invested        numeric(14,2) CHECK (invested >= 0),         -- 本年完成投资 as reported
      text            text NOT NULL,
      reported_by     text NOT NULL,
      via             text NOT NULL CHECK (via IN ('api', 'mobile')),
      reported_at     timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX project_reports_project ON project_reports (project_id, reported_at DESC);

    -- Uploaded files (photos, evidence), kept in the database so every server process serves the same bytes.
    CREATE TABLE files (
      id              uuid PRIMARY KEY,
      project_id      uuid REFERENCES key_projects(id),
      report_id       bigint REFERENCES project_reports(id),
      name            text NOT NULL,
      content_type    text NOT NULL,
      size            integer NOT NULL CHECK (size > 0),
      sha256          text NOT NULL,
      data            bytea NOT NULL,
      uploaded_by     text NOT NULL,
      uploaded_at     timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX files_report ON files (report_id);

    -- 监督一点通: a link sent by SMS lets the responsible person report from a phone without an account.
    CREATE TABLE project_links (
      id              uuid PRIMARY KEY,
      project_id      uuid NOT NULL REFERENCES key_projects(id),
      token_hash      text NOT NULL UNIQUE,
      created_by      text NOT NULL,
      created_at      timestamptz NOT NULL DEFAULT now(),
      expires_at      timestamptz NOT NULL,
      revoked_at      timestamptz
    );

    CREATE TABLE project_settings (
      id              boolean PRIMARY KEY DEFAULT true CHECK (id),
      yellow_points   integer NOT NULL DEFAULT 10 CHECK (yellow_points BETWEEN 1 AND 100),  -- behind 序时进度 → yellow
      red_points      integer NOT NULL DEFAULT 30 CHECK (red_points BETWEEN 1 AND 100),     -- behind 序时进度 → red
      warning_days    integer NOT NULL DEFAULT 5 CHECK (warning_days BETWEEN 0 AND 60),     -- milestone due within → yellow
      link_days       integer NOT NULL DEFAULT 30 CHECK (link_days BETWEEN 1 AND 365),      -- a phone link lives this long
      CHECK (yellow_points < red_points)
    );
    INSERT INTO project_settings DEFAULT VALUES;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP TABLE project_settings, project_links, files, project_reports, project_problems, project_milestones, key_projects`);
}
