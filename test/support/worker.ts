/**
 * A standalone engine worker for the durability tests: `node --import tsx test/support/worker.ts`.
 * It fires timers and delivers the outbox against DATABASE_URL, like a server process would, and
 * is meant to be killed (SIGTERM stops it gracefully; the tests also use SIGKILL).
 *
 * Environment:
 *   DATABASE_URL        the database (required)
 *   WORKER_ID           a name sent as X-Worker with every delivery (required)
 *   SINK_URL            a loopback HTTP URL the `sink` delivery POSTs to (required)
 *   POLL_MS             scheduler and dispatcher poll interval (default 100)
 *   TIMER_CONCURRENCY   timer-firing loops (default 3)
 *   OUTBOX_CONCURRENCY  delivery loops (default 3)
 *   COMPLETE_TASKS=1    also complete open user tasks in a loop, as a user would (default off)
 *
 * Stdout: `ready` once started; on SIGTERM, after the graceful stop, one line
 * `stats {"fired":n,"delivered":n,"completed":n,"conflicts":n}` and exit 0.
 */
import { createDb } from '../../src/db/database.js';
import { WorkflowEngine } from '../../src/engine/engine.js';
import { ConflictError } from '../../src/engine/errors.js';
import { Notifier } from '../../src/engine/notifier.js';
import { OutboxDispatcher } from '../../src/engine/outbox.js';
import { TimerScheduler } from '../../src/engine/scheduler.js';
import { ServiceRegistry } from '../../src/engine/services.js';
import { appendAudit } from '../../src/audit/audit.js';

function required(name: string): string {
  const v = process.env[name];
  if (!v) {
    console.error(`worker: ${name} is required`);
    process.exit(2);
  }
  return v;
}

const databaseUrl = required('DATABASE_URL');
const workerId = required('WORKER_ID');
const sinkUrl = new URL(required('SINK_URL'));
if (sinkUrl.hostname !== '127.0.0.1') {
  console.error('worker: SINK_URL must be on 127.0.0.1');
  process.exit(2);
}
const pollMs = Number(process.env.POLL_MS ?? 100);
const timerConcurrency = Number(process.env.TIMER_CONCURRENCY ?? 3);
const outboxConcurrency = Number(process.env.OUTBOX_CONCURRENCY ?? 3);
const completeTasks = process.env.COMPLETE_TASKS === '1';

const stats = { fired: 0, delivered: 0, completed: 0, conflicts: 0 };
const log = (msg: string, err?: unknown) => console.error(`[${workerId}] ${msg}${err ? `: ${(err as Error)?.stack ?? String(err)}` : ''}`);

const services = new ServiceRegistry()
  .register({
    name: 'notify',
    description: 'Tell the sink that this instance got here',
    handler: (ctx) => {
      ctx.enqueue('sink', { instanceId: ctx.instanceId, businessKey: ctx.businessKey, elementId: ctx.elementId });
      return { notified: true };
    },
  })
  .registerDelivery('sink', async (payload, { dedupKey }) => {
    const res = await fetch(sinkUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': dedupKey, 'x-worker': workerId },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`sink answered ${res.status}: ${text.slice(0, 200)}`);
    stats.delivered++;
    return { status: res.status };
  });

const db = createDb(databaseUrl, timerConcurrency + outboxConcurrency + 4);
// Audited as in production: a kill -9 must not lose or double an entry, nor break the chain.
const engine = new WorkflowEngine(db, services, { audit: appendAudit });
const notifier = new Notifier(databaseUrl, (err) => log('notifier', err));
const scheduler = new TimerScheduler(db, engine, { pollMs, concurrency: timerConcurrency, log, onFired: () => { stats.fired++; } });
const dispatcher = new OutboxDispatcher(db, services, { pollMs, concurrency: outboxConcurrency, log, backoffMs: 200 });

let running = true;

/** A user at work: complete whatever task is open; a 409 means someone (or a deadline) was first. */
async function taskLoop(): Promise<void> {
  while (running) {
    const open: Array<{ id: string }> = await db('tasks').where({ status: 'open' }).orderByRaw('random()').limit(20).select('id')
      .catch((err) => { log('task query failed', err); return []; });
    for (const t of open) {
      if (!running) break;
      try {
        await engine.completeTask(t.id, { approved: true, by: workerId }, workerId);
        stats.completed++;
      } catch (err) {
        if (err instanceof ConflictError) stats.conflicts++;
        else log(`completing ${t.id} failed`, err);
      }
    }
    if (!open.length) await new Promise((r) => setTimeout(r, pollMs));
  }
}

await notifier.start(['duban_timers', 'duban_outbox']);
scheduler.start(notifier);
dispatcher.start(notifier);
const tasks = completeTasks ? taskLoop() : Promise.resolve();
process.stdout.write('ready\n');

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  running = false;
  await Promise.all([scheduler.stop(), dispatcher.stop(), tasks]);
  await notifier.stop();
  await db.destroy();
  process.stdout.write(`stats ${JSON.stringify(stats)}\n`, () => process.exit(0));
}
process.on('SIGTERM', () => { shutdown().catch((err) => { log('shutdown failed', err); process.exit(1); }); });
process.on('SIGINT', () => { shutdown().catch(() => process.exit(1)); });
