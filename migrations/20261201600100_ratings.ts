import type { Knex } from 'knex';

/**
 * 好差评: rating sources with their own code lists (the sources disagree on what 1 means), settings,
 * ratings (GB/T 39046 表9 plus what the closed loop records), import batches and rejected rows.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE rating_sources (
      name          text PRIMARY KEY,
      description   text NOT NULL,
      level_codes   jsonb NOT NULL,     -- {"1": "非常满意", …}
      channel_codes jsonb NOT NULL      -- {"1": "PC端", …}
    );
    INSERT INTO rating_sources (name, description, level_codes, channel_codes) VALUES
      ('gbt39046', 'GB/T 39046-2020 附录A.8 (1 = 非常满意 … 5 = 非常不满意)',
        '{"1":"非常满意","2":"满意","3":"基本满意","4":"不满意","5":"非常不满意"}',
        '{"1":"PC端","2":"移动服务端","3":"二维码","4":"政务大厅平板电脑","5":"政务大厅其他终端","6":"电话","7":"短信","8":"系统默认评价"}'),
      ('provincial', '省级好差评上报接口 (1 = 非常不满意 … 5 = 非常满意; 6 短信, 7 电话)',
        '{"1":"非常不满意","2":"不满意","3":"基本满意","4":"满意","5":"非常满意"}',
        '{"1":"PC端","2":"移动服务端","3":"二维码","4":"政务大厅平板电脑","5":"政务大厅其他终端","6":"短信","7":"电话","9":"系统默认评价"}'),
      ('manual', '窗口人工录入 (GB/T 39046 代码)',
        '{"1":"非常满意","2":"满意","3":"基本满意","4":"不满意","5":"非常不满意"}',
        '{"1":"PC端","2":"移动服务端","3":"二维码","4":"政务大厅平板电脑","5":"政务大厅其他终端","6":"电话","7":"短信","8":"系统默认评价"}');

    CREATE TABLE rating_settings (
      id                   smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
      trigger_level        text NOT NULL DEFAULT '基本满意',   -- this level and below start the loop
      handling_days        integer NOT NULL DEFAULT 5 CHECK (handling_days BETWEEN 1 AND 60),
      default_rating_days  integer CHECK (default_rating_days BETWEEN 1 AND 60),  -- null: off
      late_window_days     integer CHECK (late_window_days BETWEEN 1 AND 60),     -- working days after completion
      updated_at           timestamptz NOT NULL DEFAULT now(),
      updated_by           text
    );
    INSERT INTO rating_settings (id, late_window_days) VALUES (1, 5);

    CREATE TABLE rating_imports (
      id          uuid PRIMARY KEY,
      source      text NOT NULL REFERENCES rating_sources(name),
      via         text NOT NULL CHECK (via IN ('file', 'api', 'manual')),
      file_name   text,
      total       integer NOT NULL DEFAULT 0,
      created     integer NOT NULL DEFAULT 0,
      duplicates  integer NOT NULL DEFAULT 0,
      rejected    integer NOT NULL DEFAULT 0,
      created_by  text,
      created_at  timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE ratings (
      id                uuid PRIMARY KEY,
      case_number       text NOT NULL CHECK (length(case_number) BETWEEN 1 AND 50),  -- 办件编号
      times             smallint NOT NULL CHECK (times IN (1, 2)),                    -- 评价次数
      channel           text NOT NULL,                                                -- 评价渠道 (label)
      level             text NOT NULL CHECK (level IN ('非常满意', '满意', '基本满意', '不满意', '非常不满意')),
      level_code        text,                                                          -- the source's own code, as sent
      text              text,                                                          -- 文字评价
      content_codes     text[] NOT NULL DEFAULT '{}',                                  -- 测评内容
      rater_name        text,
      rater_type        smallint CHECK (rater_type IN (1, 2)),                          -- 1 个人, 2 法人
      rater_phone       text,
      real_name         boolean NOT NULL DEFAULT false,
      rated_at          timestamptz NOT NULL,
      item_code         text,
      department_id     text NOT NULL REFERENCES departments(id),
      region_code       text,
      source            text NOT NULL REFERENCES rating_sources(name),
      import_id         uuid REFERENCES rating_imports(id),
      case_id           uuid,
      is_default        boolean NOT NULL DEFAULT false,
      created_by        text,
      created_at        timestamptz NOT NULL DEFAULT now(),
      -- the closed loop
      status            text NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'invalid')),
      triggered         boolean NOT NULL DEFAULT false,
      loop_status       text CHECK (loop_status IN ('open', 'closed', 'invalid')),
      category          text,                                                          -- 差评分类
      handling_deadline timestamptz,
      called_back       boolean,
      route             text CHECK (route IN ('立行立改', '限期整改', '解释说明')),
      action            text,
      rectify_due       date,
      handled_at        timestamptz,
      handled_by        text,
      handled_on_time   boolean,
      sent_back         integer NOT NULL DEFAULT 0,
      appeal_status     text CHECK (appeal_status IN ('pending', 'upheld', 'refused')),
      escalated_at      timestamptz,
      letter_id         uuid REFERENCES letters(id),
      feedback_at       timestamptz,
      return_visited    boolean,
      satisfaction      text,
      closed_at         timestamptz,
      UNIQUE (case_number, times)
    );
    CREATE INDEX ratings_department_idx ON ratings (department_id, rated_at);
    CREATE INDEX ratings_rated_idx ON ratings (rated_at);

    CREATE TABLE rating_rejects (
      id           bigserial PRIMARY KEY,
      import_id    uuid REFERENCES rating_imports(id),
      source       text NOT NULL,
      row_number   integer,
      case_number  text,
      times        text,
      raw          jsonb NOT NULL,
      raw_hash     text NOT NULL,                  -- the same bad row imported twice is listed once
      reasons      text[] NOT NULL,
      created_at   timestamptz NOT NULL DEFAULT now(),
      resolved_at  timestamptz,
      rating_id    uuid REFERENCES ratings(id)
    );
    CREATE INDEX rating_rejects_open_idx ON rating_rejects (created_at) WHERE resolved_at IS NULL;
    CREATE UNIQUE INDEX rating_rejects_once_idx ON rating_rejects (source, raw_hash) WHERE resolved_at IS NULL;
    CREATE INDEX rating_rejects_key_idx ON rating_rejects (case_number, times) WHERE resolved_at IS NULL;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP TABLE IF EXISTS rating_rejects, ratings, rating_imports, rating_settings, rating_sources CASCADE`);
}
