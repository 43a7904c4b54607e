import { BpmnModdle } from 'bpmn-moddle';
import type { Db } from '../../db/database.js';
import { moddleOptions, type ModdleElement } from '../../engine/compile.js';
import { BadRequestError, NotFoundError } from '../../engine/errors.js';
import type { FormSchema, FormStore } from '../../forms/forms.js';
import { hasRole, type Principal, type Role } from '../../auth/principal.js';

/**
 * What a deployed process declares about who may drive it, read with Camunda's own attributes:
 *
 * - who may start it: `camunda:candidateStarterGroups` (department ids, or `role:<role>` such as
 *   `role:clerk`) and `camunda:candidateStarterUsers` (usernames) on the process. Undeclared: admins only.
 * - which variables a step accepts: a user task (or the none start event) accepts the fields of its
 *   `camunda:formData` when it has one (Camunda 7's declared form fields), else the keys of the
 *   form-js schema stored under its `camunda:formKey`, else (user tasks) the default form's `opinion`.
 *
 * Protected variables — case fields, department, deadlines, the supervision's identity and who closed
 * it — are set by Duban itself (intake, escalation, the supervision console) and never by a caller.
 */
export const PROTECTED_VARIABLES: ReadonlySet<string> = new Set([
  // routing and deadlines
  'departmentId', 'deadlineAt', 'warningAt', 'receivedAt', 'followUpAt', 'businessKey', 'initiator',
  // case fields (办件)
  'caseId', 'caseNumber', 'itemCode', 'itemName', 'applicantName', 'applicantType', 'idType', 'idNumber', 'phone', 'status',
  // supervision (督办) and what Duban's services return
  'supervisionId', 'supervisionNumber', 'supervisionClosed', 'closedBy', 'warned', 'completed', 'reminded', 'smsQueued',
  // never a variable name
  '__proto__', 'constructor', 'prototype',
]);

/** What a user task without a form of its own accepts: the default form's single field. */
export const DEFAULT_TASK_FIELDS: readonly string[] = ['opinion'];

export interface StepDeclaration {
  formKey: string | null;
  /** camunda:formData field ids; null when the step declares none. */
  fields: string[] | null;
}

export interface ProcessDeclarations {
  starterGroups: string[] | null;
  starterUsers: string[] | null;
  start: StepDeclaration;
  tasks: Record<string, StepDeclaration>;
}

/** Parsed once per deployed version (versions are immutable). */
export class DeclarationStore {
  private readonly cache = new Map<string, Promise<ProcessDeclarations>>();
  private readonly moddle = new BpmnModdle(moddleOptions as never);

  constructor(private readonly db: Db, private readonly forms: FormStore) {}

  of(definitionId: string): Promise<ProcessDeclarations> {
    let hit = this.cache.get(definitionId);
    if (!hit) {
      hit = this.load(definitionId);
      hit.catch(() => this.cache.delete(definitionId));
      this.cache.set(definitionId, hit);
    }
    return hit;
  }

  /**
   * The variable names a step accepts (protected names are refused separately). `fallback` is what a
   * step without a declaration, or with a form key no form is stored under, accepts: for user tasks the
   * UI's default form (one opinion, ui/src/forms/schemas.ts), for a start nothing.
   */
  async accepted(step: StepDeclaration | undefined, fallback: readonly string[] = []): Promise<string[]> {
    if (step?.fields) return step.fields;
    if (!step?.formKey) return [...fallback];
    const form = await this.forms.latest(step.formKey).catch((e: unknown) => {
      if (e instanceof NotFoundError) return null;
      throw e;
    });
    return form ? formFields(form.schema) : [...fallback];
  }

  private async load(definitionId: string): Promise<ProcessDeclarations> {
    const row = await this.db('process_definitions').where({ id: definitionId }).first('key', 'xml');
    if (!row) throw new NotFoundError('process definition', definitionId);
    const { rootElement } = await this.moddle.fromXML(row.xml);
    return declarationsOf(rootElement as unknown as ModdleElement, row.key);
  }
}

function declarationsOf(root: ModdleElement, key: string): ProcessDeclarations {
  const processes = asArray(root.rootElements).filter((e) => e.$type === 'bpmn:Process');
  const process = processes.find((p) => p.id === key) ?? processes.find((p) => p.isExecutable === true);
  const out: ProcessDeclarations = { starterGroups: list(process?.candidateStarterGroups), starterUsers: list(process?.candidateStarterUsers), start: { formKey: null, fields: null }, tasks: {} };
  if (!process) return out;
  const starts = asArray(process.flowElements).filter((e) => e.$type === 'bpmn:StartEvent' && !asArray(e.eventDefinitions).length);
  const startSteps = starts.map(stepOf);
  out.start = {
    formKey: startSteps.find((s) => s.formKey)?.formKey ?? null,
    fields: startSteps.some((s) => s.fields) ? [...new Set(startSteps.flatMap((s) => s.fields ?? []))] : null,
  };
  const visit = (container: ModdleElement) => {
    for (const el of asArray(container.flowElements)) {
      if (el.$type === 'bpmn:UserTask' && el.id) out.tasks[el.id] = stepOf(el);
      if (el.flowElements) visit(el);
    }
  };
  visit(process);
  return out;
}

function stepOf(el: ModdleElement): StepDeclaration {
  const ext = el.extensionElements as ModdleElement | undefined;
  const formData = asArray(ext?.values).find((v) => v.$type === 'camunda:FormData');
  const fields = formData ? asArray(formData.fields).map((f) => f.id).filter((id): id is string => typeof id === 'string' && id !== '') : null;
  return { formKey: typeof el.formKey === 'string' && el.formKey ? el.formKey : null, fields };
}

/** Top-level data keys a form-js form submits: input keys, and the path of a group or dynamic list that nests its fields. */
export function formFields(schema: FormSchema): string[] {
  const out = new Set<string>();
  const walk = (components: unknown[]) => {
    for (const c of components as Array<Record<string, unknown>>) {
      if (!c || typeof c !== 'object') continue;
      if (typeof c.path === 'string' && c.path) {
        out.add(c.path.split('.')[0]!);
        continue;
      }
      if (typeof c.key === 'string' && !['text', 'spacer', 'separator', 'button'].includes(String(c.type))) out.add(c.key.split('.')[0]!);
      if (Array.isArray(c.components) && c.type === 'group') walk(c.components);
    }
  };
  walk(schema.components ?? []);
  return [...out];
}

/**
 * Refuse (400, nothing changed) variables that are protected or that the step does not declare,
 * naming each one.
 */
export function assertDeclared(variables: Record<string, unknown>, accepted: readonly string[], where: string): void {
  const allowed = new Set(accepted);
  const refused = Object.keys(variables).map((name) => ({
    name, reason: PROTECTED_VARIABLES.has(name) ? 'protected' as const : allowed.has(name) ? null : 'undeclared' as const,
  })).filter((r): r is { name: string; reason: 'protected' | 'undeclared' } => r.reason !== null);
  if (!refused.length) return;
  const names = refused.map((r) => r.name).join(', ');
  throw new BadRequestError(`不接受的变量:${names}(${where} accepts only ${accepted.length ? accepted.join(', ') : 'no variables'}; protected variables are set by Duban)`, {
    refused, accepted: [...accepted],
  });
}

/** Only protected names are refused: for messages, whose payload BPMN does not declare. */
export function assertUnprotected(variables: Record<string, unknown>): void {
  const refused = Object.keys(variables).filter((n) => PROTECTED_VARIABLES.has(n));
  if (refused.length) {
    throw new BadRequestError(`不接受的变量:${refused.join(', ')}(protected variables are set by Duban)`, { refused: refused.map((name) => ({ name, reason: 'protected' })) });
  }
}

/** Admins always (they deploy the process anyway); otherwise the declared starter groups and users. */
export function mayStart(p: Principal, d: ProcessDeclarations): boolean {
  if (hasRole(p, 'admin')) return true;
  if (d.starterUsers?.includes(p.username)) return true;
  return (d.starterGroups ?? []).some((g) => (g.startsWith('role:') ? hasRole(p, g.slice(5) as Role) : g === p.departmentId));
}

function list(v: unknown): string[] | null {
  if (typeof v !== 'string' || !v.trim()) return null;
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}

function asArray(v: unknown): ModdleElement[] {
  return Array.isArray(v) ? (v as ModdleElement[]) : [];
}
