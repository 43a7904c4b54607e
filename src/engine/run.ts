import { Engine } from 'bpmn-engine';
import type { Knex } from 'knex';
import { DurableTimers, type ActiveTimer } from './timers.js';
import { ARMED_EVENT_STARTS, moddleOptions, type DefinitionMeta, type EventSubProcessMeta, type ServiceFn } from './compile.js';
import { resolve as resolveExpression, type ExpressionScope } from './expressions.js';
import { BpmnServiceError, type ServiceRegistry } from './services.js';

/**
 * One engine run serves one command: recover (or start), act, run to the next wait state, snapshot.
 * Nothing of it outlives the command; all that matters is in the snapshot, which the caller writes.
 */

export interface CompiledDefinition {
  id: string;
  key: string;
  version: number;
  meta: DefinitionMeta;
  sourceContext: unknown;
}

export interface RunContext {
  instanceId: string;
  businessKey: string | null;
  services: ServiceRegistry;
  /** Extra FEEL functions (e.g. working-day arithmetic), data in, data out. */
  functions?: ExpressionScope['functions'];
  /** Only the conformance runner sets this (betsy's script tokens); production refuses all scripts. */
  scripts?: unknown;
  /** The command's transaction, for services that read or write domain tables atomically with the step. */
  trx?: Knex.Transaction;
}

export interface OutboxEntry {
  delivery: string;
  payload: Record<string, unknown>;
  dedupKey: string;
  elementId: string;
}

export interface HistoryEntry {
  kind: string;
  elementId: string | null;
  elementType: string | null;
  executionId: string | null;
  data?: Record<string, unknown>;
}

export interface WaitingTask {
  executionId: string;
  elementId: string;
  name: string | null;
  assignee: string | null;
  candidateGroups: string[];
  candidateUsers: string[];
  formKey: string | null;
  dueAt: Date | null;
}

export interface RunSnapshot {
  status: 'running' | 'completed' | 'failed';
  error: string | null;
  /** The element behind a failure (the thrower of an uncaught BPMN error), for the incident. */
  errorElementId: string | null;
  state: unknown;
  variables: Record<string, unknown>;
  tasks: WaitingTask[];
  timers: ActiveTimer[];
  messageWaits: Array<{ elementId: string; messageName: string }>;
  activeElements: string[];
}

/** The parts of bpmn-engine's element API Duban uses; its shipped typings are looser than this. */
interface ElementApi {
  id: string;
  type: string;
  executionId: string;
  content: Record<string, unknown>;
  owner: { environment: { variables: Record<string, unknown> } };
  signal(message?: unknown): void;
  discard(): void;
  getPostponed?(): ElementApi[];
}
/** A flow element of a running process (bpmn-elements' Activity), as far as Duban drives it. */
interface ActivityApi {
  id: string;
  isRunning: boolean;
  counters?: { taken: number; discarded: number };
  run(content?: unknown): void;
}
interface ProcessApi {
  id: string;
  execution?: { getActivityById(id: string): ActivityApi | undefined };
}
interface ExecutionApi {
  state: string;
  getPostponed(): ElementApi[];
  signal(payload: unknown): void;
  getState(): EngineState;
  definitions: Array<{ environment: { variables: Record<string, unknown> }; getProcesses(): Array<ProcessApi & { environment: { variables: Record<string, unknown> } }> }>;
}
interface EngineState {
  definitions: Array<Record<string, unknown>>;
  [key: string]: unknown;
}
interface BrokerMessage {
  content: Record<string, unknown> & { id?: string; type?: string; executionId?: string; isRecovered?: boolean };
}
interface EngineApi {
  state: string;
  execute(opts: object): Promise<ExecutionApi>;
  recover(state: unknown): EngineApi;
  resume(): Promise<ExecutionApi>;
  on(event: string, fn: (err: Error) => void): void;
  broker: { subscribeTmp(exchange: string, pattern: string, fn: (rk: string, msg: BrokerMessage) => void, opts: object): void };
}

const RECORDED = new Set(['activity.start', 'activity.end', 'activity.discard', 'activity.timeout', 'activity.error', 'activity.catch', 'activity.throw', 'activity.escalate', 'process.end', 'process.error']);
const REPLAYED_ON_RESUME = new Set(['activity.start', 'activity.enter', 'activity.wait', 'activity.timer']);
const HUMAN_TASKS = new Set(['bpmn:UserTask', 'bpmn:ManualTask']);

export class EngineRun {
  readonly timers = new DurableTimers();
  readonly outbox: OutboxEntry[] = [];
  readonly history: HistoryEntry[] = [];
  private readonly engine: EngineApi;
  private execution: ExecutionApi | undefined;
  private failure: Error | undefined;
  private readonly pending = new Set<Promise<void>>();
  /** BPMN errors thrown in this command and not (yet) caught, by throwing element. */
  private readonly uncaught = new Map<string, { elementId: string; code: string }>();
  private readonly caughtEarly = new Map<string, number>();
  /**
   * Scopes (activity ids) an interrupting boundary event caught something on in this command.
   * bpmn-elements lets the throwing path run on until the interruption reaches it; nothing in an
   * interrupted scope may call a service or queue an outside effect any more.
   */
  private readonly interrupted = new Map<string, string | null>();
  /** Interruptions of a scope by an interrupting event sub-process, applied once the run settles. */
  private readonly pendingInterrupts: Array<{ scopeId: string; except: string }> = [];
  private readonly eventSubs: Record<string, EventSubProcessMeta>;
  /** Whether Duban arms event sub-processes of this definition (most have none: no extra work per command). */
  private readonly hasEventSubs: boolean;
  private readonly eventSubByStart = new Map<string, string>();
  /** Called process execution id → the call activity that called it. */
  private readonly calledBy = new Map<string, string>();
  private lastError: { elementId: string; code: string | null; message: string } | undefined;

  constructor(private readonly def: CompiledDefinition, private ctx: RunContext) {
    this.engine = new (Engine as unknown as new (opts: object) => EngineApi)({
      name: ctx.instanceId,
      sourceContext: def.sourceContext,
      moddleOptions,
      timers: this.timers,
      scripts: ctx.scripts ? this.guardScripts(ctx.scripts as ScriptsApi) : refuseScripts,
      expressions: this.expressions(),
      services: this.serviceFunctions(),
      extensions: {
        duban: (activity: ExtensionActivity) => {
          // Heard on the throwing activity itself, before its next step runs (the engine-level event comes later).
          if (this.callsProcesses && (activity.type === 'bpmn:IntermediateThrowEvent' || activity.type === 'bpmn:EndEvent')) {
            activity.on('escalate', (api) => this.escalateToCaller(api.content as BrokerMessage['content']));
          }
          // A signal thrown inside a scope whose interrupting boundary catches it stops that scope before the thrower's next step.
          if (this.catchesSignals && (activity.type === 'bpmn:IntermediateThrowEvent' || activity.type === 'bpmn:EndEvent')) {
            activity.on('signal', (api) => this.interruptBySignal(api.content as BrokerMessage['content']));
          }
          return saveOutputExtension(activity, () => this.processVariables());
        },
      },
      // bpmn-engine makes three `debug` loggers per element on every new engine (each probes the tty);
      // that is ~6% of a command's CPU. Keep them only when DEBUG asks for log output.
      ...(process.env.DEBUG ? {} : { Logger: silentLogger }),
    });
    this.engine.on('error', (err) => {
      this.failure = err;
    });
    this.engine.broker.subscribeTmp('event', '#', (rk, msg) => { this.record(rk, msg); }, { noAck: true });
    this.eventSubs = def.meta.eventSubProcesses ?? {};
    this.hasEventSubs = Object.values(this.eventSubs).some((e) => ARMED_EVENT_STARTS.has(e.kind));
    for (const [id, m] of Object.entries(this.eventSubs)) this.eventSubByStart.set(m.startId, id);
  }

  /**
   * Whether this run can serve another command as it is (ExecutionCache): it ended in a wait state
   * with nothing in flight, and no failure.
   */
  get reusable(): boolean {
    return this.engine.state === 'running' && !this.failure && !this.uncaught.size && !this.pending.size && !this.pendingInterrupts.length;
  }

  /**
   * Serve the next command of the same instance with this live run instead of a recovered one: the
   * command's transaction and the row's business key, and everything a recovered run starts without
   * (history, outbox, this command's interruptions and caught errors, called-process links).
   */
  nextCommand(ctx: Pick<RunContext, 'trx' | 'businessKey'>): void {
    this.ctx = { ...this.ctx, trx: ctx.trx, businessKey: ctx.businessKey };
    this.outbox.length = 0;
    this.history.length = 0;
    this.caughtEarly.clear();
    this.interrupted.clear();
    this.calledBy.clear();
    this.lastError = undefined;
    this.timers.forgetRecorded();
  }

  /** Kept between commands (ExecutionCache): hold no transaction of the one that committed. */
  park(): void {
    this.ctx = { ...this.ctx, trx: undefined };
  }

  private get catchesSignals(): boolean {
    return Object.values(this.def.meta.boundaries ?? {}).some((b) => b.interrupting && b.signal);
  }

  private interruptBySignal(c: BrokerMessage['content']): void {
    const signalId = (c.message as { id?: string } | undefined)?.id;
    const scopes = scopeChain(String(c.id), c.parent);
    for (const b of Object.values(this.def.meta.boundaries ?? {})) {
      if (b.interrupting && b.signal && (b.signal === '*' || b.signal === signalId) && scopes.includes(b.attachedTo)) this.interrupted.set(b.attachedTo, null);
    }
  }

  private get callsProcesses(): boolean {
    this.hasCallActivity ??= Object.values(this.def.meta.elements).some((e) => e.type === 'bpmn:CallActivity');
    return this.hasCallActivity;
  }
  private hasCallActivity: boolean | undefined;

  /** Whether the definition has elements that wait for messages (and so ever subscribes). */
  get catchesMessages(): boolean {
    return Object.keys(this.def.meta.messageCatchers).length > 0;
  }

  async start(variables: Record<string, unknown>): Promise<void> {
    this.execution = await this.engine.execute({ variables: { ...variables } });
    await this.settle(); // arms the process's event sub-processes
  }

  async resume(state: unknown): Promise<void> {
    // The state is this command's own copy (parsed from the row), so the engine may keep it.
    this.engine.recover(state);
    this.execution = await this.engine.resume();
    await this.settle();
  }

  /** Complete a waiting user/manual/receive task; false when it is not waiting (anymore). */
  async completeTask(executionId: string, output: Record<string, unknown>): Promise<boolean> {
    const api = this.waiting().find((a) => a.executionId === executionId);
    if (!api) return false;
    api.signal({ ...output });
    await this.settle();
    return true;
  }

  async fireTimer(executionId: string): Promise<boolean> {
    const fired = this.timers.fire(executionId);
    await this.settle();
    return fired;
  }

  /** Deliver a message to the elements waiting for it; returns how many took it. */
  async deliverMessage(messageName: string, payload: Record<string, unknown>): Promise<number> {
    const targets = this.waiting().filter((a) => this.def.meta.messageCatchers[a.id]?.messageName === messageName);
    for (const api of targets) {
      const { messageId } = this.def.meta.messageCatchers[api.id]!;
      this.execution!.signal({ id: messageId, ...payload });
    }
    await this.settle();
    return targets.length;
  }

  async snapshot(): Promise<RunSnapshot> {
    const state = this.execution!.getState();
    for (const d of state.definitions) delete d.source;
    const waiting = this.waiting();
    const variables = this.variables();
    const failure = this.failureInfo();
    const status = failure ? 'failed' : this.engine.state === 'running' ? 'running' : 'completed';
    return {
      status,
      error: failure?.message ?? null,
      errorElementId: failure?.elementId ?? null,
      state,
      variables,
      tasks: status === 'running' ? waiting.filter((a) => HUMAN_TASKS.has(a.type)).map((a) => this.describeTask(a, variables)) : [],
      timers: status === 'running' ? this.timers.active() : [],
      messageWaits: status === 'running'
        ? waiting.filter((a) => this.def.meta.messageCatchers[a.id]).map((a) => ({ elementId: a.id, messageName: this.def.meta.messageCatchers[a.id]!.messageName }))
        : [],
      activeElements: [...new Set(waiting.filter((a) => !this.isListeningOnly(a)).map((a) => a.id))],
    };
  }

  /**
   * Why the instance failed, if it did: an engine error, a BPMN error from a service that nothing
   * caught, or an error end/throw event that no boundary or event sub-process caught (bpmn-elements
   * would let the last one end the process as completed).
   */
  private failureInfo(): { message: string; elementId: string | null } | undefined {
    const thrown = [...this.uncaught.values()][0];
    if (thrown) return { message: `uncaught BPMN error ${thrown.code} thrown by ${this.describe(thrown.elementId)}`, elementId: thrown.elementId };
    if (!this.failure && this.engine.state !== 'error') return undefined;
    const e = this.lastError;
    if (e?.code) return { message: `uncaught BPMN error ${e.code} raised by ${this.describe(e.elementId)}: ${e.message}`, elementId: e.elementId };
    if (e) return { message: `${this.describe(e.elementId)} failed: ${e.message}`, elementId: e.elementId };
    return { message: this.failure?.message ?? 'the process failed', elementId: null };
  }

  private describe(elementId: string): string {
    const el = this.def.meta.elements[elementId];
    return `${el?.type.replace('bpmn:', '') ?? 'element'} "${elementId}"${el?.name ? ` (${el.name})` : ''}`;
  }

  /** An armed event sub-process, or its start event, waiting for its trigger: not a current step. */
  private isListeningOnly(api: ElementApi): boolean {
    if (this.eventSubs[api.id]) return this.isArmedIdle(api);
    const espId = this.eventSubByStart.get(api.id);
    return !!espId && ARMED_EVENT_STARTS.has(this.eventSubs[espId]!.kind);
  }

  /** Whether an uncaught BPMN error ended the run; the instance fails and nothing of it runs on. */
  get failedByError(): boolean {
    return this.uncaught.size > 0;
  }

  waiting(): ElementApi[] {
    if (!this.execution) return [];
    const seen = new Map<string, ElementApi>();
    const visit = (list: ElementApi[]) => {
      for (const api of list) {
        if (seen.has(api.executionId)) continue;
        seen.set(api.executionId, api);
        if (api.getPostponed) visit(api.getPostponed());
      }
    };
    visit(this.execution.getPostponed());
    return [...seen.values()];
  }

  private variables(): Record<string, unknown> {
    // bpmn-elements keeps the process run message in its variables; those are not user data.
    const { fields: _f, content: _c, properties: _p, ...vars } = this.processVariables() ?? {};
    return vars;
  }

  /** The live process-scope variables; the engine's execution exists already while execute() runs. */
  private processVariables(): Record<string, unknown> | undefined {
    const execution = (this.engine as unknown as { execution?: ExecutionApi }).execution ?? this.execution;
    const def = execution?.definitions[0];
    return def?.getProcesses()[0]?.environment.variables ?? def?.environment.variables;
  }

  private describeTask(api: ElementApi, variables: Record<string, unknown>): WaitingTask {
    const meta = this.def.meta.userTasks[api.id];
    const scope: ExpressionScope = { variables: { ...variables, ...api.owner.environment.variables }, services: {}, functions: this.ctx.functions };
    const text = (v: string | null | undefined): string | null => {
      if (!v) return null;
      const out = resolveExpression(v, scope);
      return out === undefined || out === null || out === '' ? null : String(out);
    };
    const list = (v: string | null | undefined): string[] => {
      const out = v ? resolveExpression(v, scope) : null;
      const items = Array.isArray(out) ? out.map(String) : typeof out === 'string' ? out.split(',') : [];
      return items.map((s) => s.trim()).filter(Boolean);
    };
    const due = text(meta?.dueDate);
    const dueAt = due ? new Date(due) : null;
    return {
      executionId: api.executionId,
      elementId: api.id,
      name: meta?.name ?? this.def.meta.elements[api.id]?.name ?? null,
      assignee: text(meta?.assignee),
      candidateGroups: list(meta?.candidateGroups),
      candidateUsers: list(meta?.candidateUsers),
      formKey: text(meta?.formKey),
      dueAt: dueAt && !Number.isNaN(dueAt.getTime()) ? dueAt : null,
    };
  }

  private record(routingKey: string, message: BrokerMessage): void {
    if (!RECORDED.has(routingKey)) return;
    const c = message.content;
    if (c.isRecovered && REPLAYED_ON_RESUME.has(routingKey)) return;
    this.trackErrors(routingKey, c);
    if (routingKey === 'activity.throw' || routingKey === 'activity.escalate') return;
    const kind = routingKey === 'activity.timeout' ? 'timer.fired' : routingKey.replace('activity.', 'element.');
    const data: Record<string, unknown> = {};
    if (routingKey === 'activity.error' || routingKey === 'process.error') data.error = errorText(c.error);
    this.history.push({
      kind,
      elementId: c.id ?? null,
      elementType: c.type ?? null,
      executionId: c.executionId ?? null,
      ...(Object.keys(data).length ? { data } : {}),
    });
  }

  private trackErrors(routingKey: string, c: BrokerMessage['content']): void {
    // A catch is published while the throw is still being delivered, so it may arrive first.
    if (routingKey === 'activity.throw' && c.id) {
      const early = this.caughtEarly.get(c.id) ?? 0;
      if (early > 0) {
        this.caughtEarly.set(c.id, early - 1);
        return;
      }
      const info = (c.message ?? {}) as { code?: unknown; id?: unknown };
      this.uncaught.set(c.id, { elementId: c.id, code: String(info.code ?? info.id ?? 'unknown') });
    } else if (routingKey === 'activity.catch') {
      const boundary = c.id ? this.def.meta.boundaries?.[c.id] : undefined;
      if (boundary?.interrupting) this.interrupted.set(boundary.attachedTo, null);
      const source = (c.source as { id?: string } | undefined)?.id;
      if (!source) return;
      if (this.uncaught.has(source)) this.uncaught.delete(source);
      else this.caughtEarly.set(source, (this.caughtEarly.get(source) ?? 0) + 1);
    } else if (routingKey === 'activity.end' && c.id && this.eventSubByStart.has(c.id)) {
      // An event sub-process was triggered; an interrupting one ends everything else in its scope.
      const espId = this.eventSubByStart.get(c.id)!;
      const esp = this.eventSubs[espId]!;
      if (esp.interrupting) {
        this.interrupted.set(esp.scopeId, espId);
        this.pendingInterrupts.push({ scopeId: esp.scopeId, except: espId });
      }
    } else if (routingKey === 'activity.error' && c.id) {
      const err = c.error as { code?: unknown; message?: unknown } | undefined;
      this.lastError = { elementId: c.id, code: err?.code !== undefined && err.code !== null ? String(err.code) : null, message: String(err?.message ?? err ?? 'error') };
    }
  }

  /**
   * bpmn-engine runs synchronously to its wait states, except for services that answer later
   * (handlers that read or write the command's transaction); wait until none is in flight.
   */
  private async settle(): Promise<void> {
    for (;;) {
      await nextTurn();
      while (this.pending.size) {
        await Promise.allSettled([...this.pending]);
        await nextTurn();
      }
      if (this.applyInterrupts()) continue;
      if (this.hasEventSubs && (this.releaseIdleEventSubProcesses() || this.armEventSubProcesses())) continue;
      return;
    }
  }

  /** Top-level elements of each running process, with the process. */
  private runningProcesses(): Array<{ process: ProcessApi; top: ElementApi[] }> {
    if (!this.execution || this.engine.state !== 'running') return [];
    const top = this.execution.getPostponed();
    return this.execution.definitions.flatMap((d) => d.getProcesses()).filter((p) => p.execution)
      .map((p) => ({ process: p, top: top.filter((a) => this.processOf(a) === p.id) }));
  }

  private processOf(api: ElementApi): string | undefined {
    const parent = (api.content as { parent?: { id?: string } }).parent;
    return parent?.id;
  }

  /** An armed event sub-process whose start still waits for its message, timer or signal. */
  private isArmedIdle(api: ElementApi): boolean {
    const esp = this.eventSubs[api.id];
    if (!esp || !ARMED_EVENT_STARTS.has(esp.kind)) return false;
    const inner = (api.getPostponed?.() ?? []).filter((a) => a.id !== api.id);
    return inner.length > 0 && inner.every((a) => a.id === esp.startId);
  }

  /**
   * BPMN: a message, timer or signal start of an event sub-process listens while its scope runs.
   * bpmn-elements only starts event sub-processes for events thrown inside the process, so Duban
   * runs each one (its start event then waits: a message subscription, a timer row, a signal
   * catcher) as long as the process has other work. A non-interrupting one is armed again when it ends.
   */
  private armEventSubProcesses(): boolean {
    let armed = false;
    for (const { process, top } of this.runningProcesses()) {
      if (!top.some((a) => !this.eventSubs[a.id])) continue; // nothing but event sub-processes left
      for (const [espId, esp] of Object.entries(this.eventSubs)) {
        if (!esp.processLevel || esp.scopeId !== process.id || !ARMED_EVENT_STARTS.has(esp.kind)) continue;
        const activity = process.execution!.getActivityById(espId);
        if (!activity) continue;
        guardRun(activity);
        if (activity.isRunning) continue;
        // A timer start fires once per run of its scope; messages and signals may come again.
        if (esp.kind === 'timer' && (activity.counters?.taken ?? 0) > 0) continue;
        activity.run();
        armed = true;
      }
    }
    return armed;
  }

  /** When only armed, untriggered event sub-processes are left, the process is done: they stop listening. */
  private releaseIdleEventSubProcesses(): boolean {
    let released = false;
    for (const { top } of this.runningProcesses()) {
      if (!top.length || !top.every((a) => this.isArmedIdle(a))) continue;
      for (const a of top) this.discard(a);
      released = true;
    }
    return released;
  }

  /**
   * Discard a waiting element. A recovered event sub-process ignores its own discard while its
   * start event waits, so its inner elements are discarded first.
   */
  private discard(api: ElementApi): void {
    if (this.eventSubs[api.id]) {
      for (const inner of api.getPostponed?.() ?? []) if (inner.id !== api.id) inner.discard();
    }
    if (this.waiting().some((a) => a.executionId === api.executionId)) api.discard();
  }

  /** An interrupting event sub-process started: everything else in its scope is discarded. */
  private applyInterrupts(): boolean {
    if (!this.pendingInterrupts.length) return false;
    const todo = this.pendingInterrupts.splice(0);
    for (const { scopeId, except } of todo) {
      const scoped = this.runningProcesses().find((p) => p.process.id === scopeId);
      const others = scoped ? scoped.top : (this.waiting().find((a) => a.id === scopeId)?.getPostponed?.() ?? []).filter((a) => a.id !== scopeId);
      for (const a of others) if (a.id !== except) this.discard(a);
    }
    return true;
  }

  private expressions() {
    const functions = this.ctx.functions;
    return {
      resolveExpression(expression: unknown, context: { environment?: { variables?: Record<string, unknown>; services?: Record<string, unknown> }; content?: Record<string, unknown> }) {
        if (typeof expression !== 'string') return expression;
        const content = context?.content;
        return resolveExpression(expression, {
          variables: context?.environment?.variables ?? {},
          output: (content?.output ?? undefined) as Record<string, unknown> | undefined,
          content,
          services: context?.environment?.services ?? {},
          functions,
        });
      },
      isExpression: (text: unknown) => typeof text === 'string' && (/^\$\{.+\}$/.test(text) || text.trimStart().startsWith('=')),
      hasExpression: (text: unknown) => typeof text === 'string' && (text.includes('${') || text.trimStart().startsWith('=')),
    };
  }

  /** The registry's handlers, wrapped as bpmn-engine service functions bound to this run. */
  private serviceFunctions(): Record<string, ServiceFn> {
    const out: Record<string, ServiceFn> = {};
    for (const name of this.ctx.services.names()) {
      out[name] = (message, callback, variables) => this.callService(name, message, callback, variables);
    }
    return out;
  }

  /** Whether an element (its scope chain, innermost first) lies in an interrupted scope, outside the interrupting event sub-process. */
  /**
   * bpmn-elements keeps an escalation inside the process that throws it. BPMN lets an escalation
   * thrown in a called process reach the call activity's boundary events: deliver it there (the
   * boundary ignores escalations it does not expect), while the throw is still being handled, so an
   * interrupting boundary stops the called process before its next step runs.
   */
  private escalateToCaller(c: BrokerMessage['content']): void {
    const processExecutionId = (c.parent as { executionId?: string } | undefined)?.executionId;
    if (!processExecutionId || !this.def.meta.boundaries) return;
    const execution = (this.engine as unknown as { execution?: ExecutionApi }).execution ?? this.execution;
    if (!execution) return;
    const callIds = Object.entries(this.def.meta.elements).filter(([, e]) => e.type === 'bpmn:CallActivity').map(([id]) => id);
    if (!callIds.length) return;
    for (const bp of execution.definitions.flatMap((d) => d.getProcesses())) {
      for (const callId of callIds) {
        const call = bp.execution?.getActivityById(callId) as (ActivityApi & { executionId?: string }) | undefined;
        if (!call?.executionId || !processExecutionId.endsWith(`_${call.executionId}`)) continue;
        this.calledBy.set(processExecutionId, callId);
        // A service's message names its process by id only.
        const calledProcessId = (c.parent as { id?: string } | undefined)?.id;
        if (calledProcessId) this.calledBy.set(calledProcessId, callId);
        const escalationId = (c.message as { id?: string } | undefined)?.id;
        for (const [boundaryId, b] of Object.entries(this.def.meta.boundaries)) {
          if (b.attachedTo !== callId) continue;
          // The boundary catches it only after the called process's current step: stop that process now.
          if (b.interrupting && (b.escalation === '*' || b.escalation === escalationId)) this.interrupted.set(callId, null);
          const boundary = bp.execution!.getActivityById(boundaryId) as (ActivityApi & { executionId?: string; broker?: { publish(ex: string, rk: string, content: unknown, props?: unknown): void } }) | undefined;
          boundary?.broker?.publish('api', `activity.escalate.${boundary.executionId ?? boundaryId}`, { message: { ...(c.message as object) } }, { type: 'escalate' });
        }
      }
    }
  }

  /**
   * The conformance runner's scripts obey interruptions as services do: a script task in a scope an
   * interrupting event has caught in this command never runs (production refuses every script).
   */
  private guardScripts(scripts: ScriptsApi): ScriptsApi {
    return {
      register: (...args: unknown[]) => scripts.register(...args),
      getScript: (language, element) => {
        const script = scripts.getScript(language, element);
        if (!script) return script;
        return {
          execute: (execution, callback) => {
            const content = (execution as { content?: { id?: string; parent?: unknown } } | undefined)?.content;
            if (content?.id && this.isInterrupted(scopeChain(content.id, content.parent))) return undefined;
            return script.execute(execution, callback);
          },
        };
      },
    };
  }

  private isInterrupted(scopes: string[]): boolean {
    if (!this.interrupted.size) return false;
    return scopes.some((id, i) => {
      if (!this.interrupted.has(id)) return false;
      const except = this.interrupted.get(id);
      return !except || !scopes.slice(0, i).includes(except);
    });
  }

  private callService(name: string, message: { content: Record<string, unknown> }, callback: (err: Error | null, output?: unknown) => void,
    activityVariables?: Record<string, unknown>): void {
    const def = this.ctx.services.get(name)!;
    const content = message.content;
    const elementId = String(content.id);
    const executionId = String(content.executionId);
    const scopes = scopeChain(elementId, content.parent);
    // An element of a called process lies in the scope of the call activity that called it.
    const caller = callerOf(content.parent, this.calledBy);
    if (caller) scopes.push(caller);
    // Interrupted: never call back; the interruption discards this task when it arrives.
    if (this.isInterrupted(scopes)) return;
    // While execute() runs, the execution object is not yet known: read the activity's own scope.
    const { fields: _f, content: _c, properties: _p, ...variables } = activityVariables ?? this.variables();
    const fail = (err: unknown) => {
      if (err instanceof BpmnServiceError) {
        // bpmn-elements matches error boundaries on `code` (its ActivityError copies it from the cause).
        callback(Object.assign(new Error(err.message), { code: err.errorCode, name: 'BpmnError' }));
      } else {
        callback(err instanceof Error ? err : new Error(String(err)));
      }
    };
    try {
      const output = def.handler({
        instanceId: this.ctx.instanceId,
        businessKey: this.ctx.businessKey,
        elementId,
        executionId,
        variables,
        input: { ...(content.input as Record<string, unknown> | undefined) },
        trx: this.ctx.trx,
        enqueue: (delivery, payload, dedupKey) => {
          // An async handler may still run when its scope is interrupted: its effects are dropped.
    if (this.isInterrupted(scopes)) return;
          this.outbox.push({ delivery, payload, elementId, dedupKey: dedupKey ?? `${this.ctx.instanceId}:${executionId}:${delivery}` });
        },
      });
      if (output instanceof Promise) {
        const p = output.then((out) => callback(null, out ?? undefined), fail);
        this.pending.add(p);
        void p.finally(() => this.pending.delete(p));
      } else {
        callback(null, output ?? undefined);
      }
    } catch (err) {
      fail(err);
    }
  }
}

/** The element and its enclosing scopes (sub-processes, the process), innermost first. */
function scopeChain(elementId: string, parent: unknown): string[] {
  const p = parent as { id?: string; path?: Array<{ id?: string }> } | undefined;
  const out = [elementId];
  if (p?.id) out.push(p.id);
  for (const step of p?.path ?? []) if (step.id) out.push(step.id);
  return out;
}

/**
 * bpmn-elements runs an event sub-process itself when a matching signal or message is thrown inside
 * the process, and throws if it is already running — which an armed one is. Its waiting start event
 * gets the event anyway (delegated right after), so running it again is a no-op.
 */
function guardRun(activity: ActivityApi & { __dubanGuarded?: boolean }): void {
  if (activity.__dubanGuarded) return;
  const run = activity.run.bind(activity);
  activity.run = (content?: unknown) => (activity.isRunning ? undefined : run(content));
  activity.__dubanGuarded = true;
}

function callerOf(parent: unknown, calledBy: Map<string, string>): string | undefined {
  if (!calledBy.size) return undefined;
  const p = parent as { id?: string; executionId?: string; path?: Array<{ id?: string; executionId?: string }> } | undefined;
  for (const id of [p?.executionId, p?.id, ...(p?.path ?? []).flatMap((x) => [x.executionId, x.id])]) {
    if (id && calledBy.has(id)) return calledBy.get(id);
  }
  return undefined;
}

const noop = () => undefined;
function silentLogger() {
  return { debug: noop, error: noop, warn: noop };
}

interface ScriptsApi {
  register(...args: unknown[]): unknown;
  getScript(language: string | undefined, element: { type?: string } | undefined): { execute(execution: unknown, callback: (err: Error | null, output?: unknown) => void): unknown } | undefined;
}

/** The scripts handler refuses everything: deploy already rejects script tasks, this is the second lock. */
const refuseScripts = {
  register() {
    return undefined;
  },
  getScript(language: string | undefined, element: { type?: string } | undefined) {
    // bpmn-elements asks for a script for every condition; a plain (FEEL/${}) condition has none.
    if (element?.type === 'bpmn:SequenceFlow' && !language) return undefined;
    return {
      execute(_ctx: unknown, callback: (err: Error) => void) {
        callback(new Error('scripts are not executed by Duban'));
      },
    };
  },
};

interface ExtensionActivity {
  type: string;
  environment: { variables: Record<string, unknown> };
  on(event: string, fn: (api: { content: { output?: unknown } }) => void): void;
}

const SAVES_OUTPUT = new Set(['bpmn:UserTask', 'bpmn:ManualTask', 'bpmn:ReceiveTask', 'bpmn:ServiceTask', 'bpmn:SendTask', 'bpmn:IntermediateCatchEvent']);

/**
 * Task output becomes process variables when the task ends (Camunda semantics). bpmn-elements gives
 * each sub-process its own copy of the variables, so the output goes to the task's scope and to
 * the process scope, where later steps outside the sub-process look for it.
 */
function saveOutputExtension(activity: ExtensionActivity, processVariables: () => Record<string, unknown> | undefined) {
  if (SAVES_OUTPUT.has(activity.type)) {
    activity.on('end', (api) => {
      const output = api.content.output;
      if (!output || typeof output !== 'object' || Array.isArray(output)) return;
      const values = stripMessageFields(output as Record<string, unknown>);
      Object.assign(activity.environment.variables, values);
      const root = processVariables();
      if (root && root !== activity.environment.variables) Object.assign(root, values);
    });
  }
  return { activate() {}, deactivate() {} };
}

function stripMessageFields(output: Record<string, unknown>): Record<string, unknown> {
  const { id: _id, executionId: _e, ...rest } = output;
  return rest;
}

function errorText(err: unknown): string {
  if (err && typeof err === 'object' && 'message' in err) return String((err as { message: unknown }).message);
  return String(err);
}

function nextTurn(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}
