import { createRequire } from 'node:module';
import chineseDays from 'chinese-days';
import type { Db } from '../db/database.js';

/**
 * Working days in Asia/Shanghai (行政许可法 art. 82: limits count 工作日, excluding statutory holidays,
 * including make-up workdays). A day is a working day by, in this order:
 *   1. an administrator's override (calendar_days: 'holiday' = no work, 'workday' = make-up working day);
 *   2. the official arrangement shipped in chinese-days, for the years that data covers;
 *   3. Monday–Friday.
 * A year is *confirmed* when the official data covers it or an administrator has marked it so
 * (calendar_years.confirmed) after entering the State Council's arrangement; a deadline that counts
 * through an unconfirmed year is computed Monday–Friday and reported with confirmed = false.
 *
 * chinese-days' own functions read the weekday in the process's local time zone (a server on
 * America/New_York gets 2026-10-10 wrong), so only its data is used here, and every date is
 * computed from UTC+8 arithmetic (China has no DST).
 */

export const SHANGHAI_OFFSET_MS = 8 * 3600_000;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** Longest stretch scanned for one working day: a guard against a calendar with no working days. */
const MAX_SCAN_DAYS = 366 * 5;

export type DayKind = 'holiday' | 'workday';
export type DaySource = 'override' | 'official' | 'provisional' | 'weekend' | 'weekday';

export interface CalendarOverride {
  day: string;
  kind: DayKind;
  note?: string | null;
  updatedBy?: string | null;
  updatedAt?: Date | string | null;
}

export interface CalendarYear {
  year: number;
  confirmed: boolean;
  note?: string | null;
  updatedBy?: string | null;
  updatedAt?: Date | string | null;
}

export interface DayInfo {
  day: string;
  working: boolean;
  /**
   * override: an administrator's entry; official: chinese-days; provisional: a statutory holiday of a year
   * not yet published (fixed dates and lunar dates computed), counted but unconfirmed; weekend/weekday: Mon–Fri.
   */
  source: DaySource;
  /** The official holiday a day belongs to (e.g. 国庆节), also for its make-up workdays. */
  name: string | null;
  note: string | null;
  updatedBy: string | null;
  updatedAt: string | null;
}

export interface Due {
  /** The last working day of the limit, 'YYYY-MM-DD' in Asia/Shanghai. */
  dueDay: string;
  /** End of dueDay in Shanghai: the next day at 00:00 +08:00. */
  dueAt: Date;
  /** false when a day counted lies in a year whose arrangement is not confirmed. */
  confirmed: boolean;
}

export interface Remaining {
  workingDays: number;
  hours: number;
  overdue: boolean;
}

/** When a case turns yellow: `days` working days before the deadline, or after a share of the limit. */
export type WarningRule = { kind: 'days'; value: number } | { kind: 'share'; value: number };
export const DEFAULT_WARNING: WarningRule = { kind: 'days', value: 1 };

// ---- official data ---------------------------------------------------------------------------

interface OfficialData {
  holidays: Record<string, string>;
  workdays: Record<string, string>;
}

const require = createRequire(import.meta.url);
const OFFICIAL = require('chinese-days/dist/chinese-days.json') as OfficialData;
const OFFICIAL_HOLIDAYS = new Map(Object.entries(OFFICIAL.holidays));
const OFFICIAL_WORKDAYS = new Map(Object.entries(OFFICIAL.workdays));

/**
 * Years the official data covers, read from the data: a published arrangement always lists New
 * Year's Day and National Day, so a year with only a stray entry (a holiday spilling over from the
 * previous winter) does not count as covered.
 */
export const OFFICIAL_YEARS: ReadonlySet<number> = (() => {
  const years = new Set<number>();
  for (const day of OFFICIAL_HOLIDAYS.keys()) {
    const y = Number(day.slice(0, 4));
    if (OFFICIAL_HOLIDAYS.has(`${y}-01-01`) && OFFICIAL_HOLIDAYS.has(`${y}-10-01`)) years.add(y);
  }
  return years;
})();

/** "National Day,国庆节,3" → 国庆节 */
function officialName(value: string | undefined): string | null {
  if (!value) return null;
  const parts = value.split(',');
  return (parts[1] ?? parts[0] ?? '').trim() || null;
}

// ---- provisional holidays of years the official data does not cover yet ------------------------

/**
 * The statutory holidays (全国年节及纪念日放假办法, as revised 2024) that are certain before the State
 * Council publishes a year's arrangement: 元旦 01-01, 春节 除夕 + 正月初一至初三, 清明节 (the solar term),
 * 劳动节 05-01–05-02, 端午节 (5/5), 中秋节 (8/15), 国庆节 10-01–10-03. Lunar dates come from chinese-days,
 * whose conversions read the local time zone: they run with TZ set to Asia/Shanghai for the moment.
 * Make-up workdays and bridging days cannot be known in advance: a year stays unconfirmed until entered.
 */
const PROVISIONAL = new Map<number, Map<string, string>>();

function inShanghai<T>(fn: () => T): T {
  const saved = process.env.TZ;
  process.env.TZ = 'Asia/Shanghai';
  try {
    return fn();
  } finally {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  }
}

export function provisionalHolidays(year: number): Map<string, string> {
  let days = PROVISIONAL.get(year);
  if (days) return days;
  const out = new Map<string, string>();
  const y = String(year).padStart(4, '0');
  out.set(`${y}-01-01`, '元旦');
  for (const d of ['05-01', '05-02']) out.set(`${y}-${d}`, '劳动节');
  for (const d of ['10-01', '10-02', '10-03']) out.set(`${y}-${d}`, '国庆节');
  if (year >= 1901 && year <= 2099) {
    inShanghai(() => {
      const newYear = chineseDays.getSolarDateFromLunar(`${y}-01-01`).date;
      const i = indexOf(newYear);
      for (let k = -1; k <= 2; k++) out.set(dayOf(i + k), '春节');
      out.set(chineseDays.getSolarTermDate(year, 4, 'pure_brightness'), '清明节');
      out.set(chineseDays.getSolarDateFromLunar(`${y}-05-05`).date, '端午节');
      out.set(chineseDays.getSolarDateFromLunar(`${y}-08-15`).date, '中秋节');
    });
  }
  days = new Map([...out].filter(([d]) => d.startsWith(`${y}-`)));
  PROVISIONAL.set(year, days);
  return days;
}

// ---- office hours ------------------------------------------------------------------------------

/** Office hours in Shanghai (DUBAN_OFFICE_HOURS, default 09:00-17:00), for "remaining office hours". */
export function parseOfficeHours(value: string | undefined): { start: number; end: number } {
  const m = /^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$/.exec((value ?? '09:00-17:00').trim());
  if (!m) throw new Error(`DUBAN_OFFICE_HOURS must look like 09:00-17:00, not "${value}"`);
  const start = (Number(m[1]) * 60 + Number(m[2])) * 60_000;
  const end = (Number(m[3]) * 60 + Number(m[4])) * 60_000;
  if (!(start < end && end <= DAY_MS)) throw new Error('DUBAN_OFFICE_HOURS: the start must come before the end, within one day');
  return { start, end };
}
const OFFICE_HOURS = parseOfficeHours(process.env.DUBAN_OFFICE_HOURS);

// ---- day arithmetic (days are indexes: whole days since 1970-01-01, dated in Shanghai) --------

const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

export function isValidDay(day: string): boolean {
  const m = DAY_RE.exec(day);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.getUTCFullYear() === Number(m[1]) && d.getUTCMonth() === Number(m[2]) - 1 && d.getUTCDate() === Number(m[3]);
}

function indexOf(day: string): number {
  if (!isValidDay(day)) throw new RangeError(`not a date (YYYY-MM-DD): ${day}`);
  const m = DAY_RE.exec(day)!;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / DAY_MS;
}

function dayOf(index: number): string {
  return new Date(index * DAY_MS).toISOString().slice(0, 10);
}

function yearOf(index: number): number {
  return new Date(index * DAY_MS).getUTCFullYear();
}

function instantIndex(instant: Date): number {
  const t = instant.getTime();
  if (Number.isNaN(t)) throw new RangeError('invalid date');
  return Math.floor((t + SHANGHAI_OFFSET_MS) / DAY_MS);
}

/** 00:00 in Shanghai of a day index, as an epoch millisecond. */
function startMs(index: number): number {
  return index * DAY_MS - SHANGHAI_OFFSET_MS;
}

/** 'YYYY-MM-DD' of an instant in Asia/Shanghai (UTC+8 all year). */
export function shanghaiDay(instant: Date): string {
  return dayOf(instantIndex(instant));
}

/** 00:00 +08:00 of a Shanghai date. */
export function startOfShanghaiDay(day: string): Date {
  return new Date(startMs(indexOf(day)));
}

/** An instant as ISO 8601 with the +08:00 offset, e.g. 2026-10-09T00:00:00+08:00. */
export function toShanghaiIso(instant: Date): string {
  const local = new Date(instant.getTime() + SHANGHAI_OFFSET_MS).toISOString();
  const ms = local.slice(19, 23) === '.000' ? '' : local.slice(19, 23);
  return `${local.slice(0, 19)}${ms}+08:00`;
}

function checkCount(n: number, what: string): void {
  if (!Number.isInteger(n) || Math.abs(n) > 100_000) throw new RangeError(`${what} must be an integer, got ${n}`);
}

// ---- the calendar ----------------------------------------------------------------------------

export class WorkingCalendar {
  private readonly overrides = new Map<string, CalendarOverride>();
  private readonly years = new Map<number, CalendarYear>();
  private readonly memo = new Map<number, boolean>();

  /** Pure and synchronous: build one from the overrides (loadCalendar does, from the database). */
  constructor(init: { overrides?: readonly CalendarOverride[]; years?: readonly CalendarYear[] } = {}) {
    for (const o of init.overrides ?? []) {
      if (!isValidDay(o.day)) throw new RangeError(`override for an invalid day: ${o.day}`);
      this.overrides.set(o.day, o);
    }
    for (const y of init.years ?? []) this.years.set(y.year, y);
  }

  /** Whether the official data (chinese-days) has this year's arrangement. */
  isCovered(year: number): boolean {
    return OFFICIAL_YEARS.has(year);
  }

  /** Covered by the official data, or entered and confirmed by an administrator. */
  isConfirmed(year: number): boolean {
    return OFFICIAL_YEARS.has(year) || this.years.get(year)?.confirmed === true;
  }

  yearEntry(year: number): CalendarYear | null {
    return this.years.get(year) ?? null;
  }

  shanghaiDay(instant: Date): string {
    return shanghaiDay(instant);
  }

  isWorkday(day: string): boolean {
    return this.working(indexOf(day));
  }

  private working(index: number): boolean {
    let w = this.memo.get(index);
    if (w === undefined) {
      w = this.dayInfo(dayOf(index)).working;
      this.memo.set(index, w);
    }
    return w;
  }

  /** Why a day is or is not a working day. */
  dayInfo(day: string): DayInfo {
    const index = indexOf(day);
    const covered = OFFICIAL_YEARS.has(yearOf(index));
    const officialHoliday = covered ? OFFICIAL_HOLIDAYS.get(day) : undefined;
    const officialWorkday = covered ? OFFICIAL_WORKDAYS.get(day) : undefined;
    const name = officialName(officialWorkday ?? officialHoliday);
    const o = this.overrides.get(day);
    if (o) {
      const at = o.updatedAt instanceof Date ? o.updatedAt.toISOString() : o.updatedAt ?? null;
      return { day, working: o.kind === 'workday', source: 'override', name, note: o.note ?? null, updatedBy: o.updatedBy ?? null, updatedAt: at };
    }
    const base = { day, name, note: null, updatedBy: null, updatedAt: null };
    if (officialWorkday) return { ...base, working: true, source: 'official' };
    if (officialHoliday) return { ...base, working: false, source: 'official' };
    const provisional = covered ? undefined : provisionalHolidays(yearOf(index)).get(day);
    if (provisional) return { ...base, name: provisional, working: false, source: 'provisional' };
    const weekday = new Date(index * DAY_MS).getUTCDay();
    return weekday === 0 || weekday === 6 ? { ...base, working: false, source: 'weekend' } : { ...base, working: true, source: 'weekday' };
  }

  /** The days of a year that differ from an ordinary working day: days off, make-up days, overrides. */
  daysOfYear(year: number): DayInfo[] {
    const out: DayInfo[] = [];
    const first = Date.UTC(year, 0, 1) / DAY_MS;
    const last = Date.UTC(year, 11, 31) / DAY_MS;
    for (let i = first; i <= last; i++) {
      const info = this.dayInfo(dayOf(i));
      if (info.source !== 'weekday') out.push(info);
    }
    return out;
  }

  /** The k-th working day after (k > 0) or before (k < 0) a day index, whatever that day itself is. */
  private step(index: number, k: number): number {
    const dir = k < 0 ? -1 : 1;
    let left = Math.abs(k);
    let i = index;
    let scanned = 0;
    while (left > 0) {
      i += dir;
      if (this.working(i)) {
        left--;
        scanned = 0;
      } else if (++scanned > MAX_SCAN_DAYS) {
        throw new RangeError(`no working day within ${MAX_SCAN_DAYS} days of ${dayOf(i)}`);
      }
    }
    return i;
  }

  /** Every year a stretch of day indexes touches is confirmed. */
  private confirmedRange(from: number, to: number): boolean {
    const [a, b] = from <= to ? [from, to] : [to, from];
    for (let y = yearOf(a); y <= yearOf(b); y++) if (!this.isConfirmed(y)) return false;
    return true;
  }

  /** Whether every Shanghai day from a to b lies in a confirmed year (e.g. after shifting a deadline). */
  confirmedBetween(a: Date, b: Date): boolean {
    return this.confirmedRange(instantIndex(a), instantIndex(b));
  }

  /**
   * The n-th working day after the Shanghai date of `from` (the day of receipt does not count, as in
   * art. 82; it does not matter whether it is itself a working day). n = 0 gives the day of receipt.
   */
  addWorkingDays(from: Date, n: number): Due {
    checkCount(n, 'the number of working days');
    if (n < 0) throw new RangeError(`the number of working days must not be negative, got ${n}`);
    const start = instantIndex(from);
    const due = this.step(start, n);
    return { dueDay: dayOf(due), dueAt: new Date(startMs(due + 1)), confirmed: this.confirmedRange(n > 0 ? start + 1 : start, due) };
  }

  /**
   * Working days from a's Shanghai date (exclusive) to b's (inclusive): how long a clock stop lasted.
   * Suspended and resumed on the same day → 0; suspended on Monday, resumed on Tuesday → 1.
   * Negative when b is before a.
   */
  workingDaysBetween(a: Date, b: Date): number {
    const ia = instantIndex(a);
    const ib = instantIndex(b);
    if (ib < ia) return -this.workingDaysBetween(b, a);
    let count = 0;
    for (let i = ia + 1; i <= ib; i++) if (this.working(i)) count++;
    return count;
  }

  /**
   * Move an instant by k working days keeping its Shanghai time of day (pending timers and the
   * deadline after a clock stop). The instant's day is the Shanghai day it falls in, except that
   * 00:00 counts as 24:00 of the day before, so a deadline (end of its day) moves from the end of one
   * working day to the end of another. Counting starts after that day whether or not it is itself a
   * working day (as the limit is counted from receipt): Saturday 10:00 + 1 → the next working day 10:00.
   */
  shiftByWorkingDays(instant: Date, k: number): Date {
    checkCount(k, 'the shift');
    const t = instant.getTime();
    if (Number.isNaN(t)) throw new RangeError('invalid date');
    if (k === 0) return new Date(t);
    const day = Math.floor((t + SHANGHAI_OFFSET_MS - 1) / DAY_MS);
    const timeOfDay = t - startMs(day); // in (0, 24h]
    return new Date(startMs(this.step(day, k)) + timeOfDay);
  }

  /**
   * Working time left until dueAt (or, when overdue, elapsed since it), counting only working days,
   * each as 24 hours (a deadline is the end of its day, so the hours of a working day all count).
   * Expressed as whole days plus whole hours, rounded down: 1 day 23 h 59 min → { 1, 23 }.
   */
  remaining(now: Date, dueAt: Date): Remaining {
    const n = now.getTime();
    const d = dueAt.getTime();
    if (Number.isNaN(n) || Number.isNaN(d)) throw new RangeError('invalid date');
    const overdue = n > d;
    const [lo, hi] = overdue ? [d, n] : [n, d];
    let ms = 0;
    for (let i = instantIndex(new Date(lo)); startMs(i) < hi; i++) {
      if (!this.working(i)) continue;
      ms += Math.min(hi, startMs(i + 1)) - Math.max(lo, startMs(i));
    }
    return { workingDays: Math.floor(ms / DAY_MS), hours: Math.floor((ms % DAY_MS) / HOUR_MS), overdue };
  }

  /**
   * Office hours (DUBAN_OFFICE_HOURS) on working days between now and dueAt, in whole hours; 0 when overdue.
   * "3 个工作日 / 20 办公小时" is how a clerk reads what is left.
   */
  officeHoursBetween(now: Date, dueAt: Date): number {
    const n = now.getTime();
    const d = dueAt.getTime();
    if (Number.isNaN(n) || Number.isNaN(d)) throw new RangeError('invalid date');
    if (n >= d) return 0;
    let ms = 0;
    for (let i = instantIndex(now); startMs(i) < d; i++) {
      if (!this.working(i)) continue;
      const from = Math.max(n, startMs(i) + OFFICE_HOURS.start);
      const to = Math.min(d, startMs(i) + OFFICE_HOURS.end);
      if (to > from) ms += to - from;
    }
    return Math.floor(ms / HOUR_MS);
  }

  /**
   * When the warning (yellow light) is due for a case received at receivedAt with a limit of
   * promisedDays working days: after k working days have elapsed, i.e. at the end of the k-th working
   * day after receipt, where k = promisedDays − value (rule 'days': value working days left) or
   * round(value × promisedDays) (rule 'share'). k ≤ 0 (a limit too short for the rule) → receivedAt.
   * No rule (undefined or null) → DEFAULT_WARNING. Clock stops move it like the deadline (shiftByWorkingDays).
   */
  warningAt(receivedAt: Date, promisedDays: number, ruleOrDefault?: WarningRule | null): Date {
    const rule = ruleOrDefault ?? DEFAULT_WARNING;
    checkCount(promisedDays, 'the limit');
    if (promisedDays < 0) throw new RangeError('the limit must not be negative');
    let k: number;
    if (rule.kind === 'days') {
      if (!Number.isInteger(rule.value) || rule.value < 0) throw new RangeError('warning days must be a non-negative integer');
      k = promisedDays - rule.value;
    } else {
      if (!(rule.value > 0 && rule.value <= 1)) throw new RangeError('warning share must be in (0, 1]');
      k = Math.round(rule.value * promisedDays);
    }
    if (k <= 0) return new Date(receivedAt.getTime());
    return this.addWorkingDays(receivedAt, k).dueAt;
  }
}

// ---- loading and caching ---------------------------------------------------------------------

/** The official calendar with no overrides: what current() answers before the first load. */
export const OFFICIAL_CALENDAR = new WorkingCalendar();

export const CALENDAR_TTL_MS = 30_000;

/** Read the overrides and confirmed years (no cache). */
export async function readCalendar(db: Db): Promise<WorkingCalendar> {
  const [days, years] = await Promise.all([
    db('calendar_days').select(db.raw('day::text AS day'), 'kind', 'note', 'updated_by', 'updated_at'),
    db('calendar_years').select('year', 'confirmed', 'note', 'updated_by', 'updated_at'),
  ]);
  return new WorkingCalendar({
    overrides: days.map((r) => ({ day: String(r.day), kind: r.kind as DayKind, note: r.note, updatedBy: r.updated_by, updatedAt: r.updated_at })),
    years: years.map((r) => ({ year: Number(r.year), confirmed: Boolean(r.confirmed), note: r.note, updatedBy: r.updated_by, updatedAt: r.updated_at })),
  });
}

/**
 * One loaded calendar per database, reloaded after CALENDAR_TTL_MS (other processes' edits show
 * within that and one reload) or at once after clear() (this process's edits). Concurrent loads share one query.
 */
export class CalendarCache {
  private calendar: WorkingCalendar | null = null;
  private loadedAt = 0;
  private inflight: Promise<WorkingCalendar> | null = null;
  private generation = 0;
  /** clear() was called and no load has finished since: the loaded calendar must not be served. */
  private cleared = false;

  constructor(private readonly db: Db, private readonly ttlMs = CALENDAR_TTL_MS, private readonly clock: () => number = Date.now) {}

  private fresh(): boolean {
    return this.calendar !== null && this.clock() - this.loadedAt < this.ttlMs;
  }

  /**
   * The calendar; a stale one (older than the TTL) answers at once while a reload runs in the
   * background. Commands call this inside their transactions: waiting there for a reload, which needs
   * a pool connection of its own, let a full pool of such commands wait on each other until the pool's
   * acquire timeout. Only the first load, and the first after clear() (this process's own edit), are awaited.
   */
  async get(): Promise<WorkingCalendar> {
    if (this.fresh()) return this.calendar!;
    if (this.calendar && !this.cleared) {
      void this.refresh().catch(() => undefined);
      return this.calendar;
    }
    return this.refresh();
  }

  /**
   * Synchronous, for FEEL functions: the last loaded calendar (the official one before any load),
   * starting a reload in the background when it is stale. Await get() once at start-up.
   */
  current(): WorkingCalendar {
    if (!this.fresh()) void this.refresh().catch(() => undefined);
    return this.calendar ?? OFFICIAL_CALENDAR;
  }

  refresh(): Promise<WorkingCalendar> {
    if (this.inflight) return this.inflight;
    const generation = this.generation;
    const p: Promise<WorkingCalendar> = readCalendar(this.db).then((cal) => {
      if (generation === this.generation) {
        this.calendar = cal;
        this.loadedAt = this.clock();
        this.cleared = false;
      }
      return cal;
    }).finally(() => {
      if (this.inflight === p) this.inflight = null;
    });
    this.inflight = p;
    return p;
  }

  /** Forget the loaded calendar's freshness (after an edit); a load already under way is discarded. */
  clear(): void {
    this.generation++;
    this.inflight = null;
    this.loadedAt = 0;
    this.cleared = true;
  }
}

const caches = new WeakMap<Db, CalendarCache>();

export function calendarCache(db: Db): CalendarCache {
  let cache = caches.get(db);
  if (!cache) {
    cache = new CalendarCache(db);
    caches.set(db, cache);
  }
  return cache;
}

/** The calendar with the administrator's overrides, cached for CALENDAR_TTL_MS (then reloaded in the background). */
export function loadCalendar(db: Db): Promise<WorkingCalendar> {
  return calendarCache(db).get();
}

export function clearCalendarCache(db: Db): void {
  calendarCache(db).clear();
}
