import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Db } from '../db/database.js';
import { DefinitionStore, type DeployOptions } from './definitions.js';
import { ConflictError, NotFoundError, BadRequestError, withRetry } from './errors.js';
import { EngineRun, type CompiledDefinition, type RunContext, type RunSnapshot } from './run.js';
import type { ServiceRegistry } from './services.js';
import type { CompileOptions } from './compile.js';
import type { ExpressionScope } from './expressions.js';
import type { AuditEntry } from '../audit/audit.js';
import { insertInstanceOfLatest, lockInstance, lockInstanceOfTask, readHeld, readState, writeCommand, type HeldTask, type HeldTimer, type LockedInstance } from './command-sql.js';
import { DEFAULT_EXECUTION_CACHE, ExecutionCache, timersAgree } from './execution-cache.js';

export interface InstanceRow {
  id: string;
  definition_id: string;
  process_key: string;
  business_key: string | null;
  status: 'running' | 'completed' | 'failed' | 'cancelled';
  state: unknown;
  variables: Record<string, unknown>;
  version: number;
  suspended_at: Date | null;
  started_at: Date;
  ended_at: Date | null;
  error: string | null;
}

export interface InstanceSummary {
  id: string;
  definitionId: string;
  processKey: string;
  businessKey: string | null;
  status: InstanceRow['status'];
  variables: Record<string, unknown>;
  activeElements: string[];
  version: number;
}

export interface EngineOptions {
  compile?: Partial<CompileOptions>;
  functions?: ExpressionScope['functions'];
  /** Only for the conformance runner: a scripts handler for betsy's tokens. */
  scripts?: unknown;
  /** Appends an audit row inside the command's transaction (actor-initiated changes only). */
  audit?: (trx: Knex.Transaction, entry: AuditEntry) => Promise<void>;
  /** Runs in the cancelling transaction, so domain rows (a case) end with their instance. */
  onCancelled?: (trx: Knex.Transaction, instanceId: string, reason: string | null) => Promise<void>;
  /** Runs in the transaction in which an instance fails (an uncaught BPMN error), so a case shows it. */
  onFailed?: (trx: Knex.Transaction, instanceId: string, error: string) => Promise<void>;
  /** Called after each committed command, e.g. to emit metrics or domain events. */
  onCommitted?: (event: { instanceId: string; kind: string }) => void;
  /**
   * Live executions kept after their command commits, so the next command on the instance skips
   * recovery (ExecutionCache); 0 turns it off. Default DEFAULT_EXECUTION_CACHE.
   */
  executionCache?: number;
}

export interface StartOptions {
  businessKey?: string | null;
  variables?: Record<string, unknown>;
  actor?: string | null;
  definitionId?: string;
  departmentId?: string | null;
  /** A caller-chosen id (e.g. a case row keyed by its instance). */
  id?: string;
  /** Runs in the start transaction after the instance row exists and before the engine runs. */
  beforeRun?: (trx: Knex.Transaction, instanceId: string) => Promise<void>;
}

interface CommandOutcome<T> {
  result: T;
  /** Raised after commit: the command's other effects (a timer that fired on resume) still count. */
  conflict?: ConflictError;
  history?: Array<{ kind: string; elementId?: string | null; executionId?: string | null; data?: Record<string, unknown> }>;
  beforePersist?: (trx: Knex.Transaction, snapshot: RunSnapshot) => Promise<void>;
  /** The task this command completed: written with the command's other changes. */
  completedTask?: { id: string; output: Record<string, unknown> };
}

/** A command's result, and the run to keep in the execution cache once it has committed. */
interface Committable<R> {
  summary: R;
  keep?: { run: EngineRun; version: number };
}

/** What a command read under the instance lock and holds until it writes. */
interface Held {
  tasks: HeldTask[];
}

/**
 * The durable engine. Every command is one transaction: lock the instance row, recover a fresh
 * bpmn-engine from its state, act, run to the next wait state, write state, tasks, timers,
 * subscriptions, outbox and history, commit. Nothing stays in memory between commands.
 */
export class WorkflowEngine {
  readonly definitions: DefinitionStore;
  /** Per process; see ExecutionCache for why a hit is the same as recovering. */
  readonly executions: ExecutionCache;

  constructor(readonly db: Db, readonly services: ServiceRegistry, private readonly options: EngineOptions = {}) {
    this.definitions = new DefinitionStore(db, { services, ...options.compile });
    this.executions = new ExecutionCache(options.executionCache ?? DEFAULT_EXECUTION_CACHE);
  }

  /** Run a command's transaction; once it has committed, keep its run for the next command. */
  private async committed<R>(fn: (trx: Knex.Transaction) => Promise<Committable<R>>, instanceId: () => string): Promise<R> {
    const out = await withRetry(() => this.db.transaction(fn));
    if (out.keep) {
      out.keep.run.park();
      this.executions.put(instanceId(), out.keep.version, out.keep.run);
    }
    return out.summary;
  }

  deploy(xml: string, opts: DeployOptions = {}) {
    return this.definitions.deploy(xml, opts, async (trx, result) => {
      await this.audit(trx, { actor: opts.actor ?? null, action: 'definition.deployed', entityType: 'process_definition', entityId: result.id,
        after: { key: result.key, version: result.version, note: opts.note ?? null, warnings: result.warnings.length } });
    });
  }

  private async audit(trx: Knex.Transaction, entry: AuditEntry): Promise<void> {
    if (this.options.audit) await this.options.audit(trx, entry);
  }

  async start(key: string, opts: StartOptions = {}): Promise<InstanceSummary> {
    const named = opts.definitionId ? await this.definitions.startable(opts.definitionId) : undefined;
    const id = opts.id ?? randomUUID();
    const businessKey = opts.businessKey ?? null;
    const summary = await this.committed(async (trx) => {
      const onLatest = named ? undefined : await this.insertOnLatest(trx, key, id, opts);
      const def = named ?? onLatest?.def ?? await this.definitions.latest(key);
      if (!onLatest?.inserted) {
        await trx('process_instances').insert({
          id, definition_id: def.id, process_key: def.key, business_key: businessKey, status: 'running',
          state: null, variables: JSON.stringify(opts.variables ?? {}), started_by: opts.actor ?? null,
          department_id: opts.departmentId ?? null,
        });
      }
      await this.audit(trx, { actor: opts.actor ?? null, action: 'instance.started', entityType: 'process_instance', entityId: id,
        after: { definitionId: def.id, businessKey, departmentId: opts.departmentId ?? null, variables: opts.variables ?? {} } });
      await opts.beforeRun?.(trx, id);
      const run = this.newRun(def, id, businessKey, trx);
      await run.start(opts.variables ?? {});
      const row = { id, definition_id: def.id, process_key: def.key, business_key: businessKey, version: 0 } as InstanceRow;
      const started = await this.persist(trx, row, run, opts.actor ?? null, [{ kind: 'instance.started', data: { definitionId: def.id } }], undefined, { openTasks: [] });
      return { summary: started, keep: keepable(run, started) };
    }, () => id);
    this.options.onCommitted?.({ instanceId: id, kind: 'started' });
    return summary;
  }

  async completeTask(taskId: string, output: Record<string, unknown>, actor: string | null): Promise<InstanceSummary> {
    if (!isUuid(taskId)) throw new NotFoundError('task', taskId);
    // One statement finds the task's instance and locks it; a task that is not open is refused before the engine runs.
    const lock = async (trx: Knex.Transaction) => {
      const locked = await lockInstanceOfTask(trx, taskId);
      if (!locked) throw new NotFoundError('task', taskId);
      if (locked.task_status !== 'open') throw taskConflict(locked.task_status);
      return locked;
    };
    return this.command({ lock, taskId }, actor, 'task.completed', async (run, _trx, held) => {
      // As read after the lock: another command may have ended the task meanwhile.
      const row = held.tasks.find((t) => t.id === taskId)!;
      if (row.status !== 'open') {
        return { result: undefined, conflict: taskConflict(row.status) };
      }
      const done = await run.completeTask(row.execution_id, output);
      if (!done) {
        // The task left its wait state while recovering (an interrupting timer was already due).
        return { result: undefined, conflict: new ConflictError('the task is no longer waiting: its deadline or another event ended it first', { taskId }) };
      }
      return {
        result: undefined,
        history: [{ kind: 'task.completed', elementId: row.element_id, executionId: row.execution_id, data: { taskId, output } }],
        completedTask: { id: taskId, output },
        beforePersist: (t) => this.audit(t, { actor, action: 'task.completed', entityType: 'task', entityId: taskId, before: { status: 'open', elementId: row.element_id }, after: { status: 'completed', output } }),
      };
    });
  }

  /** The instance row on the newest startable version, picked in the INSERT itself (one round trip). */
  private async insertOnLatest(trx: Knex.Transaction, key: string, id: string, opts: StartOptions): Promise<{ def: CompiledDefinition; inserted: true } | undefined> {
    const definitionId = await insertInstanceOfLatest(trx, { id, key, businessKey: opts.businessKey ?? null, variables: opts.variables ?? {},
      startedBy: opts.actor ?? null, departmentId: opts.departmentId ?? null });
    // None: the caller asks latest(), which says why (every version suspended, or no such process).
    return definitionId ? { def: await this.definitions.get(definitionId, trx), inserted: true } : undefined;
  }

  /** Claim is not an engine step: a conditional update is enough, and history records it. */
  async claimTask(taskId: string, actor: string, opts: { force?: boolean } = {}): Promise<void> {
    if (!isUuid(taskId)) throw new NotFoundError('task', taskId);
    await this.db.transaction(async (trx) => {
      const row = await trx('tasks').where({ id: taskId }).forUpdate().first();
      if (!row) throw new NotFoundError('task', taskId);
      if (row.status !== 'open') throw taskConflict(row.status);
      if (row.claimed_by && row.claimed_by !== actor && !opts.force) throw new ConflictError(`the task is claimed by ${row.claimed_by}`);
      await trx('tasks').where({ id: taskId }).update({ claimed_by: actor, claimed_at: trx.raw('now()'), assignee: actor });
      await this.audit(trx, { actor, action: 'task.claimed', entityType: 'task', entityId: taskId, before: { assignee: row.assignee }, after: { assignee: actor } });
      await trx('history').insert({ instance_id: row.instance_id, kind: 'task.claimed', element_id: row.element_id, execution_id: row.execution_id, actor, data: JSON.stringify({ taskId }) });
    });
  }

  async unclaimTask(taskId: string, actor: string): Promise<void> {
    if (!isUuid(taskId)) throw new NotFoundError('task', taskId);
    await this.db.transaction(async (trx) => {
      const row = await trx('tasks').where({ id: taskId }).forUpdate().first();
      if (!row) throw new NotFoundError('task', taskId);
      if (row.status !== 'open') throw taskConflict(row.status);
      await trx('tasks').where({ id: taskId }).update({ claimed_by: null, claimed_at: null, assignee: null });
      await this.audit(trx, { actor, action: 'task.unclaimed', entityType: 'task', entityId: taskId, before: { assignee: row.assignee }, after: { assignee: null } });
      await trx('history').insert({ instance_id: row.instance_id, kind: 'task.unclaimed', element_id: row.element_id, execution_id: row.execution_id, actor, data: JSON.stringify({ taskId }) });
    });
  }

  /**
   * Fire one due timer, in a transaction that already holds the timer and instance rows
   * (claimed with SKIP LOCKED by the scheduler). Returns the lag in ms.
   */
  async fireTimer(trx: Knex.Transaction, timer: { id: number; instance_id: string; execution_id: string; element_id: string; due_at: Date }): Promise<void> {
    // A kept run serves the firing, but the firing keeps none: the step a deadline opens (an
    // escalation) is rarely taken soon, and keeping a run costs its GC (bench/README.md, timer burst).
    await this.commandIn(trx, timer.instance_id, null, 'timer.fired', async (run) => {
      // false when it fired already while recovering (it was overdue): the state already shows it.
      await run.fireTimer(timer.execution_id);
      return { result: undefined };
    });
  }

  /**
   * `instances` narrows the waiting instances (alias `i`) to those the caller may act on;
   * `beforeStart` may refuse starting a message-start process when none was waiting.
   */
  async correlate(messageName: string, opts: { businessKey?: string | null; variables?: Record<string, unknown>; actor?: string | null;
    instances?: (q: Knex.QueryBuilder) => void; beforeStart?: (definition: { id: string; key: string }) => Promise<void> } = {}): Promise<{ delivered: number; started: InstanceSummary | null }> {
    if (!messageName) throw new BadRequestError('messageName is required');
    const q = this.db('message_subscriptions as s').join('process_instances as i', 'i.id', 's.instance_id')
      .where('s.message_name', messageName).andWhere('i.status', 'running').distinct('s.instance_id');
    if (opts.businessKey) q.andWhere('i.business_key', opts.businessKey);
    opts.instances?.(q);
    const waiting: Array<{ instance_id: string }> = await q;
    let delivered = 0;
    for (const { instance_id } of waiting) {
      delivered += await this.command(instance_id, opts.actor ?? null, 'message.correlated', async (run) => {
        const n = await run.deliverMessage(messageName, opts.variables ?? {});
        return {
          result: n,
          history: n ? [{ kind: 'message.received', data: { messageName, variables: opts.variables ?? {} } }] : [],
          beforePersist: n ? (t) => this.audit(t, { actor: opts.actor ?? null, action: 'message.correlated', entityType: 'process_instance', entityId: instance_id, after: { messageName, businessKey: opts.businessKey ?? null } }) : undefined,
        };
      }).then(() => 1, (err) => (err instanceof ConflictError ? 0 : Promise.reject(err)));
    }
    if (delivered) return { delivered, started: null };
    const starter = await this.findMessageStart(messageName);
    if (!starter) throw new NotFoundError('message subscription or message start event for', messageName);
    await opts.beforeStart?.(starter);
    const started = await this.start(starter.key, { businessKey: opts.businessKey, variables: opts.variables, actor: opts.actor, definitionId: starter.id });
    return { delivered: 0, started };
  }

  async cancel(instanceId: string, actor: string | null, reason?: string): Promise<void> {
    if (!isUuid(instanceId)) throw new NotFoundError('process instance', instanceId);
    await this.db.transaction(async (trx) => {
      const row = await trx('process_instances').where({ id: instanceId }).forUpdate().first('id', 'status');
      if (!row) throw new NotFoundError('process instance', instanceId);
      if (row.status !== 'running') throw new ConflictError(`the process instance is ${row.status}`);
      await trx('process_instances').where({ id: instanceId }).update({ status: 'cancelled', ended_at: trx.raw('now()'), updated_at: trx.raw('now()') })
        .increment('version', 1);
      await trx('tasks').where({ instance_id: instanceId, status: 'open' }).update({ status: 'cancelled', ended_at: trx.raw('now()') });
      await trx('timers').where({ instance_id: instanceId }).delete();
      await trx('message_subscriptions').where({ instance_id: instanceId }).delete();
      await trx('history').insert({ instance_id: instanceId, kind: 'instance.cancelled', actor, data: JSON.stringify({ reason: reason ?? null }) });
      await this.options.onCancelled?.(trx, instanceId, reason ?? null);
      this.executions.drop(instanceId);
      await this.audit(trx, { actor, action: 'instance.cancelled', entityType: 'process_instance', entityId: instanceId, before: { status: 'running' }, after: { status: 'cancelled', reason: reason ?? null } });
    });
  }

  /**
   * Stop the clock: no timer of the instance fires and no task completes until it resumes.
   * `data` (reason, kind) goes to history and the audit trail.
   */
  async suspend(instanceId: string, actor: string | null, data: Record<string, unknown>): Promise<void> {
    await this.lockRunning(instanceId, async (trx, row) => {
      if (row.suspended_at) throw new ConflictError('the case is already suspended');
      await trx('process_instances').where({ id: instanceId }).update({ suspended_at: trx.raw('now()'), updated_at: trx.raw('now()') }).increment('version', 1);
      await trx('history').insert({ instance_id: instanceId, kind: 'instance.suspended', actor, data: JSON.stringify(data) });
      await this.audit(trx, { actor, action: 'instance.suspended', entityType: 'process_instance', entityId: instanceId, before: { suspended: false }, after: { suspended: true, ...data } });
    });
  }

  /**
   * Restart the clock; every pending timer moves by `shift` (e.g. the working days spent suspended).
   * Returns the suspension's start so callers can move their own deadlines the same way.
   */
  async resume(instanceId: string, actor: string | null, shift: (due: Date, suspendedAt: Date) => Date, data: Record<string, unknown> = {}, inTrx?: (trx: Knex.Transaction, suspendedAt: Date) => Promise<void>): Promise<{ suspendedAt: Date }> {
    return this.lockRunning(instanceId, async (trx, row) => {
      if (!row.suspended_at) throw new ConflictError('the case is not suspended');
      const suspendedAt = new Date(row.suspended_at);
      const moved = await this.moveTimers(trx, instanceId, (due) => shift(due, suspendedAt));
      await trx('process_instances').where({ id: instanceId }).update({ suspended_at: null, updated_at: trx.raw('now()') }).increment('version', 1);
      await inTrx?.(trx, suspendedAt);
      await trx('history').insert({ instance_id: instanceId, kind: 'instance.resumed', actor, data: JSON.stringify({ ...data, suspendedAt, timers: moved }) });
      await this.audit(trx, { actor, action: 'instance.resumed', entityType: 'process_instance', entityId: instanceId, before: { suspended: true, suspendedAt }, after: { suspended: false, timers: moved, ...data } });
      return { suspendedAt };
    });
  }

  /**
   * Move pending timers of a running instance (a deadline recomputed after a calendar change).
   * `plan` runs first, under the instance lock, and returns the new due time per timer (null: leave it),
   * or null to change nothing.
   */
  async retime(instanceId: string, actor: string | null, plan: (trx: Knex.Transaction) => Promise<{ due: (due: Date, elementId: string) => Date | null; data: Record<string, unknown> } | null>): Promise<boolean> {
    return this.lockRunning(instanceId, async (trx) => {
      const p = await plan(trx);
      if (!p) return false;
      const moved = await this.moveTimers(trx, instanceId, p.due);
      // plan() may have rewritten the stored state (a case's deadline variables): a new version.
      await trx('process_instances').where({ id: instanceId }).update({ updated_at: trx.raw('now()') }).increment('version', 1);
      await trx('history').insert({ instance_id: instanceId, kind: 'instance.retimed', actor, data: JSON.stringify({ ...p.data, timers: moved }) });
      await this.audit(trx, { actor, action: 'instance.retimed', entityType: 'process_instance', entityId: instanceId, after: { timers: moved, ...p.data } });
      return true;
    });
  }

  /** The timers table is the clock of record: moving a row moves the timer. */
  private async moveTimers(trx: Knex.Transaction, instanceId: string, due: (due: Date, elementId: string) => Date | null) {
    const timers: Array<{ id: number; element_id: string; due_at: Date }> = await trx('timers').where({ instance_id: instanceId }).select('id', 'element_id', 'due_at');
    const moved = [];
    for (const t of timers) {
      const to = due(new Date(t.due_at), t.element_id);
      if (!to || to.getTime() === new Date(t.due_at).getTime()) continue;
      await trx('timers').where({ id: t.id }).update({ due_at: to });
      moved.push({ elementId: t.element_id, from: new Date(t.due_at).toISOString(), to: to.toISOString() });
    }
    if (moved.length) await trx.raw(`SELECT pg_notify('duban_timers', '')`);
    return moved;
  }

  private async lockRunning<T>(instanceId: string, fn: (trx: Knex.Transaction, row: InstanceRow) => Promise<T>): Promise<T> {
    if (!isUuid(instanceId)) throw new NotFoundError('process instance', instanceId);
    return withRetry(() => this.db.transaction(async (trx) => {
      const row: InstanceRow | undefined = await trx('process_instances').where({ id: instanceId }).forUpdate().first();
      if (!row) throw new NotFoundError('process instance', instanceId);
      if (row.status !== 'running') throw new ConflictError(`the process instance is ${row.status}`);
      return fn(trx, row);
    }));
  }

  private async findMessageStart(messageName: string): Promise<{ id: string; key: string } | undefined> {
    const rows: Array<{ id: string; key: string }> = await this.db('process_definitions as d')
      .whereRaw(`d.meta->'messageStarts' @> ?::jsonb`, [JSON.stringify([{ messageName }])])
      .whereRaw('d.version = (SELECT max(version) FROM process_definitions x WHERE x.key = d.key)')
      .select('d.id', 'd.key');
    return rows[0];
  }

  private newRun(def: CompiledDefinition, instanceId: string, businessKey: string | null, trx: Knex.Transaction): EngineRun {
    const ctx: RunContext = { instanceId, businessKey, services: this.services, functions: this.options.functions, scripts: this.options.scripts, trx };
    return new EngineRun(def, ctx);
  }

  /** `target`: an instance id, or how to find and lock the instance (a task's), plus the task to read with it. */
  private async command<T>(target: string | CommandTarget, actor: string | null, kind: string,
    act: (run: EngineRun, trx: Knex.Transaction, held: Held) => Promise<CommandOutcome<T>>): Promise<InstanceSummary> {
    if (typeof target === 'string' && !isUuid(target)) throw new NotFoundError('process instance', target);
    let conflict: ConflictError | undefined;
    let instanceId = typeof target === 'string' ? target : '';
    // A deadlock or serialization failure is PostgreSQL's, not the caller's: the command runs again.
    const summary = await this.committed(async (trx) => {
      const out = await this.commandIn(trx, target, actor, kind, act);
      conflict = out.conflict;
      instanceId = out.summary.id;
      return { summary: out.summary, keep: keepable(out.run, out.summary) };
    }, () => instanceId);
    this.options.onCommitted?.({ instanceId, kind });
    if (conflict) throw conflict;
    return summary;
  }

  private async commandIn<T>(trx: Knex.Transaction, target: string | CommandTarget, actor: string | null, _kind: string,
    act: (run: EngineRun, trx: Knex.Transaction, held: Held) => Promise<CommandOutcome<T>>): Promise<{ summary: InstanceSummary; conflict?: ConflictError; run: EngineRun }> {
    const instanceId = typeof target === 'string' ? target : undefined;
    const row: LockedInstance | undefined = instanceId ? await lockInstance(trx, instanceId) : await (target as CommandTarget).lock(trx);
    if (!row) throw new NotFoundError('process instance', instanceId ?? '');
    if (row.status !== 'running') throw new ConflictError(`the process instance is ${row.status}`, { instanceId: row.id, status: row.status });
    if (row.suspended_at) throw new ConflictError('the case is suspended (clock stopped); resume it first', { instanceId: row.id });
    // Taken whatever happens next: a run that served a command that did not commit is never reused.
    const live = this.executions.take(row.id, row.version);
    // One read after the lock: the due times to align the state with, which are due now (now() is the
    // transaction's time), the open tasks the write compares the new waiting tasks with, and the
    // stored state unless a kept run makes it unnecessary.
    const held = await readHeld(trx, row.id, typeof target === 'string' ? null : target.taskId, !live);
    const usable = live && timersAgree(live, held.timers);
    const run = usable ? live : await this.recover(trx, row, live ? await readState(trx, row.id) : held.state, held.timers);
    if (run === live) {
      run.nextCommand({ trx, businessKey: row.business_key });
      // As after a recovery: whatever is due in the timers table fires before the command acts.
      await this.fireDueTimers(run, held.timers.filter((t) => t.due).map((t) => t.execution_id));
    }
    this.executions.stats[run === live ? 'hits' : 'misses']++;
    const outcome = await act(run, trx, { tasks: held.tasks });
    const openTasks = held.tasks.filter((t) => t.status === 'open');
    const summary = await this.persist(trx, row, run, actor, outcome.history ?? [], outcome.beforePersist, { openTasks, completedTask: outcome.completedTask });
    return { summary, conflict: outcome.conflict, run };
  }

  /** A fresh engine from the stored state, its timers aligned with their rows; due ones fire after resume. */
  private async recover(trx: Knex.Transaction, row: LockedInstance, state: unknown, timers: HeldTimer[]): Promise<EngineRun> {
    const def = await this.definitions.get(row.definition_id, trx);
    const run = this.newRun(def, row.id, row.business_key, trx);
    const due = timers.filter((t) => t.due).map((t) => t.execution_id);
    for (const t of timers) run.timers.recordDue(t.execution_id, t.due_at);
    await run.resume(timers.length ? alignTimerState(state, new Map(timers.map((t) => [t.execution_id, t.due_at])), new Set(due)) : state);
    // Only now, with every branch of the instance listening again, do the due timers fire.
    await this.fireDueTimers(run, due);
    return run;
  }

  /**
   * The timers table is the clock of record: whatever is due there fires before the command acts,
   * so a deadline that has passed wins over a late completion even if the scheduler lags.
   */
  private async fireDueTimers(run: EngineRun, due: string[]): Promise<void> {
    for (const executionId of due) await run.fireTimer(executionId);
  }

  private async persist(trx: Knex.Transaction, row: Pick<InstanceRow, 'id' | 'definition_id' | 'process_key' | 'business_key' | 'version'>, run: EngineRun,
    actor: string | null, extraHistory: NonNullable<CommandOutcome<unknown>['history']>,
    beforePersist: ((trx: Knex.Transaction, snapshot: RunSnapshot) => Promise<void>) | undefined,
    held: { openTasks: HeldTask[]; completedTask?: CommandOutcome<unknown>['completedTask'] }): Promise<InstanceSummary> {
    const snap = await run.snapshot();
    if (beforePersist) await beforePersist(trx, snap);
    const version = row.version + 1;
    // Version 0 is the row start() inserted in this transaction: no task, timer or subscription refers to it yet.
    const isNew = row.version === 0;
    const history: Parameters<typeof writeCommand>[1]['history'] = [
      ...extraHistory.map((h) => ({ kind: h.kind, element_id: h.elementId ?? null, element_type: null, execution_id: h.executionId ?? null, data: h.data ?? null })),
      ...run.history.map((h) => ({ kind: h.kind, element_id: h.elementId, element_type: h.elementType, execution_id: h.executionId, data: h.data ?? null })),
    ];
    if (snap.status === 'completed') history.push({ kind: 'instance.completed', element_id: null, element_type: null, execution_id: null, data: null });
    if (snap.status === 'failed') history.push({ kind: 'instance.failed', element_id: null, element_type: null, execution_id: null, data: { error: snap.error } });
    await writeCommand(trx, { instanceId: row.id, snapshot: snap, version, actor, completedTask: held.completedTask, openTasks: held.openTasks, history });
    await syncSubscriptions(trx, row.id, row.business_key, snap, isNew, run.catchesMessages);
    await writeOutbox(trx, row.id, run);
    if (snap.status === 'failed') {
      await trx('incidents').insert({ instance_id: row.id, element_id: snap.errorElementId, kind: 'runtime', message: snap.error ?? 'the process failed' });
      await this.options.onFailed?.(trx, row.id, snap.error ?? 'the process failed');
    }
    return {
      id: row.id, definitionId: row.definition_id, processKey: row.process_key, businessKey: row.business_key,
      status: snap.status, variables: snap.variables, activeElements: snap.activeElements, version,
    };
  }
}

async function syncSubscriptions(trx: Knex.Transaction, instanceId: string, businessKey: string | null, snap: RunSnapshot, isNew: boolean, catchesMessages: boolean): Promise<void> {
  // A definition without message catchers never has subscriptions (versions are immutable).
  if (!isNew && catchesMessages) await trx('message_subscriptions').where({ instance_id: instanceId }).delete();
  if (!snap.messageWaits.length) return;
  const rows = new Map(snap.messageWaits.map((m) => [`${m.messageName}|${m.elementId}`, m]));
  await trx('message_subscriptions').insert([...rows.values()].map((m) => ({
    instance_id: instanceId, message_name: m.messageName, element_id: m.elementId, business_key: businessKey,
  })));
}

async function writeOutbox(trx: Knex.Transaction, instanceId: string, run: EngineRun): Promise<void> {
  if (!run.outbox.length) return;
  await trx('outbox').insert(run.outbox.map((o) => ({
    instance_id: instanceId, element_id: o.elementId, service: o.delivery, dedup_key: o.dedupKey, payload: JSON.stringify(o.payload),
  }))).onConflict('dedup_key').ignore();
  await trx.raw(`SELECT pg_notify('duban_outbox', '')`);
}

/**
 * The timers table is the clock of record. Before recovery, make each armed timer in the engine's
 * state agree with its row: bpmn-engine re-reads the timer string and keeps the earlier of it and
 * the stored expiry, so both are set to the row's due time (a suspension may have moved it).
 *
 * A timer that is already due (`dueNow`) is not put in the past: bpmn-elements would fire it
 * synchronously inside resume(), while the rest of the instance is still being restored, so a
 * signal or message it throws would reach branches that do not listen yet. It is armed a minute
 * ahead instead (DurableTimers keeps the row's due time) and the command fires it after resume.
 */
export function alignTimerState(state: unknown, dueByExecution: Map<string, Date>, dueNow: Set<string> = new Set()): unknown {
  // Edited in place: the state is this command's own copy, parsed from the row.
  const copy = state;
  const now = Date.now();
  const visit = (node: unknown): void => {
    if (!node || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      node.forEach(visit);
      return;
    }
    const o = node as Record<string, unknown>;
    const id = typeof o.executionId === 'string' && 'expireAt' in o ? o.executionId : undefined;
    const rowDue = id ? dueByExecution.get(id) : undefined;
    if (id && rowDue) {
      const due = dueNow.has(id) ? new Date(now + DEFERRED_FIRE_MS) : rowDue;
      o.expireAt = due.toISOString();
      if ('timeDate' in o) o.timeDate = due.toISOString();
      if ('timeDuration' in o) o.timeDuration = `PT${Math.max(1, Math.ceil((due.getTime() - now) / 1000) + 1)}S`;
    }
    for (const v of Object.values(o)) visit(v);
  };
  visit(copy);
  return copy;
}

/** How far ahead a due timer is armed during recovery; the command fires it right after. */
const DEFERRED_FIRE_MS = 60_000;

/** A committed run worth keeping: the instance still runs and the run can take the next command. */
function keepable(run: EngineRun, summary: InstanceSummary): Committable<InstanceSummary>['keep'] {
  return summary.status === 'running' && run.reusable ? { run, version: summary.version } : undefined;
}

interface CommandTarget {
  lock: (trx: Knex.Transaction) => Promise<LockedInstance>;
  taskId: string;
}

function taskConflict(status: string): ConflictError {
  return new ConflictError(status === 'completed' ? 'the task was already completed' : 'the task was cancelled: its deadline or another event ended it', { status });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isUuid(s: string): boolean {
  return UUID.test(s);
}
