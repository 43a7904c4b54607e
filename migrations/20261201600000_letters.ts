import type { Knex } from 'knex';

/**
 * Numbered official letters (纪检监察建议书, 督办通知, 提醒函, 督办函): their kinds with the issuing office and
 * its 机关代字, a gapless serial counter per office, kind and year, the letters themselves (immutable once
 * issued: only the reply and the re-alert may be written later) and the department's reply.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE letter_kinds (
      kind          text PRIMARY KEY,
      name          text NOT NULL,                 -- 纪检监察建议书
      office        text NOT NULL,                 -- 发文机关
      office_code   text NOT NULL,                 -- 机关代字, e.g. 天衢纪建
      reply_days    integer NOT NULL DEFAULT 5 CHECK (reply_days BETWEEN 1 AND 60),  -- default 回复时限 in working days
      cc            text[] NOT NULL DEFAULT '{}'   -- default 抄送
    );
    INSERT INTO letter_kinds (kind, name, office, office_code, reply_days, cc) VALUES
      ('recommendation', '纪检监察建议书', '天衢新区纪检监察工委', '天衢纪建', 5, '{天衢新区行政审批部}'),
      ('urging',         '督办通知',       '天衢新区纪检监察工委', '天衢纪督', 3, '{}'),
      ('reminder',       '提醒函',         '天衢新区纪检监察工委', '天衢纪提', 5, '{}'),
      ('supervision',    '督办函',         '天衢新区纪检监察工委', '天衢纪函', 5, '{}');

    CREATE TABLE letter_serials (
      office_code   text NOT NULL,
      kind          text NOT NULL REFERENCES letter_kinds(kind),
      year          integer NOT NULL,
      last          integer NOT NULL DEFAULT 0,
      PRIMARY KEY (office_code, kind, year)
    );

    CREATE TABLE letters (
      id                      uuid PRIMARY KEY,
      kind                    text NOT NULL REFERENCES letter_kinds(kind),
      office                  text NOT NULL,
      office_code             text NOT NULL,
      year                    integer NOT NULL,
      serial                  integer NOT NULL CHECK (serial > 0),
      number                  text NOT NULL UNIQUE,            -- 文号: 天衢纪建〔2026〕12号
      title                   text NOT NULL,
      recipient               text NOT NULL,                   -- 主送单位
      recipient_department_id text REFERENCES departments(id),
      source                  text NOT NULL,                   -- 问题来源
      problems                text NOT NULL,                   -- 存在的问题
      recommendations         text NOT NULL,                   -- 原因分析和建议措施
      reply_by                timestamptz NOT NULL,            -- 回复时限
      cc                      text[] NOT NULL DEFAULT '{}',    -- 抄送
      dated                   date NOT NULL,                   -- 成文日期
      subject_type            text,                            -- case, rating, project …
      subject_id              text,
      case_number             text,
      issued_by               text NOT NULL,
      issued_at               timestamptz NOT NULL DEFAULT now(),
      status                  text NOT NULL DEFAULT 'issued' CHECK (status IN ('issued', 'replied')),
      reply_text              text,
      replied_by              text,
      replied_at              timestamptz,
      reply_late              boolean,
      realerted_at            timestamptz,
      UNIQUE (office_code, kind, year, serial)
    );
    CREATE INDEX letters_recipient_idx ON letters (recipient_department_id, status);
    CREATE INDEX letters_subject_idx ON letters (subject_type, subject_id);

    -- An issued letter is an official document: its text never changes and it is never deleted.
    CREATE FUNCTION duban_letter_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'DELETE' THEN RAISE EXCEPTION 'issued letters cannot be deleted'; END IF;
      IF (NEW.id, NEW.kind, NEW.office, NEW.office_code, NEW.year, NEW.serial, NEW.number, NEW.title, NEW.recipient,
          NEW.recipient_department_id, NEW.source, NEW.problems, NEW.recommendations, NEW.reply_by, NEW.cc, NEW.dated,
          NEW.subject_type, NEW.subject_id, NEW.case_number, NEW.issued_by, NEW.issued_at)
         IS DISTINCT FROM
         (OLD.id, OLD.kind, OLD.office, OLD.office_code, OLD.year, OLD.serial, OLD.number, OLD.title, OLD.recipient,
          OLD.recipient_department_id, OLD.source, OLD.problems, OLD.recommendations, OLD.reply_by, OLD.cc, OLD.dated,
          OLD.subject_type, OLD.subject_id, OLD.case_number, OLD.issued_by, OLD.issued_at) THEN
        RAISE EXCEPTION 'an issued letter is immutable (%)', OLD.number;
      END IF;
      IF OLD.status = 'replied' AND (NEW.reply_text, NEW.replied_by, NEW.replied_at) IS DISTINCT FROM (OLD.reply_text, OLD.replied_by, OLD.replied_at) THEN
        RAISE EXCEPTION 'the reply to % is recorded already', OLD.number;
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER letters_immutable BEFORE UPDATE OR DELETE ON letters FOR EACH ROW EXECUTE FUNCTION duban_letter_immutable();
    CREATE TRIGGER letters_no_truncate BEFORE TRUNCATE ON letters FOR EACH STATEMENT EXECUTE FUNCTION duban_forbid_change();
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TABLE IF EXISTS letters, letter_serials, letter_kinds CASCADE;
    DROP FUNCTION IF EXISTS duban_letter_immutable();
  `);
}
