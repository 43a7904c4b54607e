import { createHash, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Db } from '../../db/database.js';
import type { CalendarCache, WorkingCalendar } from '../../calendar/calendar.js';
import { appendAudit } from '../../audit/audit.js';
import { BadRequestError, NotFoundError } from '../../engine/errors.js';
import {
  DEFAULT_CHANNEL, channelOfLabel, levelOfLabel, needsReason, parseRatingTime, rank, type Channel, type Level, type RatingSource,
} from './codes.js';

type Trx = Knex.Transaction;

/** One incoming rating as the push API, a file row or a clerk gives it: values still unchecked. */
export interface RawRating {
  caseNumber?: unknown;
  times?: unknown;
  channel?: unknown;
  level?: unknown;
  levelCode?: unknown;
  text?: unknown;
  contentCodes?: unknown;
  raterName?: unknown;
  raterType?: unknown;
  phone?: unknown;
  realName?: unknown;
  ratedAt?: unknown;
  itemCode?: unknown;
  departmentId?: unknown;
  regionCode?: unknown;
}

/** The GB/T 39046 column names of an import file (and a few local spellings) → RawRating fields. */
export const GB_COLUMNS: Record<string, keyof RawRating> = {
  办件编号: 'caseNumber', 评价次数: 'times', 评价渠道: 'channel', 满意度: 'level', 满意度代码: 'levelCode', 文字评价: 'text',
  评价人: 'raterName', 评价时间: 'ratedAt', 行政区划: 'regionCode', 行政区划代码: 'regionCode', 事项编码: 'itemCode', 实施编码: 'itemCode',
  申请人类型: 'raterType', 评价人类型: 'raterType', 联系电话: 'phone', 手机号码: 'phone', 测评内容: 'contentCodes', 评价内容: 'contentCodes',
  部门: 'departmentId', 部门编码: 'departmentId', 是否实名: 'realName',
};
export const REQUIRED_COLUMNS = ['办件编号', '评价次数', '评价渠道', '评价时间'] as const;

export interface RatingSettings {
  trigger_level: Level;
  handling_days: number;
  default_rating_days: number | null;
  late_window_days: number | null;
}

export interface RatingRecord {
  id: string;
  case_number: string;
  times: 1 | 2;
  channel: Channel;
  level: Level;
  level_code: string | null;
  text: string | null;
  content_codes: string[];
  rater_name: string | null;
  rater_type: 1 | 2 | null;
  rater_phone: string | null;
  real_name: boolean;
  rated_at: Date;
  item_code: string | null;
  department_id: string;
  region_code: string | null;
  case_id: string | null;
  is_default: boolean;
  triggered: boolean;
}

export type RowResult =
  | { row: number; status: 'created'; id: string; caseNumber: string; times: number; triggered: boolean }
  | { row: number; status: 'duplicate'; caseNumber: string; times: number }
  | { row: number; status: 'rejected'; reasons: string[]; caseNumber: string | null };

export interface IngestSummary {
  importId: string;
  total: number;
  created: number;
  duplicates: number;
  rejected: number;
  triggered: number;
  results: RowResult[];
}

const str = (v: unknown): string => (v === undefined || v === null ? '' : v instanceof Date ? v.toISOString() : String(v)).trim();
const NUL = /\u0000/;

interface Lookups {
  source: RatingSource;
  settings: RatingSettings;
  calendar: WorkingCalendar;
  cases: Map<string, { id: string; department_id: string; item_code: string; completed_at: Date | null }>;
  items: Map<string, string>;
  departments: Set<string>;
  now: Date;
}

/** Check and map one row; the reasons are in Chinese, for the rejected list the clerk corrects. */
export function normalize(raw: RawRating, l: Lookups): { record: RatingRecord } | { reasons: string[] } {
  const reasons: string[] = [];
  const values = Object.values(raw).map(str);
  if (values.some((v) => NUL.test(v))) return { reasons: ['含有非法字符 (NUL)'] };
  const caseNumber = str(raw.caseNumber);
  if (!caseNumber) reasons.push('缺少办件编号');
  else if (caseNumber.length > 50) reasons.push('办件编号超过50个字符');
  const times = str(raw.times);
  if (times !== '1' && times !== '2') reasons.push(`评价次数应为1或2${times ? `,实为“${times}”` : ''}`);

  const channelText = str(raw.channel);
  const channel = channelText ? (channelOfLabel(channelText) ?? channelOfLabel(l.source.channel_codes[channelText] ?? '')) : null;
  if (!channelText) reasons.push('缺少评价渠道');
  else if (!channel) reasons.push(`评价渠道“${channelText}”无法识别(来源 ${l.source.name})`);

  const level = levelOf(raw, l.source, reasons);
  const text = str(raw.text) || null;
  const contentCodes = str(raw.contentCodes) ? str(raw.contentCodes).split(/[,,;;|\s]+/).filter(Boolean) : [];
  if (level && needsReason(level) && !text && !contentCodes.length) reasons.push(`“${level}”评价须有文字评价或评价原因`);
  if (text && text.length > 2000) reasons.push('文字评价超过2000字');

  const ratedText = str(raw.ratedAt);
  const ratedAt = ratedText ? parseRatingTime(ratedText) : null;
  if (!ratedText) reasons.push('缺少评价时间');
  else if (!ratedAt) reasons.push(`评价时间“${ratedText}”格式错误(应为YYYYMMDDhhmmss或ISO 8601)`);
  else if (ratedAt.getTime() > l.now.getTime() + 10 * 60_000) reasons.push('评价时间晚于当前时间');

  const raterTypeText = str(raw.raterType);
  const raterType = raterTypeText === '' ? null : raterTypeText === '1' || raterTypeText === '个人' ? 1 : raterTypeText === '2' || raterTypeText === '法人' ? 2 : -1;
  if (raterType === -1) reasons.push(`申请人类型“${raterTypeText}”应为1(个人)或2(法人)`);
  const phone = str(raw.phone) || null;
  if (phone && !/^\+?[0-9-]{6,20}$/.test(phone)) reasons.push(`联系电话“${phone}”格式错误`);
  const region = str(raw.regionCode) || null;
  if (region && !/^\d{6,12}$/.test(region)) reasons.push(`行政区划“${region}”应为6至12位数字`);

  const c = caseNumber ? l.cases.get(caseNumber) : undefined;
  const itemCode = str(raw.itemCode) || c?.item_code || null;
  const deptGiven = str(raw.departmentId);
  // 谁办理、谁负责: the case's department first, then the item's, then what the row says.
  const department = c?.department_id ?? (itemCode ? l.items.get(itemCode) : undefined) ?? (l.departments.has(deptGiven) ? deptGiven : undefined);
  if (!department) reasons.push(itemCode && !l.items.has(itemCode) ? `事项编码“${itemCode}”不存在,无法确定办理部门` : '无法确定办理部门(办件编号、事项编码或部门)');
  if (c?.completed_at && ratedAt && l.settings.late_window_days) {
    const last = l.calendar.addWorkingDays(c.completed_at, l.settings.late_window_days).dueAt;
    if (ratedAt.getTime() > last.getTime()) reasons.push(`超过评价期限(办结后${l.settings.late_window_days}个工作日)`);
  }
  if (reasons.length || !level || !channel || !ratedAt || !department) return { reasons };
  const raterName = str(raw.raterName) || null;
  const realNameText = str(raw.realName);
  const realName = realNameText ? ['1', 'true', '是', 'Y', 'y'].includes(realNameText) : !!(raterName && phone);
  return {
    record: {
      id: randomUUID(), case_number: caseNumber, times: Number(times) as 1 | 2, channel, level, level_code: str(raw.levelCode) || null,
      text, content_codes: contentCodes, rater_name: raterName, rater_type: raterType as 1 | 2 | null, rater_phone: phone, real_name: realName,
      rated_at: ratedAt, item_code: itemCode, department_id: department, region_code: region, case_id: c?.id ?? null,
      is_default: channel === DEFAULT_CHANNEL, triggered: rank(level) <= rank(l.settings.trigger_level),
    },
  };
}

/** 满意度 (label) and 满意度代码 (the source's code) may both be given; they must then agree. */
function levelOf(raw: RawRating, source: RatingSource, reasons: string[]): Level | null {
  const labelText = str(raw.level);
  const codeText = str(raw.levelCode);
  // A bare number in 满意度 is a code of the source.
  const byLabel = labelText ? levelOfLabel(labelText) ?? (/^\d$/.test(labelText) ? levelOfLabel(source.level_codes[labelText] ?? '') : null) : null;
  const byCode = codeText ? levelOfLabel(source.level_codes[codeText] ?? '') : null;
  if (!labelText && !codeText) reasons.push('缺少满意度或满意度代码');
  if (labelText && !byLabel) reasons.push(`满意度“${labelText}”无法识别`);
  if (codeText && !byCode) reasons.push(`满意度代码“${codeText}”不在来源 ${source.name} 的代码表中`);
  if (byLabel && byCode && byLabel !== byCode) reasons.push(`满意度“${labelText}”与满意度代码${codeText}(来源 ${source.name}:${byCode})不一致`);
  return byLabel ?? byCode;
}

export async function readSettings(db: Db | Trx): Promise<RatingSettings> {
  return db('rating_settings').where({ id: 1 }).first('trigger_level', 'handling_days', 'default_rating_days', 'late_window_days');
}

export async function readSource(db: Db | Trx, name: string): Promise<RatingSource> {
  const s = await db('rating_sources').where({ name }).first();
  if (!s) throw new BadRequestError(`unknown rating source "${name}"`);
  return s;
}

/**
 * Take in ratings from one source, idempotent on (办件编号, 评价次数): a pair seen before is a duplicate
 * and changes nothing. Rows are checked, inserted and (when at or below the trigger level) queued to
 * start the closed loop, one transaction per chunk; bad rows go to the rejected list with their reasons.
 */
export class RatingIntake {
  constructor(private readonly db: Db, private readonly calendars: CalendarCache) {}

  async ingest(rows: RawRating[], opts: { source: string; via: 'file' | 'api' | 'manual'; actor: string; fileName?: string | null;
    chunk?: number; onProgress?: (done: number, total: number) => void; restrictDepartment?: string | null }): Promise<IngestSummary> {
    const source = await readSource(this.db, opts.source);
    const importId = randomUUID();
    await this.db('rating_imports').insert({ id: importId, source: source.name, via: opts.via, file_name: opts.fileName ?? null, total: rows.length, created_by: opts.actor });
    const summary: IngestSummary = { importId, total: rows.length, created: 0, duplicates: 0, rejected: 0, triggered: 0, results: [] };
    const seen = new Set<string>();
    const size = opts.chunk ?? 1000;
    for (let start = 0; start < rows.length; start += size) {
      const part = rows.slice(start, start + size);
      const results = await this.db.transaction((trx) => this.ingestChunk(trx, part, start, source, importId, seen, opts));
      for (const r of results) {
        summary.results.push(r);
        if (r.status === 'created') { summary.created++; if (r.triggered) summary.triggered++; } else if (r.status === 'duplicate') summary.duplicates++; else summary.rejected++;
      }
      opts.onProgress?.(Math.min(start + size, rows.length), rows.length);
    }
    await this.db.transaction(async (trx) => {
      await trx('rating_imports').where({ id: importId }).update({ created: summary.created, duplicates: summary.duplicates, rejected: summary.rejected });
      await appendAudit(trx, { actor: opts.actor, action: 'ratings.imported', entityType: 'rating_import', entityId: importId,
        after: { source: source.name, via: opts.via, fileName: opts.fileName ?? null, total: summary.total, created: summary.created, duplicates: summary.duplicates, rejected: summary.rejected } });
    });
    return summary;
  }

  private async ingestChunk(trx: Trx, rows: RawRating[], offset: number, source: RatingSource, importId: string, seen: Set<string>,
    opts: { actor: string; restrictDepartment?: string | null }): Promise<RowResult[]> {
    const l = await this.lookups(trx, rows, source);
    const results: RowResult[] = [];
    const fresh: RatingRecord[] = [];
    const rejects: Array<Record<string, unknown>> = [];
    rows.forEach((raw, i) => {
      const row = offset + i + 1;
      const n = normalize(raw, l);
      if ('record' in n && opts.restrictDepartment && n.record.department_id !== opts.restrictDepartment) {
        (n as unknown as { reasons: string[] }).reasons = ['只能录入本部门办件的评价'];
      }
      if ('reasons' in n) {
        results.push({ row, status: 'rejected', reasons: n.reasons, caseNumber: str(raw.caseNumber).replace(/\u0000/g, '\uFFFD') || null });
        const rawText = JSON.stringify(Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, str(v).replace(/\u0000/g, '\uFFFD')]).sort(([a], [b]) => (a < b ? -1 : 1))));
        const clean = (v: unknown, n: number) => str(v).replace(/\u0000/g, '\uFFFD').slice(0, n) || null;
        rejects.push({ import_id: importId, source: source.name, row_number: row, case_number: clean(raw.caseNumber, 100),
          times: clean(raw.times, 10), raw: rawText, raw_hash: createHash('sha256').update(rawText).digest('hex'), reasons: n.reasons });
        return;
      }
      const key = `${n.record.case_number}\u0001${n.record.times}`;
      if (seen.has(key)) {
        results.push({ row, status: 'duplicate', caseNumber: n.record.case_number, times: n.record.times });
        return;
      }
      seen.add(key);
      fresh.push(n.record);
      results.push({ row, status: 'created', id: n.record.id, caseNumber: n.record.case_number, times: n.record.times, triggered: n.record.triggered });
    });
    const inserted = new Set<string>();
    for (let i = 0; i < fresh.length; i += 500) {
      const batch = fresh.slice(i, i + 500).map((r) => ({ ...r, source: source.name, import_id: importId, created_by: opts.actor }));
      const ids: Array<{ id: string }> = await trx('ratings').insert(batch).onConflict(['case_number', 'times']).ignore().returning('id');
      for (const { id } of ids) inserted.add(id);
    }
    for (const [i, r] of results.entries()) {
      if (r.status === 'created' && !inserted.has(r.id)) results[i] = { row: r.row, status: 'duplicate', caseNumber: r.caseNumber, times: r.times };
    }
    const created = fresh.filter((r) => inserted.has(r.id));
    if (created.length) {
      // The loop starts from the outbox after commit: a rating without its loop cannot be committed.
      const loops = created.filter((r) => r.triggered).map((r) => ({
        service: 'startRatingLoop', dedup_key: `rating:${r.id}:loop`, payload: JSON.stringify({ ratingId: r.id }),
      }));
      if (loops.length) {
        await trx('outbox').insert(loops).onConflict('dedup_key').ignore();
        await trx.raw(`SELECT pg_notify('duban_outbox', '')`);
      }
      await trx.raw(`UPDATE rating_rejects j SET resolved_at = now(), rating_id = r.id FROM ratings r
        WHERE j.resolved_at IS NULL AND r.import_id = ? AND j.case_number = r.case_number AND j.times = r.times::text`, [importId]);
    }
    if (rejects.length) await trx('rating_rejects').insert(rejects).onConflict().ignore();
    return results;
  }

  private async lookups(trx: Trx, rows: RawRating[], source: RatingSource): Promise<Lookups> {
    // PostgreSQL text cannot hold NUL: such rows are refused by normalize, never looked up.
    const usable = (s: string, max: number) => !!s && s.length <= max && !NUL.test(s);
    const numbers = [...new Set(rows.map((r) => str(r.caseNumber)).filter((s) => usable(s, 50)))];
    const codes = [...new Set(rows.map((r) => str(r.itemCode)).filter((s) => usable(s, 60)))];
    const cases = numbers.length ? await trx('cases').whereIn('number', numbers).select('number', 'id', 'department_id', 'item_code', 'completed_at') : [];
    const items = codes.length ? await trx('items').whereIn('code', codes).select('code', 'department_id') : [];
    const departments = await trx('departments').pluck('id');
    return {
      source, settings: await readSettings(trx), calendar: await this.calendars.get(), now: new Date(),
      cases: new Map(cases.map((c) => [c.number, c])), items: new Map(items.map((i) => [i.code, i.department_id])), departments: new Set(departments),
    };
  }

  /**
   * Guangdong's rule, off by default: a case completed N days ago without a first rating counts as
   * 基本满意 through the channel 系统默认评价. Idempotent (the pair 办件编号 + 1 exists afterwards), so
   * every server process may run it on a schedule; a default rating never starts the loop.
   */
  async applyDefaultRatings(now = new Date()): Promise<number> {
    const settings = await readSettings(this.db);
    if (!settings.default_rating_days) return 0;
    const cutoff = new Date(now.getTime() - settings.default_rating_days * 86_400_000);
    return this.db.transaction(async (trx) => {
      const { rows } = await trx.raw(`
        INSERT INTO ratings (id, case_number, times, channel, level, real_name, rated_at, item_code, department_id, source, case_id, is_default, triggered, created_by)
        SELECT gen_random_uuid(), c.number, 1, '系统默认评价', '基本满意', false, now(), c.item_code, c.department_id, 'manual', c.id, true, false, 'system'
        FROM cases c
        WHERE c.status = 'completed' AND c.completed_at <= ? AND NOT EXISTS (SELECT 1 FROM ratings r WHERE r.case_number = c.number)
        ON CONFLICT (case_number, times) DO NOTHING RETURNING case_number`, [cutoff]);
      if (rows.length) await appendAudit(trx, { actor: 'system', action: 'ratings.defaulted', entityType: 'rating', after: { count: rows.length, days: settings.default_rating_days, cases: rows.slice(0, 100).map((r: { case_number: string }) => r.case_number) } });
      return rows.length as number;
    });
  }

  /** The reasons a row would be refused, without writing anything (counter entry refuses with a 400). */
  async check(raw: RawRating, sourceName: string, restrictDepartment?: string | null): Promise<string[]> {
    const source = await readSource(this.db, sourceName);
    return this.db.transaction(async (trx) => {
      const n = normalize(raw, await this.lookups(trx, [raw], source));
      if ('reasons' in n) return n.reasons;
      return restrictDepartment && n.record.department_id !== restrictDepartment ? ['只能录入本部门办件的评价'] : [];
    });
  }

  /** Correct a rejected row and take it in again; the reject is resolved when it goes in (or is a duplicate). */
  async correctReject(id: number, raw: RawRating, actor: string): Promise<IngestSummary> {
    const rej = await this.db('rating_rejects').where({ id }).first();
    if (!rej) throw new NotFoundError('rejected rating row', String(id));
    if (rej.resolved_at) throw new BadRequestError('this row has been taken in already');
    const summary = await this.ingest([raw], { source: rej.source, via: 'manual', actor, fileName: `reject #${id}` });
    const r = summary.results[0]!;
    if (r.status !== 'rejected') {
      await this.db.transaction(async (trx) => {
        await trx('rating_rejects').where({ id }).whereNull('resolved_at').update({ resolved_at: trx.raw('now()'), rating_id: r.status === 'created' ? r.id : null });
        await appendAudit(trx, { actor, action: 'rating.reject.corrected', entityType: 'rating_reject', entityId: String(id), before: { reasons: rej.reasons }, after: { status: r.status } });
      });
    }
    return summary;
  }
}
