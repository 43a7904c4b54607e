import type { Knex } from 'knex';
import type { Db } from '../../db/database.js';
import type { WorkflowEngine } from '../../engine/engine.js';
import { readCalendar, type CalendarCache, type WarningRule, type WorkingCalendar } from '../../calendar/calendar.js';
import { appendAudit } from '../../audit/audit.js';
import { BadRequestError, ConflictError, NotFoundError } from '../../engine/errors.js';
import { identityProblem, type IdType } from './identity.js';
import { normalizePhone } from '../../notify/phone.js';
import { deadlineOf, deadlinesFor, lightOf, remainingOf, shiftByUnits, stoppedUnits, type ItemLimits, type Light } from './deadlines.js';

export interface IntakeInput {
  itemCode: string;
  applicantName: string;
  applicantType: 1 | 2;
  idType: IdType;
  idNumber: string;
  contactName?: string | null;
  phone: string;
  source?: string;
  /** Only imports and demo data may backdate intake; the API allows it to admins. */
  receivedAt?: Date;
}

export interface CaseRow {
  id: string;
  number: string;
  item_code: string;
  department_id: string;
  applicant_name: string;
  applicant_type: number;
  id_type: IdType;
  id_number: string;
  contact_name: string | null;
  phone: string;
  source: string;
  received_at: Date;
  promised_at: Date;
  warning_at: Date;
  calendar_confirmed: boolean;
  /** The limit as promised at intake (item edits later do not change it). */
  promised_days: number;
  limit_unit: ItemLimits['limit_unit'];
  warning_rule: WarningRule;
  status: 'handling' | 'suspended' | 'completed' | 'cancelled' | 'failed';
  suspended_days: number;
  warned_at: Date | null;
  escalated_at: Date | null;
  completed_at: Date | null;
  result: string | null;
  /** GB/T 39046 result code (6 准予许可, 7 不予许可, 1 退回/不予受理, 2 作废, 5 补正不来办结). */
  result_code: string | null;
  /** While suspended: when the clock stopped. */
  clock_stopped_at: Date | null;
  created_by: string | null;
}

export interface CaseView {
  id: string;
  number: string;
  itemCode: string;
  itemName: string;
  departmentId: string;
  applicantName: string;
  applicantType: number;
  idType: string;
  idNumber: string;
  contactName: string | null;
  phone: string;
  source: string;
  receivedAt: string;
  promisedAt: string;
  warningAt: string;
  completedAt: string | null;
  status: string;
  result: string | null;
  resultCode: string | null;
  light: Light;
  /** Frozen while the clock is stopped; officeHours: office hours left on working days (DUBAN_OFFICE_HOURS). */
  remaining: { workingDays: number; hours: number; overdue: boolean; officeHours: number };
  /** The deadline as a clerk reads it: its day (end of day), "2026-11-24 24:00", "11月24日 当日". */
  deadlineDay: string;
  deadlineText: string;
  deadlineTextZh: string;
  limitUnit: string;
  clockStoppedAt: string | null;
  calendarConfirmed: boolean;
  suspendedDays: number;
  escalatedAt: string | null;
}

const PROCESS_DEFAULT = 'approval-item';

/** 办件: intake through the item's process, lights, the clock stop, completion. */
export class CaseService {
  constructor(private readonly db: Db, private readonly engine: WorkflowEngine, private readonly calendars: CalendarCache,
    private readonly prefix = process.env.DUBAN_CASE_PREFIX ?? 'TQ') {}

  async intake(input: IntakeInput, actor: { username: string; departmentId: string | null; admin: boolean }): Promise<CaseView> {
    const item = await this.db('items').where({ code: input.itemCode }).first();
    if (!item || !item.active) throw new NotFoundError('item', input.itemCode);
    if (!actor.admin && actor.departmentId !== item.department_id) throw new ConflictError('clerks take in cases for their own department’s items only');
    const phone = normalizePhone(input.phone);
    if (!phone) throw new BadRequestError(`手机号无法识别:${input.phone}(expected a mainland number such as 13800000000 or E.164 such as +8613800000000)`, { fields: [{ field: '/phone', message: 'not a phone number' }] });
    const problem = identityProblem(input.idType, input.idNumber);
    if (problem) throw new BadRequestError(problem, { fields: [{ field: '/idNumber', message: problem }] });
    if ((input.applicantType === 1) !== (input.idType === 'resident_id')) {
      throw new BadRequestError('a person (applicantType 1) uses a resident ID; a legal person (2) a unified social credit code');
    }
    const calendar = await this.calendars.get();
    const receivedAt = input.receivedAt ?? new Date();
    const limits: ItemLimits = { promised_days: item.promised_days, limit_unit: item.limit_unit, warning_rule: item.warning_rule as WarningRule };
    const d = deadlinesFor(calendar, limits, receivedAt);
    let number = '';
    const summary = await this.engine.start(item.process_key ?? PROCESS_DEFAULT, {
      actor: actor.username,
      departmentId: item.department_id,
      businessKey: null,
      variables: {
        itemCode: item.code, itemName: item.name, departmentId: item.department_id, applicantName: input.applicantName,
        receivedAt: receivedAt.toISOString(), deadlineAt: d.promisedAt.toISOString(), warningAt: d.warningAt.toISOString(),
      },
      beforeRun: async (trx, id) => {
        number = await this.nextNumber(trx, calendar, receivedAt);
        await trx('process_instances').where({ id }).update({ business_key: number });
        const row = {
          id, number, item_code: item.code, department_id: item.department_id, applicant_name: input.applicantName,
          applicant_type: input.applicantType, id_type: input.idType, id_number: input.idNumber.toUpperCase(),
          contact_name: input.contactName ?? null, phone, source: input.source ?? 'window',
          received_at: receivedAt, promised_at: d.promisedAt, warning_at: d.warningAt, calendar_confirmed: d.confirmed, created_by: actor.username,
        };
        await trx('cases').insert({ ...row, ...limits, warning_rule: JSON.stringify(limits.warning_rule) });
        await appendAudit(trx, { actor: actor.username, action: 'case.received', entityType: 'case', entityId: number, after: { ...row, id_number: mask(row.id_number) } });
      },
    });
    void summary;
    return this.view((await this.db('cases').where({ number }).first())!);
  }

  /** 办件编号: prefix + Shanghai date + daily serial, e.g. TQ20261125000042. */
  private async nextNumber(trx: Knex.Transaction, calendar: WorkingCalendar, at: Date): Promise<string> {
    const day = calendar.shanghaiDay(at).replaceAll('-', '');
    const { rows } = await trx.raw<{ rows: Array<{ last: number }> }>(
      `INSERT INTO case_numbers (day, last) VALUES (?, 1) ON CONFLICT (day) DO UPDATE SET last = case_numbers.last + 1 RETURNING last`, [day]);
    return `${this.prefix}${day}${String(rows[0]!.last).padStart(6, '0')}`;
  }

  async byId(id: string): Promise<CaseRow> {
    const row = await this.db('cases').where({ id }).first();
    if (!row) throw new NotFoundError('case', id);
    return row;
  }

  /** Stop the clock for 补正 or 特别程序; the process's timers stop with it. */
  async suspend(id: string, kind: 'supplement' | 'special', reason: string, actor: string): Promise<CaseView> {
    const c = await this.byId(id);
    if (c.status !== 'handling') throw new ConflictError(`the case is ${c.status}; only a case being handled can be suspended`);
    await this.engine.suspend(id, actor, { reason, kind, caseNumber: c.number });
    await this.db.transaction(async (trx) => {
      await trx('cases').where({ id }).update({ status: 'suspended', clock_stopped_at: trx.raw('now()') });
      await trx('case_suspensions').insert({ case_id: id, kind, reason, started_by: actor });
      await appendAudit(trx, { actor, action: 'case.suspended', entityType: 'case', entityId: c.number, before: { status: c.status }, after: { status: 'suspended', kind, reason } });
    });
    return this.view(await this.byId(id));
  }

  /**
   * Restart the clock: the deadline, the warning time and every pending timer move by the
   * working days spent suspended (whole days, counted as 补正 practice counts them).
   */
  async resume(id: string, actor: string, note?: string): Promise<CaseView> {
    const c = await this.byId(id);
    if (c.status !== 'suspended') throw new ConflictError(`the case is ${c.status}, not suspended`);
    const open = await this.db('case_suspensions').where({ case_id: id }).whereNull('ended_at').first('by_process', 'kind');
    if (open?.by_process) {
      throw new ConflictError(open.kind === 'supplement' ? 'the clock was stopped by the 补正 step: complete the 补正 task when the applicant supplies the material'
        : 'the clock was stopped by the 特别程序 step: complete that task when the procedure ends');
    }
    const calendar = await this.calendars.get();
    const now = new Date();
    let days = 0;
    await this.engine.resume(id, actor, (due, suspendedAt) => {
      days = stoppedUnits(calendar, c.limit_unit, suspendedAt, now);
      return shiftByUnits(calendar, c.limit_unit, due, days);
    }, { note: note ?? null }, async (trx, suspendedAt) => {
      days = stoppedUnits(calendar, c.limit_unit, suspendedAt, now);
      const promisedAt = shiftByUnits(calendar, c.limit_unit, c.promised_at, days);
      const warningAt = shiftByUnits(calendar, c.limit_unit, c.warning_at, days);
      await trx('cases').where({ id }).update({ status: 'handling', promised_at: promisedAt, warning_at: warningAt, suspended_days: c.suspended_days + days, clock_stopped_at: null });
      await trx('case_suspensions').where({ case_id: id }).whereNull('ended_at').update({ ended_at: now, ended_by: actor, working_days: days });
      // The tasks' due dates and the process's own ${deadlineAt} move with the case, so later steps are due right too.
      await moveOpenTasks(trx, id, (due) => shiftByUnits(calendar, c.limit_unit, due, days));
      await setDeadlineVariables(trx, id, { deadlineAt: promisedAt.toISOString(), warningAt: warningAt.toISOString() });
      await appendAudit(trx, { actor, action: 'case.resumed', entityType: 'case', entityId: c.number,
        before: { status: 'suspended', promisedAt: c.promised_at.toISOString() }, after: { status: 'handling', promisedAt: promisedAt.toISOString(), workingDays: days } });
    });
    return this.view(await this.byId(id));
  }

  /**
   * After the working-day calendar changes (an override, a confirmed year, new official data on upgrade):
   * open cases whose deadline is still ahead get the deadline and warning time the new calendar gives —
   * from the limit promised at intake plus the working days already spent suspended — and their timers
   * move with them. Idempotent, so start-up runs it too: a crash half-way leaves nothing behind for long.
   */
  async recomputeDeadlines(actor: string, now = new Date()): Promise<{ checked: number; changed: number }> {
    const calendar = await readCalendar(this.db);
    const open: CaseRow[] = await this.db('cases').whereIn('status', ['handling', 'suspended']).where('limit_unit', 'workday').where('promised_at', '>', now);
    let changed = 0;
    for (const c of open) {
      if (sameDeadlines(c, deadlinesNow(calendar, c))) continue;
      const retimed = await this.engine.retime(c.id, actor, async (trx) => {
        const current: CaseRow | undefined = await trx('cases').where({ id: c.id }).first();
        if (!current || !['handling', 'suspended'].includes(current.status)) return null;
        const next = deadlinesNow(calendar, current);
        if (sameDeadlines(current, next)) return null;
        await trx('cases').where({ id: c.id }).update({ promised_at: next.promisedAt, warning_at: next.warningAt, calendar_confirmed: next.confirmed });
        const before = { promisedAt: current.promised_at.toISOString(), warningAt: current.warning_at.toISOString(), calendarConfirmed: current.calendar_confirmed };
        const after = { promisedAt: next.promisedAt.toISOString(), warningAt: next.warningAt.toISOString(), calendarConfirmed: next.confirmed };
        await appendAudit(trx, { actor, action: 'case.deadline.recomputed', entityType: 'case', entityId: current.number, before, after });
        await moveOpenTasks(trx, c.id, (d) => (d.getTime() === current.promised_at.getTime() ? next.promisedAt : null));
        await setDeadlineVariables(trx, c.id, { deadlineAt: next.promisedAt.toISOString(), warningAt: next.warningAt.toISOString() });
        // The deadline and warning timers are the ones due at the old times; a step's own timers stay.
        const due = (at: Date) => (at.getTime() === current.promised_at.getTime() ? next.promisedAt : at.getTime() === current.warning_at.getTime() ? next.warningAt : null);
        return { due, data: { reason: 'calendar', caseNumber: current.number, before, after } };
      }).catch((e: unknown) => {
        if (e instanceof ConflictError || e instanceof NotFoundError) return false; // finished or cancelled meanwhile
        throw e;
      });
      if (retimed) changed++;
    }
    return { checked: open.length, changed };
  }

  async view(row: CaseRow, now = new Date()): Promise<CaseView> {
    const calendar = await this.calendars.get();
    const item = await this.db('items').where({ code: row.item_code }).first('name');
    return toView(row, item?.name ?? row.item_code, calendar, now);
  }
}

/** Move the due dates of a case's open tasks (null: leave that one). */
async function moveOpenTasks(trx: Knex.Transaction, instanceId: string, due: (d: Date) => Date | null): Promise<void> {
  const tasks: Array<{ id: string; due_at: Date | null }> = await trx('tasks').where({ instance_id: instanceId, status: 'open' }).whereNotNull('due_at').select('id', 'due_at');
  for (const t of tasks) {
    const to = due(new Date(t.due_at!));
    if (to && to.getTime() !== new Date(t.due_at!).getTime()) await trx('tasks').where({ id: t.id }).update({ due_at: to });
  }
}

/**
 * Set the process variables that carry the case's deadlines, in every scope of the stored engine state
 * (bpmn-elements keeps a copy per sub-process), so steps created later read the moved deadline.
 * Runs under the instance lock the engine's resume/retime holds.
 */
async function setDeadlineVariables(trx: Knex.Transaction, instanceId: string, vars: { deadlineAt: string; warningAt: string }): Promise<void> {
  const row = await trx('process_instances').where({ id: instanceId }).first('state', 'variables');
  if (!row) return;
  const visit = (node: unknown): void => {
    if (!node || typeof node !== 'object') return;
    if (Array.isArray(node)) return node.forEach(visit);
    const o = node as Record<string, unknown>;
    if (o.variables && typeof o.variables === 'object' && !Array.isArray(o.variables)) {
      const v = o.variables as Record<string, unknown>;
      for (const k of ['deadlineAt', 'warningAt'] as const) if (typeof v[k] === 'string') v[k] = vars[k];
    }
    for (const child of Object.values(o)) visit(child);
  };
  const state = typeof row.state === 'string' ? JSON.parse(row.state) : row.state;
  visit(state);
  const variables = { ...(typeof row.variables === 'string' ? JSON.parse(row.variables) : row.variables ?? {}) };
  for (const k of ['deadlineAt', 'warningAt'] as const) if (typeof variables[k] === 'string') variables[k] = vars[k];
  // Both callers run inside engine.retime / engine.resume, which bump the row's version, so a live
  // execution an engine keeps of the old state (ExecutionCache) is not reused.
  await trx('process_instances').where({ id: instanceId }).update({ state: state === null ? null : JSON.stringify(state), variables: JSON.stringify(variables) });
}

/** The deadlines a case has under `calendar`: its promised limit from intake, moved by the working days it spent suspended. */
function deadlinesNow(calendar: WorkingCalendar, c: CaseRow): { promisedAt: Date; warningAt: Date; confirmed: boolean } {
  const d = deadlinesFor(calendar, c, c.received_at);
  return { promisedAt: calendar.shiftByWorkingDays(d.promisedAt, c.suspended_days), warningAt: calendar.shiftByWorkingDays(d.warningAt, c.suspended_days), confirmed: d.confirmed };
}

function sameDeadlines(c: CaseRow, d: { promisedAt: Date; warningAt: Date; confirmed: boolean }): boolean {
  return c.promised_at.getTime() === d.promisedAt.getTime() && c.warning_at.getTime() === d.warningAt.getTime() && c.calendar_confirmed === d.confirmed;
}

export function toView(row: CaseRow, itemName: string, calendar: WorkingCalendar, now: Date): CaseView {
  return {
    id: row.id, number: row.number, itemCode: row.item_code, itemName, departmentId: row.department_id,
    applicantName: row.applicant_name, applicantType: row.applicant_type, idType: row.id_type, idNumber: mask(row.id_number),
    contactName: row.contact_name, phone: row.phone, source: row.source,
    receivedAt: row.received_at.toISOString(), promisedAt: row.promised_at.toISOString(), warningAt: row.warning_at.toISOString(),
    completedAt: row.completed_at ? row.completed_at.toISOString() : null, status: row.status, result: row.result, resultCode: row.result_code ?? null,
    light: lightOf(row, now), remaining: remainingOf(calendar, row, now), calendarConfirmed: row.calendar_confirmed,
    ...deadlineFields(row), limitUnit: row.limit_unit, clockStoppedAt: row.clock_stopped_at ? new Date(row.clock_stopped_at).toISOString() : null,
    suspendedDays: row.suspended_days, escalatedAt: row.escalated_at ? row.escalated_at.toISOString() : null,
  };
}

function deadlineFields(row: Pick<CaseRow, 'promised_at' | 'limit_unit'>) {
  const d = deadlineOf(new Date(row.promised_at), row.limit_unit ?? 'workday');
  return { deadlineDay: d.day, deadlineText: d.text, deadlineTextZh: d.textZh };
}

/** Identity numbers are personal data: show the first 6 and last 4 characters only. */
export function mask(idNumber: string): string {
  return idNumber.length > 10 ? `${idNumber.slice(0, 6)}${'*'.repeat(idNumber.length - 10)}${idNumber.slice(-4)}` : idNumber;
}
