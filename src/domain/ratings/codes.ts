/** Levels are stored as labels; numeric codes belong to a source (they disagree between sources). */
export const LEVELS = ['非常满意', '满意', '基本满意', '不满意', '非常不满意'] as const;
export type Level = (typeof LEVELS)[number];

/** Local words for a level: the source article's "一般" is 基本满意. */
const SYNONYMS: Record<string, Level> = { 一般: '基本满意', 比较满意: '满意', 很满意: '非常满意', 很不满意: '非常不满意' };

export const CHANNELS = ['PC端', '移动服务端', '二维码', '政务大厅平板电脑', '政务大厅其他终端', '电话', '短信', '系统默认评价'] as const;
export type Channel = (typeof CHANNELS)[number];
export const DEFAULT_CHANNEL: Channel = '系统默认评价';

/** 5 = 非常满意 … 1 = 非常不满意: higher is better, whatever a source's codes say. */
export function rank(level: Level): number {
  return 5 - LEVELS.indexOf(level);
}

/** 差评 are 不满意 and 非常不满意. */
export function isBad(level: Level): boolean {
  return rank(level) <= 2;
}

/** Below 基本满意 a rating must say why (text or 测评内容). */
export function needsReason(level: Level): boolean {
  return rank(level) < rank('基本满意');
}

export function levelOfLabel(label: string): Level | null {
  const s = label.trim();
  return (LEVELS as readonly string[]).includes(s) ? (s as Level) : SYNONYMS[s] ?? null;
}

export function channelOfLabel(label: string): Channel | null {
  const s = label.trim();
  return (CHANNELS as readonly string[]).includes(s) ? (s as Channel) : null;
}

export interface RatingSource {
  name: string;
  description: string;
  level_codes: Record<string, string>;
  channel_codes: Record<string, string>;
}

/**
 * 评价时间 as YYYYMMDDhhmmss (exchange files, Beijing time) or ISO 8601; an ISO time without an offset
 * is Beijing time too. null when it is neither.
 */
export function parseRatingTime(v: string): Date | null {
  const s = v.trim();
  const compact = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(s);
  const iso = compact ? `${compact[1]}-${compact[2]}-${compact[3]}T${compact[4]}:${compact[5]}:${compact[6]}+08:00`
    : /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(s) ? `${s.replace(' ', 'T')}+08:00`
    : /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(s) ? s : null;
  if (!iso) return null;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return null;
  // Round trip: 2026-02-30 must not become 2 March.
  const check = new Date(d.getTime() + (compact || !/[Zz]|[+-]\d{2}:?\d{2}$/.test(s) ? 8 * 3_600_000 : 0)).toISOString();
  if ((compact || !/[Zz]|[+-]\d{2}:?\d{2}$/.test(s)) && check.slice(0, 10) !== iso.slice(0, 10)) return null;
  return d;
}
