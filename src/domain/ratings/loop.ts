import type { Knex } from 'knex';
import type { ServiceRegistry, ServiceContext } from '../../engine/services.js';
import type { WorkflowEngine } from '../../engine/engine.js';
import type { CalendarCache } from '../../calendar/calendar.js';
import { toShanghaiIso } from '../../calendar/calendar.js';
import { appendAudit } from '../../audit/audit.js';
import { onDutyInspectors } from '../supervision/supervision.js';
import { issueLetter } from '../letters/letters.js';
import { readSettings } from './intake.js';
import { isBad } from './codes.js';

export const LOOP_PROCESS = 'rating-loop';
type Trx = Knex.Transaction;

interface RatingRow {
  id: string;
  case_number: string;
  times: number;
  level: string;
  text: string | null;
  content_codes: string[];
  channel: string;
  rater_name: string | null;
  rater_phone: string | null;
  real_name: boolean;
  rated_at: Date;
  department_id: string;
  item_code: string | null;
  handling_deadline: Date | null;
  loop_status: string | null;
  status: string;
  letter_id: string | null;
}

async function ratingOf(ctx: ServiceContext): Promise<RatingRow> {
  const r = await ctx.trx!('ratings').where({ id: ctx.instanceId }).forUpdate().first();
  if (!r) throw new Error(`no rating for loop ${ctx.instanceId}`);
  return r;
}

const s = (v: unknown): string | null => (typeof v === 'string' && v.trim() ? v.trim() : null);

/** 差评分类 from the 测评内容 codes or the text: a first sort for the department and the statistics. */
export function classify(text: string | null, codes: string[]): string {
  const t = `${text ?? ''} ${codes.join(' ')}`;
  if (/态度|冷漠|不耐烦|服务差/.test(t)) return '服务态度';
  if (/慢|久|超时|拖|效率|跑了|往返|多次/.test(t)) return '办事效率';
  if (/材料|告知|咨询|解释|不清楚|政策/.test(t)) return '告知咨询';
  if (/收费|吃拿卡要|违规|索要/.test(t)) return '作风纪律';
  return '其他';
}

async function itemName(trx: Trx, code: string | null): Promise<string> {
  if (!code) return '政务服务事项';
  const it = await trx('items').where({ code }).first('name');
  return it?.name ?? code;
}

async function history(trx: Trx, instanceId: string, kind: string, data: Record<string, unknown>): Promise<void> {
  await trx('history').insert({ instance_id: instanceId, kind, actor: 'system', data: JSON.stringify(data) });
}

/**
 * The closed loop's services (processes/rating-loop.bpmn). Each writes the rating's loop columns in the
 * step's transaction, so the record of what was done commits with the step. `startRatingLoop` is the
 * outbox delivery that starts a loop for a new rating at or below the trigger level, on the newest
 * version of the process, with the rating's id as the instance id (started once, however often delivered).
 */
export function registerRatingServices(registry: ServiceRegistry, engine: () => WorkflowEngine, calendars: CalendarCache): void {
  registry.registerDelivery('startRatingLoop', async (payload) => {
    const id = String(payload.ratingId);
    const e = engine();
    if (await e.db('process_instances').where({ id }).first('id')) return { started: false };
    const r: RatingRow | undefined = await e.db('ratings').where({ id }).first();
    if (!r || r.status !== 'valid') return { started: false };
    const calendar = await calendars.get();
    const settings = await readSettings(e.db);
    const now = new Date();
    const deadline = calendar.addWorkingDays(now, settings.handling_days).dueAt;
    const warning = calendar.shiftByWorkingDays(deadline, -1);
    const name = await e.db('items').where({ code: r.item_code ?? '' }).first('name');
    try {
      await e.start(LOOP_PROCESS, {
        id, businessKey: r.case_number, actor: 'system', departmentId: r.department_id,
        variables: {
          ratingId: id, caseNumber: r.case_number, departmentId: r.department_id, itemName: name?.name ?? r.item_code ?? '', level: r.level,
          realName: r.real_name, handlingDeadline: toShanghaiIso(deadline), warningAt: toShanghaiIso(warning),
        },
        beforeRun: async (trx) => {
          await trx('ratings').where({ id }).update({ loop_status: 'open', handling_deadline: deadline });
        },
      });
    } catch (err) {
      if ((err as { code?: string }).code === '23505') return { started: false };
      throw err;
    }
    return { started: true };
  });

  registry.register({
    name: 'acceptRating',
    description: '系统受理:关联办件与办理部门,差评分类 (link the rating to its case and department, classify)',
    handler: async (ctx) => {
      const r = await ratingOf(ctx);
      const trx = ctx.trx!;
      const c = await trx('cases').where({ number: r.case_number }).first('id', 'department_id');
      const category = classify(r.text, r.content_codes);
      await trx('ratings').where({ id: r.id }).update({ category, case_id: c?.id ?? null });
      await appendAudit(trx, { actor: 'system', action: 'rating.accepted', entityType: 'rating', entityId: r.id, after: { caseNumber: r.case_number, departmentId: r.department_id, category } });
      return { category };
    },
  });

  registry.register({
    name: 'notifyRatingDepartment',
    description: '差评处置黄灯预警:短信提醒责任部门 (yellow light on a bad rating: SMS the department)',
    handler: async (ctx) => {
      const r = await ratingOf(ctx);
      const trx = ctx.trx!;
      const clerks = await trx('users').whereRaw(`'clerk' = ANY(roles)`).andWhere({ department_id: r.department_id, active: true }).whereNotNull('phone').pluck('phone');
      const dept = await trx('departments').where({ id: r.department_id }).first('phone');
      const item = await itemName(trx, r.item_code);
      for (const to of new Set([dept?.phone, ...clerks].filter(Boolean) as string[])) {
        ctx.enqueue('sms', { to, template: 'ratingWarning', vars: { item, number: r.case_number, deadline: toShanghaiIso(new Date(r.handling_deadline!)).slice(0, 16).replace('T', ' ') } }, `rating:${r.id}:warning:${to}`);
      }
      return { ratingWarned: true };
    },
  });

  registry.register({
    name: 'escalateRating',
    description: '差评处置超期:短信通知值班纪检监察员 (bad rating not handled in time: escalate to the inspectors on duty)',
    handler: async (ctx) => {
      const r = await ratingOf(ctx);
      const trx = ctx.trx!;
      await trx('ratings').where({ id: r.id }).update({ escalated_at: trx.raw('now()') });
      const item = await itemName(trx, r.item_code);
      for (const i of await onDutyInspectors(trx, r.department_id, new Date())) {
        ctx.enqueue('sms', { to: i.phone, template: 'ratingOverdue', vars: { item, number: r.case_number } }, `rating:${r.id}:overdue:${i.phone}`);
      }
      await appendAudit(trx, { actor: 'system', action: 'rating.escalated', entityType: 'rating', entityId: r.id, after: { caseNumber: r.case_number, departmentId: r.department_id } });
      return { ratingEscalated: true };
    },
  });

  registry.register({
    name: 'recordCallback',
    description: '记录回访核实结果与是否申诉 (record the call back and whether the department appeals)',
    handler: async (ctx) => {
      const r = await ratingOf(ctx);
      const appeal = ctx.variables.appeal === true;
      await ctx.trx!('ratings').where({ id: r.id }).update({ called_back: ctx.variables.calledBack === true, appeal_status: appeal ? 'pending' : null });
      return {};
    },
  });

  registry.register({
    name: 'recordAppeal',
    description: '申诉复核结果:成立则该评价不计入任何比率 (appeal decision: an upheld appeal removes the rating from every rate)',
    handler: async (ctx) => {
      const r = await ratingOf(ctx);
      const trx = ctx.trx!;
      const upheld = ctx.variables.appealDecision === 'upheld';
      await trx('ratings').where({ id: r.id }).update(upheld ? { appeal_status: 'upheld', status: 'invalid', loop_status: 'invalid', closed_at: trx.raw('now()') } : { appeal_status: 'refused' });
      await appendAudit(trx, { actor: 'system', action: upheld ? 'rating.invalidated' : 'rating.appeal.refused', entityType: 'rating', entityId: r.id,
        before: { status: r.status }, after: { status: upheld ? 'invalid' : r.status, note: s(ctx.variables.reviewNote) } });
      return {};
    },
  });

  registry.register({
    name: 'recordHandling',
    description: '记录部门处置(立行立改/限期整改/解释说明) (record what the department did and whether it was on time)',
    handler: async (ctx) => {
      const r = await ratingOf(ctx);
      const trx = ctx.trx!;
      const route = ['立行立改', '限期整改', '解释说明'].includes(String(ctx.variables.route)) ? String(ctx.variables.route) : '解释说明';
      const due = s(ctx.variables.rectifyDue);
      const onTime = r.handling_deadline ? Date.now() <= new Date(r.handling_deadline).getTime() : true;
      await trx('ratings').where({ id: r.id }).update({
        route, action: s(ctx.variables.action), rectify_due: route === '限期整改' && due && /^\d{4}-\d{2}-\d{2}/.test(due) ? due.slice(0, 10) : null,
        handled_at: trx.raw('now()'), handled_on_time: onTime,
      });
      await appendAudit(trx, { actor: 'system', action: 'rating.handled', entityType: 'rating', entityId: r.id, after: { route, onTime } });
      return { handledOnTime: onTime };
    },
  });

  registry.register({
    name: 'recordSendBack',
    description: '纪检监督退回整改 (the inspector sends it back for more rectification)',
    handler: async (ctx) => {
      const r = await ratingOf(ctx);
      await ctx.trx!('ratings').where({ id: r.id }).increment('sent_back', 1);
      await appendAudit(ctx.trx!, { actor: 'system', action: 'rating.sent-back', entityType: 'rating', entityId: r.id, after: { opinion: s(ctx.variables.opinion) } });
      return {};
    },
  });

  registry.register({
    name: 'issueRatingLetter',
    description: '下发纪检监察建议书 (issue a numbered 纪检监察建议书 to the department)',
    handler: async (ctx) => {
      const r = await ratingOf(ctx);
      const trx = ctx.trx!;
      if (r.letter_id) return { letterId: r.letter_id };
      const dept = await trx('departments').where({ id: r.department_id }).first('name');
      const item = await itemName(trx, r.item_code);
      // The inspector completing 纪检监督 signs it: the task is still open while its completion runs.
      const task = await trx('tasks').where({ instance_id: r.id, element_id: 'supervise', status: 'open' }).first('claimed_by', 'assignee');
      const letter = await issueLetter(trx, calendars, {
        kind: 'recommendation', subject: `${dept?.name ?? r.department_id}${item}“好差评”${r.level}评价问题`, recipientDepartmentId: r.department_id,
        source: `“好差评”系统${r.channel}渠道收到${r.level}评价(办件编号:${r.case_number},评价时间:${toShanghaiIso(new Date(r.rated_at)).slice(0, 16).replace('T', ' ')})。${r.text ? `评价内容:${r.text}` : ''}`,
        problems: s(ctx.variables.letterProblems) ?? s(ctx.variables.opinion) ?? '部门处置未能有效解决评价反映的问题。',
        recommendations: s(ctx.variables.letterRecommendations) ?? '请分析原因,落实整改责任,完善工作制度,并将整改情况书面回复。',
        subjectType: 'rating', subjectId: r.id, caseNumber: r.case_number,
      }, task?.claimed_by ?? task?.assignee ?? 'system');
      await trx('ratings').where({ id: r.id }).update({ letter_id: letter.id });
      await history(trx, r.id, 'letter.issued', { letterId: letter.id, number: letter.number });
      return { letterId: letter.id, letterNumber: letter.number };
    },
  });

  registry.register({
    name: 'sendRatingFeedback',
    description: '结果反馈:短信告知评价人处理结果 (feedback SMS to the rater through the outbox)',
    handler: async (ctx) => {
      const r = await ratingOf(ctx);
      const trx = ctx.trx!;
      const full = await trx('ratings').where({ id: r.id }).first('route');
      const result = full.route === '解释说明' ? '已向您解释说明' : full.route === '限期整改' ? '已限期整改' : '已立行立改';
      if (r.rater_phone) {
        ctx.enqueue('sms', { to: r.rater_phone, template: 'ratingFeedback', vars: { item: await itemName(trx, r.item_code), number: r.case_number, result } }, `rating:${r.id}:feedback`);
      }
      await trx('ratings').where({ id: r.id }).update({ feedback_at: trx.raw('now()') });
      return { feedbackSent: !!r.rater_phone };
    },
  });

  registry.register({
    name: 'closeRatingLoop',
    description: '闭环:记录回访与评价人对处理的满意度 (close the loop with the return visit and the rater’s satisfaction)',
    handler: async (ctx) => {
      const r = await ratingOf(ctx);
      const trx = ctx.trx!;
      const satisfaction = s(ctx.variables.satisfaction);
      await trx('ratings').where({ id: r.id }).update({ loop_status: 'closed', closed_at: trx.raw('now()'), return_visited: ctx.variables.returnVisited === true, satisfaction });
      await appendAudit(trx, { actor: 'system', action: 'rating.loop.closed', entityType: 'rating', entityId: r.id, after: { satisfaction, bad: isBad(r.level as never) } });
      return { loopClosed: true };
    },
  });
}
