import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase } from './support/db.js';
import { VirtualClock } from './support/clock.js';
import { bpmn, flows } from './support/bpmn.js';
import { createDb, type Db } from '../src/db/database.js';
import { WorkflowEngine } from '../src/engine/engine.js';
import { ServiceRegistry } from '../src/engine/services.js';
import { TimerScheduler } from '../src/engine/scheduler.js';

/**
 * A burst: many deadlines fall due at the same instant on the virtual clock and two schedulers, each
 * with its own pool (as two server processes), drain them concurrently in batches. Every timer fires
 * exactly once; one whose firing fails rolls its batch back, the others of that batch still fire,
 * and it alone is pushed back with an incident.
 */
let t: Awaited<ReturnType<typeof createTestDatabase>>;
let clock: VirtualClock;
const pools: Db[] = [];
const logged: string[] = [];

const COUNT = 60;
const BAD = 'burst-bad';

// The escalation step of the bad instance breaks its transaction, as a failing domain write would.
const services = () => new ServiceRegistry().register({
  name: 'escalateBurst', description: 'fails for one business key', handler: async (ctx) => {
    if (ctx.businessKey === BAD) await ctx.trx!.raw('SELECT 1 / 0');
    return { escalated: true };
  },
});

const XML = bpmn('p_burst', `<startEvent id="s"/><userTask id="review"/><endEvent id="done"/>
  <boundaryEvent id="deadline" attachedToRef="review"><timerEventDefinition><timeDuration>PT2H</timeDuration></timerEventDefinition></boundaryEvent>
  <serviceTask id="mark" camunda:type="external" camunda:topic="escalateBurst"/><userTask id="escalate"/><endEvent id="escalated"/>
  ${flows('s', 'review', 'done')}${flows('deadline', 'mark', 'escalate', 'escalated')}`);

before(async () => {
  t = await createTestDatabase('duban_burst', { virtualClock: true });
  clock = new VirtualClock(t.db);
  await clock.advance(0);
});
after(async () => {
  await Promise.all(pools.map((p) => p.destroy()));
  await t.drop();
});

function process2(batchSize: number): TimerScheduler {
  const db = createDb(t.url, 5);
  pools.push(db);
  return new TimerScheduler(db, new WorkflowEngine(db, services()), { pollMs: 50, concurrency: 3, batchSize, log: (m) => { logged.push(m); } });
}

test('a burst of due timers drained by two schedulers fires each exactly once', async () => {
  const engine = new WorkflowEngine(t.db, services());
  await engine.deploy(XML);
  const ids: string[] = [];
  for (let i = 0; i < COUNT; i++) ids.push((await engine.start('p_burst', { businessKey: i === 7 ? BAD : `burst-${i}` })).id);
  const bad = ids[7]!;
  // Every deadline falls due at the same instant, as working-day deadlines do at 24:00.
  await t.db('timers').update({ due_at: t.db.raw(`now() + interval '1 hour'`) });
  await clock.advance(3_600_000);

  const a = process2(4);
  const b = process2(5);
  // Three loops per scheduler, as its PollingWorkers would run them.
  const fired = await Promise.all([a, a, a, b, b, b].map((s) => s.drain()));
  assert.equal(fired.reduce((x, y) => x + y, 0), COUNT - 1, 'every good timer fired, counted once');
  assert.ok(fired.slice(0, 3).some((n) => n > 0) && fired.slice(3).some((n) => n > 0), `both schedulers fired: ${fired.join(',')}`);

  const good = ids.filter((id) => id !== bad);
  const perInstance: Array<{ instance_id: string; fired: number; escalations: number; reviews: number }> = (await t.db.raw(`
    SELECT i.id AS instance_id,
           (SELECT count(*)::int FROM history h WHERE h.instance_id = i.id AND h.kind = 'timer.fired') AS fired,
           (SELECT count(*)::int FROM tasks x WHERE x.instance_id = i.id AND x.element_id = 'escalate' AND x.status = 'open') AS escalations,
           (SELECT count(*)::int FROM tasks x WHERE x.instance_id = i.id AND x.element_id = 'review' AND x.status = 'cancelled') AS reviews
      FROM process_instances i WHERE i.id = ANY(?)`, [good])).rows;
  assert.equal(perInstance.length, good.length);
  for (const r of perInstance) assert.deepEqual([r.fired, r.escalations, r.reviews], [1, 1, 1], `instance ${r.instance_id} fired once`);
  assert.equal(Number((await t.db('timers').whereIn('instance_id', good).count({ n: '*' }))[0]!.n), 0, 'no good timer left');

  // The failing one: rolled back, kept a minute later, an incident for an admin, nothing fired.
  const kept = await t.db('timers').where({ instance_id: bad }).first('due_at');
  assert.ok(kept, 'the failing timer is kept');
  const { rows: [later] } = await t.db.raw(`SELECT ?::timestamptz > now() AS later`, [kept.due_at]);
  assert.equal(later.later, true, 'and pushed back');
  assert.equal(Number((await t.db('incidents').where({ instance_id: bad, kind: 'timer' }).count({ n: '*' }))[0]!.n), 1);
  assert.equal(Number((await t.db('history').where({ instance_id: bad, kind: 'timer.fired' }).count({ n: '*' }))[0]!.n), 0);
  assert.deepEqual(logged.filter((m) => m.includes(bad)).length, 1, `one failure logged: ${logged.join('; ')}`);
  assert.equal(await a.drain(), 0, 'nothing else is due');
});
