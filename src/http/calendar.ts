import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { Nullable } from './paging.js';
import type { Db } from '../db/database.js';
import { principalOf } from './auth.js';
import type { Role, Scope } from '../auth/principal.js';
import { appendAudit } from '../audit/audit.js';
import { BadRequestError, NotFoundError } from '../engine/errors.js';
import { clearCalendarCache, isValidDay, loadCalendar, OFFICIAL_YEARS } from '../calendar/calendar.js';
import type { CaseService } from '../domain/cases/cases.js';

const READ = { roles: ['admin', 'clerk', 'inspector', 'leader', 'system'] as Role[], scope: 'read' as Scope };
const ADMIN = { roles: ['admin'] as Role[], scope: 'admin' as Scope };

const Year = Type.Integer({ minimum: 1990, maximum: 2100 });
const DayParam = Type.Object({ day: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' }) });
const YearParam = Type.Object({ year: Year });
// PostgreSQL text cannot hold NUL: refuse it here rather than fail in the database.
const Note = Type.String({ maxLength: 200, pattern: '^[^\\u0000]*$' });

const DayInfoT = Type.Object({
  day: Type.String(),
  working: Type.Boolean(),
  source: Type.Union([Type.Literal('official'), Type.Literal('override'), Type.Literal('provisional'), Type.Literal('weekend')]),
  name: Nullable(Type.String()),
  note: Nullable(Type.String()),
  updatedBy: Nullable(Type.String()),
  updatedAt: Nullable(Type.String()),
});

const YearT = Type.Object({
  year: Type.Integer(),
  /** The official data (chinese-days) has this year's arrangement. */
  official: Type.Boolean(),
  /** Official, or entered and confirmed by an administrator; otherwise deadlines count Mon–Fri and are flagged. */
  confirmed: Type.Boolean(),
  note: Nullable(Type.String()),
  updatedBy: Nullable(Type.String()),
  updatedAt: Nullable(Type.String()),
});

const OverrideT = Type.Object({
  day: Type.String(),
  kind: Type.Union([Type.Literal('holiday'), Type.Literal('workday')]),
  note: Nullable(Type.String()),
  updatedBy: Nullable(Type.String()),
  updatedAt: Type.String(),
});

const Recomputed = Type.Object({ recomputedCases: Type.Integer({ description: 'open cases whose deadline (and timers) moved with this change' }) });

function checkDay(day: string): void {
  if (!isValidDay(day)) throw new BadRequestError(`${day} is not a calendar date`);
}

interface DayRow { day: string; kind: 'holiday' | 'workday'; note: string | null; updated_by: string | null; updated_at: Date }
interface YearRow { year: number; confirmed: boolean; note: string | null; updated_by: string | null; updated_at: Date }

const dayOut = (r: DayRow) => ({ day: r.day, kind: r.kind, note: r.note, updatedBy: r.updated_by, updatedAt: r.updated_at.toISOString() });
const DAY_COLUMNS = ['kind', 'note', 'updated_by', 'updated_at'];

/** The working-day calendar: official holidays plus the administrator's overrides and confirmed years. */
export async function calendarRoutes(app: FastifyInstance, opts: { db: Db; cases: CaseService }) {
  const { db, cases } = opts;
  /** Every calendar change recomputes the open cases' deadlines (and moves their timers). */
  const recompute = async (actor: string) => {
    clearCalendarCache(db);
    return (await cases.recomputeDeadlines(actor)).changed;
  };

  app.get('/api/calendar', {
    schema: {
      tags: ['calendar'], summary: 'Days off, make-up workdays and overrides of a year, and whether the year is confirmed',
      querystring: Type.Object({ year: Year }, { additionalProperties: false }),
      response: { 200: Type.Object({ ...YearT.properties, days: Type.Array(DayInfoT) }) },
    },
    config: { access: READ },
  }, async (req) => {
    const { year } = req.query as { year: number };
    const cal = await loadCalendar(db);
    const entry = cal.yearEntry(year);
    return {
      year,
      official: OFFICIAL_YEARS.has(year),
      confirmed: cal.isConfirmed(year),
      note: entry?.note ?? null,
      updatedBy: entry?.updatedBy ?? null,
      updatedAt: entry?.updatedAt ? new Date(entry.updatedAt).toISOString() : null,
      // daysOfYear leaves out ordinary weekdays, so every source here is official, override, provisional or weekend.
      days: cal.daysOfYear(year),
    };
  });

  app.put('/api/calendar/days/:day', {
    schema: {
      tags: ['calendar'], summary: 'Override one day: holiday (no work) or workday (make-up working day)',
      params: DayParam,
      body: Type.Object({ kind: Type.Union([Type.Literal('holiday'), Type.Literal('workday')]), note: Type.Optional(Nullable(Note)) }, { additionalProperties: false }),
      response: { 200: Type.Composite([OverrideT, Recomputed]) },
    },
    config: { access: ADMIN },
  }, async (req) => {
    const p = principalOf(req);
    const { day } = req.params as { day: string };
    checkDay(day);
    const body = req.body as { kind: 'holiday' | 'workday'; note?: string | null };
    const row = await db.transaction(async (trx) => {
      const before = await trx('calendar_days').where({ day }).forUpdate().first(db.raw('day::text AS day'), ...DAY_COLUMNS) as DayRow | undefined;
      const [after] = await trx('calendar_days')
        .insert({ day, kind: body.kind, note: body.note ?? null, updated_by: p.username, updated_at: trx.raw('now()') })
        .onConflict('day').merge()
        .returning([db.raw('day::text AS day'), ...DAY_COLUMNS]) as DayRow[];
      await appendAudit(trx, {
        actor: p.username, action: before ? 'calendar.day.updated' : 'calendar.day.created', entityType: 'calendar_day', entityId: day,
        before: before ? dayOut(before) : null, after: dayOut(after!),
      });
      return after!;
    });
    return { ...dayOut(row), recomputedCases: await recompute(p.username) };
  });

  app.delete('/api/calendar/days/:day', {
    schema: { tags: ['calendar'], summary: 'Remove an override; the day follows the official data again', params: DayParam, response: { 204: Type.Null() } },
    config: { access: ADMIN },
  }, async (req, reply) => {
    const p = principalOf(req);
    const { day } = req.params as { day: string };
    checkDay(day);
    await db.transaction(async (trx) => {
      const before = await trx('calendar_days').where({ day }).forUpdate().first(db.raw('day::text AS day'), ...DAY_COLUMNS) as DayRow | undefined;
      if (!before) throw new NotFoundError('calendar override for', day);
      await trx('calendar_days').where({ day }).delete();
      await appendAudit(trx, { actor: p.username, action: 'calendar.day.deleted', entityType: 'calendar_day', entityId: day, before: dayOut(before), after: null });
    });
    await recompute(p.username);
    return reply.code(204).send();
  });

  app.put('/api/calendar/years/:year', {
    schema: {
      tags: ['calendar'], summary: "Mark a year's arrangement as entered completely (confirmed) or not",
      params: YearParam,
      body: Type.Object({ confirmed: Type.Boolean(), note: Type.Optional(Nullable(Note)) }, { additionalProperties: false }),
      response: { 200: Type.Composite([YearT, Recomputed]) },
    },
    config: { access: ADMIN },
  }, async (req) => {
    const p = principalOf(req);
    const { year } = req.params as { year: number };
    const body = req.body as { confirmed: boolean; note?: string | null };
    const row = await db.transaction(async (trx) => {
      const before = await trx('calendar_years').where({ year }).forUpdate().first() as YearRow | undefined;
      const [after] = await trx('calendar_years')
        .insert({ year, confirmed: body.confirmed, note: body.note ?? null, updated_by: p.username, updated_at: trx.raw('now()') })
        .onConflict('year').merge()
        .returning('*') as YearRow[];
      const out = (r: YearRow) => ({ year: r.year, confirmed: r.confirmed, note: r.note, updatedBy: r.updated_by, updatedAt: r.updated_at.toISOString() });
      await appendAudit(trx, {
        actor: p.username, action: 'calendar.year.updated', entityType: 'calendar_year', entityId: String(year),
        before: before ? out(before) : null, after: out(after!),
      });
      return after!;
    });
    const recomputedCases = await recompute(p.username);
    const official = OFFICIAL_YEARS.has(year);
    return {
      year, official, confirmed: official || row.confirmed, note: row.note, updatedBy: row.updated_by, updatedAt: row.updated_at.toISOString(), recomputedCases,
    };
  });
}
