import type { Knex } from 'knex';
import type { ServiceContext, ServiceRegistry } from '../../engine/services.js';
import type { CalendarCache } from '../../calendar/calendar.js';
import { isValidDay, shanghaiDay } from '../../calendar/calendar.js';
import { appendAudit } from '../../audit/audit.js';
import { dayString, issueLetter, replyToLetter, type LetterRow } from '../letters/letters.js';
import { onDutyInspectors } from '../supervision/supervision.js';
import { endOfDay } from './progress.js';
import type { MilestoneRow, ProjectRow, ProjectService } from './projects.js';

type Trx = Knex.Transaction;

interface Deps {
  calendars: CalendarCache;
  projects: () => ProjectService;
  /** Duban's public URL, for the 监督一点通 link in SMS texts. */
  publicUrl: string;
}

async function projectOf(ctx: ServiceContext): Promise<ProjectRow> {
  const p = await ctx.trx!('key_projects').where({ id: ctx.instanceId }).forUpdate().first();
  if (!p) throw new Error(`no key project for process instance ${ctx.instanceId}`);
  return p;
}

async function currentMilestone(trx: Trx, projectId: string): Promise<MilestoneRow | undefined> {
  return trx('project_milestones').where({ project_id: projectId, status: 'pending' }).orderBy('seq').forUpdate().first();
}

function milestoneVariables(m: MilestoneRow) {
  return {
    done: false, milestoneId: m.id, milestoneSeq: m.seq, milestoneName: m.name, milestoneDepartmentId: m.department_id,
    milestoneDueAt: endOfDay(dayString(m.current_due)).toISOString(),
  };
}

/**
 * The steps of processes/key-project.bpmn. Each runs in the step's transaction: the milestone row, the
 * letter and its SMS commit together, so a late milestone gets one letter and one message however often
 * a firing is retried.
 */
export function registerProjectServices(registry: ServiceRegistry, deps: Deps): void {
  registry.register({
    name: 'nextProjectMilestone',
    description: '重点项目:取下一个未完成节点 (the next open milestone, or done)',
    handler: async (ctx) => {
      const m = await currentMilestone(ctx.trx!, ctx.instanceId);
      return m ? milestoneVariables(m) : { done: true };
    },
  });

  registry.register({
    name: 'recordProjectMilestone',
    description: '重点项目:记录节点完成情况 (record a milestone as done, on time or late)',
    handler: async (ctx) => {
      const trx = ctx.trx!;
      const p = await projectOf(ctx);
      const m = await currentMilestone(trx, p.id);
      if (!m) return { recorded: false };
      const late = Date.now() >= endOfDay(dayString(m.due_date)).getTime();
      const evidence = typeof ctx.variables.evidence === 'string' ? ctx.variables.evidence : null;
      await trx('project_milestones').where({ id: m.id }).update({ status: 'done', done_at: trx.raw('now()'), done_late: late, evidence });
      await appendAudit(trx, { actor: 'system', action: 'project.milestone.done', entityType: 'key_project', entityId: p.code,
        before: { milestone: m.name, status: 'pending' }, after: { milestone: m.name, status: 'done', late, evidence } });
      return { recorded: true, milestoneLate: late };
    },
  });

  registry.register({
    name: 'projectMilestoneOverdue',
    description: '重点项目节点逾期:首次发提醒函并短信责任人,再次逾期发督办函转纪检监察督办 (late milestone: reminder letter, then supervision letter and escalation)',
    handler: async (ctx) => {
      const trx = ctx.trx!;
      const p = await projectOf(ctx);
      const m = await currentMilestone(trx, p.id);
      if (!m) return { escalate: false };
      const misses = m.misses + 1;
      await trx('project_milestones').where({ id: m.id }).update({ misses });
      await trx('key_projects').where({ id: p.id }).update({ misses: p.misses + 1, updated_at: trx.raw('now()') });
      const letter = await issueLetter(trx, deps.calendars, {
        kind: misses === 1 ? 'reminder' : 'supervision', subject: `${p.name}“${m.name}”节点推进`, recipientDepartmentId: m.department_id,
        source: misses === 1 ? '重点项目节点监测(序时进度督查)' : '重点项目节点监测:提醒函回告的完成时间再次逾期',
        problems: `“${m.name}”节点完成时限为${dayString(m.due_date)}${misses > 1 ? `,回告完成时间为${dayString(m.current_due)}` : ''},截至${shanghaiDay(new Date())}仍未完成。`,
        recommendations: misses === 1
          ? '请责任单位分析滞后原因,制定整改措施,明确完成时间,并于回复时限前书面回告。'
          : '请责任单位主要负责人亲自督办,倒排工期、挂图作战,于回复时限前书面回告整改结果;纪检监察机构将跟踪督查。',
        subjectType: 'project', subjectId: p.id, caseNumber: p.code,
      }, 'system');
      if (misses === 1) await remindResponsible(ctx, deps, p, m, letter);
      else await alertInspectors(ctx, p, m, letter);
      return { escalate: misses > 1, milestoneMisses: misses, letterId: letter.id, letterNumber: letter.number };
    },
  });

  registry.register({
    name: 'applyProjectReply',
    description: '重点项目回告:记录整改措施和新的完成时间 (the unit’s reply: measures and a new date)',
    handler: async (ctx) => {
      const trx = ctx.trx!;
      const p = await projectOf(ctx);
      const m = await currentMilestone(trx, p.id);
      if (!m) return {};
      const measures = typeof ctx.variables.measures === 'string' ? ctx.variables.measures.trim() : '';
      const asked = typeof ctx.variables.newDate === 'string' ? ctx.variables.newDate.slice(0, 10) : '';
      const today = shanghaiDay(new Date());
      // A new date in the past or unreadable cannot stop the clock: the unit gets five working days, and the history says so.
      const calendar = await deps.calendars.get();
      const newDue = isValidDay(asked) && asked >= today ? asked : calendar.addWorkingDays(new Date(), 5).dueDay;
      await trx('project_milestones').where({ id: m.id }).update({ current_due: newDue });
      const letterId = typeof ctx.variables.letterId === 'string' ? ctx.variables.letterId : null;
      const replier = await trx('tasks').where({ instance_id: p.id, element_id: 'reply', status: 'completed' }).orderBy('ended_at', 'desc').first('completed_by');
      const actor = replier?.completed_by ?? 'system';
      if (letterId) {
        const l: LetterRow | undefined = await trx('letters').where({ id: letterId }).first();
        if (l && l.status === 'issued') await replyToLetter(trx, letterId, `整改措施:${measures || '(未填写)'};完成时间:${newDue}`, actor);
      }
      await appendAudit(trx, { actor, action: 'project.milestone.replied', entityType: 'key_project', entityId: p.code,
        before: { milestone: m.name, due: dayString(m.current_due) }, after: { milestone: m.name, due: newDue, asked: asked || null, measures } });
      return { milestoneDueAt: endOfDay(newDue).toISOString() };
    },
  });

  registry.register({
    name: 'completeProject',
    description: '重点项目竣工:全部节点完成 (every milestone done: the project is completed)',
    handler: async (ctx) => {
      const trx = ctx.trx!;
      const p = await projectOf(ctx);
      await trx('key_projects').where({ id: p.id }).update({ status: 'completed', completed_at: trx.raw('now()'), progress: 100, updated_at: trx.raw('now()') });
      await appendAudit(trx, { actor: 'system', action: 'project.completed', entityType: 'key_project', entityId: p.code, before: { status: p.status }, after: { status: 'completed' } });
      return { projectCompleted: true };
    },
  });
}

async function remindResponsible(ctx: ServiceContext, deps: Deps, p: ProjectRow, m: MilestoneRow, letter: LetterRow): Promise<void> {
  if (!p.responsible_phone) return;
  const token = await deps.projects().createLink(ctx.trx!, p.id, 'system');
  ctx.enqueue('sms', {
    to: p.responsible_phone, template: 'projectReminder',
    vars: { letter: letter.number, project: p.name, milestone: m.name, replyBy: shanghaiDay(new Date(new Date(letter.reply_by).getTime() - 1)), link: `${deps.publicUrl}/#/m/${token}` },
  }, `project:${p.id}:m${m.seq}:miss1:${p.responsible_phone}`);
}

async function alertInspectors(ctx: ServiceContext, p: ProjectRow, m: MilestoneRow, letter: LetterRow): Promise<void> {
  const misses = m.misses + 1;
  for (const inspector of await onDutyInspectors(ctx.trx!, p.department_id, new Date())) {
    ctx.enqueue('sms', { to: inspector.phone, template: 'projectEscalated', vars: { project: p.name, milestone: m.name, letter: letter.number } },
      `project:${p.id}:m${m.seq}:miss${misses}:${inspector.phone}`);
  }
}
