import { createRequire } from 'node:module';
import type { ModdleElement, Problem } from './compile.js';
import { isFeel } from './expressions.js';

/**
 * Structural rules of BPMN 2.0 that a model must satisfy before it can run, checked on the parsed
 * moddle tree: which triggers each kind of event may have, where sequence flows may start and end,
 * gateway and timer well-formedness. Each rule is the spec's; none is about a particular diagram.
 */

const require = createRequire(import.meta.url);
// The ISO 8601 parser bpmn-elements itself uses for timers, so deploy accepts exactly what runs.
const piso = createRequire(require.resolve('bpmn-elements'))('@0dep/piso') as {
  ISOInterval: new (source: string) => { parse(): { getExpireAt(start: Date, now: Date): Date } };
  getDate(source: string): Date;
};

type Trigger = 'Message' | 'Timer' | 'Conditional' | 'Signal' | 'Error' | 'Escalation' | 'Compensate' | 'Cancel' | 'Terminate' | 'Link';

/** BPMN 2.0, section 10.5: the triggers (catching) and results (throwing) each event kind allows. */
const ALLOWED: Record<string, Trigger[]> = {
  start: ['Message', 'Timer', 'Conditional', 'Signal'],
  eventSubProcessStart: ['Message', 'Timer', 'Conditional', 'Signal', 'Error', 'Escalation', 'Compensate'],
  'bpmn:IntermediateCatchEvent': ['Message', 'Timer', 'Conditional', 'Link', 'Signal'],
  'bpmn:IntermediateThrowEvent': ['Message', 'Escalation', 'Link', 'Signal', 'Compensate'],
  'bpmn:EndEvent': ['Message', 'Error', 'Escalation', 'Cancel', 'Compensate', 'Signal', 'Terminate'],
  'bpmn:BoundaryEvent': ['Message', 'Timer', 'Error', 'Escalation', 'Cancel', 'Compensate', 'Conditional', 'Signal'],
};

const CONTAINER = /^bpmn:(Process|SubProcess|Transaction|AdHocSubProcess)$/;
const ACTIVITY = /Task$|SubProcess$|^bpmn:Transaction$|^bpmn:CallActivity$/;
const GATEWAY = /Gateway$/;

export function checkStructure(root: ModdleElement): Problem[] {
  const problems: Problem[] = [];
  const error = (el: ModdleElement | undefined, message: string) => {
    problems.push({ elementId: el?.id ?? null, message, source: 'model', severity: 'error' });
  };

  // Every flow element with the process or sub-process that contains it.
  const containerOf = new Map<ModdleElement, ModdleElement>();
  const visit = (container: ModdleElement) => {
    for (const el of list(container.flowElements)) {
      containerOf.set(el, container);
      if (CONTAINER.test(el.$type)) visit(el);
    }
  };
  for (const el of list(root.rootElements)) if (el.$type === 'bpmn:Process') visit(el);

  const incoming = new Map<ModdleElement, ModdleElement[]>();
  const outgoing = new Map<ModdleElement, ModdleElement[]>();
  const add = (map: Map<ModdleElement, ModdleElement[]>, key: ModdleElement, flow: ModdleElement) => {
    const entry = map.get(key);
    if (entry) entry.push(flow);
    else map.set(key, [flow]);
  };
  for (const [flow, container] of containerOf) {
    if (flow.$type !== 'bpmn:SequenceFlow') continue;
    const source = ref(flow.sourceRef);
    const target = ref(flow.targetRef);
    if (source) add(outgoing, source, flow);
    if (target) add(incoming, target, flow);
    const notNode = [source, target].find((n) => n && !/Task$|SubProcess$|^bpmn:Transaction$|^bpmn:CallActivity$|Event$|Gateway$/.test(n.$type));
    if (notNode) {
      error(flow, `a sequence flow connects activities, events and gateways, not ${notNode.$type.replace(/^bpmn:/, '').replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase()} ${notNode.id ?? ''}`.trim());
    } else if ((source && containerOf.get(source) !== container) || (target && containerOf.get(target) !== container)) {
      error(flow, 'a sequence flow must connect elements of the process or sub-process it belongs to; it cannot cross a sub-process boundary');
    }
  }
  // incoming/outgoing are optional in the XML, but when written they must agree with the flows.
  for (const el of containerOf.keys()) {
    for (const f of list(el.incoming)) {
      if (f.$type === 'bpmn:SequenceFlow' && ref(f.targetRef) !== el) error(el, `lists ${f.id ?? 'a sequence flow'} as incoming, but that flow does not lead to it`);
    }
    for (const f of list(el.outgoing)) {
      if (f.$type === 'bpmn:SequenceFlow' && ref(f.sourceRef) !== el) error(el, `lists ${f.id ?? 'a sequence flow'} as outgoing, but that flow does not start from it`);
    }
  }
  const inOf = (el: ModdleElement) => incoming.get(el) ?? [];
  const outOf = (el: ModdleElement) => outgoing.get(el) ?? [];

  for (const [el, container] of containerOf) {
    const type = el.$type;
    if (/Event$/.test(type)) checkEvent(el, container);
    if (GATEWAY.test(type)) checkGateway(el);
    if (ACTIVITY.test(type)) checkActivity(el);
  }

  function checkEvent(el: ModdleElement, container: ModdleElement): void {
    for (const r of list(el.eventDefinitionRef)) {
      if (!/EventDefinition$/.test(r.$type)) error(el, `eventDefinitionRef ${r.id ?? ''} does not name an event definition`.replace('  ', ' '));
    }
    const triggers = list(el.eventDefinitions).filter((d) => /EventDefinition$/.test(d.$type))
      .map((d) => d.$type.replace(/^bpmn:/, '').replace(/EventDefinition$/, '') as Trigger);
    const inEventSubProcess = container.$type === 'bpmn:SubProcess' && container.triggeredByEvent === true;
    let allowedKey: string | undefined = el.$type;
    if (el.$type === 'bpmn:StartEvent') allowedKey = container.$type === 'bpmn:Process' ? 'start' : inEventSubProcess ? 'eventSubProcessStart' : undefined;
    const allowed = allowedKey ? ALLOWED[allowedKey] : undefined;
    const kind = describe(el, inEventSubProcess);
    if (allowed) {
      for (const t of triggers) if (!allowed.includes(t)) error(el, `${kind} cannot have ${article(t.toLowerCase())} event definition`);
    }
    if (el.parallelMultiple === true && triggers.length > 1) {
      // bpmn-elements continues on the first trigger: a model that waits for all of them would be run wrongly.
      error(el, 'parallel multiple events (waiting for all of their triggers) are not supported');
    }
    if (!triggers.length && (el.$type === 'bpmn:IntermediateCatchEvent' || el.$type === 'bpmn:BoundaryEvent')) {
      error(el, `${kind} needs an event definition (what it waits for)`);
    }

    switch (el.$type) {
      case 'bpmn:StartEvent':
        if (inOf(el).length) error(el, 'a start event cannot have incoming sequence flows');
        if (inEventSubProcess && el.isInterrupting === false && triggers.some((t) => t === 'Error' || t === 'Compensate')) {
          error(el, `${triggers.includes('Error') ? 'an error' : 'a compensation'} start event of an event sub-process must be interrupting`);
        }
        break;
      case 'bpmn:EndEvent':
        if (outOf(el).length) error(el, 'an end event cannot have outgoing sequence flows');
        if (triggers.includes('Cancel') && !insideTransaction(container)) error(el, 'a cancel end event is only allowed inside a transaction');
        break;
      case 'bpmn:BoundaryEvent': {
        const host = ref(el.attachedToRef);
        if (!host) error(el, 'a boundary event must be attached to an activity (attachedToRef)');
        else if (!ACTIVITY.test(host.$type)) error(el, `a boundary event can only be attached to an activity, not to ${host.$type.replace(/^bpmn:/, '')} ${host.id ?? ''}`.trim());
        if (inOf(el).length) error(el, 'a boundary event cannot have incoming sequence flows');
        if (!triggers.includes('Compensate') && !outOf(el).length) error(el, 'a boundary event needs an outgoing sequence flow');
        if (triggers.includes('Compensate') && outOf(el).length) error(el, 'a compensation boundary event is linked to its compensation activity by an association, it cannot have outgoing sequence flows');
        if (el.cancelActivity === false && triggers.some((t) => t === 'Error' || t === 'Cancel' || t === 'Compensate')) {
          error(el, `${article(triggers.find((t) => t === 'Error' || t === 'Cancel' || t === 'Compensate')!.toLowerCase())} boundary event is always interrupting (cancelActivity cannot be false)`);
        }
        if (triggers.includes('Cancel') && host && host.$type !== 'bpmn:Transaction') error(el, 'a cancel boundary event can only be attached to a transaction');
        break;
      }
      case 'bpmn:IntermediateCatchEvent':
        if (triggers.includes('Link') && inOf(el).length) error(el, 'a link catch event cannot have incoming sequence flows');
        break;
      case 'bpmn:IntermediateThrowEvent':
        if (triggers.includes('Link') && outOf(el).length) error(el, 'a link throw event cannot have outgoing sequence flows');
        break;
    }

    for (const def of list(el.eventDefinitions)) checkEventDefinition(el, def);
  }

  function checkEventDefinition(el: ModdleElement, def: ModdleElement): void {
    const throwing = el.$type === 'bpmn:EndEvent' || el.$type === 'bpmn:IntermediateThrowEvent';
    switch (def.$type) {
      case 'bpmn:TimerEventDefinition': {
        const set = (['timeDate', 'timeDuration', 'timeCycle'] as const).filter((k) => def[k]);
        if (set.length !== 1) {
          error(el, set.length ? `a timer has exactly one of timeDate, timeDuration and timeCycle, not ${set.join(' and ')}` : 'a timer needs a timeDate, timeDuration or timeCycle');
          break;
        }
        const body = text((def[set[0]!] as ModdleElement).body);
        if (!body) error(el, `the timer's ${set[0]} is empty`);
        else {
          const problem = checkTimerValue(set[0]!, body);
          if (problem) error(el, problem);
        }
        break;
      }
      case 'bpmn:ConditionalEventDefinition': {
        const body = text((def.condition as ModdleElement | undefined)?.body);
        if (!body) error(el, 'a conditional event needs a condition');
        else if (!isExpression(body)) error(el, `condition "${body}" must be FEEL ("=…") or a \${variable}`);
        break;
      }
      case 'bpmn:ErrorEventDefinition':
        if (el.$type === 'bpmn:EndEvent') {
          const err = ref(def.errorRef);
          if (!err) error(el, 'an error end event must name the error it throws (errorRef)');
          else if (!text(err.errorCode)) error(el, `the error ${err.id ?? ''} thrown by an end event needs an errorCode`.replace('  ', ' '));
        }
        break;
      case 'bpmn:EscalationEventDefinition':
        if (throwing) {
          const esc = ref(def.escalationRef);
          if (!esc) error(el, 'an escalation throw event must name the escalation it throws (escalationRef)');
          else if (!text(esc.escalationCode)) error(el, `the escalation ${esc.id ?? ''} thrown by an event needs an escalationCode`.replace('  ', ' '));
        }
        break;
    }
  }

  function checkGateway(el: ModdleElement): void {
    const ins = inOf(el);
    const outs = outOf(el);
    const name = el.$type.replace(/^bpmn:/, '').replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
    if (!outs.length) error(el, `${article(name)} needs an outgoing sequence flow`);
    if (!ins.length && !(el.$type === 'bpmn:EventBasedGateway' && el.instantiate === true)) error(el, `${article(name)} needs an incoming sequence flow`);
    switch (el.gatewayDirection) {
      case 'Diverging':
        if (ins.length > 1) error(el, `a diverging gateway has one incoming sequence flow, not ${ins.length}`);
        break;
      case 'Converging':
        if (outs.length > 1) error(el, `a converging gateway has one outgoing sequence flow, not ${outs.length}`);
        break;
      case 'Mixed':
        if (ins.length < 2 || outs.length < 2) error(el, 'a mixed gateway has several incoming and several outgoing sequence flows');
        break;
    }
    const dflt = ref(el.default);
    if (dflt && !outs.includes(dflt)) error(el, `the default flow ${dflt.id ?? ''} does not leave this gateway`);
    if (el.$type === 'bpmn:ExclusiveGateway' || el.$type === 'bpmn:InclusiveGateway') {
      // As bpmnlint's conditional-flows, for gateways: once the split is conditional, every path needs a condition.
      if (dflt || outs.some((f) => f.conditionExpression)) {
        for (const f of outs) if (f !== dflt && !f.conditionExpression) error(f, 'Sequence flow is missing condition (a conditional gateway split needs a condition on every flow but the default)');
      }
    }
    if (el.$type === 'bpmn:EventBasedGateway') {
      for (const f of outs) {
        const target = ref(f.targetRef);
        if (!target) continue;
        const ok = target.$type === 'bpmn:ReceiveTask' ||
          (target.$type === 'bpmn:IntermediateCatchEvent' && list(target.eventDefinitions).length > 0 &&
            list(target.eventDefinitions).every((d) => /^bpmn:(Message|Timer|Signal|Conditional)EventDefinition$/.test(d.$type)));
        if (!ok) error(f, 'an event-based gateway can only lead to message, timer, signal or conditional catch events and receive tasks');
      }
    }
  }

  function checkActivity(el: ModdleElement): void {
    if (el.isForCompensation === true && (inOf(el).length || outOf(el).length)) {
      error(el, 'a compensation activity is linked by an association, it cannot have sequence flows');
    }
    if (el.$type === 'bpmn:SubProcess' && el.triggeredByEvent === true) {
      if (inOf(el).length || outOf(el).length) error(el, 'an event sub-process cannot have incoming or outgoing sequence flows');
      const starts = list(el.flowElements).filter((f) => f.$type === 'bpmn:StartEvent');
      if (starts.length !== 1) error(el, `an event sub-process has exactly one start event, not ${starts.length}`);
    }
    for (const q of ['startQuantity', 'completionQuantity'] as const) {
      const n = el[q];
      if (typeof n !== 'number') continue;
      if (n < 1) error(el, `${q} must be at least 1`);
      else if (n !== 1) error(el, `${q} other than 1 is not supported`);
    }
    const loop = el.loopCharacteristics as ModdleElement | undefined;
    if (loop?.$type === 'bpmn:MultiInstanceLoopCharacteristics') {
      const cardinality = text((loop.loopCardinality as ModdleElement | undefined)?.body);
      if (cardinality && !isExpression(cardinality) && !/^\d+$/.test(cardinality)) {
        error(el, `loop cardinality "${cardinality}" must be a non-negative whole number or an expression`);
      }
      const completion = text((loop.completionCondition as ModdleElement | undefined)?.body);
      if (completion && !isExpression(completion)) error(el, `completion condition "${completion}" must be FEEL ("=…") or a \${variable}`);
    }
    if (loop?.$type === 'bpmn:StandardLoopCharacteristics' && typeof loop.loopMaximum === 'number' && loop.loopMaximum < 0) {
      error(el, 'loopMaximum cannot be negative');
    }
  }

  function insideTransaction(container: ModdleElement | undefined): boolean {
    for (let c = container; c; c = containerOf.get(c)) if (c.$type === 'bpmn:Transaction') return true;
    return false;
  }

  return problems;
}

/** A literal timer value must parse as the engine will parse it; expressions are checked elsewhere. */
export function checkTimerValue(kind: 'timeDate' | 'timeDuration' | 'timeCycle', value: string): string | undefined {
  if (isExpression(value)) return undefined;
  try {
    const ok = kind === 'timeDate'
      ? !Number.isNaN(piso.getDate(value).getTime())
      : !Number.isNaN(new piso.ISOInterval(value).parse().getExpireAt(new Date(), new Date()).getTime());
    if (ok) return undefined;
  } catch {
    // reported below
  }
  const expected = kind === 'timeDate' ? 'an ISO 8601 date-time' : kind === 'timeDuration' ? 'an ISO 8601 duration such as PT10M' : 'an ISO 8601 repeating interval such as R3/PT1H';
  return `${kind} "${value}" is not ${expected}`;
}

function article(noun: string): string {
  return `${/^[aeiou]/.test(noun) ? 'an' : 'a'} ${noun}`;
}

function isExpression(s: string): boolean {
  return isFeel(s) || s.includes('${');
}

function describe(el: ModdleElement, inEventSubProcess: boolean): string {
  switch (el.$type) {
    case 'bpmn:StartEvent': return inEventSubProcess ? 'the start event of an event sub-process' : 'a start event';
    case 'bpmn:EndEvent': return 'an end event';
    case 'bpmn:BoundaryEvent': return 'a boundary event';
    case 'bpmn:IntermediateCatchEvent': return 'an intermediate catch event';
    case 'bpmn:IntermediateThrowEvent': return 'an intermediate throw event';
    default: return el.$type.replace(/^bpmn:/, '');
  }
}

function list(v: unknown): ModdleElement[] {
  return Array.isArray(v) ? (v as ModdleElement[]) : [];
}

function ref(v: unknown): ModdleElement | undefined {
  return v && typeof v === 'object' && typeof (v as ModdleElement).$type === 'string' ? (v as ModdleElement) : undefined;
}

function text(v: unknown): string | null {
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : null;
}
