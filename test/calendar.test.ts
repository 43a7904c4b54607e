import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Fastify, { type FastifyInstance, type InjectOptions } from 'fastify';
import { evaluate } from 'feelin';
import { createTestDatabase } from './support/db.js';
import { createDb } from '../src/db/database.js';
import { seedDemo, DEMO_PASSWORD } from '../src/demo.js';
import { registerProblemHandlers } from '../src/http/problem.js';
import { authPlugin, authRoutes } from '../src/http/auth.js';
import { calendarRoutes } from '../src/http/calendar.js';
import { createRuntime } from '../src/runtime.js';
import { verifyAudit } from '../src/audit/audit.js';
import { evaluateFeel } from '../src/engine/expressions.js';
import {
  WorkingCalendar, OFFICIAL_YEARS, shanghaiDay, toShanghaiIso, loadCalendar, clearCalendarCache, calendarCache, CalendarCache,
} from '../src/calendar/calendar.js';
import { calendarFunctions } from '../src/calendar/feel.js';
import { provisionalHolidays } from '../src/calendar/calendar.js';
import { deadlineOf } from '../src/domain/cases/deadlines.js';
import { sealed } from './support/audit.js';

const at = (s: string) => new Date(s);
const cal = new WorkingCalendar();

describe('working calendar (pure)', () => {
  test('official coverage is read from the chinese-days data: 2004–2026', () => {
    for (let y = 2004; y <= 2026; y++) assert.ok(OFFICIAL_YEARS.has(y), `${y}`);
    assert.ok(!OFFICIAL_YEARS.has(2003));
    assert.ok(!OFFICIAL_YEARS.has(2027));
    assert.ok(cal.isConfirmed(2026));
    assert.ok(!cal.isConfirmed(2027));
  });

  test('2026 holidays and make-up workdays', () => {
    for (let d = 1; d <= 7; d++) assert.equal(cal.isWorkday(`2026-10-0${d}`), false, `2026-10-0${d}`);
    assert.equal(cal.isWorkday('2026-10-08'), true);
    for (const d of ['2026-01-04', '2026-02-14', '2026-02-28', '2026-05-09', '2026-09-20', '2026-10-10']) {
      assert.equal(cal.isWorkday(d), true, `${d} is a make-up workday`);
    }
    assert.equal(cal.isWorkday('2026-10-11'), false, 'an ordinary Sunday');
    assert.equal(cal.isWorkday('2026-09-29'), true, 'an ordinary Tuesday');
    assert.deepEqual({ ...cal.dayInfo('2026-10-01'), name: cal.dayInfo('2026-10-01').name }, {
      day: '2026-10-01', working: false, source: 'official', name: '国庆节', note: null, updatedBy: null, updatedAt: null,
    });
    assert.equal(cal.dayInfo('2026-10-10').source, 'official');
    assert.equal(cal.dayInfo('2026-10-11').source, 'weekend');
    assert.throws(() => cal.isWorkday('2026-02-30'), RangeError);
  });

  test('does not depend on the process time zone (chinese-days functions do)', () => {
    const saved = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      assert.equal(cal.isWorkday('2026-10-10'), true);
      assert.equal(cal.isWorkday('2026-10-12'), true);
      assert.equal(new WorkingCalendar().addWorkingDays(at('2026-09-30T10:00:00+08:00'), 1).dueDay, '2026-10-08');
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });

  test('shanghaiDay: 2026-09-30T17:00Z is already 2026-10-01 in China', () => {
    assert.equal(shanghaiDay(at('2026-09-30T17:00:00Z')), '2026-10-01');
    assert.equal(cal.shanghaiDay(at('2026-09-30T15:59:59.999Z')), '2026-09-30');
    assert.equal(cal.shanghaiDay(at('2026-09-30T16:00:00Z')), '2026-10-01');
    // Received at 01:00 on the Saturday make-up day (Friday evening in UTC): day 1 is Monday, not Saturday.
    assert.equal(cal.addWorkingDays(at('2026-10-09T17:00:00Z'), 1).dueDay, '2026-10-12');
    assert.equal(cal.addWorkingDays(at('2026-10-09T15:00:00Z'), 1).dueDay, '2026-10-10');
    assert.equal(cal.addWorkingDays(at('2026-09-30T17:00:00Z'), 0).dueDay, '2026-10-01');
  });

  test('addWorkingDays: the acceptance dates', () => {
    const a = cal.addWorkingDays(at('2026-09-30T10:00:00+08:00'), 1);
    assert.equal(a.dueDay, '2026-10-08');
    assert.equal(a.dueAt.toISOString(), '2026-10-08T16:00:00.000Z');
    assert.equal(toShanghaiIso(a.dueAt), '2026-10-09T00:00:00+08:00');
    assert.equal(a.confirmed, true);
    const b = cal.addWorkingDays(at('2026-09-28T09:00:00+08:00'), 5);
    assert.equal(b.dueDay, '2026-10-10', 'the Saturday make-up workday counts');
    assert.equal(toShanghaiIso(b.dueAt), '2026-10-11T00:00:00+08:00');
    // Received on a holiday: day 1 is the first working day after it.
    assert.equal(cal.addWorkingDays(at('2026-10-03T11:00:00+08:00'), 1).dueDay, '2026-10-08');
    // Over Spring Festival 2026: 02-10..02-13, 02-14 (Sat, on), 02-15..02-23 off, 02-24..02-27, 02-28 (Sat, on).
    assert.equal(cal.addWorkingDays(at('2026-02-09T09:00:00+08:00'), 10).dueDay, '2026-02-28');
    assert.equal(cal.addWorkingDays(at('2026-02-09T09:00:00+08:00'), 11).dueDay, '2026-03-02');
    assert.throws(() => cal.addWorkingDays(at('2026-02-09T09:00:00+08:00'), -1), RangeError);
    assert.throws(() => cal.addWorkingDays(at('2026-02-09T09:00:00+08:00'), 1.5), RangeError);
  });

  test('an uncovered year counts Mon–Fri less its certain statutory holidays, and is unconfirmed until an administrator enters it', () => {
    assert.equal(cal.isWorkday('2027-01-01'), false, '元旦 is certain, even before the arrangement is published');
    assert.deepEqual([cal.dayInfo('2027-01-01').source, cal.dayInfo('2027-01-01').name], ['provisional', '元旦']);
    const flagged = cal.addWorkingDays(at('2026-12-30T10:00:00+08:00'), 3);
    assert.deepEqual([flagged.dueDay, flagged.confirmed], ['2027-01-05', false]);
    assert.equal(cal.addWorkingDays(at('2026-12-20T10:00:00+08:00'), 5).confirmed, true, 'stays within 2026');
    assert.equal(cal.addWorkingDays(at('2026-12-31T10:00:00+08:00'), 0).confirmed, true);

    const entered = new WorkingCalendar({ overrides: [{ day: '2027-01-01', kind: 'holiday', note: '元旦' }] });
    const stillFlagged = entered.addWorkingDays(at('2026-12-30T10:00:00+08:00'), 3);
    assert.deepEqual([stillFlagged.dueDay, stillFlagged.confirmed], ['2027-01-05', false], 'entered but not confirmed');

    const confirmed = new WorkingCalendar({
      overrides: [{ day: '2027-01-01', kind: 'holiday' }, { day: '2027-01-09', kind: 'workday' }],
      years: [{ year: 2027, confirmed: true }],
    });
    const ok = confirmed.addWorkingDays(at('2026-12-30T10:00:00+08:00'), 3);
    assert.deepEqual([ok.dueDay, ok.confirmed], ['2027-01-05', true]);
    assert.equal(confirmed.isWorkday('2027-01-09'), true, 'a Saturday make-up day');
    assert.equal(confirmed.dayInfo('2027-01-09').source, 'override');
    // Overrides win over the official data too.
    assert.equal(new WorkingCalendar({ overrides: [{ day: '2026-10-08', kind: 'holiday' }] }).addWorkingDays(at('2026-09-30T10:00:00+08:00'), 1).dueDay, '2026-10-09');
  });

  test('unconfirmed years: lunar holidays are computed in Shanghai whatever the process time zone', () => {
    const saved = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      const h = provisionalHolidays(2027);
      // 春节 2027: 除夕 02-05, 正月初一 02-06 … 初三 02-08; 清明 04-05; 端午 06-09; 中秋 09-15.
      assert.deepEqual(['2027-02-05', '2027-02-06', '2027-02-07', '2027-02-08'].map((d) => h.get(d)), ['春节', '春节', '春节', '春节']);
      assert.deepEqual(['2027-04-05', '2027-06-09', '2027-09-15', '2027-05-01', '2027-05-02', '2027-10-03'].map((d) => h.get(d)),
        ['清明节', '端午节', '中秋节', '劳动节', '劳动节', '国庆节']);
      assert.equal(process.env.TZ, 'America/New_York', 'the time zone is restored');
      const fresh = new WorkingCalendar();
      assert.equal(fresh.isWorkday('2027-02-08'), false);
      assert.equal(fresh.isWorkday('2027-02-09'), true);
      assert.equal(fresh.addWorkingDays(at('2027-02-04T10:00:00+08:00'), 1).confirmed, false, 'still flagged unconfirmed');
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });

  test('remaining office hours count 09:00–17:00 of working days only', () => {
    const due = cal.addWorkingDays(at('2026-11-20T10:00:00+08:00'), 2).dueAt; // Fri → Tue 2026-11-24, 24:00
    assert.equal(cal.officeHoursBetween(at('2026-11-20T10:00:00+08:00'), due), 7 + 8 + 8);
    assert.equal(cal.officeHoursBetween(at('2026-11-24T16:30:00+08:00'), due), 0);
    assert.equal(cal.officeHoursBetween(due, at('2026-11-20T10:00:00+08:00')), 0, 'overdue: none left');
    assert.deepEqual(deadlineOf(due, 'workday'), { day: '2026-11-24', text: '2026-11-24 24:00', textZh: '11月24日 当日' });
  });

  test('a clock stop from 2026-09-28 to 2026-10-09 lasts 4 working days', () => {
    assert.equal(cal.workingDaysBetween(at('2026-09-28T10:00:00+08:00'), at('2026-10-09T15:00:00+08:00')), 4);
    assert.equal(cal.workingDaysBetween(at('2026-09-28T10:00:00+08:00'), at('2026-09-28T16:00:00+08:00')), 0);
    assert.equal(cal.workingDaysBetween(at('2026-09-28T10:00:00+08:00'), at('2026-09-29T09:00:00+08:00')), 1);
    assert.equal(cal.workingDaysBetween(at('2026-10-09T15:00:00+08:00'), at('2026-09-28T10:00:00+08:00')), -4);
  });

  test('shiftByWorkingDays keeps the time of day; a deadline moves from end of day to end of day', () => {
    // Deadline: end of 2026-10-08. +3 working days: 10-09, 10-10 (make-up Saturday), 10-12.
    const due = cal.addWorkingDays(at('2026-09-30T10:00:00+08:00'), 1).dueAt;
    assert.equal(toShanghaiIso(cal.shiftByWorkingDays(due, 3)), '2026-10-13T00:00:00+08:00');
    // End of Friday 10-16 + 1 → end of Monday 10-19 (not end of Sunday).
    assert.equal(toShanghaiIso(cal.shiftByWorkingDays(at('2026-10-17T00:00:00+08:00'), 1)), '2026-10-20T00:00:00+08:00');
    // A pending timer at 09:30 moves by the 4 suspended days.
    assert.equal(toShanghaiIso(cal.shiftByWorkingDays(at('2026-10-09T09:30:00+08:00'), 4)), '2026-10-14T09:30:00+08:00');
    // From a non-working day: counting starts after it.
    assert.equal(toShanghaiIso(cal.shiftByWorkingDays(at('2026-10-03T10:00:00+08:00'), 1)), '2026-10-08T10:00:00+08:00');
    assert.equal(toShanghaiIso(cal.shiftByWorkingDays(due, -1)), '2026-10-01T00:00:00+08:00', 'end of 09-30');
    assert.equal(cal.shiftByWorkingDays(due, 0).getTime(), due.getTime());
    // Received 09-28, 5 days → end of 10-10; suspended 4 working days → 10-12, 10-13, 10-14, end of 10-15.
    const five = cal.addWorkingDays(at('2026-09-28T09:00:00+08:00'), 5).dueAt;
    const moved = cal.shiftByWorkingDays(five, cal.workingDaysBetween(at('2026-09-28T10:00:00+08:00'), at('2026-10-09T15:00:00+08:00')));
    assert.equal(toShanghaiIso(moved), '2026-10-16T00:00:00+08:00');
    assert.equal(cal.confirmedBetween(five, moved), true);
    assert.equal(cal.confirmedBetween(five, at('2027-01-10T00:00:00+08:00')), false);
  });

  test('remaining counts only working days, 24 h each', () => {
    assert.deepEqual(cal.remaining(at('2026-10-08T09:00:00+08:00'), at('2026-10-13T00:00:00+08:00')), { workingDays: 3, hours: 15, overdue: false });
    assert.deepEqual(cal.remaining(at('2026-09-30T12:00:00+08:00'), at('2026-10-09T00:00:00+08:00')), { workingDays: 1, hours: 12, overdue: false });
    assert.deepEqual(cal.remaining(at('2026-10-12T10:00:00+08:00'), at('2026-10-09T00:00:00+08:00')), { workingDays: 2, hours: 10, overdue: true });
    assert.deepEqual(cal.remaining(at('2026-10-03T10:00:00+08:00'), at('2026-10-09T00:00:00+08:00')), { workingDays: 1, hours: 0, overdue: false });
    const t0 = at('2026-10-09T00:00:00+08:00');
    assert.deepEqual(cal.remaining(t0, t0), { workingDays: 0, hours: 0, overdue: false });
  });

  test('warningAt: one working day before the deadline, or after a share of the limit', () => {
    const received = at('2026-09-28T10:00:00+08:00');
    // Due end of 10-10; warned at the end of 10-09, when one working day is left.
    const w = cal.warningAt(received, 5);
    assert.equal(toShanghaiIso(w), '2026-10-10T00:00:00+08:00');
    assert.deepEqual(cal.remaining(w, cal.addWorkingDays(received, 5).dueAt), { workingDays: 1, hours: 0, overdue: false });
    assert.equal(cal.warningAt(received, 5, null).getTime(), w.getTime(), 'no rule → the default');
    assert.equal(toShanghaiIso(cal.warningAt(received, 5, { kind: 'share', value: 0.8 })), '2026-10-10T00:00:00+08:00');
    assert.equal(toShanghaiIso(cal.warningAt(received, 20, { kind: 'share', value: 0.8 })), '2026-10-27T00:00:00+08:00');
    assert.equal(toShanghaiIso(cal.warningAt(received, 20, { kind: 'days', value: 3 })), toShanghaiIso(cal.addWorkingDays(received, 17).dueAt));
    assert.equal(cal.warningAt(received, 1).getTime(), received.getTime(), 'a 1-day limit warns at once');
    assert.throws(() => cal.warningAt(received, 5, { kind: 'share', value: 1.5 }), RangeError);
  });

  test('FEEL: workingDays(n) and addWorkingDays(date, n) for timers', () => {
    const fns = calendarFunctions(cal, () => at('2026-09-30T10:00:00+08:00'));
    assert.equal(evaluate('workingDays(1)', { ...fns }).value, '2026-10-09T00:00:00+08:00');
    assert.equal(evaluate('workingDays(2)', { ...fns }).value, '2026-10-10T00:00:00+08:00');
    assert.equal(evaluate('addWorkingDays("2026-09-28", 5)', { ...fns }).value, '2026-10-11T00:00:00+08:00');
    assert.equal(evaluate('addWorkingDays(receivedAt, 5)', { ...fns, receivedAt: '2026-09-28T09:00:00+08:00' }).value, '2026-10-11T00:00:00+08:00');
    assert.equal(evaluate('addWorkingDays(date and time("2026-09-30T10:00:00+08:00"), 1)', { ...fns }).value, '2026-10-09T00:00:00+08:00');
    // A date-time without an offset is Shanghai time: 2026-09-30T23:30 is still 09-30.
    assert.equal(evaluate('addWorkingDays("2026-09-30T23:30:00", 1)', { ...fns }).value, '2026-10-09T00:00:00+08:00');
    // Nonsense fails loudly (feelin lets the error through), so the timer is not silently dropped.
    assert.throws(() => evaluate('workingDays(-1)', { ...fns }), /non-negative integer/);
    assert.throws(() => evaluate('addWorkingDays("soon", 1)', { ...fns }), /not a date/);
    // Through the engine's FEEL entry point, as a <timeDate>=workingDays(2)</timeDate> would be.
    assert.equal(evaluateFeel('=workingDays(2)', { ...fns }), '2026-10-10T00:00:00+08:00');
    // A getter always reads the current calendar.
    let current = cal;
    const live = calendarFunctions(() => current, () => at('2026-09-30T10:00:00+08:00'));
    current = new WorkingCalendar({ overrides: [{ day: '2026-10-08', kind: 'holiday' }] });
    assert.equal(live.workingDays(1), '2026-10-10T00:00:00+08:00');
  });
});

// ---- database and HTTP -----------------------------------------------------------------------

interface Session { cookie: string; csrf: string }
let t: Awaited<ReturnType<typeof createTestDatabase>>;
let app: FastifyInstance;

async function login(username: string): Promise<Session> {
  const res = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password: DEMO_PASSWORD } });
  assert.equal(res.statusCode, 200, res.body);
  return { cookie: String(res.headers['set-cookie']).split(';')[0]!, csrf: res.json().csrfToken };
}

function as(s: Session | null, opts: InjectOptions) {
  const headers: Record<string, string> = {};
  if (s) {
    headers.cookie = s.cookie;
    headers['x-csrf-token'] = s.csrf;
  }
  return app.inject({ ...opts, headers });
}

describe('calendar routes', () => {
  before(async () => {
    t = await createTestDatabase();
    await seedDemo(t.db);
    app = Fastify({ logger: false, ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } } });
    registerProblemHandlers(app);
    await app.register(authPlugin, { db: t.db });
    await app.register(authRoutes, { db: t.db, secureCookies: false });
    await app.register(calendarRoutes, { db: t.db, cases: (await createRuntime(t.db, { print: () => undefined })).cases });
    await app.ready();
  });
  after(async () => {
    await app?.close();
    await t?.drop();
  });

  test('the cache answers the same calendar until cleared; current() is synchronous', async () => {
    const a = await loadCalendar(t.db);
    assert.equal(await loadCalendar(t.db), a);
    assert.equal(calendarCache(t.db).current(), a);
    clearCalendarCache(t.db);
    const b = await loadCalendar(t.db);
    assert.notEqual(b, a);
    let now = 0;
    const short = new CalendarCache(t.db, 1000, () => now);
    const c1 = await short.get();
    now = 999;
    assert.equal(await short.get(), c1);
    now = 1000;
    assert.equal(await short.get(), c1, 'a stale calendar answers at once');
    const c2 = await short.refresh(); // the reload that get() started
    assert.notEqual(c2, c1, 'reloaded after the TTL');
    assert.equal(await short.get(), c2);
  });

  test('transactions holding every pool connection never wait for a calendar reload', async () => {
    // Two connections, both held by commands that read the stale calendar: a reload awaited there would
    // need a third and wait for the pool's acquire timeout.
    const small = createDb(t.url, 2);
    try {
      let now = 0;
      const cache = new CalendarCache(small, 1000, () => now);
      const first = await cache.get();
      now = 5000;
      const both = await Promise.all([1, 2].map(() => small.transaction(async (trx) => {
        const cal = await cache.get();
        await trx.raw('SELECT 1');
        return cal;
      })));
      assert.deepEqual(both, [first, first]);
      assert.notEqual(await cache.refresh(), first);
    } finally {
      await small.destroy();
    }
  });

  test('401 without a session, 403 for a clerk who edits', async () => {
    const anon = await as(null, { method: 'GET', url: '/api/calendar?year=2026' });
    assert.equal(anon.statusCode, 401);
    assert.match(String(anon.headers['content-type']), /application\/problem\+json/);
    assert.equal((await as(null, { method: 'PUT', url: '/api/calendar/days/2027-01-01', payload: { kind: 'holiday' } })).statusCode, 401);

    const clerk = await login('market.clerk');
    const read = await as(clerk, { method: 'GET', url: '/api/calendar?year=2026' });
    assert.equal(read.statusCode, 200, read.body);
    for (const [method, url, payload] of [
      ['PUT', '/api/calendar/days/2027-01-01', { kind: 'holiday' }],
      ['DELETE', '/api/calendar/days/2027-01-01', undefined],
      ['PUT', '/api/calendar/years/2027', { confirmed: true }],
    ] as const) {
      const res = await as(clerk, { method, url, ...(payload ? { payload } : {}) });
      assert.equal(res.statusCode, 403, `${method} ${url}: ${res.body}`);
    }
    const inspector = await login('inspector');
    assert.equal((await as(inspector, { method: 'PUT', url: '/api/calendar/years/2027', payload: { confirmed: true } })).statusCode, 403);
    assert.equal(await t.db('calendar_days').count<{ count: string }[]>('* as count').first().then((r) => Number(r?.count)), 0);
  });

  test('GET lists official days off, make-up days and weekends', async () => {
    const leader = await login('leader');
    const res = await as(leader, { method: 'GET', url: '/api/calendar?year=2026' });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as { year: number; official: boolean; confirmed: boolean; days: Array<{ day: string; working: boolean; source: string; name: string | null }> };
    assert.equal(body.confirmed, true);
    assert.equal(body.official, true);
    const byDay = new Map(body.days.map((d) => [d.day, d]));
    assert.deepEqual([byDay.get('2026-10-01')?.working, byDay.get('2026-10-01')?.source, byDay.get('2026-10-01')?.name], [false, 'official', '国庆节']);
    assert.deepEqual([byDay.get('2026-10-10')?.working, byDay.get('2026-10-10')?.source], [true, 'official']);
    assert.deepEqual([byDay.get('2026-10-11')?.working, byDay.get('2026-10-11')?.source], [false, 'weekend']);
    assert.equal(byDay.has('2026-10-08'), false, 'ordinary working days are left out');
    assert.equal((await as(leader, { method: 'GET', url: '/api/calendar?year=nope' })).statusCode, 400);
    assert.equal((await as(leader, { method: 'GET', url: '/api/calendar' })).statusCode, 400);
  });

  test('an administrator enters 2027, confirms it, and every change is audited', async () => {
    const admin = await login('admin');
    const before2027 = (await as(admin, { method: 'GET', url: '/api/calendar?year=2027' })).json();
    assert.deepEqual([before2027.official, before2027.confirmed], [false, false]);
    assert.equal(before2027.days.find((d: { day: string }) => d.day === '2027-01-01')?.source, 'provisional', '元旦, counted provisionally');
    const pending = (await loadCalendar(t.db)).addWorkingDays(at('2026-12-30T10:00:00+08:00'), 3);
    assert.deepEqual([pending.dueDay, pending.confirmed], ['2027-01-05', false]);

    assert.equal((await as(admin, { method: 'PUT', url: '/api/calendar/days/2027-02-30', payload: { kind: 'holiday' } })).statusCode, 400);
    assert.equal((await as(admin, { method: 'PUT', url: '/api/calendar/days/2027-01-01', payload: { kind: 'weekend' } })).statusCode, 400);
    assert.equal((await as(admin, { method: 'PUT', url: '/api/calendar/days/2027-01-01', payload: {} })).statusCode, 400);
    assert.equal((await as(admin, { method: 'PUT', url: '/api/calendar/days/2027-01-01', payload: { kind: 'holiday', note: 'a\u0000b' } })).statusCode, 400);
    assert.equal((await as(admin, { method: 'PUT', url: '/api/calendar/years/1800', payload: { confirmed: true } })).statusCode, 400);

    const put = await as(admin, { method: 'PUT', url: '/api/calendar/days/2027-01-01', payload: { kind: 'holiday', note: '元旦' } });
    assert.equal(put.statusCode, 200, put.body);
    assert.deepEqual({ ...(put.json() as object), updatedAt: undefined }, { day: '2027-01-01', kind: 'holiday', note: '元旦', updatedBy: 'admin', updatedAt: undefined, recomputedCases: 0 });
    const put2 = await as(admin, { method: 'PUT', url: '/api/calendar/days/2027-01-01', payload: { kind: 'holiday', note: '元旦（国务院办公厅通知）' } });
    assert.equal(put2.statusCode, 200, put2.body);
    assert.equal((await as(admin, { method: 'PUT', url: '/api/calendar/days/2027-01-09', payload: { kind: 'workday' } })).statusCode, 200);

    // The cache was cleared: the next load sees the override, still unconfirmed.
    const entered = await loadCalendar(t.db);
    const still = entered.addWorkingDays(at('2026-12-30T10:00:00+08:00'), 3);
    assert.deepEqual([still.dueDay, still.confirmed], ['2027-01-05', false]);

    const year = await as(admin, { method: 'PUT', url: '/api/calendar/years/2027', payload: { confirmed: true, note: '国办发明电〔2026〕号' } });
    assert.equal(year.statusCode, 200, year.body);
    assert.deepEqual([year.json().year, year.json().confirmed, year.json().official, year.json().updatedBy], [2027, true, false, 'admin']);
    const done = (await loadCalendar(t.db)).addWorkingDays(at('2026-12-30T10:00:00+08:00'), 3);
    assert.deepEqual([done.dueDay, done.confirmed], ['2027-01-05', true]);

    const list = (await as(admin, { method: 'GET', url: '/api/calendar?year=2027' })).json();
    assert.equal(list.confirmed, true);
    assert.equal(list.note, '国办发明电〔2026〕号');
    const ny = list.days.find((d: { day: string }) => d.day === '2027-01-01');
    assert.deepEqual([ny.working, ny.source, ny.note, ny.updatedBy], [false, 'override', '元旦（国务院办公厅通知）', 'admin']);
    assert.deepEqual(list.days.find((d: { day: string }) => d.day === '2027-01-09')?.working, true);

    const del = await as(admin, { method: 'DELETE', url: '/api/calendar/days/2027-01-09' });
    assert.equal(del.statusCode, 204, del.body);
    const again = await as(admin, { method: 'DELETE', url: '/api/calendar/days/2027-01-09' });
    assert.equal(again.statusCode, 404);
    assert.equal((await loadCalendar(t.db)).isWorkday('2027-01-09'), false);

    const audit = await (await sealed(t.db))('audit_log').where('entity_type', 'like', 'calendar_%').orderBy('id');
    assert.deepEqual(audit.map((r) => [r.action, r.entity_id, r.actor]), [
      ['calendar.day.created', '2027-01-01', 'admin'],
      ['calendar.day.updated', '2027-01-01', 'admin'],
      ['calendar.day.created', '2027-01-09', 'admin'],
      ['calendar.year.updated', '2027', 'admin'],
      ['calendar.day.deleted', '2027-01-09', 'admin'],
    ]);
    assert.equal(audit[0].before, null);
    assert.deepEqual([audit[0].after.kind, audit[0].after.note], ['holiday', '元旦']);
    assert.deepEqual([audit[1].before.note, audit[1].after.note], ['元旦', '元旦（国务院办公厅通知）']);
    assert.deepEqual([audit[3].before, audit[3].after.confirmed], [null, true]);
    assert.deepEqual([audit[4].before.kind, audit[4].after], ['workday', null]);
    assert.deepEqual(await verifyAudit(t.db), { ok: true, rows: (await t.db('audit_log').count<{ count: string }[]>('* as count').first().then((r) => Number(r?.count))) });
  });
});
