import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Db } from '../../db/database.js';
import type { ServiceRegistry, ServiceContext } from '../../engine/services.js';
import type { InstanceSummary, WorkflowEngine } from '../../engine/engine.js';
import { appendAudit } from '../../audit/audit.js';
import { shanghaiDay, toShanghaiIso } from '../../calendar/calendar.js';
import { ConflictError, NotFoundError } from '../../engine/errors.js';
import { deadlineOf } from '../cases/deadlines.js';
import { finishCase } from '../cases/services.js';

type Trx = Knex.Transaction;

/**
 * Inspectors who receive overdue alerts for a department on a day: the duty roster when it names
 * anyone with a phone, else every active inspector with a phone. `unreachable` says why an alert may
 * go nowhere: the rostered inspectors have no phone (others were alerted instead), or nobody has one.
 */
export async function onDutyInspectors(trx: Trx | Db, departmentId: string, at: Date): Promise<Array<{ username: string; phone: string }>> {
  return (await reachableInspectors(trx, departmentId, at)).recipients;
}

export async function reachableInspectors(trx: Trx | Db, departmentId: string, at: Date): Promise<{ day: string; recipients: Array<{ username: string; phone: string }>; unreachable: string | null }> {
  const day = shanghaiDay(at);
  const rostered: Array<{ username: string; phone: string | null }> = await trx('duty_roster as r').join('users as u', 'u.id', 'r.user_id')
    .where('r.day', day).whereIn('r.department_id', [departmentId, '*']).andWhere('u.active', true)
    .distinct('u.username', 'u.phone');
  const withPhone = rostered.filter((r): r is { username: string; phone: string } => !!r.phone);
  if (withPhone.length) return { day, recipients: withPhone, unreachable: null };
  const everyone: Array<{ username: string; phone: string }> = await trx('users').whereRaw(`'inspector' = ANY(roles)`).andWhere('active', true).whereNotNull('phone').select('username', 'phone').orderBy('username');
  const why = !everyone.length ? 'nobody was alerted'
    : rostered.length ? `the rostered inspectors (${rostered.map((r) => r.username).join(', ')}) have no phone; every inspector with a phone was alerted instead` : null;
  return { day, recipients: everyone, unreachable: why };
}

/**
 * An alert must never go nowhere unnoticed: an incident admins see, once per instance and step while it is open.
 * The escalation itself (the supervision record) still commits.
 */
async function reportUnreachable(trx: Trx, ctx: ServiceContext, departmentId: string, day: string, why: string, what: string): Promise<void> {
  const message = `no inspector with a phone on duty for ${departmentId} on ${day} (${what}): ${why} / 当日无可接收短信的值班纪检监察员`;
  const open = await trx('incidents').where({ instance_id: ctx.instanceId, element_id: ctx.elementId, kind: 'alert', status: 'open' }).first('id');
  if (open) return;
  await trx('incidents').insert({ instance_id: ctx.instanceId, element_id: ctx.elementId, kind: 'alert', message });
  await appendAudit(trx, { actor: 'system', action: 'alert.unreachable', entityType: 'process_instance', entityId: ctx.instanceId, after: { departmentId, day, what, why } });
}

async function caseOf(ctx: ServiceContext) {
  const c = await ctx.trx!('cases as c').join('items as it', 'it.code', 'c.item_code').where('c.id', ctx.instanceId)
    .first('c.*', 'it.name as item_name');
  if (!c) throw new Error(`no case for process instance ${ctx.instanceId}`);
  return c;
}

/**
 * The BPMN services of the approval process. Each runs inside the step's transaction: the
 * supervision record, the case update and the queued SMS commit together or not at all.
 */
export function registerSupervisionServices(registry: ServiceRegistry): void {
  registry.register({
    name: 'notifyDepartment',
    description: '黄灯预警:短信提醒承办部门 (yellow light: SMS the handling department)',
    handler: async (ctx) => {
      const c = await caseOf(ctx);
      const trx = ctx.trx!;
      // A case already red (a late intake, a back-dated import) gets the overdue alert, not a yellow warning.
      if (new Date(c.promised_at).getTime() <= Date.now()) return { warned: false };
      await trx('cases').where({ id: c.id }).update({ warned_at: trx.raw('now()') });
      const recipients = await trx('users').whereRaw(`'clerk' = ANY(roles)`).andWhere({ department_id: c.department_id, active: true }).whereNotNull('phone').select('phone');
      const dept = await trx('departments').where({ id: c.department_id }).first('phone');
      const phones = [...new Set([dept?.phone, ...recipients.map((r: { phone: string }) => r.phone)].filter(Boolean))] as string[];
      for (const to of phones) {
        ctx.enqueue('sms', { to, template: 'warning', vars: { item: c.item_name, number: c.number, deadline: smsDeadline(c.promised_at, c.limit_unit) } }, `${c.number}:warning:${to}`);
      }
      await appendAudit(trx, { actor: 'system', action: 'case.warned', entityType: 'case', entityId: c.number, after: { light: 'yellow', recipients: phones.length } });
      return { warned: true };
    },
  });

  registry.register({
    name: 'escalateToInspection',
    description: '红灯督办:建立督办件并短信通知值班纪检监察员 (red light: open a supervision record, SMS the inspector on duty)',
    handler: async (ctx) => {
      const c = await caseOf(ctx);
      const trx = ctx.trx!;
      const existing = await trx('supervisions').where({ case_id: c.id, rule_code: 'OVERDUE' }).first('id', 'number');
      const id = existing?.id ?? randomUUID();
      const number = existing?.number ?? `JC${c.number}`;
      if (!existing) {
        await trx('supervisions').insert({
          id, number, case_id: c.id, rule_code: 'OVERDUE', warning_type: 'red', department_id: c.department_id,
          content: `${c.item_name}(业务编号:${c.number})超过承诺时限未办结`,
        });
        await trx('cases').where({ id: c.id }).update({ escalated_at: trx.raw('now()') });
        await appendAudit(trx, { actor: 'system', action: 'case.escalated', entityType: 'supervision', entityId: number, after: { caseNumber: c.number, departmentId: c.department_id } });
      }
      if (existing) return { supervisionId: id, supervisionNumber: number, alreadyEscalated: true };
      const duty = await reachableInspectors(trx, c.department_id, new Date());
      if (duty.unreachable) await reportUnreachable(trx, ctx, c.department_id, duty.day, duty.unreachable, `overdue case ${c.number}`);
      for (const inspector of duty.recipients) {
        // One overdue SMS per case, escalation and inspector, however often this step is retried.
        ctx.enqueue('sms', { to: inspector.phone, template: 'overdue', vars: { item: c.item_name, number: c.number } }, `${c.number}:overdue:${number}:${inspector.phone}`);
      }
      return { supervisionId: id, supervisionNumber: number, alreadyEscalated: false };
    },
  });

  registry.register({
    name: 'completeCase',
    description: '办结:记录办结时间与结果 (record completion time and result)',
    handler: async (ctx) => {
      const c = await caseOf(ctx);
      const trx = ctx.trx!;
      const result = ['准予许可', '不予许可'].includes(String(ctx.variables.decision)) ? String(ctx.variables.decision)
        : typeof ctx.variables.result === 'string' ? ctx.variables.result : '准予许可';
      if (c.status !== 'completed') await finishCase(trx, c, result);
      return { completed: true };
    },
  });

  registry.register({
    name: 'closeSupervision',
    description: '督办办结:记录监察结果 (close the supervision with its result)',
    handler: async (ctx) => {
      const trx = ctx.trx!;
      const s = await trx('supervisions').where({ case_id: ctx.instanceId, status: 'open' }).first();
      if (!s) return { supervisionClosed: false };
      const result = typeof ctx.variables.supervisionResult === 'string' ? ctx.variables.supervisionResult : '已督促办结';
      // closedBy is protected: only SupervisionService.close sets it, from the caller's session.
      const closedBy = typeof ctx.variables.closedBy === 'string' ? ctx.variables.closedBy : null;
      await trx('supervisions').where({ id: s.id }).update({ status: 'closed', closed_at: trx.raw('now()'), result, closed_by: closedBy });
      await appendAudit(trx, { actor: closedBy ?? 'system', action: 'supervision.closed', entityType: 'supervision', entityId: s.number, before: { status: 'open' }, after: { status: 'closed', result } });
      return { supervisionClosed: true };
    },
  });
}

/** Follow-up reminders (process supervision-follow-up). */
export function registerFollowUpService(registry: ServiceRegistry): void {
  registry.register({
    name: 'remindInspectors',
    description: '督办跟进提醒:短信提醒值班纪检监察员 (follow-up reminder to inspectors on duty)',
    handler: async (ctx) => {
      const trx = ctx.trx!;
      const s = await trx('supervisions as s').join('cases as c', 'c.id', 's.case_id').join('items as it', 'it.code', 'c.item_code')
        .where('s.number', String(ctx.variables.supervisionNumber)).first('s.number', 's.department_id', 's.status', 'c.number as case_number', 'it.name as item_name');
      if (!s || s.status !== 'open') return { reminded: false };
      const duty = await reachableInspectors(trx, s.department_id, new Date());
      if (duty.unreachable) await reportUnreachable(trx, ctx, s.department_id, duty.day, duty.unreachable, `follow-up of ${s.number}`);
      for (const inspector of duty.recipients) {
        ctx.enqueue('sms', { to: inspector.phone, template: 'followup', vars: { supervision: s.number, item: s.item_name, number: s.case_number } },
          `${s.number}:followup:${ctx.executionId}:${inspector.phone}`);
      }
      return { reminded: true };
    },
  });
}

/** The deadline in an SMS: the deadline day ("2026年11月24日当日"), or the exact time for drill limits. */
function smsDeadline(promisedAt: Date, unit: 'workday' | 'minute' | 'second'): string {
  const d = deadlineOf(new Date(promisedAt), unit);
  return unit === 'workday' ? `${d.day.slice(0, 4)}年${Number(d.day.slice(5, 7))}月${Number(d.day.slice(8, 10))}日当日` : d.text;
}

/** 'YYYY-MM-DD hh:mm' in Shanghai, for SMS texts. */
function shanghaiStamp(at: Date): string {
  return toShanghaiIso(new Date(at)).slice(0, 16).replace('T', ' ');
}

export interface SupervisionRow {
  id: string;
  number: string;
  case_id: string;
  department_id: string;
  status: 'open' | 'closed';
  opened_at: Date;
  closed_at: Date | null;
  case_completed_at: Date | null;
  follow_up_at: Date | null;
  result: string | null;
  content: string;
}

/** What inspectors do with a supervision record: urge, follow up, close. */
export class SupervisionService {
  constructor(private readonly db: Db, private readonly engine: WorkflowEngine) {}

  async get(id: string): Promise<SupervisionRow> {
    const s = await this.db('supervisions').where({ id }).first();
    if (!s) throw new NotFoundError('supervision', id);
    return s;
  }

  /** 督办通知 to the department head: recorded, and an SMS through the outbox. */
  async urge(id: string, input: { content: string; replyBy?: Date | null }, actor: string): Promise<{ urgingId: number }> {
    return this.db.transaction(async (trx) => {
      const s: SupervisionRow | undefined = await trx('supervisions').where({ id }).forUpdate().first();
      if (!s) throw new NotFoundError('supervision', id);
      if (s.status !== 'open') throw new ConflictError('the supervision is closed');
      const c = await trx('cases as c').join('items as it', 'it.code', 'c.item_code').where('c.id', s.case_id).first('c.number', 'it.name as item_name');
      const dept = await trx('departments').where({ id: s.department_id }).first('name', 'phone', 'head_user');
      const head = dept?.head_user ? await trx('users').where({ id: dept.head_user }).first('display_name', 'phone') : undefined;
      const phone: string | null = head?.phone ?? dept?.phone ?? null;
      const [row] = await trx('urgings').insert({
        supervision_id: id, content: input.content, reply_by: input.replyBy ?? null, recipient: head?.display_name ?? dept?.name ?? s.department_id,
        phone, issued_by: actor,
      }).returning('id');
      if (phone) {
        const deadline = input.replyBy ? shanghaiStamp(input.replyBy) : '尽快';
        await trx('outbox').insert({
          instance_id: s.case_id, service: 'sms', dedup_key: `${s.number}:urge:${row.id}`,
          payload: JSON.stringify({ to: phone, template: 'urge', vars: { item: c.item_name, number: c.number, deadline } }),
        });
        await trx.raw(`SELECT pg_notify('duban_outbox', '')`);
      }
      await trx('history').insert({ instance_id: s.case_id, kind: 'supervision.urged', actor, data: JSON.stringify({ urgingId: row.id, content: input.content, phone }) });
      await appendAudit(trx, { actor, action: 'supervision.urged', entityType: 'supervision', entityId: s.number, after: { urgingId: row.id, content: input.content, recipient: phone } });
      return { urgingId: row.id };
    });
  }

  /** A follow-up date re-alerts the inspectors by SMS through a small BPMN process with a durable timer. */
  async followUp(id: string, at: Date, actor: string): Promise<void> {
    const s = await this.get(id);
    if (s.status !== 'open') throw new ConflictError('the supervision is closed');
    const c = await this.db('cases as c').join('items as it', 'it.code', 'c.item_code').where('c.id', s.case_id).first('c.number', 'it.name as item_name');
    await this.engine.start('supervision-follow-up', {
      actor, departmentId: 'inspection', businessKey: s.number,
      variables: { followUpAt: at.toISOString(), supervisionNumber: s.number, caseNumber: c.number, itemName: c.item_name },
      beforeRun: async (trx) => {
        await trx('supervisions').where({ id }).update({ follow_up_at: at });
        await appendAudit(trx, { actor, action: 'supervision.follow-up', entityType: 'supervision', entityId: s.number, before: { followUpAt: s.follow_up_at }, after: { followUpAt: at.toISOString() } });
      },
    });
  }

  /**
   * The supervision a task closes, when it is the 督办 task (element `supervise` or form `duban:supervise`
   * on a case that was escalated); completing it must follow close()'s rule.
   */
  async ofTask(task: { instanceId: string; elementId: string; formKey: string | null }): Promise<SupervisionRow | undefined> {
    if (task.elementId !== SUPERVISE_ELEMENT && task.formKey !== SUPERVISE_FORM) return undefined;
    return this.db('supervisions').where({ case_id: task.instanceId }).orderBy('opened_at', 'desc').first();
  }

  /** Close with a result once the case is done: completes the inspectors' 督办 task in the process; the actor is the caller. */
  async close(id: string, result: string, actor: string): Promise<InstanceSummary> {
    const s = await this.get(id);
    if (s.status !== 'open') throw new ConflictError('the supervision is already closed');
    const c = await this.db('cases').where({ id: s.case_id }).first('status', 'number');
    if (c.status !== 'completed') throw new ConflictError(`case ${c.number} is still being handled: urge the department first`);
    const task = await this.db('tasks').where({ instance_id: s.case_id, status: 'open' })
      .andWhere((w) => w.where('element_id', SUPERVISE_ELEMENT).orWhere('form_key', SUPERVISE_FORM)).first('id');
    if (!task) throw new ConflictError('no open supervision task for this case');
    return this.engine.completeTask(task.id, { supervisionResult: result, closedBy: actor }, actor);
  }
}

const SUPERVISE_ELEMENT = 'supervise';
const SUPERVISE_FORM = 'duban:supervise';
