import type { WorkingCalendar, WarningRule } from '../../calendar/calendar.js';

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
export function remainingOf(calendar: WorkingCalendar, c: CaseTiming, now: Date) {
  const until = c.status === 'completed' && c.completed_at ? c.completed_at : now;
  return calendar.remaining(until, c.promised_at);
}
