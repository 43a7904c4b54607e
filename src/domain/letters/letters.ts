import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Db } from '../../db/database.js';
import type { ServiceRegistry } from '../../engine/services.js';
import type { WorkflowEngine } from '../../engine/engine.js';
import type { CalendarCache } from '../../calendar/calendar.js';
import { shanghaiDay } from '../../calendar/calendar.js';
import { appendAudit } from '../../audit/audit.js';
import { BadRequestError, ConflictError, NotFoundError } from '../../engine/errors.js';
import { onDutyInspectors } from '../supervision/supervision.js';

type Trx = Knex.Transaction;

/** The kinds of numbered letter; each has its issuing office and 机关代字 in `letter_kinds`. */
export const LETTER_KINDS = ['recommendation', 'urging', 'reminder', 'supervision'] as const;
export type LetterKind = (typeof LETTER_KINDS)[number];

/** What a title says after "关于…的": a recommendation is "纪检监察建议", the others their own name. */
const TITLE_SUFFIX: Record<LetterKind, string> = { recommendation: '纪检监察建议', urging: '督办通知', reminder: '提醒函', supervision: '督办函' };

export interface LetterKindRow {
  kind: LetterKind;
  name: string;
  office: string;
  office_code: string;
  reply_days: number;
  cc: string[];
}

export interface IssueInput {
  kind: LetterKind;
  /** What the letter is about, for the title 关于{subject}的纪检监察建议. */
  subject: string;
  recipientDepartmentId: string;
  /** 问题来源, 存在的问题, 原因分析和建议措施. */
  source: string;
  problems: string;
  recommendations: string;
  /** 回复时限: an instant, or else the kind's default number of working days. */
  replyBy?: Date | null;
  replyDays?: number | null;
  cc?: string[] | null;
  subjectType?: string | null;
  subjectId?: string | null;
  caseNumber?: string | null;
}

export interface LetterRow {
  id: string;
  kind: LetterKind;
  office: string;
  office_code: string;
  year: number;
  serial: number;
  number: string;
  title: string;
  recipient: string;
  recipient_department_id: string | null;
  source: string;
  problems: string;
  recommendations: string;
  reply_by: Date;
  cc: string[];
  dated: string | Date;
  subject_type: string | null;
  subject_id: string | null;
  case_number: string | null;
  issued_by: string;
  issued_at: Date;
  status: 'issued' | 'replied';
  reply_text: string | null;
  replied_by: string | null;
  replied_at: Date | null;
  reply_late: boolean | null;
  realerted_at: Date | null;
}

/** 文号: 机关代字 + 〔year〕 + serial + 号, no padding and no 第 (GB/T 9704-2012 7.2.4). */
export function letterNumber(officeCode: string, year: number, serial: number): string {
  return `${officeCode}〔${year}〕${serial}号`;
}

/** 成文日期 in Arabic numerals, as GB/T 9704-2012 asks: 2026年12月1日. */
export function chineseDate(day: string | Date): string {
  const d = typeof day === 'string' ? day : shanghaiDay(day);
  const [y, m, dd] = d.split('-').map(Number);
  return `${y}年${m}月${dd}日`;
}

/** A date column (type date) as 'YYYY-MM-DD' whatever the driver made of it. */
export function dayString(v: string | Date): string {
  if (typeof v === 'string') return v.slice(0, 10);
  return new Date(v.getTime() - v.getTimezoneOffset() * 60_000).toISOString().slice(0, 10);
}

/**
 * The next serial for (office, kind, year), taken inside the issuing transaction: the counter row is
 * locked FOR UPDATE until commit, so two issuers wait for each other and a rolled-back issue gives its
 * number back — the serials have no gaps.
 */
async function nextSerial(trx: Trx, officeCode: string, kind: LetterKind, year: number): Promise<number> {
  await trx('letter_serials').insert({ office_code: officeCode, kind, year, last: 0 }).onConflict(['office_code', 'kind', 'year']).ignore();
  const row = await trx('letter_serials').where({ office_code: officeCode, kind, year }).forUpdate().first('last');
  const serial = Number(row.last) + 1;
  await trx('letter_serials').where({ office_code: officeCode, kind, year }).update({ last: serial });
  return serial;
}

/**
 * Issue a letter inside `trx` (an API call's or a process step's transaction). The reply deadline is
 * watched by a small BPMN process (processes/letter-reply.bpmn), started from the outbox after commit
 * with the letter's id as its instance id, so it exists exactly once and only if the letter does.
 */
export async function issueLetter(trx: Trx, calendars: CalendarCache, input: IssueInput, actor: string): Promise<LetterRow> {
  const kind: LetterKindRow | undefined = await trx('letter_kinds').where({ kind: input.kind }).first();
  if (!kind) throw new BadRequestError(`unknown letter kind ${input.kind}`);
  const dept = await trx('departments').where({ id: input.recipientDepartmentId }).first('id', 'name');
  if (!dept) throw new BadRequestError(`主送单位 ${input.recipientDepartmentId} does not exist`);
  for (const [field, text] of [['subject', input.subject], ['source', input.source], ['problems', input.problems], ['recommendations', input.recommendations]] as const) {
    if (!text || !text.trim()) throw new BadRequestError(`${field} must not be empty`);
  }
  const now = new Date();
  const calendar = await calendars.get();
  const replyBy = input.replyBy ?? calendar.addWorkingDays(now, input.replyDays ?? kind.reply_days).dueAt;
  if (replyBy.getTime() <= now.getTime()) throw new BadRequestError('回复时限 must lie in the future');
  const dated = shanghaiDay(now);
  const year = Number(dated.slice(0, 4));
  const serial = await nextSerial(trx, kind.office_code, input.kind, year);
  const row = {
    id: randomUUID(), kind: input.kind, office: kind.office, office_code: kind.office_code, year, serial,
    number: letterNumber(kind.office_code, year, serial), title: `关于${input.subject.trim()}的${TITLE_SUFFIX[input.kind]}`,
    recipient: dept.name, recipient_department_id: dept.id, source: input.source.trim(), problems: input.problems.trim(),
    recommendations: input.recommendations.trim(), reply_by: replyBy, cc: input.cc ?? kind.cc, dated,
    subject_type: input.subjectType ?? null, subject_id: input.subjectId ?? null, case_number: input.caseNumber ?? null,
    issued_by: actor,
  };
  await trx('letters').insert(row);
  await trx('outbox').insert({
    service: 'letterReplyWatch', dedup_key: `letter:${row.id}:watch`,
    payload: JSON.stringify({ letterId: row.id, number: row.number, replyBy: replyBy.toISOString() }),
  });
  await trx.raw(`SELECT pg_notify('duban_outbox', '')`);
  await appendAudit(trx, { actor, action: 'letter.issued', entityType: 'letter', entityId: row.number, after: { ...row, reply_by: replyBy.toISOString() } });
  return (await trx('letters').where({ id: row.id }).first()) as LetterRow;
}

/** The department's written reply (回复), once; a late one is marked late. */
export async function replyToLetter(trx: Trx, id: string, text: string, actor: string): Promise<LetterRow> {
  const l: LetterRow | undefined = await trx('letters').where({ id }).forUpdate().first();
  if (!l) throw new NotFoundError('letter', id);
  if (l.status === 'replied') throw new ConflictError(`the reply to ${l.number} is recorded already`);
  const late = Date.now() > new Date(l.reply_by).getTime();
  await trx('letters').where({ id }).update({ status: 'replied', reply_text: text, replied_by: actor, replied_at: trx.raw('now()'), reply_late: late });
  await appendAudit(trx, { actor, action: 'letter.replied', entityType: 'letter', entityId: l.number, before: { status: 'issued' }, after: { status: 'replied', text, late } });
  return (await trx('letters').where({ id }).first()) as LetterRow;
}

/** Letters: issuing, replies, reading. Route files check who may do which. */
export class LetterService {
  constructor(private readonly db: Db, private readonly calendars: CalendarCache) {}

  issue(input: IssueInput, actor: string): Promise<LetterRow> {
    return this.db.transaction((trx) => issueLetter(trx, this.calendars, input, actor));
  }

  reply(id: string, text: string, actor: string): Promise<LetterRow> {
    return this.db.transaction((trx) => replyToLetter(trx, id, text, actor));
  }

  async get(id: string): Promise<LetterRow> {
    const l = await this.db('letters').where({ id }).first();
    if (!l) throw new NotFoundError('letter', id);
    return l;
  }

  kinds(): Promise<LetterKindRow[]> {
    return this.db('letter_kinds').orderBy('kind');
  }
}

/**
 * The reply-deadline watch: the outbox starts `letter-reply` for each issued letter (instance id = the
 * letter's id, so a repeated delivery finds it started); its timer at 回复时限 runs `letterReplyOverdue`,
 * which re-alerts the issuing inspector and the inspectors on duty when no reply has come.
 */
export function registerLetterServices(registry: ServiceRegistry, engine: () => WorkflowEngine): void {
  registry.registerDelivery('letterReplyWatch', async (payload) => {
    const letterId = String(payload.letterId);
    const exists = await engine().db('process_instances').where({ id: letterId }).first('id');
    if (exists) return { started: false };
    try {
      await engine().start('letter-reply', {
        id: letterId, businessKey: String(payload.number), actor: 'system', departmentId: 'inspection',
        variables: { letterId, letterNumber: String(payload.number), replyBy: String(payload.replyBy) },
      });
    } catch (err) {
      if ((err as { code?: string }).code === '23505') return { started: false }; // another process started it
      throw err;
    }
    return { started: true };
  });

  registry.register({
    name: 'letterReplyOverdue',
    description: '文书回复超期:短信再次提醒纪检监察员 (letter reply overdue: re-alert the inspectors)',
    handler: async (ctx) => {
      const trx = ctx.trx!;
      const l: LetterRow | undefined = await trx('letters').where({ id: String(ctx.variables.letterId) }).forUpdate().first();
      if (!l || l.status === 'replied') return { replyOverdue: false };
      const issuer = await trx('users').where({ username: l.issued_by }).first('phone');
      const phones = new Set<string>();
      if (issuer?.phone) phones.add(issuer.phone);
      for (const i of await onDutyInspectors(trx, l.recipient_department_id ?? '*', new Date())) phones.add(i.phone);
      for (const to of phones) {
        ctx.enqueue('sms', { to, template: 'letterOverdue', vars: { letter: l.number, recipient: l.recipient } }, `letter:${l.id}:overdue:${to}`);
      }
      await trx('letters').where({ id: l.id }).update({ realerted_at: trx.raw('now()') });
      await appendAudit(trx, { actor: 'system', action: 'letter.reply-overdue', entityType: 'letter', entityId: l.number, after: { recipients: phones.size } });
      return { replyOverdue: true };
    },
  });
}
