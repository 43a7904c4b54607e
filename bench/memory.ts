import { createRequire } from 'node:module';
import { Engine } from 'bpmn-engine';
import * as Elements from 'bpmn-elements';
import { BpmnModdle } from 'bpmn-moddle';
import Serializer, { TypeResolver } from 'moddle-context-serializer';
import { APPROVE_OUTPUT, BENCH_XML, REVIEW_OUTPUT, startVariables } from './diagram.js';

/**
 * The in-memory baseline: plain bpmn-engine (no Duban code at all) running the benchmark diagram in
 * this process. Instances stay live in memory between steps, as an in-memory engine keeps them.
 *
 * Variants:
 * - `cached`: the diagram is parsed once and every instance gets the shared `sourceContext`
 *   (bpmn-engine's documented option); execute → getPostponed, signal → next wait state / end.
 *   This is the ratio denominator: the same engine work Duban does, minus durability.
 * - `xml`: `new Engine({ source: xml })` per instance, so bpmn-engine parses the XML on every start
 *   (its out-of-the-box usage). Completions are the same as `cached`.
 * - `cached+state`: `cached` plus `JSON.stringify(execution.getState())` after every step: the least
 *   a server must do to keep the state somewhere.
 * - `floor`: the engine floor of a durable completion, still plain bpmn-engine: every completion
 *   recovers a fresh engine from the stored state string (JSON.parse, recover, resume), signals the
 *   waiting task, takes getState() and JSON.stringify()s it, as a durable engine must. See runFloor.
 */
export type MemoryVariant = 'cached' | 'xml' | 'cached+state' | 'floor';

export interface MemoryResult {
  variant: MemoryVariant;
  instances: number;
  batch: number;
  startMs: number;
  completeMs: number;
  /** CPU time of this process per start and per completion (close to wall time: one thread, no I/O). */
  startCpuMs: number;
  completeCpuMs: number;
  startsPerSec: number;
  completionsPerSec: number;
  stateBytes: number | null;
  completedOk: number;
}

const require = createRequire(import.meta.url);
const camunda: object = require('camunda-bpmn-moddle/resources/camunda.json');
const moddleOptions = { camunda };

interface EngineLike {
  state: string;
  execute(opts: object): Promise<ExecutionLike>;
}
interface ElementLike {
  id: string;
  signal(payload?: unknown): void;
}
interface ExecutionLike {
  getPostponed(): ElementLike[];
  getState(): unknown;
}
interface RecoverableEngine extends EngineLike {
  recover(state: unknown): RecoverableEngine;
  resume(): Promise<ExecutionLike>;
}
const EngineCtor = Engine as unknown as new (opts: object) => EngineLike;

let sourceContext: unknown;
async function cachedContext(): Promise<unknown> {
  if (!sourceContext) {
    const parsed = await new BpmnModdle(moddleOptions).fromXML(BENCH_XML);
    sourceContext = Serializer(parsed as never, TypeResolver({ ...Elements } as never));
  }
  return sourceContext;
}

function signalTask(execution: ExecutionLike, elementId: string, output: Record<string, unknown>): void {
  const task = execution.getPostponed().find((a) => a.id === elementId);
  if (!task) throw new Error(`${elementId} is not waiting`);
  task.signal({ ...output });
}

/**
 * N instances in batches of `batch` live ones: start the batch (timed), complete the first task of
 * each (timed), then the second (timed). Batching keeps the live heap near what a server holds for a
 * burst rather than letting 600 KB per waiting instance pile up into GC time; it favours the baseline.
 */
export async function runMemory(variant: MemoryVariant, n: number, batch: number): Promise<MemoryResult> {
  if (variant === 'floor') return runFloor(n, batch);
  const ctx = await cachedContext();
  const withState = variant === 'cached+state';
  const options = variant === 'xml' ? { source: BENCH_XML, moddleOptions } : { sourceContext: ctx, moddleOptions };
  let startMs = 0;
  let completeMs = 0;
  let startCpu = 0;
  let completeCpu = 0;
  const cpuNow = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  let stateBytes = 0;
  let completedOk = 0;
  for (let done = 0; done < n; done += batch) {
    const size = Math.min(batch, n - done);
    const live: Array<{ engine: EngineLike; execution: ExecutionLike }> = [];
    let t = performance.now();
    let c = cpuNow();
    for (let i = 0; i < size; i++) {
      const engine = new EngineCtor({ name: `mem-${done + i}`, ...options });
      const execution = await engine.execute({ variables: startVariables(done + i) });
      execution.getPostponed();
      if (withState) stateBytes += JSON.stringify(execution.getState()).length;
      live.push({ engine, execution });
    }
    startMs += performance.now() - t;
    startCpu += cpuNow() - c;
    t = performance.now();
    c = cpuNow();
    for (const { execution } of live) {
      signalTask(execution, 'review', REVIEW_OUTPUT);
      if (withState) JSON.stringify(execution.getState());
    }
    for (const { execution } of live) {
      signalTask(execution, 'approve', APPROVE_OUTPUT);
      if (withState) JSON.stringify(execution.getState());
    }
    completeMs += performance.now() - t;
    completeCpu += cpuNow() - c;
    completedOk += live.filter((l) => l.engine.state === 'idle').length;
  }
  return {
    variant,
    instances: n,
    batch,
    startMs,
    completeMs,
    startCpuMs: startCpu / n,
    completeCpuMs: completeCpu / (2 * n),
    startsPerSec: (n / startMs) * 1000,
    completionsPerSec: ((2 * n) / completeMs) * 1000,
    stateBytes: withState ? Math.round(stateBytes / n) : null,
    completedOk,
  };
}

const cpuMsNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/**
 * Timers that arm nothing: a durable engine keeps its timers as rows, not as setTimeouts, and a
 * recovered engine per command must not leave a live three-day timeout behind.
 */
const inertTimers = {
  executing: [] as unknown[],
  register: () => inertTimers,
  setTimeout: () => ({}),
  clearTimeout: () => undefined,
};
const noop = () => undefined;
/** bpmn-engine's documented Logger option, silent, as Duban runs it (its debug loggers probe the tty). */
const silentLogger = () => ({ debug: noop, error: noop, warn: noop });

/** The stored form of a state: without the serialized source, which the engine gets as sourceContext. */
function storedState(execution: ExecutionLike): string {
  const state = execution.getState() as { definitions: Array<Record<string, unknown>> };
  for (const d of state.definitions) delete d.source;
  return JSON.stringify(state);
}

/**
 * The engine floor of a durable completion (issue 12): per completion a new Engine with the shared
 * sourceContext recovers from the stored state string, resumes, the waiting task is signalled, and
 * the new state is taken and stringified. Timed (CPU) over both completions of each instance; the
 * starts that produce the first stored state are timed as startCpuMs (execute + getState + stringify).
 */
async function runFloor(n: number, batch: number): Promise<MemoryResult> {
  const ctx = await cachedContext();
  const options = { sourceContext: ctx, moddleOptions, timers: inertTimers, Logger: silentLogger };
  let startMs = 0;
  let completeMs = 0;
  let startCpu = 0;
  let completeCpu = 0;
  let stateBytes = 0;
  let completedOk = 0;
  const complete = async (stored: string, elementId: string, output: Record<string, unknown>, name: string) => {
    const engine = new EngineCtor({ name, ...options }) as RecoverableEngine;
    engine.recover(JSON.parse(stored));
    const execution = await engine.resume();
    signalTask(execution, elementId, output);
    return { engine, state: storedState(execution) };
  };
  for (let done = 0; done < n; done += batch) {
    const size = Math.min(batch, n - done);
    let stored: string[] = [];
    let t = performance.now();
    let c = cpuMsNow();
    for (let i = 0; i < size; i++) {
      const engine = new EngineCtor({ name: `floor-${done + i}`, ...options });
      const execution = await engine.execute({ variables: startVariables(done + i) });
      stored.push(storedState(execution));
    }
    startMs += performance.now() - t;
    startCpu += cpuMsNow() - c;
    stateBytes += stored.reduce((a, s) => a + s.length, 0);
    t = performance.now();
    c = cpuMsNow();
    const next: string[] = [];
    for (let i = 0; i < size; i++) next.push((await complete(stored[i]!, 'review', REVIEW_OUTPUT, `floor-${done + i}`)).state);
    stored = next;
    for (let i = 0; i < size; i++) {
      const { engine } = await complete(stored[i]!, 'approve', APPROVE_OUTPUT, `floor-${done + i}`);
      if (engine.state === 'idle') completedOk++;
    }
    completeMs += performance.now() - t;
    completeCpu += cpuMsNow() - c;
  }
  return {
    variant: 'floor', instances: n, batch, startMs, completeMs,
    startCpuMs: startCpu / n, completeCpuMs: completeCpu / (2 * n),
    startsPerSec: (n / startMs) * 1000, completionsPerSec: ((2 * n) / completeMs) * 1000,
    stateBytes: Math.round(stateBytes / n), completedOk,
  };
}

/**
 * Message queues (smqp `Queue` objects) one waiting instance holds: how the baseline child shows which
 * smqp it ran (published: ~1,200 for this diagram; patched, as Duban runs it: ~370), and most of
 * what a live execution weighs. Counted by walking the execution's own properties; the shared
 * parsed diagram is not walked.
 */
export async function queuesPerExecution(): Promise<number> {
  const ctx = await cachedContext();
  const engine = new EngineCtor({ name: 'count', sourceContext: ctx, moddleOptions, timers: inertTimers, Logger: silentLogger });
  return queuesReachableFrom(await engine.execute({ variables: startVariables(0) }), [ctx as object]);
}

/** smqp `Queue` objects reachable from `root` through own properties, Maps and Sets (`skip` is not walked). */
export function queuesReachableFrom(root: unknown, skip: object[] = []): number {
  const seen = new Set<object>(skip);
  const stack: unknown[] = [root];
  let queues = 0;
  while (stack.length) {
    const o = stack.pop();
    if (o === null || (typeof o !== 'object' && typeof o !== 'function') || seen.has(o)) continue;
    seen.add(o);
    if (o.constructor?.name === 'Queue') queues++;
    for (const key of Reflect.ownKeys(o)) {
      const d = Object.getOwnPropertyDescriptor(o, key);
      if (d && 'value' in d) stack.push(d.value);
    }
    if (o instanceof Map) for (const [k, v] of o) stack.push(k, v);
    else if (o instanceof Set) for (const v of o) stack.push(v);
  }
  return queues;
}
