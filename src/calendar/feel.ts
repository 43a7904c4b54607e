import { SHANGHAI_OFFSET_MS, startOfShanghaiDay, toShanghaiIso, type WorkingCalendar } from './calendar.js';

/**
 * Working-day arithmetic for FEEL (timers, due dates): data in, data out, so a diagram can write
 *   <timeDate>=workingDays(2)</timeDate>                      end of the 2nd working day from now
 *   <timeDate>=addWorkingDays(receivedAt, 20)</timeDate>      end of the 20th working day after a variable
 * Both answer an ISO 8601 date-time with the +08:00 offset (end of the day = next day 00:00).
 * Bad arguments throw (feelin lets the error through), so a wrong timer fails visibly.
 *
 * `calendar` may be a getter, so the engine can always use the freshest cached calendar:
 *   calendarFunctions(() => calendarCache(db).current())
 */
export type CalendarSource = WorkingCalendar | (() => WorkingCalendar);

export function calendarFunctions(calendar: CalendarSource, now: () => Date = () => new Date()) {
  const cal = (): WorkingCalendar => (typeof calendar === 'function' ? calendar() : calendar);
  return {
    workingDays: (n: unknown): string => toShanghaiIso(cal().addWorkingDays(now(), count(n)).dueAt),
    addWorkingDays: (from: unknown, n: unknown): string => toShanghaiIso(cal().addWorkingDays(toInstant(from), count(n)).dueAt),
  };
}

function count(n: unknown): number {
  const v = typeof n === 'string' && n.trim() !== '' ? Number(n) : n;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new TypeError(`working days must be a non-negative integer, got ${String(n)}`);
  return v;
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const NO_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;

/**
 * A FEEL date / date and time, a JS Date or an ISO string. A date alone is that day in Shanghai;
 * a date-time without an offset is Shanghai local time.
 */
function toInstant(v: unknown): Date {
  if (v instanceof Date) return v;
  let s: string;
  if (typeof v === 'string') s = v;
  else if (v && typeof v === 'object' && typeof (v as { iso?: unknown }).iso === 'string') s = (v as { iso: string }).iso;
  else if (v && typeof v === 'object') s = String(v);
  else throw new TypeError(`not a date: ${String(v)}`);
  s = s.trim();
  let d: Date;
  if (DATE_ONLY.test(s)) d = startOfShanghaiDay(s);
  else if (NO_ZONE.test(s)) d = new Date(Date.parse(`${s}Z`) - SHANGHAI_OFFSET_MS);
  else d = new Date(s);
  if (Number.isNaN(d.getTime())) throw new TypeError(`not a date: ${s}`);
  return d;
}
