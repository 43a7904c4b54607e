import type { Db } from '../db/database.js';
import { DeferDelivery } from '../engine/services.js';

/**
 * Sending rules for SMS, as settings (README):
 * - `DUBAN_SMS_DAILY_LIMIT`: messages per number in any rolling 24 h (default 50, the usual gateway rule);
 * - `DUBAN_SMS_QUIET_HOURS`: e.g. `22:00-07:00`, Beijing time (UTC+8, no daylight saving); default 22:00-08:00
 *   (deadlines fall due at 24:00: the case turns red then, the SMS waits for the morning); `off` sends at any hour;
 * - identical content to the same number at most twice a minute (gateway rule, fixed).
 * A message that may not go now is deferred to the first moment it may, never dropped: `check` throws
 * DeferDelivery, which the outbox records without counting an attempt.
 *
 * Counts come from the outbox itself: SMS rows sent in the window, plus other rows being sent right now
 * (an at-most-once row is marked "sending" before this check runs, so of two concurrent sends to one
 * number at least one sees the other; the rule may defer one too many, never let one too many through).
 */
export interface SmsPolicySettings {
  dailyLimit: number;
  /** Minutes after local midnight; `start > end` spans midnight. Null: no quiet hours. */
  quietHours: { start: number; end: number } | null;
  /** Identical content to one number within a minute. */
  duplicatesPerMinute: number;
}

/** Beijing time has been UTC+8 all year since 1991. */
const LOCAL_OFFSET_MS = 8 * 3_600_000;
const DAY_MS = 86_400_000;

export const DEFAULT_QUIET_HOURS = '22:00-08:00';

export function parseQuietHours(value: string | undefined): SmsPolicySettings['quietHours'] {
  if (!value?.trim() || /^(none|off)$/i.test(value.trim())) return null;
  const m = /^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$/.exec(value);
  const minutes = (h: string, mm: string) => {
    const hh = Number(h), mi = Number(mm);
    if (hh > 24 || mi > 59 || (hh === 24 && mi !== 0)) throw new Error(`DUBAN_SMS_QUIET_HOURS: ${h}:${mm} is not a time of day`);
    return hh * 60 + mi;
  };
  if (!m) throw new Error(`DUBAN_SMS_QUIET_HOURS must look like 22:00-07:00, not "${value}"`);
  const start = minutes(m[1]!, m[2]!) % 1440, end = minutes(m[3]!, m[4]!) % 1440;
  if (start === end) throw new Error('DUBAN_SMS_QUIET_HOURS: start and end are the same time');
  return { start, end };
}

export function smsPolicySettingsFromEnv(env: NodeJS.ProcessEnv = process.env): SmsPolicySettings {
  const raw = env.DUBAN_SMS_DAILY_LIMIT?.trim();
  const dailyLimit = raw ? Number(raw) : 50;
  if (!Number.isInteger(dailyLimit) || dailyLimit < 1) throw new Error(`DUBAN_SMS_DAILY_LIMIT must be a positive integer, not "${raw}"`);
  return { dailyLimit, quietHours: parseQuietHours(env.DUBAN_SMS_QUIET_HOURS ?? DEFAULT_QUIET_HOURS), duplicatesPerMinute: 2 };
}

/** When the quiet hours that contain `now` end (Beijing time), or null when `now` is outside them. */
export function quietHoursEnd(now: Date, quiet: SmsPolicySettings['quietHours']): Date | null {
  if (!quiet) return null;
  const local = now.getTime() + LOCAL_OFFSET_MS;
  const localMidnight = Math.floor(local / DAY_MS) * DAY_MS;
  const minute = (local - localMidnight) / 60_000; // fractional: 06:59:30 is still before 07:00
  const inside = quiet.start < quiet.end ? minute >= quiet.start && minute < quiet.end : minute >= quiet.start || minute < quiet.end;
  if (!inside) return null;
  // The end is later today, or (after the evening start of a span over midnight) tomorrow.
  const endLocal = localMidnight + quiet.end * 60_000 + (minute >= quiet.end ? DAY_MS : 0);
  return new Date(endLocal - LOCAL_OFFSET_MS);
}

export interface SmsCheckContext {
  /** The outbox row being delivered: never counted against itself. */
  outboxId?: number;
  /** Template and variables: how a row still "sending" (no text recorded yet) is compared. */
  template?: string;
  vars?: Record<string, string>;
}

export class SmsPolicy {
  constructor(readonly settings: SmsPolicySettings, private readonly now: () => Date = () => new Date()) {}

  static fromEnv(env: NodeJS.ProcessEnv = process.env): SmsPolicy {
    return new SmsPolicy(smsPolicySettingsFromEnv(env));
  }

  /** Throws DeferDelivery(until) when `text` may not go to `to` now; `until` is the first moment it may. */
  async check(db: Db, to: string, text: string, ctx: SmsCheckContext = {}): Promise<void> {
    const quietEnd = quietHoursEnd(this.now(), this.settings.quietHours);
    if (quietEnd) throw new DeferDelivery(quietEnd, `quiet hours until ${formatLocal(quietEnd)} (Beijing time)`);

    const self = ctx.outboxId ?? -1;
    // The n-th most recent message in the window leaves it at its time + window; until then the
    // window holds n. With limit n, the next message may go when the n-th most recent leaves.
    const daily = await db.raw<{ rows: Array<{ until: Date }> }>(`
      SELECT at + interval '24 hours' AS until FROM (
        SELECT coalesce(sent_at, sending_since) AS at FROM outbox
        WHERE service = 'sms' AND payload->>'to' = :to AND id <> :self
          AND ((status = 'sent' AND sent_at > now() - interval '24 hours')
            OR (status = 'sending' AND sending_since > now() - interval '24 hours'))
      ) w ORDER BY at DESC OFFSET :skip LIMIT 1`, { to, self, skip: this.settings.dailyLimit - 1 });

    const same = ctx.template && ctx.vars
      ? `(status = 'sending' AND sending_since > now() - interval '1 minute' AND payload->>'template' = :template AND payload->'vars' = CAST(:vars AS jsonb))`
      : 'false';
    const repeats = await db.raw<{ rows: Array<{ until: Date }> }>(`
      SELECT at + interval '1 minute' AS until FROM (
        SELECT coalesce(sent_at, sending_since) AS at FROM outbox
        WHERE service = 'sms' AND payload->>'to' = :to AND id <> :self
          AND ((status = 'sent' AND sent_at > now() - interval '1 minute' AND result->>'text' = :text) OR ${same})
      ) w ORDER BY at DESC OFFSET :skip LIMIT 1`,
    { to, self, text, skip: this.settings.duplicatesPerMinute - 1, ...(ctx.template && ctx.vars ? { template: ctx.template, vars: JSON.stringify(ctx.vars) } : {}) });

    const dailyUntil = daily.rows[0]?.until;
    const repeatUntil = repeats.rows[0]?.until;
    if (dailyUntil && (!repeatUntil || dailyUntil >= repeatUntil)) {
      throw new DeferDelivery(dailyUntil, `daily limit: ${this.settings.dailyLimit} messages to ${to} in 24 h; next at ${formatLocal(dailyUntil)}`);
    }
    if (repeatUntil) {
      throw new DeferDelivery(repeatUntil, `identical content to ${to} at most ${this.settings.duplicatesPerMinute} times a minute`);
    }
  }
}

function formatLocal(d: Date): string {
  return new Date(d.getTime() + LOCAL_OFFSET_MS).toISOString().slice(0, 16).replace('T', ' ');
}
