import { getLang, t } from './i18n';
import type { Remaining } from './api';

const tz = 'Asia/Shanghai';

export function fmtDateTime(iso: string | null | undefined): string {
  if (!iso) return '';
  return new Date(iso).toLocaleString(getLang() === 'en' ? 'en-GB' : 'zh-CN', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false });
}

export function fmtDate(iso: string | null | undefined): string {
  if (!iso) return '';
  return new Date(iso).toLocaleDateString('sv-SE', { timeZone: tz });
}

export function fmtRemaining(r: Remaining | null | undefined): string {
  if (!r) return '';
  return t(r.overdue ? 'remaining.over' : 'remaining.left', { d: r.workingDays, h: r.hours });
}

export function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

/** Version notes written by Duban itself ("shipped: approval-item.bpmn") read as words; an admin's own note is shown as written. */
export function noteText(note: string | null | undefined): string {
  if (!note) return '';
  const m = /^shipped(?::\s*(.*))?$/i.exec(note);
  if (!m) return note;
  return m[1] ? `${t('def.shipped')}(${m[1]})` : t('def.shipped');
}
