import type { Knex } from 'knex';
import type { Db } from '../src/db/database.js';
import type { WorkflowEngine } from '../src/engine/engine.js';
import { Notifier } from '../src/engine/notifier.js';
import { TimerScheduler } from '../src/engine/scheduler.js';
import { PROCESS_KEY, startVariables } from './diagram.js';
import { busyShare, cpuTicks, pgCpuMs, sleep, summarize } from './support.js';

/**
 * Timer lag with a large backlog: `pending` waiting instances whose deadline timers are due in 1–3
 * days, plus `rate × seconds` instances whose timers fall due at 1/rate intervals starting `leadMs`
 * from now. All rows are copies of a real instance started through the engine (its stored state,
 * open task and timer), so each firing is a real command: lock, recover, fire the boundary timer,
 * cancel the review task, open the escalation task, write state, history, commit.
 */
export interface TimerLagOptions {
  url: string;
  dbName: string;
  pending: number;
  rate: number;
  seconds: number;
  leadMs: number;
  pollMs: number;
  concurrency: number;
  log: (m: string) => void;
}

export interface TimerLagResult {
  pending: number;
  scheduled: number;
  fired: number;
  targetRatePerSec: number;
  achievedRatePerSec: number;
  schedulerConcurrency: number;
  pollMs: number;
  bulkInsertSeconds: number;
  /** Lag when the scheduler claimed the timer (what TimerScheduler's onFired reports). */
  claimLagMs: ReturnType<typeof summarize>;
  /** Lag until the command wrote its history (just before commit). */
  commitLagMs: ReturnType<typeof summarize> | null;
  /** Worst claim lag in the last quarter of the run: growth here means the scheduler fell behind. */
  lastQuarterP99Ms: number;
  escalatedOk: number;
  machineBusy: number;
  /** Per second from the first due time: timers fired and their worst claim lag (shows stalls and drift). */
  timeline: Array<{ second: number; fired: number; maxLagMs: number }>;
  /** CPU per fired timer: this (the scheduler's) process and PostgreSQL. */
  nodeCpuMsPerFire: number;
  pgCpuMsPerFire: number | null;
  errors: string[];
}

export interface Template {
  definitionId: string;
  state: string;
  variables: string;
  timer: { execution_id: string; element_id: string; timer_type: string | null; definition: string | null };
  task: { execution_id: string; element_id: string; name: string | null; assignee: string | null; candidate_groups: string[]; form_key: string | null };
}

export async function runTimerLag(db: Db, engine: WorkflowEngine, opts: TimerLagOptions): Promise<TimerLagResult> {
  const template = await makeTemplate(db, engine);
  await db.raw(`CREATE TABLE IF NOT EXISTS bench_due (instance_id uuid PRIMARY KEY, seq integer NOT NULL, due_at timestamptz NOT NULL)`);

  const t0 = performance.now();
  const chunk = 10_000;
  for (let from = 1; from <= opts.pending; from += chunk) {
    const to = Math.min(opts.pending, from + chunk - 1);
    await insertCopies(db, template, from, to, `now() + interval '1 day' + random() * interval '2 days'`, false);
  }
  const bulkInsertSeconds = (performance.now() - t0) / 1000;
  opts.log(`inserted ${opts.pending.toLocaleString('en')} pending instances, tasks and timers in ${bulkInsertSeconds.toFixed(1)} s`);
  await db.raw('ANALYZE');
  // Start from a clean slate: the bulk load's WAL would otherwise be checkpointed during the run.
  await db.raw('CHECKPOINT').catch(() => opts.log('CHECKPOINT refused (not a superuser); continuing'));

  // Warm-up, as a long-running server is warm: fire a few hundred copies that are already due, so the
  // measured window does not start with a cold JIT (the throughput workers warm up the same way).
  const warm = Math.min(300, Math.max(20, Math.round(opts.rate * 3)));
  const warmFrom = opts.pending + 10_000_000;
  await insertCopies(db, template, warmFrom, warmFrom + warm - 1, `now() - interval '1 second'`, false);
  const warmed = await new TimerScheduler(db, engine, { pollMs: opts.pollMs, concurrency: 1, log: () => undefined }).drain();
  opts.log(`warm-up: fired ${warmed} already-due timers`);

  const scheduled = Math.round(opts.rate * opts.seconds);
  const stepMs = 1000 / opts.rate;
  const [{ t0: dueStart }] = (await db.raw<{ rows: Array<{ t0: Date }> }>(`SELECT now() + (? * interval '1 millisecond') AS t0`, [opts.leadMs])).rows as [{ t0: Date }];
  await insertCopies(db, template, opts.pending + 1, opts.pending + scheduled,
    `?::timestamptz + ((g - ${opts.pending + 1}) * interval '${stepMs} milliseconds')`, true, [dueStart.toISOString()]);
  opts.log(`${scheduled.toLocaleString('en')} timers due from ${dueStart.toISOString()} at ${opts.rate}/s; firing with TimerScheduler (concurrency ${opts.concurrency}, poll ${opts.pollMs} ms)`);

  const lags: Array<{ at: number; lag: number }> = [];
  const errors: string[] = [];
  const notifier = new Notifier(opts.url, (err) => errors.push(`notifier: ${err.message}`));
  await notifier.start(['duban_timers']);
  const scheduler = new TimerScheduler(db, engine, {
    pollMs: opts.pollMs,
    concurrency: opts.concurrency,
    log: (m, err) => {
      if (errors.length < 20) errors.push(`${m}${err ? `: ${(err as Error).message ?? err}` : ''}`);
    },
    onFired: (lag) => lags.push({ at: Date.now(), lag }),
  });
  const cpu0 = cpuTicks();
  const node0 = process.cpuUsage();
  const pg0 = pgCpuMs(opts.dbName);
  scheduler.start(notifier);
  const deadline = dueStart.getTime() + opts.seconds * 1000 + 60_000;
  while (Date.now() < deadline) {
    await sleep(500);
    if (lags.length >= scheduled) {
      const left = await db('timers as t').join('bench_due as d', 'd.instance_id', 't.instance_id').count<Array<{ n: number }>>({ n: '*' });
      if (Number(left[0]!.n) === 0) break;
    }
  }
  const machineBusy = busyShare(cpu0, cpuTicks());
  const node = process.cpuUsage(node0);
  const pg1 = pgCpuMs(opts.dbName);
  await scheduler.stop();
  await notifier.stop();

  const commit = await db.raw<{ rows: Array<{ lag: number; at: Date }> }>(`
    SELECT (extract(epoch FROM h.at - d.due_at) * 1000)::float8 AS lag, h.at
      FROM history h JOIN bench_due d ON d.instance_id = h.instance_id
     WHERE h.kind = 'timer.fired'`);
  const escalated = await db.raw<{ rows: Array<{ n: number }> }>(`
    SELECT count(*)::int AS n FROM bench_due d
      JOIN tasks e ON e.instance_id = d.instance_id AND e.element_id = 'escalate' AND e.status = 'open'
      JOIN tasks r ON r.instance_id = d.instance_id AND r.element_id = 'review' AND r.status = 'cancelled'`);
  const firstDue = dueStart.getTime();
  const lastFire = commit.rows.length ? Math.max(...commit.rows.map((r) => r.at.getTime())) : lags.length ? Math.max(...lags.map((l) => l.at)) : NaN;
  const fired = Math.max(commit.rows.length, lags.length);
  const lastQuarter = lags.filter((l) => l.at >= firstDue + 0.75 * opts.seconds * 1000).map((l) => l.lag);
  const timeline: TimerLagResult['timeline'] = [];
  for (const l of lags) {
    const second = Math.floor((l.at - firstDue) / 1000);
    if (second < 0) continue;
    while (timeline.length <= second) timeline.push({ second: timeline.length, fired: 0, maxLagMs: 0 });
    timeline[second]!.fired++;
    timeline[second]!.maxLagMs = Math.max(timeline[second]!.maxLagMs, Math.round(l.lag));
  }
  return {
    pending: opts.pending,
    scheduled,
    fired,
    targetRatePerSec: opts.rate,
    achievedRatePerSec: fired / ((lastFire - firstDue) / 1000),
    schedulerConcurrency: opts.concurrency,
    pollMs: opts.pollMs,
    bulkInsertSeconds,
    claimLagMs: summarize(lags.map((l) => l.lag)),
    commitLagMs: commit.rows.length ? summarize(commit.rows.map((r) => r.lag)) : null,
    lastQuarterP99Ms: summarize(lastQuarter).p99,
    escalatedOk: escalated.rows[0]?.n ?? 0,
    machineBusy,
    timeline,
    nodeCpuMsPerFire: (node.user + node.system) / 1000 / Math.max(1, fired),
    pgCpuMsPerFire: pg0 !== null && pg1 !== null ? (pg1 - pg0) / Math.max(1, fired) : null,
    errors,
  };
}

/** A real instance, started through the engine and waiting at the review task with its deadline armed. */
export async function makeTemplate(db: Db, engine: WorkflowEngine): Promise<Template> {
  const started = await engine.start(PROCESS_KEY, { businessKey: 'timer-template', variables: startVariables(0), actor: 'bench' });
  const row = await db('process_instances').where({ id: started.id }).first('definition_id', 'state', 'variables');
  const timer = await db('timers').where({ instance_id: started.id }).first('execution_id', 'element_id', 'timer_type', 'definition');
  const task = await db('tasks').where({ instance_id: started.id, status: 'open' }).first('execution_id', 'element_id', 'name', 'assignee', 'candidate_groups', 'form_key');
  if (!timer || !task) throw new Error('the template instance has no timer or no open task');
  return { definitionId: row.definition_id, state: JSON.stringify(row.state), variables: JSON.stringify(row.variables), timer, task };
}

/** Copies of the template: instance rows, their open review task and their deadline timer. */
async function insertCopies(db: Db, t: Template, from: number, to: number, dueSql: string, track: boolean, dueParams: Knex.Value[] = []): Promise<void> {
  await db.raw(`
    WITH ins AS (
      INSERT INTO process_instances (id, definition_id, process_key, business_key, status, state, variables, version, started_by)
      SELECT gen_random_uuid(), ?, ?, 'timer-' || g, 'running', ?::jsonb, ?::jsonb, 1, 'bench'
        FROM generate_series(?::int, ?::int) g
      RETURNING id, (substring(business_key FROM 7))::int AS g
    ), tim AS (
      INSERT INTO timers (instance_id, execution_id, element_id, timer_type, definition, due_at)
      SELECT id, ?, ?, ?, ?, ${dueSql} FROM ins
      RETURNING instance_id, due_at
    ), due AS (
      INSERT INTO bench_due (instance_id, seq, due_at)
      SELECT tim.instance_id, ins.g, tim.due_at FROM tim JOIN ins ON ins.id = tim.instance_id WHERE ?::boolean
    )
    INSERT INTO tasks (id, instance_id, execution_id, element_id, name, assignee, candidate_groups, form_key, status)
    SELECT gen_random_uuid(), id, ?, ?, ?, ?, ?::text[], ?, 'open' FROM ins`,
  [
    t.definitionId, PROCESS_KEY, t.state, t.variables, from, to,
    t.timer.execution_id, t.timer.element_id, t.timer.timer_type, t.timer.definition, ...dueParams,
    track,
    t.task.execution_id, t.task.element_id, t.task.name, t.task.assignee, t.task.candidate_groups, t.task.form_key,
  ] as Knex.Value[]);
}
