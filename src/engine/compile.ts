import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { BpmnModdle } from 'bpmn-moddle';
import * as Elements from 'bpmn-elements';
import Serializer, { TypeResolver, deserialize } from 'moddle-context-serializer';
import { checkExpression, isFeel } from './expressions.js';
import type { ServiceRegistry } from './services.js';
import { checkStructure } from './structure.js';
import { checkDefinitionsStructure } from './structure-extra.js';

const require = createRequire(import.meta.url);
const camundaDescriptor: object = require('camunda-bpmn-moddle/resources/camunda.json');
const { Linter } = require('bpmnlint') as { Linter: new (opts: object) => { lint(root: unknown): Promise<Record<string, LintReport[]>> } };
const NodeResolver = require('bpmnlint/lib/resolver/node-resolver') as new () => object;

export const moddleOptions = { camunda: camundaDescriptor };

/** The rules the server applies on deploy; the designer's live lint uses the same file. */
export const lintConfig = {
  extends: 'bpmnlint:recommended',
  rules: {
    // Style and layout: reported, never blocking, since diagrams also arrive by API without DI or labels.
    'label-required': 'warn',
    'no-bpmndi': 'warn',
    'no-overlapping-elements': 'warn',
    'superfluous-gateway': 'warn',
    'superfluous-termination': 'warn',
    'fake-join': 'warn',
    // Valid BPMN that the engine executes correctly.
    'no-gateway-join-fork': 'warn',
    'no-implicit-split': 'warn',
    'no-implicit-start': 'warn',
    'no-implicit-end': 'warn',
    'no-inclusive-gateway': 'off',
    'end-event-required': 'warn',
    // Valid BPMN: an activity may have conditional and unconditional outgoing flows side by side.
    // Gateways keep the rule as an error (structure.ts).
    'conditional-flows': 'warn',
    // Valid BPMN ("multiple" events: any of the definitions triggers).
    'single-event-definition': 'warn',
  },
};

export interface Problem {
  elementId: string | null;
  message: string;
  /** xml: parsing; lint: bpmnlint; model: BPMN structure rules (structure.ts); engine: what Duban cannot run; security. */
  source: 'xml' | 'lint' | 'model' | 'engine' | 'security';
  severity: 'error' | 'warning';
}

interface LintReport {
  id?: string;
  message: string;
  category: 'error' | 'warn' | 'info' | 'rule-error';
}

/** A parsed moddle element; moddle's own typings describe the metamodel, not this generic walk. */
export interface ModdleElement {
  $type: string;
  id?: string;
  name?: string;
  $parent?: ModdleElement;
  [key: string]: unknown;
}

export interface UserTaskMeta {
  name: string | null;
  assignee: string | null;
  candidateGroups: string | null;
  candidateUsers: string | null;
  formKey: string | null;
  dueDate: string | null;
}

export interface DefinitionMeta {
  key: string;
  name: string | null;
  processes: Array<{ id: string; name: string | null; executable: boolean }>;
  elements: Record<string, { type: string; name: string | null }>;
  userTasks: Record<string, UserTaskMeta>;
  /** elementId → message name, for elements that wait for a message. */
  messageCatchers: Record<string, { messageId: string; messageName: string }>;
  messageStarts: Array<{ elementId: string; messageId: string; messageName: string }>;
  services: Record<string, string>;
  /**
   * Event sub-processes by id: the scope they belong to and their start (absent in older definitions).
   * Message, timer and signal starts are armed by Duban while the scope runs (run.ts); error and
   * escalation starts are triggered by the engine's own delegation.
   */
  eventSubProcesses?: Record<string, EventSubProcessMeta>;
  /** Boundary events: the activity each is attached to, and whether it interrupts it (absent in older definitions). */
  boundaries?: Record<string, { attachedTo: string; interrupting: boolean; /** escalation id it catches, '*' for any */ escalation?: string; /** signal id it catches, '*' for any */ signal?: string }>;
}

export interface EventSubProcessMeta {
  scopeId: string;
  /** The scope is the process itself (not a sub-process). */
  processLevel: boolean;
  startId: string;
  kind: 'message' | 'timer' | 'signal' | 'error' | 'escalation' | 'conditional' | 'none' | 'multiple';
  interrupting: boolean;
}

/** Start kinds of an event sub-process that Duban arms itself while the process runs. */
export const ARMED_EVENT_STARTS = new Set<EventSubProcessMeta['kind']>(['message', 'timer', 'signal']);

export interface CompileResult {
  ok: boolean;
  errors: Problem[];
  warnings: Problem[];
  meta?: DefinitionMeta;
  /** moddle-context-serializer output as JSON; deserialize with loadCompiled. */
  compiled?: string;
  checksum: string;
}

export interface CompileOptions {
  services: ServiceRegistry;
  /** Conformance runs may allow betsy's script tokens; production never does. */
  allowScriptTask?: (element: ModdleElement) => boolean;
  lint?: boolean;
}

/** Elements bpmn-elements has no behaviour for, or that Duban deliberately does not execute. */
const UNSUPPORTED: Record<string, string> = {
  'bpmn:ComplexGateway': 'complex gateways are not supported',
  'bpmn:BusinessRuleTask': 'business rule tasks (DMN) are not supported; use a service task',
  'bpmn:ChoreographyTask': 'choreographies are not executable',
  'bpmn:SubChoreography': 'choreographies are not executable',
  'bpmn:CallChoreography': 'choreographies are not executable',
  'bpmn:ImplicitThrowEvent': 'implicit throw events are not executable',
};

// eslint-disable-next-line no-control-regex
const ASCII_ONLY = /^[\x00-\x7F]*$/;

/**
 * Item definitions, interfaces and resources only declare data types and operations; bpmn-elements has no
 * behaviour for them and would refuse the whole definition, so they load as inert placeholders.
 */
const DECLARATIONS = { ItemDefinition: Elements.Dummy, Interface: Elements.Dummy, Resource: Elements.Dummy };

type LoopBehaviour = (activity: unknown, loopCharacteristics: { behaviour?: Record<string, unknown> }) => unknown;

/**
 * BPMN's loopCondition is a "while" condition: the activity repeats as long as it is true (tested
 * before each iteration with testBefore="true", after it otherwise). bpmn-elements reads it as an
 * "until" condition, so Duban hands it the negation (the deploy check makes it FEEL).
 */
function StandardLoopCharacteristics(activity: unknown, loopCharacteristics: { behaviour?: Record<string, unknown> }) {
  const behaviour = { ...loopCharacteristics.behaviour };
  const condition = behaviour.loopCondition;
  if (typeof condition === 'string' && isFeel(condition)) behaviour.loopCondition = `=not((${condition.trimStart().slice(1)}) = true)`;
  const loop = ((Elements as unknown as Record<string, LoopBehaviour>).StandardLoopCharacteristics!)(activity, { ...loopCharacteristics, behaviour }) as LoopApi;
  const execute = loop.execute;
  loop.execute = function executeLoop(this: LoopApi, message: { content: Record<string, unknown> }) {
    const started = execute.call(this, message);
    // bpmn-elements starts no iteration and completes nothing when testBefore stops the loop
    // before its first iteration: the activity would wait forever. It is done.
    const chr = this.characteristics;
    if (started === undefined && chr && chr.cardinality !== 0) chr.complete(message.content);
    return started;
  };
  return loop;
}

interface LoopApi {
  characteristics?: { cardinality?: number; complete(content: Record<string, unknown>): unknown } | null;
  execute(this: LoopApi, message: { content: Record<string, unknown> }): unknown;
}

/**
 * The converging inclusive gateway (BPMN 2.0.2, 13.3.2) fires once, when every token that can still
 * reach it has arrived. bpmn-elements passes each arriving token straight through (the step after
 * the join ran once per branch). Duban gives it the parallel join's inbound handling: it waits until
 * each incoming flow was either taken or discarded. Flows that no token will take are discarded by
 * the engine's dead-path elimination (the split's false conditions, the untaken branch of an
 * exclusive gateway propagate `flow.discard` down to the join), so the join fires exactly when no
 * token can still arrive. A join on a cycle is refused at deploy (`checkInclusiveJoins`): a token
 * looping back would never be discarded and the join would wait for itself.
 */
function InclusiveGateway(activityDef: Record<string, unknown>, context: unknown) {
  const { Activity } = Elements as unknown as { Activity: new (behaviour: unknown, def: unknown, context: unknown) => unknown };
  return new Activity(InclusiveGatewayBehaviour, { ...activityDef, isParallelGateway: true }, context);
}

function InclusiveGatewayBehaviour(this: { broker: SendActivity['broker'] }, activity: { broker: SendActivity['broker'] }) {
  this.broker = activity.broker;
}

InclusiveGatewayBehaviour.prototype.execute = function execute(this: { broker: SendActivity['broker'] }, { content }: { content: Record<string, unknown> }) {
  const copy: Record<string, unknown> = { ...content };
  for (const key of ['inbound', 'outbound', 'discardSequence']) if (Array.isArray(copy[key])) copy[key] = [...(copy[key] as unknown[])];
  this.broker.publish('execution', 'execute.completed', copy);
};

const baseResolver = TypeResolver({ ...Elements, ...DECLARATIONS, StandardLoopCharacteristics, InclusiveGateway } as Record<string, unknown>);

interface ResolvedEntity {
  type?: string;
  Behaviour?: unknown;
  behaviour?: { topic?: string; Service?: unknown };
}

/** Service and send tasks bound by camunda:topic call the run's service of that name. */
function TopicService(this: { activity: TopicActivity }, activity: TopicActivity) {
  this.activity = activity;
}
interface TopicActivity {
  behaviour: { topic: string };
  environment: { getServiceByName(name: string): ServiceFn | undefined; variables: Record<string, unknown> };
}
export type ServiceFn = (message: { content: Record<string, unknown> }, callback: (err: Error | null, output?: unknown) => void,
  variables?: Record<string, unknown>) => void;
TopicService.prototype.execute = function execute(
  this: { activity: TopicActivity },
  message: { content: Record<string, unknown> },
  callback: (err: Error | null, output?: unknown) => void,
) {
  const { topic } = this.activity.behaviour;
  const fn = this.activity.environment.getServiceByName(topic);
  if (!fn) return callback(new Error(`service "${topic}" is not registered`));
  return fn(message, callback, this.activity.environment.variables);
};

function typeResolver(entity: ResolvedEntity): void {
  baseResolver(entity as never);
  if (entity.behaviour?.topic && !entity.behaviour.Service) entity.behaviour.Service = TopicService;
  if (entity.type === 'bpmn:SendTask' && !entity.behaviour?.Service) entity.Behaviour = MessageSendTask;
}

interface SendActivity {
  id: string;
  type: string;
  behaviour: { messageRef?: { id?: string }; loopCharacteristics?: { Behaviour: new (activity: SendActivity, def: unknown) => { execute(m: unknown): unknown } } };
  broker: { publish(exchange: string, routingKey: string, content: Record<string, unknown>): void };
  getActivityById(id: string): { resolve?(message: unknown): Record<string, unknown> } | undefined;
}

/**
 * A send task bound to no service sends its message (messageRef) and completes: a message flow
 * from it delivers the message to the catching event or receive task of the other process.
 */
function MessageSendTask(activityDef: unknown, context: unknown) {
  const { Activity } = Elements as unknown as { Activity: new (behaviour: unknown, def: unknown, context: unknown) => unknown };
  return new Activity(MessageSendBehaviour, activityDef, context);
}

function MessageSendBehaviour(this: { activity: SendActivity; id: string; type: string; loop?: { execute(m: unknown): unknown } }, activity: SendActivity) {
  this.activity = activity;
  this.id = activity.id;
  this.type = activity.type;
  const loop = activity.behaviour.loopCharacteristics;
  if (loop) this.loop = new loop.Behaviour(activity, loop);
}

MessageSendBehaviour.prototype.execute = function execute(this: { activity: SendActivity; loop?: { execute(m: unknown): unknown } }, executeMessage: { content: Record<string, unknown> }) {
  const content = executeMessage.content;
  if (this.loop && content.isRootScope) return this.loop.execute(executeMessage);
  const ref = this.activity.behaviour.messageRef;
  const element = ref?.id ? this.activity.getActivityById(ref.id) : undefined;
  const message = element?.resolve ? element.resolve(executeMessage) : ref ? { ...ref } : undefined;
  return this.activity.broker.publish('execution', 'execute.completed', { ...content, ...(message ? { message } : {}), state: 'complete' });
};

export async function compile(xml: string, options: CompileOptions): Promise<CompileResult> {
  const checksum = createHash('sha256').update(xml).digest('hex');
  const errors: Problem[] = [];
  const warnings: Problem[] = [];
  const moddle = new BpmnModdle(moddleOptions);
  let parsed: { rootElement: ModdleElement; warnings: Array<{ message: string; element?: ModdleElement }> };
  try {
    parsed = (await moddle.fromXML(xml.trim())) as unknown as typeof parsed;
  } catch (err) {
    const message = (err as Error).message;
    const duplicate = /duplicate ID <([^>]+)>/.exec(message);
    errors.push({ elementId: duplicate?.[1] ?? null, message: duplicate ? `the id ${duplicate[1]} is used by more than one element` : `not a BPMN 2.0 document: ${message}`, source: 'xml', severity: 'error' });
    return { ok: false, errors, warnings, checksum };
  }
  const root = parsed.rootElement;
  if (root.$type !== 'bpmn:Definitions') {
    errors.push({ elementId: null, message: 'the root element must be bpmn:definitions', source: 'xml', severity: 'error' });
    return { ok: false, errors, warnings, checksum };
  }
  for (const w of parsed.warnings) {
    // The XML arrives as a decoded string: a declared encoding only matters when non-ASCII text
    // may have been decoded with the wrong one.
    if (/^unsupported document encoding/.test(w.message) && ASCII_ONLY.test(xml)) {
      warnings.push({ elementId: null, message: w.message, source: 'xml', severity: 'warning' });
      continue;
    }
    const duplicate = /duplicate ID <([^>]+)>/.exec(w.message);
    if (duplicate) {
      errors.push({ elementId: duplicate[1]!, message: `the id ${duplicate[1]} is used by more than one element`, source: 'model', severity: 'error' });
      continue;
    }
    // A diagram shape that points nowhere is a layout defect; the process itself may be sound.
    if (/^(bpmndi|di|dc):/.test(w.element?.$type ?? '')) {
      warnings.push({ elementId: w.element?.id ?? null, message: `diagram: ${w.message}`, source: 'xml', severity: 'warning' });
      continue;
    }
    // An unresolved reference or unknown attribute is a broken model, not a style issue.
    errors.push({ elementId: w.element?.id ?? null, message: w.message, source: 'xml', severity: 'error' });
  }

  inlineEventDefinitionRefs(root);
  const meta = collectMeta(root, options, errors);
  for (const check of [checkStructure, checkDefinitionsStructure]) {
    try {
      for (const p of check(root)) (p.severity === 'warning' ? warnings : errors).push(p);
    } catch (err) {
      // A tree too odd for a rule is still a refusal with a reason, never a crash of the deploy.
      errors.push({ elementId: null, message: `the model cannot be checked: ${(err as Error).message}`, source: 'model', severity: 'error' });
    }
  }
  errors.push(...checkExecutable(root));
  let compiled: string | undefined;
  if (!errors.length) {
    try {
      compiled = Serializer(parsed as never, typeResolver).serialize();
      loadCompiled(compiled);
    } catch (err) {
      errors.push({ elementId: null, message: `cannot be executed: ${(err as Error).message}`, source: 'engine', severity: 'error' });
    }
  }
  // Lint last: its traversal leaves marks on the moddle tree that the serializer must not see.
  if (options.lint !== false) {
    deriveFlowReferences(root);
    await lint(root, errors, warnings);
  }
  if (errors.length || !compiled) return { ok: false, errors: rankProblems(errors), warnings, checksum };
  return { ok: true, errors, warnings, meta, compiled, checksum };
}

const SOURCE_RANK: Record<Problem['source'], number> = { model: 0, xml: 1, engine: 2, lint: 3, security: 4 };

/**
 * The first problem should be the one a modeller must fix: a broken BPMN rule on a named element
 * before what Duban cannot run or refuses to run, and anything that names no element last.
 */
function rankProblems(problems: Problem[]): Problem[] {
  const rank = (p: Problem) => (p.elementId ? 0 : 10) + SOURCE_RANK[p.source];
  return problems.map((p, i) => ({ p, i })).sort((a, b) => rank(a.p) - rank(b.p) || a.i - b.i).map((x) => x.p);
}

/** Rebuild the engine's source context from its stored JSON (no XML parsing). */
export function loadCompiled(compiled: string): unknown {
  const context = deserialize(JSON.parse(compiled), typeResolver) as unknown as { id?: string };
  return context;
}

async function lint(root: ModdleElement, errors: Problem[], warnings: Problem[]): Promise<void> {
  const linter = new Linter({ config: lintConfig, resolver: new NodeResolver() });
  const reports = await linter.lint(root);
  for (const [rule, list] of Object.entries(reports)) {
    if (list.length > 3 && list.every((r) => r.category === 'warn')) {
      warnings.push({ elementId: null, message: `${list[0]!.message} (${rule}) on ${list.length} elements`, source: 'lint', severity: 'warning' });
      continue;
    }
    for (const r of list) {
      const problem: Problem = {
        elementId: r.id ?? null,
        message: `${r.message} (${rule})`,
        source: 'lint',
        severity: r.category === 'error' || r.category === 'rule-error' ? 'error' : 'warning',
      };
      (problem.severity === 'error' ? errors : warnings).push(problem);
    }
  }
}

function collectMeta(root: ModdleElement, options: CompileOptions, errors: Problem[]): DefinitionMeta {
  const processes = asArray(root.rootElements).filter((e) => e.$type === 'bpmn:Process');
  const executable = processes.filter((p) => p.isExecutable === true);
  const meta: DefinitionMeta = {
    key: executable.length === 1 ? executable[0]!.id! : (root.id ?? executable[0]?.id ?? 'definitions'),
    name: (executable[0]?.name as string | undefined) ?? (root.name as string | undefined) ?? null,
    processes: processes.map((p) => ({ id: p.id!, name: (p.name as string) ?? null, executable: p.isExecutable === true })),
    elements: {},
    userTasks: {},
    messageCatchers: {},
    messageStarts: [],
    services: {},
    boundaries: {},
    eventSubProcesses: {},
  };
  if (!executable.length) {
    errors.push({ elementId: null, message: 'no executable process (set isExecutable="true" on a process)', source: 'engine', severity: 'error' });
  }
  const check = new ElementChecker(options, errors, meta);
  walk(root, (el, owner) => check.visit(el, owner));
  return meta;
}

class ElementChecker {
  constructor(private readonly options: CompileOptions, private readonly errors: Problem[], private readonly meta: DefinitionMeta) {}

  visit(el: ModdleElement, owner: ModdleElement | undefined): void {
    const id = el.id ?? owner?.id ?? null;
    if (el.id && isFlowNode(el)) this.meta.elements[el.id] = { type: el.$type, name: (el.name as string) ?? null };
    const unsupported = UNSUPPORTED[el.$type];
    if (unsupported) this.error(id, unsupported, 'engine');
    switch (el.$type) {
      case 'bpmn:ScriptTask':
        if (!this.options.allowScriptTask?.(el)) this.error(id, 'script tasks are refused: no code from a diagram is executed; use a service task', 'security');
        break;
      case 'bpmn:FormalExpression':
      case 'bpmn:Expression':
        this.checkFormal(el, owner);
        break;
      case 'bpmn:StandardLoopCharacteristics': {
        const body = str((el.loopCondition as ModdleElement | undefined)?.body)?.trim();
        if (body && !isFeel(body)) this.error(id, `loop condition "${body}" must be FEEL ("=…")`, 'engine');
        break;
      }
      case 'bpmn:ServiceTask':
      case 'bpmn:SendTask':
        this.checkService(el);
        break;
      case 'bpmn:UserTask':
        this.meta.userTasks[el.id!] = {
          name: str(el.name), assignee: str(el.assignee), candidateGroups: str(el.candidateGroups),
          candidateUsers: str(el.candidateUsers), formKey: str(el.formKey), dueDate: str(el.dueDate),
        };
        break;
      case 'bpmn:SubProcess':
        if (el.triggeredByEvent === true) this.noteEventSubProcess(el, owner);
        break;
      case 'bpmn:BoundaryEvent': {
        const attached = el.attachedToRef as ModdleElement | undefined;
        const esc = asArray(el.eventDefinitions).find((d) => d.$type === 'bpmn:EscalationEventDefinition');
        const escalation = esc ? ((esc.escalationRef as ModdleElement | undefined)?.id ?? '*') : undefined;
        const sig = asArray(el.eventDefinitions).find((d) => d.$type === 'bpmn:SignalEventDefinition');
        const signal = sig ? ((sig.signalRef as ModdleElement | undefined)?.id ?? '*') : undefined;
        if (attached?.id) this.meta.boundaries![el.id!] = { attachedTo: attached.id, interrupting: el.cancelActivity !== false, ...(escalation ? { escalation } : {}), ...(signal ? { signal } : {}) };
        break;
      }
      case 'camunda:ExecutionListener':
      case 'camunda:TaskListener':
        this.error(id, 'Camunda listeners are not executed by Duban; model the step as a service task', 'security');
        break;
      case 'camunda:Script':
        this.error(id, 'scripts are refused: no code from a diagram is executed', 'security');
        break;
    }
    if (el.$type === 'bpmn:MessageEventDefinition' && owner?.id) this.noteMessage(owner, el);
    if (el.$type === 'bpmn:ReceiveTask' && el.messageRef) this.noteMessage(el, el);
    for (const [attr, value] of Object.entries(el)) {
      if (attr.startsWith('$') || typeof value !== 'string') continue;
      if (value.includes('${') || (value.trimStart().startsWith('=') && attr !== 'body')) {
        const problem = checkExpression(value);
        if (problem) this.error(id, `${attr}: ${problem}`, 'security');
      }
      if (/^(class|delegateExpression|expression|resultVariable)$/.test(attr) && el.$type !== 'bpmn:FormalExpression') {
        this.error(id, `camunda:${attr} is not supported; bind services with camunda:topic`, 'security');
      }
    }
  }

  private checkFormal(el: ModdleElement, owner: ModdleElement | undefined): void {
    const id = el.id ?? owner?.id ?? null;
    if (el.language) {
      this.error(id, `expressions with language="${String(el.language)}" are refused: write conditions in FEEL ("=…")`, 'security');
      return;
    }
    const body = str(el.body);
    if (!body) return;
    const problem = checkExpression(body);
    if (problem) this.error(id, problem, 'security');
    else if (!body.trimStart().startsWith('=') && !body.includes('${') && owner?.$type === 'bpmn:SequenceFlow') {
      this.error(id, `condition "${body}" is neither FEEL ("=…") nor a \${variable} reference`, 'engine');
    }
  }

  private checkService(el: ModdleElement): void {
    const id = el.id!;
    const topic = str(el.topic);
    // ##WebService and ##unspecified are BPMN's defaults: they name no service.
    const implementation = /^##/.test(str(el.implementation) ?? '') ? null : str(el.implementation);
    let name: string | null = null;
    if (topic) name = topic;
    else if (implementation) {
      const m = /^\$\{\s*(?:environment\.)?services\.([A-Za-z_$][\w$]*)\s*\}$/.exec(implementation);
      if (!m) {
        this.error(id, `implementation "${implementation}" must name a registered service: \${services.name}`, 'security');
        return;
      }
      name = m[1]!;
    }
    if (!name) {
      if (el.$type === 'bpmn:ServiceTask') this.error(id, 'service task without a service: set camunda:type="external" and camunda:topic', 'engine');
      return;
    }
    if (!this.options.services.has(name)) {
      this.error(id, `unknown service "${name}"; known: ${this.options.services.names().join(', ') || 'none'}`, 'engine');
      return;
    }
    this.meta.services[id] = name;
  }

  /**
   * An event sub-process runs inside its scope while that scope runs. What Duban cannot run
   * correctly is refused here, naming the element and the construct.
   */
  private noteEventSubProcess(el: ModdleElement, owner: ModdleElement | undefined): void {
    const starts = asArray(el.flowElements).filter((e) => e.$type === 'bpmn:StartEvent');
    const start = starts[0];
    if (!start || starts.length > 1) {
      this.error(el.id ?? null, 'an event sub-process needs exactly one start event', 'model');
      return;
    }
    const defs = asArray(start.eventDefinitions);
    const kind: EventSubProcessMeta['kind'] = defs.length > 1 ? 'multiple' : defs.length === 0 ? 'none'
      : (defs[0]!.$type.replace(/^bpmn:|EventDefinition$/g, '').toLowerCase() as EventSubProcessMeta['kind']);
    const scope = (el.$parent ?? owner) as ModdleElement | undefined;
    const processLevel = scope?.$type === 'bpmn:Process';
    const meta: EventSubProcessMeta = { scopeId: scope?.id ?? '', processLevel, startId: start.id!, kind, interrupting: start.isInterrupting !== false };
    if (kind === 'conditional') {
      this.error(start.id!, 'event sub-process with a conditional start event is not supported by Duban; use a message or timer start', 'engine');
    } else if (kind === 'multiple' || kind === 'none' || !['message', 'timer', 'signal', 'error', 'escalation'].includes(kind)) {
      this.error(start.id!, `event sub-process with a ${kind} start event is not supported by Duban`, 'engine');
    } else if ((kind === 'message' || kind === 'timer') && !processLevel) {
      this.error(start.id!, `event sub-process with a ${kind} start event inside a sub-process is not supported by Duban; place it at the process level`, 'engine');
    }
    this.meta.eventSubProcesses![el.id!] = meta;
  }

  private noteMessage(target: ModdleElement, def: ModdleElement): void {
    const msg = def.messageRef as ModdleElement | undefined;
    if (!msg?.id) return;
    const entry = { messageId: msg.id, messageName: str(msg.name) ?? msg.id };
    // The message start of an event sub-process is a subscription of the running instance, never a process start.
    const inEventSubProcess = (target.$parent as ModdleElement | undefined)?.triggeredByEvent === true;
    if (target.$type === 'bpmn:StartEvent' && !inEventSubProcess) {
      this.meta.messageStarts.push({ elementId: target.id!, ...entry });
    } else {
      this.meta.messageCatchers[target.id!] = entry;
    }
  }

  private error(elementId: string | null, message: string, source: Problem['source']): void {
    this.errors.push({ elementId, message, source, severity: 'error' });
  }
}

/**
 * Constructs that are valid BPMN but that Duban cannot execute correctly: refused at deploy, naming
 * the element and the construct (accepting a diagram and then misbehaving is the worst outcome).
 */
function checkExecutable(root: ModdleElement): Problem[] {
  const problems: Problem[] = [];
  const refuse = (el: ModdleElement, message: string) => problems.push({ elementId: el.id ?? null, message, source: 'engine', severity: 'error' });
  walk(root, (el) => {
    if (!Array.isArray(el.flowElements)) return;
    checkInclusiveJoins(el.flowElements as ModdleElement[], refuse);
  });
  return problems;
}

/** A converging inclusive gateway that a token can reach again from itself (a loop through the join). */
function checkInclusiveJoins(elements: ModdleElement[], refuse: (el: ModdleElement, message: string) => void): void {
  const flows = elements.filter((e) => e.$type === 'bpmn:SequenceFlow');
  const next = new Map<unknown, ModdleElement[]>();
  for (const f of flows) {
    const list = next.get(f.sourceRef) ?? [];
    list.push(f.targetRef as ModdleElement);
    next.set(f.sourceRef, list);
  }
  for (const b of elements) {
    if (b.$type !== 'bpmn:BoundaryEvent' || !b.attachedToRef) continue;
    next.set(b.attachedToRef, [...(next.get(b.attachedToRef) ?? []), b]);
  }
  for (const gw of elements) {
    if (gw.$type !== 'bpmn:InclusiveGateway') continue;
    if (flows.filter((f) => f.targetRef === gw).length < 2) continue;
    const seen = new Set<unknown>();
    const stack = [...(next.get(gw) ?? [])];
    while (stack.length) {
      const n = stack.pop()!;
      if (n === gw) {
        refuse(gw, 'converging inclusive gateway on a loop is not supported: a token coming round again would wait for itself; close the loop with an exclusive gateway');
        break;
      }
      if (seen.has(n)) continue;
      seen.add(n);
      stack.push(...(next.get(n) ?? []));
    }
  }
}

const REFERENCE_KEYS = /Ref$|^(default|attachedToRef|sourceRef|targetRef|incoming|outgoing|flowNodeRef|\$parent|\$descriptor|\$model|\$attrs)$/;

/** Visit every contained element once; references (…Ref, incoming/outgoing) are not followed. */
function walk(el: ModdleElement, visit: (el: ModdleElement, owner: ModdleElement | undefined) => void): void {
  const seen = new Set<unknown>();
  const stack: Array<[ModdleElement, ModdleElement | undefined]> = [[el, undefined]];
  while (stack.length) {
    const [current, owner] = stack.pop()!;
    if (seen.has(current)) continue;
    seen.add(current);
    visit(current, owner);
    const nextOwner = current.id ? current : owner;
    for (const [key, value] of Object.entries(current)) {
      if (REFERENCE_KEYS.test(key)) continue;
      for (const child of Array.isArray(value) ? value : [value]) {
        if (child && typeof child === 'object' && typeof (child as ModdleElement).$type === 'string') {
          stack.push([child as ModdleElement, nextOwner]);
        }
      }
    }
  }
}

/**
 * An event may use event definitions declared once at the definitions level (`eventDefinitionRef`)
 * instead of inline ones; both mean the same, but the engine only reads inline definitions.
 */
function inlineEventDefinitionRefs(root: ModdleElement): void {
  walk(root, (el) => {
    const refs = el.eventDefinitionRef;
    if (!Array.isArray(refs) || !refs.length) return;
    const defs = (Array.isArray(el.eventDefinitions) ? el.eventDefinitions : (el.eventDefinitions = [])) as unknown[];
    for (const ref of refs as ModdleElement[]) {
      if (ref && typeof ref === 'object' && /EventDefinition$/.test(ref.$type) && !defs.includes(ref)) defs.push(ref);
    }
  });
  // Declared at the top they would load as elements of their own, which the engine cannot run.
  if (Array.isArray(root.rootElements)) {
    root.rootElements = (root.rootElements as ModdleElement[]).filter((el) => !/EventDefinition$/.test(el.$type));
  }
}

/**
 * `incoming`/`outgoing` are derived data in BPMN; modelers write them, hand-written XML often does
 * not. Fill them from the sequence flows so lint rules see the real graph.
 */
function deriveFlowReferences(root: ModdleElement): void {
  walk(root, (el) => {
    if (el.$type !== 'bpmn:SequenceFlow') return;
    const link = (node: unknown, key: 'incoming' | 'outgoing') => {
      if (!node || typeof node !== 'object') return;
      const n = node as ModdleElement;
      const list = (Array.isArray(n[key]) ? n[key] : (n[key] = [])) as unknown[];
      if (!list.includes(el)) list.push(el);
    };
    link(el.sourceRef, 'outgoing');
    link(el.targetRef, 'incoming');
  });
}

function isFlowNode(el: ModdleElement): boolean {
  return /Task$|Event$|Gateway$|SubProcess$|^bpmn:Transaction$|^bpmn:CallActivity$/.test(el.$type);
}

function asArray(v: unknown): ModdleElement[] {
  return Array.isArray(v) ? (v as ModdleElement[]) : [];
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}
