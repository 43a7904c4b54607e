import type { Knex } from 'knex';
import type { ServiceContext, ServiceRegistry } from '../../engine/services.js';
import type { CalendarCache } from '../../calendar/calendar.js';
import { appendAudit } from '../../audit/audit.js';
import { deadlineOf, shiftByUnits, stoppedUnits, type ItemLimits } from './deadlines.js';
import type { CaseRow } from './cases.js';

/**
 * GB/T 39046 办结 result codes (as one province uploads them): 6 准予许可, 7 不予许可, 1 退回
 * (a case refused at intake is returned to the applicant), 2 作废, 5 补正不来办结.
 */
export const RESULT_CODES: Record<string, string> = {
  准予许可: '6', 不予许可: '7', 不予受理: '1', 退回: '1', 作废: '2', 撤销: '2', 补正不来办结: '5',
};

export function resultCode(result: string): string | null {
  return RESULT_CODES[result] ?? null;
}

type Trx = Knex.Transaction;

async function dbNow(trx: Trx): Promise<Date> {
  const { rows } = await trx.raw<{ rows: Array<{ now: Date }> }>('SELECT now() AS now');
  return new Date(rows[0]!.now);
}

async function lockCase(ctx: ServiceContext): Promise<CaseRow> {
  const c: CaseRow | undefined = await ctx.trx!('cases').where({ id: ctx.instanceId }).forUpdate().first();
  if (!c) throw new Error(`no case for process instance ${ctx.instanceId}`);
  return c;
}

/** 办结 with a result: the case is completed, its result and code recorded, in the step's transaction. */
export async function finishCase(trx: Trx, c: Pick<CaseRow, 'id' | 'number' | 'status'>, result: string): Promise<void> {
  const code = resultCode(result);
  await trx('cases').where({ id: c.id }).update({ status: 'completed', completed_at: trx.raw('now()'), result, result_code: code, clock_stopped_at: null });
  await trx('case_suspensions').where({ case_id: c.id }).whereNull('ended_at').update({ ended_at: trx.raw('now()') });
  await trx('supervisions').where({ case_id: c.id, status: 'open' }).update({ case_completed_at: trx.raw('now()') });
  await appendAudit(trx, { actor: 'system', action: 'case.completed', entityType: 'case', entityId: c.number, before: { status: c.status }, after: { status: 'completed', result, resultCode: code } });
}

const SUPPLEMENT_DEFAULT = 10;

/** The 补正 limit the clerk set on the 受理 form (in the case's unit), within 1–60; 10 otherwise. */
function supplementLimit(v: unknown): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 60 ? n : SUPPLEMENT_DEFAULT;
}

const SPECIAL_KINDS: Record<string, string> = { hearing: '听证', expert: '专家评审', inspection: '现场核查' };

/**
 * The services of the approval procedure: the clock stops when a step asks for 补正 or a 特别程序 and
 * restarts when it ends; refusals and lapsed 补正 end the case with their GB/T 39046 result.
 * A stop by the process leaves the engine running (the 补正 task and its own limit must work); the case's
 * deadline timers are not armed meanwhile because the 部门办理 sub-process is left, and re-entering it
 * arms them at the moved deadline (the resume step's output `deadlineAt`, `warningAt`).
 */
export function registerCaseServices(registry: ServiceRegistry, calendars: CalendarCache): void {
  const stop = async (ctx: ServiceContext, kind: 'supplement' | 'special', reason: string) => {
    const trx = ctx.trx!;
    const c = await lockCase(ctx);
    let stoppedAt = c.clock_stopped_at ? new Date(c.clock_stopped_at) : null;
    if (c.status === 'handling') {
      stoppedAt = await dbNow(trx);
      await trx('cases').where({ id: c.id }).update({ status: 'suspended', clock_stopped_at: stoppedAt });
      await trx('case_suspensions').insert({ case_id: c.id, kind, reason, started_at: stoppedAt, started_by: 'system', by_process: true });
      await trx('history').insert({ instance_id: c.id, kind: 'case.clock.stopped', element_id: ctx.elementId, actor: null, data: JSON.stringify({ kind, reason }) });
      await appendAudit(trx, { actor: 'system', action: 'case.suspended', entityType: 'case', entityId: c.number, before: { status: c.status }, after: { status: 'suspended', kind, reason, byProcess: true } });
    }
    return { c, stoppedAt: stoppedAt ?? (await dbNow(trx)) };
  };

  registry.register({
    name: 'stopClockForSupplement',
    description: '一次性告知补正:停止计时,给出补正期限 (stop the clock for 补正; output supplementDueAt)',
    handler: async (ctx) => {
      const reason = typeof ctx.variables.opinion === 'string' && ctx.variables.opinion ? ctx.variables.opinion : '一次性告知补正';
      const { c, stoppedAt } = await stop(ctx, 'supplement', reason);
      const n = supplementLimit(ctx.variables.supplementDays);
      const calendar = await calendars.get();
      const due = c.limit_unit === 'workday' ? calendar.addWorkingDays(stoppedAt, n).dueAt : shiftByUnits(calendar, c.limit_unit, stoppedAt, n);
      return { supplementDueAt: due.toISOString(), supplementDue: deadlineOf(due, c.limit_unit).text };
    },
  });

  registry.register({
    name: 'stopClockForSpecial',
    description: '特别程序(听证、专家评审、现场核查):停止计时 (stop the clock for a special procedure)',
    handler: async (ctx) => {
      const what = SPECIAL_KINDS[String(ctx.variables.reviewResult)] ?? '特别程序';
      const opinion = typeof ctx.variables.opinion === 'string' && ctx.variables.opinion ? `:${ctx.variables.opinion}` : '';
      await stop(ctx, 'special', `${what}${opinion}`);
      return { specialKind: what };
    },
  });

  registry.register({
    name: 'resumeClock',
    description: '恢复计时:承诺办结时间顺延停止计时的工作日 (restart the clock; the deadline moves by the time stopped)',
    handler: async (ctx) => {
      const trx = ctx.trx!;
      const c = await lockCase(ctx);
      const last = await trx('case_suspensions').where({ case_id: c.id }).orderBy('id', 'desc').first('id', 'kind', 'started_at', 'ended_at');
      const resumeAt = last?.kind === 'special' ? 'review' : 'accept';
      if (c.status === 'suspended' && last && !last.ended_at) {
        const calendar = await calendars.get();
        const now = await dbNow(trx);
        const k = stoppedUnits(calendar, c.limit_unit, new Date(last.started_at), now);
        const promisedAt = shiftByUnits(calendar, c.limit_unit, c.promised_at, k);
        const warningAt = shiftByUnits(calendar, c.limit_unit, c.warning_at, k);
        await trx('cases').where({ id: c.id }).update({
          status: 'handling', promised_at: promisedAt, warning_at: warningAt, suspended_days: c.suspended_days + k, clock_stopped_at: null,
          calendar_confirmed: c.limit_unit === 'workday' ? calendar.confirmedBetween(c.received_at, promisedAt) : true,
        });
        await trx('case_suspensions').where({ id: last.id }).update({ ended_at: now, ended_by: 'system', working_days: k });
        await trx('history').insert({ instance_id: c.id, kind: 'case.clock.resumed', element_id: ctx.elementId, actor: null, data: JSON.stringify({ kind: last.kind, units: k, promisedAt }) });
        await appendAudit(trx, { actor: 'system', action: 'case.resumed', entityType: 'case', entityId: c.number,
          before: { status: 'suspended', promisedAt: c.promised_at.toISOString() }, after: { status: 'handling', promisedAt: promisedAt.toISOString(), workingDays: k, byProcess: true } });
        return { deadlineAt: promisedAt.toISOString(), warningAt: warningAt.toISOString(), resumeAt };
      }
      // Called again after a crash: the case already runs; hand back its current deadlines.
      return { deadlineAt: new Date(c.promised_at).toISOString(), warningAt: new Date(c.warning_at).toISOString(), resumeAt };
    },
  });

  registry.register({
    name: 'refuseIntake',
    description: '不予受理:办件以“不予受理”办结 (end the case refused at intake, result code 1)',
    handler: async (ctx) => {
      const c = await lockCase(ctx);
      if (c.status !== 'completed') await finishCase(ctx.trx!, c, '不予受理');
      return { completed: true };
    },
  });

  registry.register({
    name: 'closeUnsupplemented',
    description: '补正不来办结:补正期限届满未补正 (end the case when the 补正 limit lapses, result code 5)',
    handler: async (ctx) => {
      const c = await lockCase(ctx);
      if (c.status !== 'completed') await finishCase(ctx.trx!, c, '补正不来办结');
      return { completed: true };
    },
  });

  registry.register({
    name: 'notifyStepOverdue',
    description: '环节超时:短信提醒承办部门该环节已超过环节时限 (a step ran over its own limit: SMS the department)',
    handler: async (ctx) => {
      const trx = ctx.trx!;
      const c = await trx('cases as c').join('items as it', 'it.code', 'c.item_code').where('c.id', ctx.instanceId).first('c.*', 'it.name as item_name');
      if (!c || !['handling', 'suspended'].includes(c.status)) return { stepNotified: false };
      // The step whose limit this is: the open task the timer's boundary event sits on.
      const task = await trx('tasks').where({ instance_id: c.id, status: 'open' }).whereNotNull('due_at').andWhere('due_at', '<=', trx.raw('now()'))
        .orderBy('due_at', 'desc').first('id', 'name', 'element_id');
      const step = task?.name ?? task?.element_id ?? '办理';
      const recipients = await trx('users').whereRaw(`'clerk' = ANY(roles)`).andWhere({ department_id: c.department_id, active: true }).whereNotNull('phone').select('phone');
      const dept = await trx('departments').where({ id: c.department_id }).first('phone');
      const phones = [...new Set([dept?.phone, ...recipients.map((r: { phone: string }) => r.phone)].filter(Boolean))] as string[];
      for (const to of phones) ctx.enqueue('sms', { to, template: 'stepOverdue', vars: { item: c.item_name, number: c.number, step } }, `${c.number}:step:${ctx.executionId}:${to}`);
      await appendAudit(trx, { actor: 'system', action: 'case.step.overdue', entityType: 'case', entityId: c.number, after: { step, taskId: task?.id ?? null, recipients: phones.length } });
      return { stepNotified: true };
    },
  });
}

export type { ItemLimits };
