import type { FastifyInstance, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import { Type } from '@sinclair/typebox';
import type { Db } from '../db/database.js';
import { principalOf, forbidden } from './auth.js';
import { IdParams, Nullable, iso } from './paging.js';
import { hasRole, seesAllDepartments, type Principal, type Role, type Scope } from '../auth/principal.js';
import { dayString } from '../domain/letters/letters.js';
import type { MilestoneRow, ProjectRow, ProjectService } from '../domain/projects/projects.js';
import type { LightResult } from '../domain/projects/progress.js';
import { checkUploads, contentDisposition, MAX_FILE_BYTES, MAX_FILES, PayloadTooLargeError, type Upload } from '../domain/projects/files.js';
import { BadRequestError, NotFoundError } from '../engine/errors.js';
import { LetterSchema, toLetter } from './letters.js';
import { appendAudit } from '../audit/audit.js';

const READ = { roles: ['admin', 'inspector', 'leader', 'clerk'] as Role[], scope: 'read' as Scope };
const REPORT = { roles: ['admin', 'clerk'] as Role[], scope: 'tasks:write' as Scope };
const SUPERVISE = { roles: ['admin', 'inspector', 'clerk'] as Role[], scope: 'tasks:write' as Scope };
const ADMIN = { roles: ['admin'] as Role[], scope: 'admin' as Scope };
const Day = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' });
const Text = (max: number, min = 1) => Type.String({ minLength: min, maxLength: max, pattern: '^[^\\u0000]*$' });

const Milestone = Type.Object({
  id: Type.Integer(), seq: Type.Integer(), name: Type.String(), dueDate: Type.String(), currentDue: Type.String(),
  departmentId: Type.String(), ownerPerson: Type.String(), status: Type.String(), doneAt: Nullable(Type.String()),
  doneLate: Nullable(Type.Boolean()), evidence: Nullable(Type.String()), misses: Type.Integer(),
});

const ProjectSummary = Type.Object({
  id: Type.String(), code: Type.String(), name: Type.String(), departmentId: Type.String(), departmentName: Type.String(),
  responsiblePerson: Type.String(), location: Type.String(), category: Type.String(), industry: Type.String(), level: Type.String(),
  totalInvestment: Type.Number(), annualTarget: Type.Number(), investedThisYear: Type.Number(), investmentRate: Type.Number(),
  plannedStart: Type.String(), plannedFinish: Type.String(), progress: Type.Integer(), scheduleProgress: Type.Number(), lag: Type.Number(),
  light: Type.String(), reasons: Type.Array(Type.String()), status: Type.String(), misses: Type.Integer(),
  currentMilestone: Nullable(Type.Object({ name: Type.String(), currentDue: Type.String() })),
});

function toMilestone(m: MilestoneRow) {
  return {
    id: Number(m.id), seq: m.seq, name: m.name, dueDate: dayString(m.due_date), currentDue: dayString(m.current_due), departmentId: m.department_id,
    ownerPerson: m.owner_person, status: m.status, doneAt: iso(m.done_at), doneLate: m.done_late, evidence: m.evidence, misses: m.misses,
  };
}

function toSummary(p: ProjectRow, milestones: MilestoneRow[], light: LightResult) {
  const current = milestones.find((m) => m.status === 'pending');
  const annual = Number(p.annual_target);
  return {
    id: p.id, code: p.code, name: p.name, departmentId: p.department_id, departmentName: p.department_name ?? p.department_id,
    responsiblePerson: p.responsible_person, location: p.location, category: p.category, industry: p.industry, level: p.level,
    totalInvestment: Number(p.total_investment), annualTarget: annual, investedThisYear: Number(p.invested_this_year),
    investmentRate: annual ? Math.round((Number(p.invested_this_year) / annual) * 1000) / 10 : 0,
    plannedStart: dayString(p.planned_start), plannedFinish: dayString(p.planned_finish), progress: p.progress,
    scheduleProgress: light.scheduleProgress, lag: light.lag, light: light.light, reasons: light.reasons, status: p.status, misses: p.misses,
    currentMilestone: current ? { name: current.name, currentDue: dayString(current.current_due) } : null,
  };
}

/** Read a multipart report: its text fields and its files, every byte in memory before anything is checked or written. */
async function readMultipartReport(req: FastifyRequest): Promise<{ fields: Record<string, string>; uploads: Upload[] }> {
  const fields: Record<string, string> = {};
  const uploads: Upload[] = [];
  for await (const part of req.parts()) {
    if (part.type === 'file') {
      if (uploads.length >= MAX_FILES) throw new BadRequestError(`最多上传 ${MAX_FILES} 个文件 (at most ${MAX_FILES} files)`);
      const data = await part.toBuffer();
      if (part.file.truncated) throw new PayloadTooLargeError(`文件 ${part.filename} 超过 ${MAX_FILE_BYTES / 1024 / 1024} MB (file too large)`);
      uploads.push({ name: part.filename, declaredType: part.mimetype, data });
    } else {
      fields[part.fieldname] = String(part.value ?? '');
    }
  }
  return { fields, uploads };
}

function reportInput(fields: Record<string, unknown>) {
  const progress = Number(fields.progress);
  const invested = fields.invested === undefined || fields.invested === '' || fields.invested === null ? null : Number(fields.invested);
  const text = typeof fields.text === 'string' ? fields.text : '';
  if (!Number.isInteger(progress)) throw new BadRequestError('形象进度须为 0–100 的整数 (progress must be an integer 0–100)');
  if (invested !== null && (!Number.isFinite(invested) || invested < 0 || invested > 1e10)) throw new BadRequestError('本年完成投资须为非负数 (invested must be a non-negative number)');
  if (text.length > 2000 || text.includes('\u0000')) throw new BadRequestError('进度说明过长或含非法字符 (text too long or with a NUL byte)');
  return { progress, invested, text };
}

/** Key projects: the board, a project's page, reports with photos, problems, phone links (监督一点通), files. */
export async function projectRoutes(app: FastifyInstance, opts: { db: Db; projects: ProjectService }) {
  const { db, projects } = opts;
  // Limits one above the allowed, so a too-large file or one file too many is named instead of cut silently.
  // preservePath: the name as sent, so a path trick is refused rather than quietly cut to its last part.
  await app.register(multipart, { preservePath: true, limits: { fileSize: MAX_FILE_BYTES + 1, files: MAX_FILES + 1, fields: 10, fieldSize: 10_000, parts: 20 }, throwFileSizeLimit: false });

  /** A clerk sees and reports on their own department's projects only; another's is a 404. */
  async function visibleProject(p: Principal, id: string): Promise<ProjectRow> {
    const project = await projects.byId(id);
    if (!seesAllDepartments(p) && project.department_id !== p.departmentId) throw new NotFoundError('project', id);
    return project;
  }

  async function detail(project: ProjectRow, forPublic: boolean) {
    const board = await projects.lightOne(project);
    const reports = await db('project_reports').where({ project_id: project.id }).orderBy('reported_at', 'desc').limit(50);
    const files = reports.length ? await db('files').whereIn('report_id', reports.map((r) => r.id)).select('id', 'report_id', 'name', 'content_type', 'size') : [];
    const problems = await db('project_problems').where({ project_id: project.id }).orderBy('id');
    const letters = forPublic ? [] : await db('letters').where({ subject_type: 'project', subject_id: project.id }).orderBy('issued_at');
    return {
      ...toSummary(project, board.milestones, board.light),
      content: project.content, responsiblePhone: forPublic ? null : project.responsible_phone,
      milestones: board.milestones.map(toMilestone),
      problems: problems.map((x) => ({ id: Number(x.id), content: x.content, departmentId: x.department_id, dueDate: x.due_date ? dayString(x.due_date) : null, resolution: x.resolution, resolvedAt: iso(x.resolved_at), raisedBy: x.raised_by, raisedAt: iso(x.raised_at)! })),
      reports: reports.map((r) => ({
        id: Number(r.id), progress: r.progress, invested: r.invested === null ? null : Number(r.invested), text: r.text, reportedBy: r.reported_by, via: r.via, reportedAt: iso(r.reported_at)!,
        files: files.filter((f) => Number(f.report_id) === Number(r.id)).map((f) => ({ id: f.id, name: f.name, contentType: f.content_type, size: f.size })),
      })),
      letters: letters.map(toLetter),
    };
  }

  const Detail = Type.Intersect([ProjectSummary, Type.Object({
    content: Type.String(), responsiblePhone: Nullable(Type.String()), milestones: Type.Array(Milestone),
    problems: Type.Array(Type.Object({ id: Type.Integer(), content: Type.String(), departmentId: Type.String(), dueDate: Nullable(Type.String()), resolution: Nullable(Type.String()), resolvedAt: Nullable(Type.String()), raisedBy: Type.String(), raisedAt: Type.String() })),
    reports: Type.Array(Type.Object({ id: Type.Integer(), progress: Type.Integer(), invested: Nullable(Type.Number()), text: Type.String(), reportedBy: Type.String(), via: Type.String(), reportedAt: Type.String(),
      files: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), contentType: Type.String(), size: Type.Integer() })) })),
    letters: Type.Array(LetterSchema),
  })]);

  app.get('/api/projects', {
    schema: { tags: ['projects'], summary: 'The key-project board: every project with its light against 序时进度',
      querystring: Type.Object({ departmentId: Type.Optional(Type.String({ maxLength: 40 })), light: Type.Optional(Type.Union(['green', 'yellow', 'red', 'done'].map((l) => Type.Literal(l)))) }, { additionalProperties: false }),
      response: { 200: Type.Object({ items: Type.Array(ProjectSummary), total: Type.Integer() }) } },
    config: { access: READ },
  }, async (req) => {
    const p = principalOf(req);
    const q = req.query as { departmentId?: string; light?: string };
    const dept = seesAllDepartments(p) ? (q.departmentId ?? null) : p.departmentId;
    if (!dept && !seesAllDepartments(p)) return { items: [], total: 0 };
    const items = (await projects.board(dept)).map((b) => toSummary(b.project, b.milestones, b.light)).filter((x) => !q.light || x.light === q.light);
    return { items, total: items.length };
  });

  app.get('/api/projects/summary', {
    schema: { tags: ['projects'], summary: 'Per 责任单位: projects by light, investment against the annual target',
      response: { 200: Type.Array(Type.Object({ departmentId: Type.String(), departmentName: Type.String(), projects: Type.Integer(), green: Type.Integer(), yellow: Type.Integer(), red: Type.Integer(), done: Type.Integer(), annualTarget: Type.Number(), invested: Type.Number(), investmentRate: Type.Number() })) } },
    config: { access: { roles: ['admin', 'inspector', 'leader'] as Role[], scope: 'read' as Scope } },
  }, async () => projects.unitSummary());

  app.get('/api/projects/settings', {
    schema: { tags: ['projects'], summary: 'Thresholds against 序时进度 and the phone-link lifetime',
      response: { 200: Type.Object({ yellowPoints: Type.Integer(), redPoints: Type.Integer(), warningDays: Type.Integer(), linkDays: Type.Integer() }) } },
    config: { access: READ },
  }, async () => projects.settings());

  app.put('/api/projects/settings', {
    schema: { tags: ['projects'], summary: 'Change the thresholds (admins)',
      body: Type.Object({ yellowPoints: Type.Optional(Type.Integer({ minimum: 1, maximum: 99 })), redPoints: Type.Optional(Type.Integer({ minimum: 2, maximum: 100 })),
        warningDays: Type.Optional(Type.Integer({ minimum: 0, maximum: 60 })), linkDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 365 })) }, { additionalProperties: false }),
      response: { 200: Type.Object({ yellowPoints: Type.Integer(), redPoints: Type.Integer(), warningDays: Type.Integer(), linkDays: Type.Integer() }) } },
    config: { access: ADMIN },
  }, async (req) => projects.updateSettings(req.body as object, principalOf(req).username));

  app.post('/api/projects', {
    schema: { tags: ['projects'], summary: 'Register a key project with its milestones; starts its process (admins)',
      body: Type.Object({
        code: Type.String({ pattern: '^[A-Za-z0-9-]{1,40}$' }), name: Text(200, 2), departmentId: Type.String({ maxLength: 40 }),
        responsiblePerson: Text(50), responsiblePhone: Type.Optional(Nullable(Type.String({ pattern: '^\\+?[0-9]{6,15}$' }))),
        location: Type.Optional(Text(200, 0)), category: Type.Optional(Text(50, 0)), industry: Type.Optional(Text(50, 0)), level: Type.Optional(Text(20, 0)),
        content: Type.Optional(Text(4000, 0)), totalInvestment: Type.Number({ minimum: 0, maximum: 1e10 }), annualTarget: Type.Number({ minimum: 0, maximum: 1e10 }),
        investedThisYear: Type.Optional(Type.Number({ minimum: 0, maximum: 1e10 })), plannedStart: Day, plannedFinish: Day, progress: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
        milestones: Type.Array(Type.Object({ name: Text(100), dueDate: Day, departmentId: Type.Optional(Type.String({ maxLength: 40 })), ownerPerson: Type.Optional(Text(50, 0)), doneOn: Type.Optional(Day) }, { additionalProperties: false }), { minItems: 1, maxItems: 50 }),
      }, { additionalProperties: false }),
      response: { 201: Type.Object({ id: Type.String(), code: Type.String() }) } },
    config: { access: ADMIN },
  }, async (req, reply) => {
    const p = await projects.create(req.body as Parameters<ProjectService['create']>[0], principalOf(req).username);
    return reply.code(201).send({ id: p.id, code: p.code });
  });

  app.get('/api/projects/:id', {
    schema: { tags: ['projects'], summary: 'One project: milestones (planned and actual), problems, reports with photos, letters', params: IdParams, response: { 200: Detail } },
    config: { access: READ },
  }, async (req) => detail(await visibleProject(principalOf(req), (req.params as { id: string }).id), false));

  app.post('/api/projects/:id/reports', {
    schema: { tags: ['projects'], summary: 'A progress report (percent, text; photos as multipart/form-data parts)', params: IdParams,
      response: { 201: Type.Object({ reportId: Type.Integer() }) } },
    config: { access: REPORT },
  }, async (req, reply) => {
    const p = principalOf(req);
    const project = await visibleProject(p, (req.params as { id: string }).id);
    if (!hasRole(p, 'admin') && project.department_id !== p.departmentId) throw forbidden('only the 责任单位 reports on its project');
    const { fields, uploads } = req.isMultipart() ? await readMultipartReport(req) : { fields: (req.body ?? {}) as Record<string, unknown>, uploads: [] };
    const files = await checkUploads(uploads);
    return reply.code(201).send(await projects.report(project.id, reportInput(fields), files, p.username, 'api'));
  });

  app.post('/api/projects/:id/problems', {
    schema: { tags: ['projects'], summary: 'Raise a problem (存在的问题) with its 责任单位 and 解决时限', params: IdParams,
      body: Type.Object({ content: Text(2000, 2), departmentId: Type.String({ maxLength: 40 }), dueDate: Type.Optional(Nullable(Day)) }, { additionalProperties: false }),
      response: { 201: Type.Object({ problemId: Type.Integer() }) } },
    config: { access: SUPERVISE },
  }, async (req, reply) => {
    const p = principalOf(req);
    const project = await visibleProject(p, (req.params as { id: string }).id);
    const b = req.body as { content: string; departmentId: string; dueDate?: string | null };
    return reply.code(201).send({ problemId: await projects.addProblem(project.id, b, p.username) });
  });

  app.post('/api/projects/:id/problems/:problemId/resolve', {
    schema: { tags: ['projects'], summary: 'Record how a problem was solved (解决情况)',
      params: Type.Object({ id: Type.String({ maxLength: 64 }), problemId: Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1 }) }),
      body: Type.Object({ resolution: Text(2000, 2) }, { additionalProperties: false }), response: { 204: Type.Null() } },
    config: { access: SUPERVISE },
  }, async (req, reply) => {
    const p = principalOf(req);
    const { id, problemId } = req.params as { id: string; problemId: number };
    const project = await visibleProject(p, id);
    await projects.resolveProblem(project.id, problemId, (req.body as { resolution: string }).resolution, p.username);
    return reply.code(204).send();
  });

  app.post('/api/projects/:id/links', {
    schema: { tags: ['projects'], summary: 'A 监督一点通 link for the responsible person’s phone (the token is shown once)', params: IdParams,
      response: { 201: Type.Object({ token: Type.String(), path: Type.String() }) } },
    config: { access: SUPERVISE },
  }, async (req, reply) => {
    const p = principalOf(req);
    const project = await visibleProject(p, (req.params as { id: string }).id);
    const token = await db.transaction(async (trx) => {
      const t = await projects.createLink(trx, project.id, p.username);
      await appendAudit(trx, { actor: p.username, action: 'project.link.created', entityType: 'key_project', entityId: project.code });
      return t;
    });
    return reply.code(201).send({ token, path: `/#/m/${token}` });
  });

  app.get('/api/files/:id', {
    schema: { tags: ['projects'], summary: 'An uploaded file, with its stored type and Content-Disposition', params: IdParams },
    config: { access: READ },
  }, async (req, reply) => {
    const { id } = req.params as { id: string };
    if (!/^[0-9a-f-]{36}$/i.test(id)) throw new NotFoundError('file', id);
    const f = await db('files').where({ id }).first();
    if (!f) throw new NotFoundError('file', id);
    if (f.project_id) await visibleProject(principalOf(req), f.project_id);
    return reply.header('content-type', f.content_type).header('content-disposition', contentDisposition(f.name, f.content_type))
      .header('x-content-type-options', 'nosniff').header('cache-control', 'private, max-age=3600').send(f.data);
  });

  // ---- 监督一点通: the phone page's API, authorised by the link's token alone ----
  const Token = Type.Object({ token: Type.String({ minLength: 20, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }) });

  app.get('/api/m/:token', {
    schema: { tags: ['projects'], summary: '监督一点通: the project a phone link opens (no account needed)', params: Token, response: { 200: Detail } },
    config: { access: { public: true } },
  }, async (req) => detail(await projects.projectOfLink((req.params as { token: string }).token), true));

  app.post('/api/m/:token/reports', {
    schema: { tags: ['projects'], summary: '监督一点通: a progress report with photos from the phone (multipart/form-data)', params: Token,
      response: { 201: Type.Object({ reportId: Type.Integer() }) } },
    config: { access: { public: true } },
  }, async (req, reply) => {
    const project = await projects.projectOfLink((req.params as { token: string }).token);
    if (!req.isMultipart()) throw new BadRequestError('请以 multipart/form-data 提交 (send multipart/form-data)');
    const { fields, uploads } = await readMultipartReport(req);
    const files = await checkUploads(uploads);
    return reply.code(201).send(await projects.report(project.id, reportInput(fields), files, `${project.responsible_person}(监督一点通)`, 'mobile'));
  });
}
