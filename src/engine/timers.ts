/**
 * bpmn-engine asks its `timers` option for every timer. Instead of a setTimeout, Duban records the
 * timer: after each command the active ones are written to the `timers` table and the scheduler
 * fires them from there. One DurableTimers per engine run (a shared one lets one engine's stop()
 * clear another's timers).
 */
export interface TimerOwner {
  id: string;
  executionId: string;
  timerType?: string;
  expireAt?: Date | string;
  repeat?: number;
  timeDuration?: string;
  timeCycle?: string;
  timeDate?: string;
}

export interface TimerRef {
  owner: TimerOwner | null;
  delay: number;
  dueAt: Date;
  fire: () => void;
}

export interface ActiveTimer {
  executionId: string;
  elementId: string;
  timerType: string | null;
  definition: string | null;
  repeat: number | null;
  dueAt: Date;
}

type Callback = (...args: unknown[]) => void;

export class DurableTimers {
  private readonly refs = new Set<TimerRef>();
  /** Due times from the timers table (the clock of record), by execution id. */
  private readonly recorded = new Map<string, Date>();

  /** The row's due time wins over the engine's own copy (recovery may arm a due timer later, to fire it after resume). */
  recordDue(executionId: string, dueAt: Date): void {
    this.recorded.set(executionId, dueAt);
  }

  /** A live run serving another command (ExecutionCache) starts, as a recovered one, with no row due times. */
  forgetRecorded(): void {
    this.recorded.clear();
  }

  /** The engine's stop() clears these. */
  get executing(): TimerRef[] {
    return [...this.refs];
  }

  register(owner: TimerOwner) {
    return {
      setTimeout: (cb: Callback, delay: number, ...args: unknown[]) => this.add(owner, cb, delay, args),
      clearTimeout: (ref: TimerRef) => this.clearTimeout(ref),
    };
  }

  setTimeout(cb: Callback, delay: number, ...args: unknown[]): TimerRef {
    return this.add(null, cb, delay, args);
  }

  clearTimeout(ref: TimerRef | undefined): undefined {
    if (ref) this.refs.delete(ref);
    return undefined;
  }

  /** Fire the timer with this execution id, as the scheduler asks; false when it is no longer armed. */
  fire(executionId: string): boolean {
    for (const ref of this.refs) {
      if (ref.owner?.executionId === executionId) {
        this.refs.delete(ref);
        ref.fire();
        return true;
      }
    }
    return false;
  }

  /** Timers that belong to BPMN elements; anonymous ones (none expected) are not persisted. */
  active(): ActiveTimer[] {
    const out: ActiveTimer[] = [];
    for (const ref of this.refs) {
      const owner = ref.owner;
      if (!owner?.executionId) continue;
      const timerType = owner.timerType ?? null;
      const definition = timerType ? (owner as unknown as Record<string, unknown>)[timerType] : undefined;
      out.push({
        executionId: owner.executionId,
        elementId: owner.id,
        timerType,
        definition: typeof definition === 'string' ? definition : null,
        repeat: typeof owner.repeat === 'number' ? owner.repeat : null,
        dueAt: ref.dueAt,
      });
    }
    return out;
  }

  private add(owner: TimerOwner | null, cb: Callback, delay: number, args: unknown[]): TimerRef {
    const recorded = owner?.executionId ? this.recorded.get(owner.executionId) : undefined;
    // Used once: a cycle timer that fires and re-arms gets its next due time from the engine.
    if (recorded) this.recorded.delete(owner!.executionId);
    const expireAt = recorded ?? (owner?.expireAt ? new Date(owner.expireAt) : new Date(Date.now() + delay));
    const ref: TimerRef = { owner, delay, dueAt: expireAt, fire: () => cb(...args) };
    this.refs.add(ref);
    return ref;
  }
}
