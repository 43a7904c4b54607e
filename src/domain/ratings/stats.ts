import type { Db } from '../../db/database.js';
import { startOfShanghaiDay } from '../../calendar/calendar.js';

export type RatingGroup = 'department' | 'item' | 'channel' | 'month';

const KEYS: Record<RatingGroup, string> = {
  department: 'r.department_id',
  item: `coalesce(r.item_code, '-')`,
  channel: 'r.channel',
  month: `to_char(r.rated_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM')`,
};

export interface RatingStatsRow {
  key: string;
  label: string;
  ratings: number;
  invalid: number;
  valid: number;
  satisfied: number;
  bad: number;
  badRectified: number;
  badHandled: number;
  badOnTime: number;
  realNameBad: number;
  realNameBadVisited: number;
  active: number;
  /** 满意率, 差评率, 差评整改率, 按期整改率, 实名差评回访率, 主动评价率; null without a denominator. */
  satisfactionRate: number | null;
  badRate: number | null;
  rectificationRate: number | null;
  onTimeRate: number | null;
  revisitRate: number | null;
  activeRate: number | null;
  /** 差评整改进度 over the ratings that started the loop: 总数 / 无效 / 有效 / 整改中 / 已完成 / 无法整改. */
  progress: { total: number; invalid: number; valid: number; inProgress: number; done: number; unfixable: number };
}

const rate = (n: number, d: number): number | null => (d ? n / d : null);

/**
 * The rates are computed over valid ratings only: an upheld appeal (申诉成立) removes a rating from
 * every rate. 差评 are 不满意 and 非常不满意; 整改 counts loops closed by 立行立改 or 限期整改 (解释说明
 * is 无法整改); 主动评价 are ratings not given by default (系统默认评价).
 */
export async function ratingStats(db: Db, groupBy: RatingGroup, from: string, to: string, departmentId?: string | null): Promise<RatingStatsRow[]> {
  const key = KEYS[groupBy];
  const bad = `r.level IN ('不满意', '非常不满意')`;
  const valid = `r.status = 'valid'`;
  const params: Array<Date | string> = [startOfShanghaiDay(from), new Date(startOfShanghaiDay(to).getTime() + 86_400_000)];
  const { rows } = await db.raw(`
    SELECT ${key} AS key,
      count(*)::int AS ratings,
      count(*) FILTER (WHERE r.status = 'invalid')::int AS invalid,
      count(*) FILTER (WHERE ${valid})::int AS valid,
      count(*) FILTER (WHERE ${valid} AND r.level IN ('非常满意', '满意', '基本满意'))::int AS satisfied,
      count(*) FILTER (WHERE ${valid} AND ${bad})::int AS bad,
      count(*) FILTER (WHERE ${valid} AND ${bad} AND r.loop_status = 'closed' AND r.route IN ('立行立改', '限期整改'))::int AS bad_rectified,
      count(*) FILTER (WHERE ${valid} AND ${bad} AND r.handled_at IS NOT NULL)::int AS bad_handled,
      count(*) FILTER (WHERE ${valid} AND ${bad} AND r.handled_on_time)::int AS bad_on_time,
      count(*) FILTER (WHERE ${valid} AND ${bad} AND r.real_name)::int AS real_name_bad,
      count(*) FILTER (WHERE ${valid} AND ${bad} AND r.real_name AND r.called_back)::int AS real_name_bad_visited,
      count(*) FILTER (WHERE ${valid} AND NOT r.is_default)::int AS active,
      count(*) FILTER (WHERE r.triggered)::int AS p_total,
      count(*) FILTER (WHERE r.triggered AND r.status = 'invalid')::int AS p_invalid,
      count(*) FILTER (WHERE r.triggered AND ${valid})::int AS p_valid,
      count(*) FILTER (WHERE r.triggered AND ${valid} AND coalesce(r.loop_status, 'open') = 'open')::int AS p_open,
      count(*) FILTER (WHERE r.triggered AND ${valid} AND r.loop_status = 'closed' AND r.route IS DISTINCT FROM '解释说明')::int AS p_done,
      count(*) FILTER (WHERE r.triggered AND ${valid} AND r.loop_status = 'closed' AND r.route = '解释说明')::int AS p_unfixable,
      max(d.name) AS dept_name, max(it.name) AS item_name
    FROM ratings r LEFT JOIN departments d ON d.id = r.department_id LEFT JOIN items it ON it.code = r.item_code
    WHERE r.rated_at >= ? AND r.rated_at < ? ${departmentId ? 'AND r.department_id = ?' : ''}
    GROUP BY 1 ORDER BY 1`, departmentId ? [...params, departmentId] : params);
  return rows.map((r: Record<string, number | string | null>) => {
    const n = (k: string) => Number(r[k] ?? 0);
    return {
      key: String(r.key), label: String(groupBy === 'department' ? r.dept_name ?? r.key : groupBy === 'item' ? r.item_name ?? r.key : r.key),
      ratings: n('ratings'), invalid: n('invalid'), valid: n('valid'), satisfied: n('satisfied'), bad: n('bad'), badRectified: n('bad_rectified'),
      badHandled: n('bad_handled'), badOnTime: n('bad_on_time'), realNameBad: n('real_name_bad'), realNameBadVisited: n('real_name_bad_visited'), active: n('active'),
      satisfactionRate: rate(n('satisfied'), n('valid')), badRate: rate(n('bad'), n('valid')), rectificationRate: rate(n('bad_rectified'), n('bad')),
      onTimeRate: rate(n('bad_on_time'), n('bad_handled')), revisitRate: rate(n('real_name_bad_visited'), n('real_name_bad')), activeRate: rate(n('active'), n('valid')),
      progress: { total: n('p_total'), invalid: n('p_invalid'), valid: n('p_valid'), inProgress: n('p_open'), done: n('p_done'), unfixable: n('p_unfixable') },
    };
  });
}

/** Column headers of the .xlsx export, in order. */
export const STATS_COLUMNS: Array<[string, (r: RatingStatsRow) => string | number | null]> = [
  ['分组', (r) => r.key], ['名称', (r) => r.label], ['评价数', (r) => r.ratings], ['无效(申诉成立)', (r) => r.invalid], ['有效评价', (r) => r.valid],
  ['满意率', (r) => r.satisfactionRate], ['差评率', (r) => r.badRate], ['差评整改率', (r) => r.rectificationRate], ['按期整改率', (r) => r.onTimeRate],
  ['实名差评回访率', (r) => r.revisitRate], ['主动评价率', (r) => r.activeRate],
  ['整改总数', (r) => r.progress.total], ['整改无效', (r) => r.progress.invalid], ['整改有效', (r) => r.progress.valid], ['整改中', (r) => r.progress.inProgress],
  ['已完成', (r) => r.progress.done], ['无法整改', (r) => r.progress.unfixable],
];
