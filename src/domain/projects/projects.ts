import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Db } from '../../db/database.js';
import type { WorkflowEngine } from '../../engine/engine.js';
import type { CalendarCache } from '../../calendar/calendar.js';
import { isValidDay, shanghaiDay, startOfShanghaiDay } from '../../calendar/calendar.js';
import { appendAudit } from '../../audit/audit.js';
import { BadRequestError, ConflictError, NotFoundError } from '../../engine/errors.js';
import { dayString } from '../letters/letters.js';
import { projectLight, type LightResult, type ProjectSettings } from './progress.js';
import { storeFiles, type CheckedFile } from './files.js';

export const PROJECT_PROCESS = 'key-project';

export interface MilestoneInput {
  name: string;
  dueDate: string;
  departmentId?: string;
  ownerPerson?: string;
  /** A project registered mid-way: the day this milestone was already done. */
  doneOn?: string;
}

export interface ProjectInput {
  code: string;
  name: string;
  departmentId: string;
  responsiblePerson: string;
  responsiblePhone?: string | null;
  location?: string;
  category?: string;
  industry?: string;
  level?: string;
  content?: string;
  totalInvestment: number;
  annualTarget: number;
  investedThisYear?: number;
  plannedStart: string;
  plannedFinish: string;
  progress?: number;
  milestones: MilestoneInput[];
}

export interface ProjectRow {
  id: string;
  code: string;
  name: string;
  department_id: string;
  department_name?: string;
  responsible_person: string;
  responsible_phone: string | null;
  location: string;
  category: string;
  industry: string;
  level: string;
  content: string;
  total_investment: string;
  annual_target: string;
  invested_this_year: string;
  planned_start: string | Date;
  planned_finish: string | Date;
  progress: number;
  status: 'building' | 'completed';
  misses: number;
  completed_at: Date | null;
  created_at: Date;
}

export interface MilestoneRow {
  id: number;
  project_id: string;
  seq: number;
  name: string;
  due_date: string | Date;
  current_due: string | Date;
  department_id: string;
  owner_person: string;
  status: 'pending' | 'done';
  done_at: Date | null;
  done_late: boolean | null;
  evidence: string | null;
  misses: number;
}

export interface ReportInput {
  progress: number;
  invested?: number | null;
  text: string;
}

type Trx = Knex.Transaction;

export function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

function checkInput(input: ProjectInput): void {
  const days = [input.plannedStart, input.plannedFinish, ...input.milestones.flatMap((m) => (m.doneOn ? [m.dueDate, m.doneOn] : [m.dueDate]))];
  const bad = days.filter((d) => !isValidDay(d));
  if (bad.length) throw new BadRequestError(`日期不合法:${bad.join(', ')} (dates must be YYYY-MM-DD)`);
  if (input.plannedFinish <= input.plannedStart) throw new BadRequestError('计划竣工日期须晚于计划开工日期 (planned finish must follow the start)');
  if (!input.milestones.length) throw new BadRequestError('至少需要一个节点 (a project needs at least one milestone)');
  const sorted = [...input.milestones].map((m) => m.dueDate);
  if (sorted.some((d, i) => i > 0 && d < sorted[i - 1]!)) throw new BadRequestError('节点须按完成时限先后排列 (milestones must be in date order)');
  const today = shanghaiDay(new Date());
  if (input.milestones.some((m) => m.doneOn && m.doneOn > today)) throw new BadRequestError('已完成节点的完成日期不能晚于今天 (doneOn must not lie in the future)');
}

/** Key projects: registration (which starts the project's process), the board, reports, problems, phone links. */
export class ProjectService {
  constructor(private readonly db: Db, private readonly engine: WorkflowEngine, private readonly calendars: CalendarCache) {}

  async settings(db: Db | Trx = this.db): Promise<ProjectSettings> {
    const s = await db('project_settings').first();
    return { yellowPoints: s.yellow_points, redPoints: s.red_points, warningDays: s.warning_days, linkDays: s.link_days };
  }

  async updateSettings(patch: Partial<ProjectSettings>, actor: string): Promise<ProjectSettings> {
    await this.db.transaction(async (trx) => {
      const before = await this.settings(trx);
      const next = { ...before, ...patch };
      if (next.yellowPoints >= next.redPoints) throw new BadRequestError('黄灯阈值须小于红灯阈值 (yellow threshold must be below red)');
      await trx('project_settings').update({ yellow_points: next.yellowPoints, red_points: next.redPoints, warning_days: next.warningDays, link_days: next.linkDays });
      await appendAudit(trx, { actor, action: 'project.settings.updated', entityType: 'project_settings', before, after: next });
    });
    return this.settings();
  }

  /** Register a project and start its process (instance id = project id) in one transaction. */
  async create(input: ProjectInput, actor: string): Promise<ProjectRow> {
    checkInput(input);
    const depts = new Set([input.departmentId, ...input.milestones.map((m) => m.departmentId ?? input.departmentId)]);
    const found = await this.db('departments').whereIn('id', [...depts]).pluck('id');
    const missing = [...depts].filter((d) => !found.includes(d));
    if (missing.length) throw new BadRequestError(`责任单位不存在:${missing.join(', ')} (unknown department)`);
    if (await this.db('key_projects').where({ code: input.code }).first('id')) throw new ConflictError(`项目编号 ${input.code} 已存在 (a project with this code exists)`);
    const id = randomUUID();
    await this.engine.start(PROJECT_PROCESS, {
      id, actor, departmentId: input.departmentId, businessKey: input.code,
      variables: { projectId: id, projectCode: input.code, projectName: input.name },
      beforeRun: (trx) => this.insertProject(trx, id, input, actor),
    });
    return this.byId(id);
  }

  private async insertProject(trx: Trx, id: string, input: ProjectInput, actor: string): Promise<void> {
    const row = {
      id, code: input.code, name: input.name, department_id: input.departmentId, responsible_person: input.responsiblePerson,
      responsible_phone: input.responsiblePhone ?? null, location: input.location ?? '', category: input.category ?? '',
      industry: input.industry ?? '', level: input.level ?? '区级', content: input.content ?? '',
      total_investment: input.totalInvestment, annual_target: input.annualTarget, invested_this_year: input.investedThisYear ?? 0,
      planned_start: input.plannedStart, planned_finish: input.plannedFinish, progress: input.progress ?? 0, created_by: actor,
    };
    await trx('key_projects').insert(row);
    await trx('project_milestones').insert(input.milestones.map((m, i) => ({
      project_id: id, seq: i + 1, name: m.name, due_date: m.dueDate, current_due: m.dueDate,
      department_id: m.departmentId ?? input.departmentId, owner_person: m.ownerPerson ?? input.responsiblePerson,
      ...(m.doneOn ? { status: 'done', done_at: new Date(startOfShanghaiDay(m.doneOn).getTime() + 10 * 3_600_000), done_late: m.doneOn > m.dueDate, evidence: '入库前已完成' } : {}),
    })));
    await appendAudit(trx, { actor, action: 'project.registered', entityType: 'key_project', entityId: input.code, after: { ...row, milestones: input.milestones } });
  }

  async byId(id: string): Promise<ProjectRow> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) throw new NotFoundError('project', id);
    const row = await this.db('key_projects as p').join('departments as d', 'd.id', 'p.department_id').where('p.id', id).first('p.*', 'd.name as department_name');
    if (!row) throw new NotFoundError('project', id);
    return row;
  }

  milestones(projectIds: string[]): Promise<MilestoneRow[]> {
    return this.db('project_milestones').whereIn('project_id', projectIds).orderBy(['project_id', 'seq']);
  }

  /** Every project (or one department's) with its light, 序时进度 and current milestone. */
  async board(departmentId: string | null, now = new Date()): Promise<Array<{ project: ProjectRow; milestones: MilestoneRow[]; light: LightResult }>> {
    const q = this.db('key_projects as p').join('departments as d', 'd.id', 'p.department_id').select('p.*', 'd.name as department_name').orderBy('p.code');
    if (departmentId) q.where('p.department_id', departmentId);
    return this.lit(await q, now);
  }

  /** One project with its milestones and light (a project's page needs no other project). */
  async lightOne(project: ProjectRow, now = new Date()): Promise<{ project: ProjectRow; milestones: MilestoneRow[]; light: LightResult }> {
    return (await this.lit([project], now))[0]!;
  }

  private async lit(projects: ProjectRow[], now: Date) {
    const all = projects.length ? await this.milestones(projects.map((p) => p.id)) : [];
    const settings = await this.settings();
    const calendar = await this.calendars.get();
    return projects.map((project) => {
      const milestones = all.filter((m) => m.project_id === project.id);
      return { project, milestones, light: this.lightOf(project, milestones, settings, calendar, now) };
    });
  }

  lightOf(project: ProjectRow, milestones: MilestoneRow[], settings: ProjectSettings, calendar: Awaited<ReturnType<CalendarCache['get']>>, now: Date): LightResult {
    return projectLight({
      status: project.status, plannedStart: dayString(project.planned_start), plannedFinish: dayString(project.planned_finish), progress: project.progress,
      milestones: milestones.map((m) => ({ status: m.status, currentDue: dayString(m.current_due) })),
    }, settings, calendar, now);
  }

  /** A progress report (percent, text, photos) from the API or the phone page; files are checked before this. */
  async report(projectId: string, input: ReportInput, files: CheckedFile[], actor: string, via: 'api' | 'mobile'): Promise<{ reportId: number }> {
    if (!Number.isInteger(input.progress) || input.progress < 0 || input.progress > 100) throw new BadRequestError('形象进度须为 0–100 的整数 (progress must be 0–100)');
    if (!input.text.trim()) throw new BadRequestError('请填写进度说明 (the report needs a text)');
    return this.db.transaction(async (trx) => {
      const p = await trx('key_projects').where({ id: projectId }).forUpdate().first('id', 'code', 'status', 'progress', 'invested_this_year');
      if (!p) throw new NotFoundError('project', projectId);
      if (p.status === 'completed') throw new ConflictError('项目已竣工,不再填报进度 (the project is completed)');
      const [{ id }] = await trx('project_reports').insert({
        project_id: projectId, progress: input.progress, invested: input.invested ?? null, text: input.text.trim(), reported_by: actor, via,
      }).returning('id');
      await storeFiles(trx, files, { projectId, reportId: Number(id) }, actor);
      await trx('key_projects').where({ id: projectId }).update({
        progress: input.progress, updated_at: trx.raw('now()'), ...(input.invested !== undefined && input.invested !== null ? { invested_this_year: input.invested } : {}),
      });
      await appendAudit(trx, { actor, action: 'project.reported', entityType: 'key_project', entityId: p.code,
        before: { progress: p.progress, investedThisYear: Number(p.invested_this_year) },
        after: { progress: input.progress, invested: input.invested ?? null, text: input.text.trim(), via, files: files.map((f) => ({ id: f.id, name: f.name, type: f.contentType, size: f.size, sha256: f.sha256 })) } });
      return { reportId: Number(id) };
    });
  }

  async addProblem(projectId: string, input: { content: string; departmentId: string; dueDate?: string | null }, actor: string): Promise<number> {
    if (input.dueDate && !isValidDay(input.dueDate)) throw new BadRequestError('解决时限须为 YYYY-MM-DD (due date must be YYYY-MM-DD)');
    return this.db.transaction(async (trx) => {
      const p = await this.byId(projectId);
      if (!(await trx('departments').where({ id: input.departmentId }).first('id'))) throw new BadRequestError(`责任单位不存在:${input.departmentId}`);
      const [{ id }] = await trx('project_problems').insert({ project_id: projectId, content: input.content, department_id: input.departmentId, due_date: input.dueDate ?? null, raised_by: actor }).returning('id');
      await appendAudit(trx, { actor, action: 'project.problem.raised', entityType: 'key_project', entityId: p.code, after: { problemId: Number(id), ...input } });
      return Number(id);
    });
  }

  async resolveProblem(projectId: string, problemId: number, resolution: string, actor: string): Promise<void> {
    await this.db.transaction(async (trx) => {
      const row = await trx('project_problems').where({ id: problemId, project_id: projectId }).forUpdate().first();
      if (!row) throw new NotFoundError('problem', String(problemId));
      if (row.resolved_at) throw new ConflictError('该问题已解决 (the problem is resolved already)');
      await trx('project_problems').where({ id: problemId }).update({ resolution, resolved_at: trx.raw('now()') });
      await appendAudit(trx, { actor, action: 'project.problem.resolved', entityType: 'project_problem', entityId: String(problemId), before: { resolution: null }, after: { resolution } });
    });
  }

  /** A 监督一点通 link for the responsible person's phone; only its hash is kept. */
  async createLink(trx: Trx | Db, projectId: string, actor: string): Promise<string> {
    const settings = await this.settings(trx);
    const token = randomBytes(24).toString('base64url');
    await trx('project_links').insert({
      id: randomUUID(), project_id: projectId, token_hash: sha256(token), created_by: actor,
      expires_at: trx.raw(`now() + (? || ' days')::interval`, [String(settings.linkDays)]),
    });
    return token;
  }

  /** The project a phone link opens, or 404 when it is unknown, expired or revoked (one answer for all three). */
  async projectOfLink(token: string): Promise<ProjectRow> {
    if (!/^[A-Za-z0-9_-]{20,64}$/.test(token)) throw new NotFoundError('link', '');
    const link = await this.db('project_links').where({ token_hash: sha256(token) }).whereNull('revoked_at').andWhere('expires_at', '>', this.db.raw('now()')).first('project_id');
    if (!link) throw new NotFoundError('link', '');
    return this.byId(link.project_id);
  }

  /** Per 责任单位: projects, lights, investment against the annual target. */
  async unitSummary(now = new Date()) {
    const board = await this.board(null, now);
    const units = new Map<string, { departmentId: string; departmentName: string; projects: number; green: number; yellow: number; red: number; done: number; annualTarget: number; invested: number }>();
    for (const { project, light } of board) {
      const u = units.get(project.department_id) ?? { departmentId: project.department_id, departmentName: project.department_name ?? project.department_id, projects: 0, green: 0, yellow: 0, red: 0, done: 0, annualTarget: 0, invested: 0 };
      u.projects++;
      u[light.light]++;
      u.annualTarget += Number(project.annual_target);
      u.invested += Number(project.invested_this_year);
      units.set(project.department_id, u);
    }
    return [...units.values()].map((u) => ({ ...u, investmentRate: u.annualTarget ? Math.round((u.invested / u.annualTarget) * 1000) / 10 : 0 }));
  }

  today(): string {
    return shanghaiDay(new Date());
  }
}
