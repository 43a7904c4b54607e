/**
 * A child process of the timer-burst benchmark (bench/burst.ts forks it with an IPC channel). It either
 * runs Duban's TimerScheduler against the burst database, or pg-boss draining its own queue there
 * (the reference). The parent lines the children up (init → go → stop) so two drain at the same time.
 */
import PgBoss from 'pg-boss';
import { createDb, type Db } from '../src/db/database.js';
import { WorkflowEngine } from '../src/engine/engine.js';
import { TimerScheduler } from '../src/engine/scheduler.js';
import { ServiceRegistry } from '../src/engine/services.js';
import { sleep } from './support.js';

export type ToBurstWorker =
  | { type: 'init'; url: string; concurrency: number; batchSize: number; pollMs: number }
  | { type: 'warm' }
  | { type: 'go' }
  | { type: 'stop' }
  | { type: 'pgboss'; url: string; jobs: number; workers: number; batchSize: number }
  | { type: 'exit' };

export type FromBurstWorker =
  | { type: 'ready' }
  | { type: 'warmed'; fired: number }
  | { type: 'started' }
  | { type: 'stopped'; fired: number; errors: string[]; cpuMs: number }
  | { type: 'pgboss-done'; jobs: number; t0: number; t1: number; cpuMs: number; insertSeconds: number }
  | { type: 'error'; message: string };

const now = () => performance.timeOrigin + performance.now();
const send = (m: FromBurstWorker) => process.send!(m);

let db: Db | undefined;
let scheduler: TimerScheduler | undefined;
let fired = 0;
let errors: string[] = [];
let cpu0: NodeJS.CpuUsage | undefined;

async function handle(msg: ToBurstWorker): Promise<void> {
  switch (msg.type) {
    case 'init': {
      // The server's shape: one pool per process, the scheduler's loops share it.
      db = createDb(msg.url, msg.concurrency + 2);
      const engine = new WorkflowEngine(db, new ServiceRegistry());
      scheduler = new TimerScheduler(db, engine, {
        pollMs: msg.pollMs, concurrency: msg.concurrency, batchSize: msg.batchSize,
        log: (m, err) => {
          if (errors.length < 20) errors.push(`${m}${err ? `: ${(err as Error).message ?? err}` : ''}`);
        },
        onFired: () => { fired++; },
      });
      send({ type: 'ready' });
      return;
    }
    case 'warm': {
      const n = await scheduler!.drain();
      send({ type: 'warmed', fired: n });
      return;
    }
    case 'go': {
      fired = 0;
      errors = [];
      cpu0 = process.cpuUsage();
      scheduler!.start();
      send({ type: 'started' });
      return;
    }
    case 'stop': {
      await scheduler!.stop();
      const cpu = process.cpuUsage(cpu0);
      send({ type: 'stopped', fired, errors, cpuMs: (cpu.user + cpu.system) / 1000 });
      return;
    }
    case 'pgboss': {
      send(await runPgBoss(msg));
      return;
    }
    case 'exit': {
      await db?.destroy();
      process.exit(0);
    }
  }
}

/**
 * pg-boss with the same shape as the scheduler: `workers` concurrent work() loops in one process,
 * each fetching `batchSize` jobs per round trip; the handler does nothing, so this is pure queue cost.
 */
async function runPgBoss(msg: Extract<ToBurstWorker, { type: 'pgboss' }>): Promise<FromBurstWorker> {
  const boss = new PgBoss({ connectionString: msg.url, max: msg.workers + 2, schedule: false, supervise: false });
  boss.on('error', (err) => errors.push(`pg-boss: ${err.message}`));
  await boss.start();
  const queue = 'burst';
  await boss.createQueue(queue);
  const i0 = now();
  for (let from = 0; from < msg.jobs; from += 1000) {
    await boss.insert(Array.from({ length: Math.min(1000, msg.jobs - from) }, (_, k) => ({ name: queue, data: { i: from + k } })));
  }
  const insertSeconds = (now() - i0) / 1000;
  let handled = 0;
  const cpu = process.cpuUsage();
  const t0 = now();
  for (let w = 0; w < msg.workers; w++) {
    await boss.work(queue, { batchSize: msg.batchSize, pollingIntervalSeconds: 0.5 }, async (jobs) => { handled += jobs.length; });
  }
  // Done when every job is completed, not just handed to a handler.
  while (handled < msg.jobs || (await boss.getQueueSize(queue, { before: 'completed' })) > 0) await sleep(20);
  const t1 = now();
  const used = process.cpuUsage(cpu);
  await boss.stop({ graceful: false, wait: true }).catch(() => undefined);
  return { type: 'pgboss-done', jobs: handled, t0, t1, cpuMs: (used.user + used.system) / 1000, insertSeconds };
}

let queue = Promise.resolve();
process.on('message', (msg: ToBurstWorker) => {
  queue = queue.then(() => handle(msg)).catch((err: Error) => {
    send({ type: 'error', message: err.stack ?? err.message });
  });
});
process.on('disconnect', () => process.exit(0));
