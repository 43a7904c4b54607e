import { shanghaiDay, startOfShanghaiDay, type WorkingCalendar } from '../../calendar/calendar.js';

/** A project's light on the board: 绿 on track, 黄 behind, 红 well behind or a milestone missed, 完成 done. */
export type ProjectLight = 'green' | 'yellow' | 'red' | 'done';

export interface ProjectSettings {
  yellowPoints: number;
  redPoints: number;
  warningDays: number;
  linkDays: number;
}

export interface MilestoneState {
  status: 'pending' | 'done';
  /** The date it is due now (the original 完成时限, or the new date of a 回告). */
  currentDue: string;
}

const DAY_MS = 86_400_000;

/**
 * 序时进度: the share of the plan that should be done by now, in percent — elapsed days of the planned
 * construction period (start day to finish day, both counted) over its length. Before the start 0, after the finish 100.
 */
export function scheduleProgress(plannedStart: string, plannedFinish: string, now: Date): number {
  const start = startOfShanghaiDay(plannedStart).getTime();
  const end = startOfShanghaiDay(plannedFinish).getTime() + DAY_MS;
  const share = (now.getTime() - start) / (end - start);
  return Math.round(Math.min(1, Math.max(0, share)) * 1000) / 10;
}

/** End of a milestone's due day (24:00 Shanghai): the instant it is late after. */
export function endOfDay(day: string): Date {
  return new Date(startOfShanghaiDay(day).getTime() + DAY_MS);
}

export interface LightInput {
  status: 'building' | 'completed';
  plannedStart: string;
  plannedFinish: string;
  progress: number;
  milestones: MilestoneState[];
}

export interface LightResult {
  light: ProjectLight;
  scheduleProgress: number;
  /** Points behind 序时进度 (negative: ahead). */
  lag: number;
  reasons: string[];
}

/**
 * Red: more than `redPoints` behind 序时进度, or a milestone past its date. Yellow: `yellowPoints` to
 * `redPoints` behind, or a milestone due within `warningDays` working days. The reasons say which, in Chinese.
 */
export function projectLight(p: LightInput, settings: ProjectSettings, calendar: WorkingCalendar, now: Date): LightResult {
  const schedule = scheduleProgress(p.plannedStart, p.plannedFinish, now);
  const lag = Math.round((schedule - p.progress) * 10) / 10;
  if (p.status === 'completed') return { light: 'done', scheduleProgress: schedule, lag, reasons: [] };
  const today = shanghaiDay(now);
  const pending = p.milestones.filter((m) => m.status === 'pending');
  const late = pending.filter((m) => endOfDay(m.currentDue).getTime() <= now.getTime());
  const warnBy = shanghaiDay(new Date(calendar.addWorkingDays(now, settings.warningDays).dueAt.getTime() - 1));
  const soon = pending.filter((m) => !late.includes(m) && m.currentDue >= today && m.currentDue <= warnBy);
  const red: string[] = [];
  const yellow: string[] = [];
  if (lag > settings.redPoints) red.push(`滞后序时进度${lag}个百分点`);
  else if (lag >= settings.yellowPoints) yellow.push(`滞后序时进度${lag}个百分点`);
  if (late.length) red.push(`${late.length}个节点逾期未完成`);
  if (soon.length) yellow.push(`${soon.length}个节点临近完成时限`);
  if (red.length) return { light: 'red', scheduleProgress: schedule, lag, reasons: [...red, ...yellow] };
  if (yellow.length) return { light: 'yellow', scheduleProgress: schedule, lag, reasons: yellow };
  return { light: 'green', scheduleProgress: schedule, lag, reasons: [] };
}
