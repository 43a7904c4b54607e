import type { Db } from '../../db/database.js';
import type { WorkingCalendar } from '../../calendar/calendar.js';

export type GroupBy = 'department' | 'item' | 'month';

export interface StatsRow {
  key: string;
  label: string;
  received: number;
  completed: number;
  onTime: number;
  overdueNow: number;
  overdueRate: number;
  avgWorkingDays: number | null;
  escalations: number;
  avgHoursToClose: number | null;
}

const KEY: Record<GroupBy, string> = {
  department: 'c.department_id',
  item: 'c.item_code',
  month: `to_char(c.received_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM')`,
};

/**
 * Per department, item or month, for the cases received in [from, to): received, completed,
 * on time, overdue now, overdue rate (late or overdue ÷ received), average working days to
 * complete, escalations and their average hours to close.
 */
export async function caseStatistics(db: Db, calendar: WorkingCalendar, groupBy: GroupBy, from: Date, to: Date, departmentId?: string): Promise<StatsRow[]> {
  const key = KEY[groupBy];
  const base = db('cases as c').where('c.received_at', '>=', from).andWhere('c.received_at', '<', to);
  if (departmentId) base.where('c.department_id', departmentId);
  const rows: Array<Record<string, string | number | null>> = await base.clone()
    .leftJoin('supervisions as s', 's.case_id', 'c.id')
    .groupByRaw(key)
    .select(db.raw(`${key} AS key`))
    .select(db.raw('count(DISTINCT c.id)::int AS received'))
    .select(db.raw(`count(DISTINCT c.id) FILTER (WHERE c.status = 'completed')::int AS completed`))
    .select(db.raw(`count(DISTINCT c.id) FILTER (WHERE c.status = 'completed' AND c.completed_at <= c.promised_at)::int AS on_time`))
    .select(db.raw(`count(DISTINCT c.id) FILTER (WHERE c.status = 'completed' AND c.completed_at > c.promised_at)::int AS late`))
    .select(db.raw(`count(DISTINCT c.id) FILTER (WHERE c.status = 'handling' AND c.promised_at < now())::int AS overdue_now`))
    .select(db.raw('count(s.id)::int AS escalations'))
    .select(db.raw(`avg(extract(epoch FROM s.closed_at - s.opened_at) / 3600) FILTER (WHERE s.closed_at IS NOT NULL)::float8 AS hours_to_close`))
    .orderBy('key');
  const durations: Array<{ key: string; received_at: Date; completed_at: Date }> = await base.clone()
    .where('c.status', 'completed').select(db.raw(`${key} AS key`), 'c.received_at', 'c.completed_at');
  const sums = new Map<string, { days: number; n: number }>();
  for (const d of durations) {
    const r = calendar.remaining(d.received_at, d.completed_at);
    const days = r.overdue ? 0 : r.workingDays + r.hours / 24;
    const acc = sums.get(d.key) ?? { days: 0, n: 0 };
    acc.days += days;
    acc.n++;
    sums.set(d.key, acc);
  }
  const labels = await labelsFor(db, groupBy);
  return rows.map((r) => {
    const k = String(r.key);
    const received = Number(r.received);
    const s = sums.get(k);
    return {
      key: k, label: labels.get(k) ?? k, received, completed: Number(r.completed), onTime: Number(r.on_time), overdueNow: Number(r.overdue_now),
      overdueRate: received ? round((Number(r.late) + Number(r.overdue_now)) / received, 4) : 0,
      avgWorkingDays: s && s.n ? round(s.days / s.n, 2) : null,
      escalations: Number(r.escalations), avgHoursToClose: r.hours_to_close === null ? null : round(Number(r.hours_to_close), 1),
    };
  });
}

async function labelsFor(db: Db, groupBy: GroupBy): Promise<Map<string, string>> {
  if (groupBy === 'department') return new Map((await db('departments').select('id', 'name')).map((d) => [d.id, d.name]));
  if (groupBy === 'item') return new Map((await db('items').select('code', 'name')).map((i) => [i.code, i.name]));
  return new Map();
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** Open cases by light, counted by PostgreSQL: green, yellow (warned, not yet due), red (due), suspended. */
export async function lightCounts(db: Db, departmentId?: string): Promise<{ green: number; yellow: number; red: number; suspended: number; open: number }> {
  const q = db('cases').whereIn('status', ['handling', 'suspended']).first(
    db.raw(`count(*) FILTER (WHERE status = 'handling' AND warning_at > now())::int AS green`),
    db.raw(`count(*) FILTER (WHERE status = 'handling' AND warning_at <= now() AND promised_at > now())::int AS yellow`),
    db.raw(`count(*) FILTER (WHERE status = 'handling' AND promised_at <= now())::int AS red`),
    db.raw(`count(*) FILTER (WHERE status = 'suspended')::int AS suspended`),
    db.raw('count(*)::int AS open'));
  if (departmentId) q.where('department_id', departmentId);
  const r = await q;
  return { green: r.green, yellow: r.yellow, red: r.red, suspended: r.suspended, open: r.open };
}
