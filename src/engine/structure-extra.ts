import type { ModdleElement, Problem } from './compile.js';

/**
 * More structural rules of BPMN 2.0 (the spec's constraints, as BPMNspector numbers them EXT.nnn):
 * collaborations and message flows, data inputs/outputs and their sets, event-based gateway
 * configurations, start/end completeness, attribute values. Each problem names its element.
 */
export function checkDefinitionsStructure(root: ModdleElement): Problem[] {
  const problems: Problem[] = [];
  const error = (el: ModdleElement | undefined, message: string) => {
    problems.push({ elementId: el?.id ?? null, message, source: 'model', severity: 'error' });
  };
  const warn = (el: ModdleElement | undefined, message: string) => {
    problems.push({ elementId: el?.id ?? null, message, source: 'model', severity: 'warning' });
  };
  const roots = list(root.rootElements);
  const processes = roots.filter((e) => e.$type === 'bpmn:Process');

  // Which process (pool) every flow node belongs to, and the flows around each node.
  const processOf = new Map<ModdleElement, ModdleElement>();
  const containerOf = new Map<ModdleElement, ModdleElement>();
  const incoming = new Map<ModdleElement, ModdleElement[]>();
  const outgoing = new Map<ModdleElement, ModdleElement[]>();
  const containers: ModdleElement[] = [];
  const visit = (container: ModdleElement, proc: ModdleElement) => {
    containers.push(container);
    for (const el of list(container.flowElements)) {
      processOf.set(el, proc);
      containerOf.set(el, container);
      if (el.$type === 'bpmn:SequenceFlow') {
        push(outgoing, ref(el.sourceRef), el);
        push(incoming, ref(el.targetRef), el);
      }
      if (list(el.flowElements).length || /SubProcess$|^bpmn:Transaction$/.test(el.$type)) visit(el, proc);
    }
  };
  for (const p of processes) visit(p, p);
  const inOf = (el: ModdleElement) => incoming.get(el) ?? [];
  const outOf = (el: ModdleElement) => outgoing.get(el) ?? [];
  const boundaryOf = new Map<ModdleElement, ModdleElement[]>();
  for (const el of processOf.keys()) if (el.$type === 'bpmn:BoundaryEvent') push(boundaryOf, ref(el.attachedToRef), el);

  checkCollaborations();
  checkAttributes();
  checkFlowLists();
  checkReferenceTypes();
  for (const c of containers) checkCompleteness(c);
  for (const el of processOf.keys()) {
    if (el.$type === 'bpmn:EventBasedGateway') checkEventGateway(el);
    if (isActivity(el)) checkActivityData(el);
    if (/Event$/.test(el.$type)) checkEventData(el);
  }
  for (const p of processes) checkProcessData(p);
  checkEventDefinitionReuse();
  checkCompensationAssociations();
  checkMessageRefs();
  checkResourceRoles();
  return problems;

  function checkCollaborations(): void {
    for (const c of roots) {
      if (c.$type === 'bpmn:GlobalConversation') {
        for (const k of ['conversations', 'participantAssociations', 'messageFlowAssociations', 'conversationAssociations', 'artifacts']) {
          if (list(c[k]).length) error(c, `a global conversation cannot contain ${k.replace(/([A-Z])/g, ' $1').toLowerCase()}`);
        }
      }
      if ((c.$type === 'bpmn:Choreography' || c.$type === 'bpmn:GlobalConversation') && list(c.choreographyRef).length) {
        error(c, `a ${c.$type === 'bpmn:Choreography' ? 'choreography' : 'global conversation'} cannot reference a choreography (choreographyRef)`);
      }
      if (!/^bpmn:(Collaboration|Choreography|GlobalConversation)$/.test(c.$type)) continue;
      for (const p of list(c.participants)) {
        const m = p.participantMultiplicity as ModdleElement | undefined;
        if (!m) continue;
        const min = typeof m.minimum === 'number' ? m.minimum : 0;
        const max = typeof m.maximum === 'number' ? m.maximum : 1;
        if (min < 0) error(p, `the participant multiplicity's minimum cannot be negative (${min})`);
        else if (max < 1 || max < min) error(p, `the participant multiplicity's maximum must be at least 1 and at least the minimum (${min}..${max})`);
      }
      for (const f of list(c.messageFlows)) checkMessageFlow(f, c);
    }
  }

  function poolOf(node: ModdleElement, collaboration: ModdleElement): ModdleElement | undefined {
    if (node.$type === 'bpmn:Participant') return node;
    const proc = processOf.get(node);
    return list(collaboration.participants).find((p) => ref(p.processRef) === proc);
  }

  function checkMessageFlow(f: ModdleElement, collaboration: ModdleElement): void {
    const source = ref(f.sourceRef);
    const target = ref(f.targetRef);
    for (const [end, role] of [[source, 'source'], [target, 'target']] as const) {
      if (!end) continue;
      const interaction = end.$type === 'bpmn:Participant' || isActivity(end) || /Event$/.test(end.$type);
      if (!interaction) error(f, `a message flow's ${role} must be a pool, an activity or an event, not ${describeType(end)} ${end.id ?? ''}`.trim());
    }
    if (!source || !target) return;
    const a = poolOf(source, collaboration);
    const b = poolOf(target, collaboration);
    if (a && b && a === b) error(f, `a message flow must connect two different pools; ${source.id} and ${target.id} are both in ${a.id}`);
    if (source.$type === 'bpmn:StartEvent') error(f, `a start event (${source.id}) cannot be the source of a message flow`);
    if (target.$type === 'bpmn:EndEvent') error(f, `an end event (${target.id}) cannot be the target of a message flow`);
    if (target.$type === 'bpmn:IntermediateThrowEvent') error(f, `an intermediate throw event (${target.id}) cannot be the target of a message flow`);
    if (source.$type === 'bpmn:IntermediateCatchEvent' || source.$type === 'bpmn:BoundaryEvent') error(f, `a catch event (${source.id}) cannot be the source of a message flow`);
    if (target.$type === 'bpmn:StartEvent' && !hasTrigger(target, 'Message')) error(f, `the start event ${target.id} is the target of a message flow, so it needs a message event definition`);
    if (source.$type === 'bpmn:EndEvent' && !hasTrigger(source, 'Message')) error(f, `the end event ${source.id} is the source of a message flow, so it needs a message event definition`);
  }

  function checkAttributes(): void {
    walk(root, (el) => {
      if (typeof el.textFormat === 'string' && !/^[\w.+-]+\/[\w.+-]+$/.test(el.textFormat)) {
        error(owner(el), `textFormat "${el.textFormat}" is not a MIME type (such as text/plain)`);
      }
      if (el.$type === 'bpmn:Process' && el.processType === 'Public' && el.isExecutable === true) error(el, 'a public process cannot be executable');
      if (el.$type === 'bpmn:SequenceFlow' && el.isImmediate === false && processOf.has(el) && processOf.get(el)!.isExecutable === true) {
        error(el, 'isImmediate="false" is not allowed in an executable process');
      }
      if (el.$type === 'bpmn:ScriptTask' && typeof el.scriptFormat === 'string' && !/^[\w.+-]+\/[\w.+-]+$|^[\w.+-]+$/.test(el.scriptFormat)) {
        error(el, `scriptFormat "${el.scriptFormat}" is not a MIME type`);
      }
      if (/^bpmn:(ChoreographyTask|SubChoreography|CallChoreography)$/.test(el.$type) && processOf.has(el)) {
        error(el, `a ${containerOf.get(el)?.$type === 'bpmn:Process' ? 'process' : 'sub-process'} cannot contain choreography activities`);
      }
      if (el.$type === 'bpmn:Collaboration') {
        for (const c of list(el.choreographyRef)) {
          if ((c.isClosed === true) !== (el.isClosed === true)) error(el, `the collaboration and the choreography ${c.id} it references must agree on isClosed`);
        }
      }
      if (el.$type === 'bpmn:SubProcess' || el.$type === 'bpmn:Transaction' || el.$type === 'bpmn:AdHocSubProcess') {
        if (el.ioSpecification) error(el, 'a sub-process cannot have an ioSpecification (data inputs and outputs belong to tasks and processes)');
      }
      if (el.$type === 'bpmn:AdHocSubProcess' && !list(el.flowElements).some(isActivity)) error(el, 'an ad-hoc sub-process must contain at least one activity');
      const loop = el.loopCharacteristics as ModdleElement | undefined;
      if (loop?.$type === 'bpmn:MultiInstanceLoopCharacteristics' && isActivity(el) && !loop.loopCardinality && !loop.loopDataInputRef) {
        error(el, 'a multi-instance activity needs a loopCardinality or a loopDataInputRef');
      }
      if (loop?.$type === 'bpmn:MultiInstanceLoopCharacteristics' && ref(loop.loopDataInputRef)) {
        const input = ref(loop.loopDataInputRef)!;
        const io = el.ioSpecification as ModdleElement | undefined;
        const inputs = [...list(io?.dataInputs), ...list((processOf.get(el)?.ioSpecification as ModdleElement | undefined)?.dataInputs)];
        if (input.$type === 'bpmn:DataInput' && !inputs.includes(input)) error(el, `loopDataInputRef ${input.id} is not a data input of the activity's or the process's ioSpecification`);
      }
      if (el.$type === 'bpmn:ReceiveTask' && el.instantiate === true && inOf(el).length) error(el, 'a receive task that instantiates the process (instantiate="true") cannot have incoming sequence flows');
      if (isActivity(el) && outOf(el).length === 1 && outOf(el)[0]!.conditionExpression && !ref(el.default)) {
        error(outOf(el)[0], 'an activity\'s only outgoing sequence flow cannot be conditional');
      }
      if (el.$type === 'bpmn:ResourceParameterBinding') {
        const param = ref(el.parameterRef);
        const role = el.$parent as ModdleElement | undefined;
        const resource = ref(role?.resourceRef);
        if (param && resource && !list(resource.resourceParameters).includes(param)) {
          error(role, `the resource parameter ${param.id} is not a parameter of the resource ${resource.id}`);
        }
      }
    });
  }

  /** BPMN 10.5.2/10.5.3: once a level uses start (end) events, every flow node is reached from (leads to) one. */
  function checkCompleteness(container: ModdleElement): void {
    const nodes = list(container.flowElements).filter((e) => e.$type !== 'bpmn:SequenceFlow' && isFlowNode(e));
    const starts = nodes.filter((e) => e.$type === 'bpmn:StartEvent');
    const ends = nodes.filter((e) => e.$type === 'bpmn:EndEvent');
    const adHoc = container.$type === 'bpmn:AdHocSubProcess';
    if (adHoc) return;
    const eventSub = container.triggeredByEvent === true;
    if (ends.length && !starts.length && !eventSub && !receivesInstantiate(nodes)) {
      error(container, `${container.$type === 'bpmn:Process' ? 'the process' : 'the sub-process'} uses end events, so it needs a start event`);
    }
    if (starts.length && !ends.length) error(container, `${container.$type === 'bpmn:Process' ? 'the process' : 'the sub-process'} uses start events, so it needs an end event`);
    for (const n of nodes) {
      const exempt = n.isForCompensation === true || n.triggeredByEvent === true || n.$type === 'bpmn:BoundaryEvent';
      if (exempt) continue;
      if (n.$type === 'bpmn:StartEvent' && !outOf(n).length) error(n, 'a start event needs an outgoing sequence flow');
      if (n.$type === 'bpmn:EndEvent' && !inOf(n).length) error(n, 'an end event needs an incoming sequence flow');
      const link = hasTrigger(n, 'Link');
      if (n.$type === 'bpmn:IntermediateCatchEvent' || n.$type === 'bpmn:IntermediateThrowEvent') {
        const catchLink = link && n.$type === 'bpmn:IntermediateCatchEvent';
        const throwLink = link && n.$type === 'bpmn:IntermediateThrowEvent';
        if (!catchLink && !inOf(n).length && !isEventGatewayTarget(n)) error(n, 'an intermediate event needs an incoming sequence flow');
        if (!throwLink && !outOf(n).length) error(n, 'an intermediate event needs an outgoing sequence flow');
        continue;
      }
      if (n.$type === 'bpmn:StartEvent' || n.$type === 'bpmn:EndEvent') continue;
      if (starts.length && !inOf(n).length && !(n.$type === 'bpmn:EventBasedGateway' && n.instantiate === true) && !(n.$type === 'bpmn:ReceiveTask' && n.instantiate === true)) {
        error(n, 'this level uses start events, so every flow node needs an incoming sequence flow');
      }
      if (ends.length && !outOf(n).length) error(n, 'this level uses end events, so every flow node needs an outgoing sequence flow');
    }
  }

  function isEventGatewayTarget(n: ModdleElement): boolean {
    return inOf(n).some((f) => ref(f.sourceRef)?.$type === 'bpmn:EventBasedGateway');
  }

  function checkEventGateway(gw: ModdleElement): void {
    const targets = outOf(gw).map((f) => ref(f.targetRef)).filter((t): t is ModdleElement => !!t);
    for (const f of outOf(gw)) if (f.conditionExpression) error(f, 'a sequence flow leaving an event-based gateway cannot have a condition');
    if (targets.some((t) => t.$type === 'bpmn:ReceiveTask') && targets.some((t) => hasTrigger(t, 'Message'))) {
      error(gw, 'an event-based gateway cannot lead to both receive tasks and message catch events');
    }
    for (const t of targets) {
      if (t.$type === 'bpmn:ReceiveTask' && (boundaryOf.get(t) ?? []).length) error(t, 'a receive task after an event-based gateway cannot have boundary events');
      if (inOf(t).length > 1) error(t, 'the target of an event-based gateway cannot have other incoming sequence flows');
    }
    if (gw.instantiate === true && inOf(gw).length) error(gw, 'an event-based gateway that instantiates the process cannot have incoming sequence flows');
  }

  function checkIoSpecification(owner: ModdleElement, io: ModdleElement): void {
    const inputs = list(io.dataInputs);
    const outputs = list(io.dataOutputs);
    const inputSets = list(io.inputSets);
    const outputSets = list(io.outputSets);
    for (const d of inputs) if (!inputSets.some((s) => list(s.dataInputRefs).includes(d))) error(d, `the data input ${d.id} is in no input set`);
    for (const d of outputs) if (!outputSets.some((s) => list(s.dataOutputRefs).includes(d))) error(d, `the data output ${d.id} is in no output set`);
    for (const s of inputSets) {
      const refs = list(s.dataInputRefs);
      for (const k of ['optionalInputRefs', 'whileExecutingInputRefs']) {
        for (const d of list(s[k])) if (!refs.includes(d)) error(s.id ? s : owner, `${k.replace(/Refs$/, '')} ${d.id} of an input set must also be one of its dataInputRefs`);
      }
      for (const o of list(s.outputSetRefs)) if (!list(o.inputSetRefs).includes(s)) error(s.id ? s : owner, `the input set refers to output set ${o.id}, which does not refer back to it`);
    }
    for (const s of outputSets) {
      const refs = list(s.dataOutputRefs);
      for (const k of ['optionalOutputRefs', 'whileExecutingOutputRefs']) {
        for (const d of list(s[k])) if (!refs.includes(d)) error(s.id ? s : owner, `${k.replace(/Refs$/, '')} ${d.id} of an output set must also be one of its dataOutputRefs`);
      }
      for (const i of list(s.inputSetRefs)) if (!list(i.outputSetRefs).includes(s)) error(s.id ? s : owner, `the output set refers to input set ${i.id}, which does not refer back to it`);
    }
    for (const d of [...inputs, ...outputs]) checkCollection(d);
  }

  function checkCollection(d: ModdleElement): void {
    const item = ref(d.itemSubjectRef);
    if (!item) return;
    const declared = d.isCollection === true;
    const typed = item.isCollection === true;
    if (declared !== typed) error(d, `isCollection="${declared}" does not match the item definition ${item.id} (isCollection="${typed}")`);
  }

  function checkProcessData(p: ModdleElement): void {
    const io = p.ioSpecification as ModdleElement | undefined;
    if (io) checkIoSpecification(p, io);
    walk(p, (el) => {
      if (el.$type === 'bpmn:DataObject' || el.$type === 'bpmn:Property') checkCollection(el);
      if (el.$type === 'bpmn:DataOutputAssociation') {
        const target = ref(el.targetRef);
        if (target?.$type === 'bpmn:DataInput') error(owner(el), `a data output association cannot write to the data input ${target.id}`);
      }
      if (el.$type === 'bpmn:DataInputAssociation') {
        const sources = list(el.sourceRef);
        if (sources.some((s) => s.$type === 'bpmn:DataOutput')) error(owner(el), 'a data input association cannot read from a data output');
      }
      if (el.$type === 'bpmn:DataInputAssociation' || el.$type === 'bpmn:DataOutputAssociation') {
        const sources = list(el.sourceRef);
        const target = ref(el.targetRef);
        if (!el.transformation && sources.length > 1) error(owner(el), 'a data association without a transformation has a single sourceRef');
        if (!el.transformation && sources.length === 1 && target) {
          const a = itemOf(sources[0]!);
          const b = itemOf(target);
          if (a && b && a !== b && a.structureRef !== b.structureRef) error(owner(el), `the data association connects different item definitions (${a.id}, ${b.id}) without a transformation`);
        }
      }
    });
  }

  function itemOf(el: ModdleElement): ModdleElement | undefined {
    const direct = ref(el.itemSubjectRef);
    if (direct) return direct;
    const object = ref(el.dataObjectRef);
    return object ? ref(object.itemSubjectRef) : undefined;
  }

  function checkActivityData(el: ModdleElement): void {
    const io = el.ioSpecification as ModdleElement | undefined;
    if (io) checkIoSpecification(el, io);
    const operation = ref(el.operationRef);
    if (el.$type === 'bpmn:ServiceTask' && operation) {
      if (!io || list(io.inputSets).length !== 1) error(el, 'a service task that references an operation has exactly one input set');
      if (io && list(io.outputSets).length > 1) error(el, 'a service task that references an operation has at most one output set');
      const inItem = ref(ref(operation.inMessageRef)?.itemRef);
      const outItem = ref(ref(operation.outMessageRef)?.itemRef);
      const input = list(io?.dataInputs)[0];
      const output = list(io?.dataOutputs)[0];
      if (inItem && input && !sameItem(ref(input.itemSubjectRef), inItem)) error(el, `the data input ${input.id} does not carry the item of operation ${operation.id}'s in-message`);
      if (outItem && output && !sameItem(ref(output.itemSubjectRef), outItem)) error(el, `the data output ${output.id} does not carry the item of operation ${operation.id}'s out-message`);
    }
    const message = ref(el.messageRef);
    if ((el.$type === 'bpmn:SendTask' || el.$type === 'bpmn:ReceiveTask') && message && io) {
      const send = el.$type === 'bpmn:SendTask';
      const sets = list(send ? io.inputSets : io.outputSets);
      const data = list(send ? io.dataInputs : io.dataOutputs);
      if (sets.length > 1) error(el, `a ${send ? 'send' : 'receive'} task that references a message has at most one ${send ? 'input' : 'output'} set`);
      if (data.length > 1) error(el, `a ${send ? 'send' : 'receive'} task that references a message has at most one data ${send ? 'input' : 'output'}`);
      const item = ref(message.itemRef);
      if (data.length === 1 && item && !sameItem(ref(data[0]!.itemSubjectRef), item)) error(el, `the data ${send ? 'input' : 'output'} ${data[0]!.id} does not carry the item of message ${message.id}`);
    }
    if (el.$type === 'bpmn:CallActivity') {
      const called = ref(el.calledElementRef) ?? processes.find((p) => p.id === el.calledElement);
      const mine = el.ioSpecification as ModdleElement | undefined;
      const theirs = called?.ioSpecification as ModdleElement | undefined;
      if (mine && theirs) {
        for (const [k, what] of [['dataInputs', 'input'], ['dataOutputs', 'output']] as const) {
          const a = list(mine[k]);
          const b = list(theirs[k]);
          if (a.length !== b.length) error(el, `the call activity has ${a.length} data ${what}(s), the called ${called!.id} ${b.length}: they must match`);
          else a.forEach((d, i) => {
            const x = ref(d.itemSubjectRef);
            const y = ref(b[i]!.itemSubjectRef);
            if (x && y && !sameItem(x, y)) error(el, `the call activity's data ${what} ${d.id} carries another item than ${b[i]!.id} of ${called!.id}`);
          });
        }
      }
      if (called?.$type === 'bpmn:Process' && !list(called.flowElements).some((f) => f.$type === 'bpmn:StartEvent' && !list(f.eventDefinitions).length)) {
        error(el, `the called process ${called.id} has no none start event`);
      }
    }
  }

  function sameItem(a: ModdleElement | undefined, b: ModdleElement): boolean {
    return !!a && (a === b || (!!a.structureRef && a.structureRef === b.structureRef && a.isCollection === b.isCollection));
  }

  /** BPMN 10.5.1: the data inputs of a throw event (outputs of a catch event) carry one item per event definition. */
  function checkEventData(el: ModdleElement): void {
    const throwing = el.$type === 'bpmn:EndEvent' || el.$type === 'bpmn:IntermediateThrowEvent';
    const data = list(throwing ? el.dataInputs : el.dataOutputs);
    const defs = list(el.eventDefinitions).filter((d) => /^bpmn:(Message|Signal|Error|Escalation)EventDefinition$/.test(d.$type));
    if (!data.length || !defs.length) return;
    if (data.length !== defs.length) {
      error(el, `the event has ${defs.length} event definition(s) but ${data.length} data ${throwing ? 'input' : 'output'}(s): one per event definition`);
      return;
    }
    defs.forEach((d, i) => {
      const target = ref(d.messageRef) ?? ref(d.signalRef) ?? ref(d.errorRef) ?? ref(d.escalationRef);
      const item = target ? ref(target.itemRef) ?? ref(target.structureRef) : undefined;
      const mine = ref(data[i]!.itemSubjectRef);
      if (item && mine && !sameItem(mine, item)) error(el, `the data ${throwing ? 'input' : 'output'} ${data[i]!.id} does not carry the item of ${target!.id}`);
    });
  }

  /** BPMN 10.5.1: an event definition a throw event uses belongs to that event alone. */
  function checkEventDefinitionReuse(): void {
    const users = new Map<ModdleElement, ModdleElement[]>();
    for (const el of processOf.keys()) {
      if (!/Event$/.test(el.$type)) continue;
      // Referenced definitions are inlined into eventDefinitions before these checks.
      for (const d of new Set([...list(el.eventDefinitions), ...list(el.eventDefinitionRef)])) push(users, d, el);
    }
    for (const [def, events] of users) {
      const thrower = events.find((e) => e.$type === 'bpmn:EndEvent' || e.$type === 'bpmn:IntermediateThrowEvent');
      if (thrower && events.length > 1) error(thrower, `the event definition ${def.id ?? ''} of a throw event cannot be used by other events too (${events.filter((e) => e !== thrower).map((e) => e.id).join(', ')})`);
    }
  }

  /**
   * incoming/outgoing are optional in the XML and Duban runs the sequence flows' own source and target.
   * A list that names a flow which does not start (or end) at that node contradicts the graph: refused.
   * A list that leaves a flow out is only incomplete — bpmn-js writes the lists of the elements an admin
   * touched and leaves the rest of a hand-written diagram alone — so that is a warning.
   */
  function checkFlowLists(): void {
    const nodes = [...processOf.keys()].filter((e) => e.$type !== 'bpmn:SequenceFlow');
    if (!nodes.some((n) => list(n.incoming).length || list(n.outgoing).length)) return;
    for (const n of nodes) {
      for (const f of list(n.outgoing)) if (f.$type === 'bpmn:SequenceFlow' && ref(f.sourceRef) !== n) error(n, `the sequence flow ${f.id} is listed as an outgoing flow here but starts elsewhere`);
      for (const f of list(n.incoming)) if (f.$type === 'bpmn:SequenceFlow' && ref(f.targetRef) !== n) error(n, `the sequence flow ${f.id} is listed as an incoming flow here but ends elsewhere`);
    }
    for (const f of processOf.keys()) {
      if (f.$type !== 'bpmn:SequenceFlow') continue;
      const source = ref(f.sourceRef);
      const target = ref(f.targetRef);
      if (source && !list(source.outgoing).includes(f)) warn(source, `the sequence flow ${f.id} starts here but is not listed as its outgoing flow`);
      if (target && !list(target.incoming).includes(f)) warn(target, `the sequence flow ${f.id} ends here but is not listed as its incoming flow`);
    }
  }

  /** A reference must name an element of the kind it expects (moddle resolves any id). */
  function checkReferenceTypes(): void {
    walk(root, (el) => {
      const descriptor = el.$descriptor as { properties?: Array<{ name: string; type: string; isReference?: boolean; isMany?: boolean }> } | undefined;
      if (!/^bpmn:/.test(el.$type)) return;
      for (const p of descriptor?.properties ?? []) {
        if (!p.isReference || !/^bpmn:/.test(p.type)) continue;
        for (const v of p.isMany ? list(el[p.name]) : [ref(el[p.name])]) {
          const target = v as (ModdleElement & { $instanceOf?: (t: string) => boolean }) | undefined;
          if (!target?.$instanceOf || target.$instanceOf(p.type)) continue;
          error(owner(el), `${p.name} names ${target.id ?? 'an element'}, which is ${describeType(target)}, not ${describeType({ $type: p.type })}`);
        }
      }
    });
  }

  function checkMessageRefs(): void {
    for (const el of processOf.keys()) {
      if (processOf.get(el)!.isExecutable !== true) continue;
      for (const d of list(el.eventDefinitions)) {
        if (d.$type === 'bpmn:MessageEventDefinition' && !ref(d.messageRef)) error(el, 'a message event in an executable process must name its message (messageRef)');
      }
    }
  }

  function checkResourceRoles(): void {
    walk(root, (el) => {
      if (!('resourceAssignmentExpression' in el) && !('resourceParameterBindings' in el)) return;
      const bindings = list(el.resourceParameterBindings);
      if (ref(el.resourceRef) && el.resourceAssignmentExpression) error(owner(el), 'a resource role names its resource either by resourceRef (with parameter bindings) or by a resourceAssignmentExpression, not both');
      if (bindings.length && !ref(el.resourceRef)) error(owner(el), 'resource parameter bindings need the role to reference a resource (resourceRef)');
    });
  }

  function checkCompensationAssociations(): void {
    const associations: ModdleElement[] = [];
    for (const p of processes) walk(p, (el) => { if (el.$type === 'bpmn:Association') associations.push(el); });
    for (const c of roots) if (c.$type === 'bpmn:Collaboration') for (const a of list(c.artifacts)) if (a.$type === 'bpmn:Association') associations.push(a);
    for (const el of processOf.keys()) {
      if (el.$type !== 'bpmn:BoundaryEvent' || !hasTrigger(el, 'Compensate')) continue;
      const linked = associations.filter((a) => ref(a.sourceRef) === el).map((a) => ref(a.targetRef)).filter((t): t is ModdleElement => !!t);
      if (!linked.length) error(el, 'a compensation boundary event must be linked by an association to its compensation activity');
      for (const t of linked) {
        if (!isActivity(t) || t.isForCompensation !== true) error(el, `the activity ${t.id} associated with a compensation boundary event must be marked isForCompensation="true"`);
      }
    }
  }

  function receivesInstantiate(nodes: ModdleElement[]): boolean {
    return nodes.some((n) => n.instantiate === true);
  }
}

function hasTrigger(el: ModdleElement, trigger: string): boolean {
  return list(el.eventDefinitions).some((d) => d.$type === `bpmn:${trigger}EventDefinition`);
}

function isActivity(el: ModdleElement): boolean {
  return /Task$|SubProcess$|^bpmn:Transaction$|^bpmn:CallActivity$/.test(el.$type);
}

function isFlowNode(el: ModdleElement): boolean {
  return isActivity(el) || /Event$|Gateway$/.test(el.$type);
}

function describeType(el: ModdleElement): string {
  return el.$type.replace(/^bpmn:/, '').replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
}

/** The nearest enclosing element with an id (for problems on id-less children). */
function owner(el: ModdleElement): ModdleElement {
  let e: ModdleElement | undefined = el;
  while (e && !e.id) e = e.$parent;
  return e ?? el;
}

const REFERENCE_KEYS = /Ref$|Refs$|^(default|incoming|outgoing|\$parent|\$descriptor|\$model|\$attrs)$/;

function walk(el: ModdleElement, visit: (el: ModdleElement) => void): void {
  const seen = new Set<unknown>();
  const stack: ModdleElement[] = [el];
  while (stack.length) {
    const current = stack.pop()!;
    if (seen.has(current)) continue;
    seen.add(current);
    visit(current);
    for (const [key, value] of Object.entries(current)) {
      if (REFERENCE_KEYS.test(key)) continue;
      for (const child of Array.isArray(value) ? value : [value]) {
        if (child && typeof child === 'object' && typeof (child as ModdleElement).$type === 'string') stack.push(child as ModdleElement);
      }
    }
  }
}

function push(map: Map<ModdleElement, ModdleElement[]>, key: ModdleElement | undefined, v: ModdleElement): void {
  if (!key) return;
  const entry = map.get(key);
  if (entry) entry.push(v);
  else map.set(key, [v]);
}

function list(v: unknown): ModdleElement[] {
  return Array.isArray(v) ? (v as ModdleElement[]) : [];
}

function ref(v: unknown): ModdleElement | undefined {
  return v && typeof v === 'object' && typeof (v as ModdleElement).$type === 'string' ? (v as ModdleElement) : undefined;
}
