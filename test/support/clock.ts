import { writeFileSync } from 'node:fs';
import type { Db } from '../../src/db/database.js';
import { patchDate } from './date-patch.mjs';

export { patchDate };

/**
 * A virtual clock that moves both JavaScript's time and PostgreSQL's `now()` for one test database,
 * so timers fall due through the production scheduler's own `due_at <= now()` claim.
 *
 * PostgreSQL: `public.now()` returns `pg_catalog.now()` plus an offset kept in a table, and the database's
 * search_path lists `public` before `pg_catalog`, so every unqualified `now()` (queries, column
 * defaults, triggers) reads the virtual time. Install it before migrating: a column default binds to the
 * function it finds when the table is created.
 *
 * JavaScript: `Date` in this process is patched to add the same offset. A child process (a real server)
 * follows when started with `--import ./test/support/clock-preload.mjs` and `DUBAN_TEST_CLOCK_FILE` set
 * to `clockFile`, which `advance` rewrites.
 */
export const CLOCK_SQL = `
  CREATE TABLE IF NOT EXISTS public.duban_test_clock (offset_ms bigint NOT NULL);
  INSERT INTO public.duban_test_clock SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM public.duban_test_clock);
  CREATE OR REPLACE FUNCTION public.now() RETURNS timestamptz LANGUAGE sql STABLE AS
    $$ SELECT pg_catalog.now() + (SELECT offset_ms FROM public.duban_test_clock) * interval '1 millisecond' $$;
`;

export function clockSearchPathSql(database: string): string {
  return `ALTER DATABASE "${database}" SET search_path = "$user", public, pg_catalog`;
}

let jsOffsetMs = 0;

export class VirtualClock {
  constructor(private readonly db: Db, readonly clockFile?: string) {
    patchDate(() => jsOffsetMs);
  }

  /** Milliseconds the clock has been moved ahead of real time. */
  get offsetMs(): number {
    return jsOffsetMs;
  }

  /** Move both clocks ahead by `ms`. Time never goes back. */
  async advance(ms: number): Promise<void> {
    if (ms < 0) throw new Error('the virtual clock only moves forward');
    jsOffsetMs += ms;
    await this.db.raw('UPDATE public.duban_test_clock SET offset_ms = ?', [jsOffsetMs]);
    if (this.clockFile) writeFileSync(this.clockFile, String(jsOffsetMs));
  }

  /** Move both clocks to `at` (or leave them when `at` has already passed). */
  async advanceTo(at: Date | number): Promise<void> {
    const target = typeof at === 'number' ? at : at.getTime();
    const delta = target - Date.now();
    if (delta > 0) await this.advance(delta);
  }
}
