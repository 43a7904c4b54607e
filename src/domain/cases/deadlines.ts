import { shanghaiDay, toShanghaiIso, type WorkingCalendar, type WarningRule } from '../../calendar/calendar.js';

export interface ItemLimits {
  promised_days: number;
  limit_unit: 'workday' | 'minute' | 'second';
  warning_rule: WarningRule;
}

export interface Deadlines {
  promisedAt: Date;
  warningAt: Date;
  confirmed: boolean;
}

/**
 * 承诺办结时间 and the yellow-light time for a case received at `receivedAt`.
 * `minute` and `second` limits exist for drills and tests: the same rules on a compressed clock.
 */
const UNIT_MS = { minute: 60_000, second: 1000 } as const;

export function deadlinesFor(calendar: WorkingCalendar, item: ItemLimits, receivedAt: Date): Deadlines {
  if (item.limit_unit !== 'workday') {
    const unit = UNIT_MS[item.limit_unit];
    const promisedAt = new Date(receivedAt.getTime() + item.promised_days * unit);
    const rule = item.warning_rule;
    const before = rule.kind === 'share' ? item.promised_days * (1 - rule.value) : Math.min(rule.value, item.promised_days);
    return { promisedAt, warningAt: new Date(promisedAt.getTime() - before * unit), confirmed: true };
  }
  const due = calendar.addWorkingDays(receivedAt, item.promised_days);
  return { promisedAt: due.dueAt, warningAt: calendar.warningAt(receivedAt, item.promised_days, item.warning_rule), confirmed: due.confirmed };
}

export type Light = 'green' | 'yellow' | 'red' | 'suspended' | 'done' | 'done-late' | 'cancelled' | 'failed';

export interface CaseTiming {
  status: string;
  promised_at: Date;
  warning_at: Date;
  completed_at: Date | null;
  /** While the clock is stopped: when it stopped (remaining time is frozen there). */
  clock_stopped_at?: Date | null;
}

/** Green while enough time remains, yellow from the warning time, red when overdue (电子监察). */
export function lightOf(c: CaseTiming, now: Date): Light {
  if (c.status === 'cancelled') return 'cancelled';
  if (c.status === 'failed') return 'failed';
  if (c.status === 'completed') return c.completed_at && c.completed_at > c.promised_at ? 'done-late' : 'done';
  if (c.status === 'suspended') return 'suspended';
  if (now >= c.promised_at) return 'red';
  if (now >= c.warning_at) return 'yellow';
  return 'green';
}

/** Remaining (or overdue) working time, shown on every case and task. */
export function remainingOf(calendar: WorkingCalendar, c: CaseTiming, now: Date): { workingDays: number; hours: number; overdue: boolean; officeHours: number } {
  const until = c.status === 'completed' && c.completed_at ? c.completed_at
    // A stopped clock does not count: the time left is what was left when it stopped.
    : c.status === 'suspended' && c.clock_stopped_at ? new Date(Math.min(now.getTime(), new Date(c.clock_stopped_at).getTime())) : now;
  return { ...calendar.remaining(until, c.promised_at), officeHours: calendar.officeHoursBetween(until, c.promised_at) };
}

/**
 * How a deadline reads: a working-day deadline is the end of its day (stored as the next day's 00:00),
 * so it shows as that day — 2026-11-24 24:00, 11月24日 当日 — never as "11-25 00:00".
 * Drill limits (minutes, seconds) show the exact time.
 */
export function deadlineOf(promisedAt: Date, unit: ItemLimits['limit_unit']): { day: string; text: string; textZh: string } {
  if (unit !== 'workday') {
    const stamp = toShanghaiIso(promisedAt).slice(0, 19).replace('T', ' ');
    return { day: stamp.slice(0, 10), text: stamp, textZh: stamp };
  }
  const day = shanghaiDay(new Date(promisedAt.getTime() - 1));
  return { day, text: `${day} 24:00`, textZh: `${Number(day.slice(5, 7))}月${Number(day.slice(8, 10))}日 当日` };
}

/**
 * A clock stop counts in the case's own unit: whole working days for ordinary limits (the stop's day
 * excluded, the restart's day included), whole minutes or seconds for drills (unit boundaries crossed).
 */
export function stoppedUnits(calendar: WorkingCalendar, unit: ItemLimits['limit_unit'], from: Date, to: Date): number {
  if (unit === 'workday') return calendar.workingDaysBetween(from, to);
  const ms = UNIT_MS[unit];
  return Math.max(0, Math.floor(to.getTime() / ms) - Math.floor(from.getTime() / ms));
}

/** Move a deadline (or a timer) by k units of the case's limit. */
export function shiftByUnits(calendar: WorkingCalendar, unit: ItemLimits['limit_unit'], at: Date, k: number): Date {
  if (unit === 'workday') return calendar.shiftByWorkingDays(at, k);
  return new Date(at.getTime() + k * UNIT_MS[unit]);
}
