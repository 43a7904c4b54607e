import type { EngineRun } from './run.js';
import type { HeldTimer } from './command-sql.js';

/**
 * Live bpmn-engine executions of recently committed commands, per process, so the next command on
 * the same instance can skip recovering (a new Engine, recover, resume: over half of a completion's
 * engine CPU). Only a cache: the database stays the record, and a kill -9 loses nothing.
 *
 * An entry is the run a command committed, keyed by instance id and the version it wrote. A command
 * uses it only when, under the instance row lock, the row still has that version (no command of any
 * process has run since; every writer of the state bumps the version) and the timer rows still agree
 * with the run's armed timers (a retime or resume moves rows). Anything else, and
 * any error, drops it: taking an entry removes it, and only a committed command puts one back.
 *
 * Starts and commands through WorkflowEngine.command (completions, messages) keep their run; a timer
 * firing uses a kept run but keeps none. Keeping costs GC (a kept run survives the young-generation
 * collections it would otherwise die in: about 1 ms per command here), so it pays only when the
 * instance's next command tends to come soon; a fired deadline's escalation rarely does.
 *
 * Bounded by count, least recently used first out. A live execution is large (about 0.4 MB for the
 * benchmark's 14-element diagram on the patched smqp, patches/README.md; bpmn-elements keeps a broker
 * with its queues per element).
 */
/** Entries kept by default (DUBAN_EXECUTION_CACHE): a few hundred MB at most; the benchmark sizes it to its working set. */
export const DEFAULT_EXECUTION_CACHE = 200;

export class ExecutionCache {
  private readonly entries = new Map<string, { version: number; run: EngineRun }>();
  /** Commands served by a kept run, and commands that recovered (the benchmark reports both). */
  readonly stats = { hits: 0, misses: 0 };

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.entries.size;
  }

  /** The run that wrote `version` of the instance, removed from the cache; undefined when there is none. */
  take(instanceId: string, version: number): EngineRun | undefined {
    const hit = this.entries.get(instanceId);
    if (!hit) return undefined;
    this.entries.delete(instanceId);
    return hit.version === version ? hit.run : undefined;
  }

  /** After the command that wrote `version` committed. */
  put(instanceId: string, version: number, run: EngineRun): void {
    if (this.capacity <= 0) return;
    this.entries.delete(instanceId);
    this.entries.set(instanceId, { version, run });
    // A Map iterates in insertion order: the first key is the least recently used.
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }

  drop(instanceId: string): void {
    this.entries.delete(instanceId);
  }

  clear(): void {
    this.entries.clear();
  }
}

/**
 * Whether the timer rows are exactly the run's armed timers (else: recover). Due ones may be among
 * them: the command fires them on the live run as it fires them on a recovered one, after it has
 * settled, so a due timer fires the same way whichever run the command uses.
 */
export function timersAgree(run: EngineRun, rows: HeldTimer[]): boolean {
  const armed = run.timers.active();
  if (armed.length !== rows.length) return false;
  const due = new Map(armed.map((t) => [t.executionId, t.dueAt.getTime()]));
  return rows.every((r) => due.get(r.execution_id) === r.due_at.getTime());
}
