import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import ExcelJS from 'exceljs';
import type { Db } from '../db/database.js';
import { principalOf, forbidden } from './auth.js';
import { IdParams, pageOf, paginate, pagingQuery, Nullable, iso } from './paging.js';
import { hasRole, seesAllDepartments, type Role, type Scope } from '../auth/principal.js';
import { LEVELS } from '../domain/ratings/codes.js';
import { readSettings, type RatingIntake, type RawRating, type IngestSummary } from '../domain/ratings/intake.js';
import { readRatingFile } from '../domain/ratings/files.js';
import { ratingStats, STATS_COLUMNS, type RatingGroup } from '../domain/ratings/stats.js';
import { appendAudit } from '../audit/audit.js';
import { BadRequestError, NotFoundError } from '../engine/errors.js';

const Val = Type.Union([Type.String({ maxLength: 2000 }), Type.Number(), Type.Boolean(), Type.Null()]);
/** One rating as the rating platform pushes it (codes of its source, or labels). */
export const RawRatingSchema = Type.Object({
  caseNumber: Val, times: Val, channel: Val, level: Type.Optional(Val), levelCode: Type.Optional(Val), text: Type.Optional(Val),
  contentCodes: Type.Optional(Type.Union([Val, Type.Array(Type.String({ maxLength: 50 }), { maxItems: 20 })])),
  raterName: Type.Optional(Val), raterType: Type.Optional(Val), phone: Type.Optional(Val), realName: Type.Optional(Val), ratedAt: Val,
  itemCode: Type.Optional(Val), departmentId: Type.Optional(Val), regionCode: Type.Optional(Val),
}, { additionalProperties: false });

const RowResultT = Type.Object({
  row: Type.Integer(), status: Type.String(), id: Type.Optional(Type.String()), caseNumber: Nullable(Type.String()), times: Type.Optional(Type.Integer()),
  triggered: Type.Optional(Type.Boolean()), reasons: Type.Optional(Type.Array(Type.String())),
});
const Summary = Type.Object({
  importId: Type.String(), total: Type.Integer(), created: Type.Integer(), duplicates: Type.Integer(), rejected: Type.Integer(), triggered: Type.Integer(),
  results: Type.Array(RowResultT),
});

const RatingT = Type.Object({
  id: Type.String(), caseNumber: Type.String(), times: Type.Integer(), channel: Type.String(), level: Type.String(), levelCode: Nullable(Type.String()),
  text: Nullable(Type.String()), contentCodes: Type.Array(Type.String()), raterName: Nullable(Type.String()), raterType: Nullable(Type.Integer()),
  realName: Type.Boolean(), ratedAt: Type.String(), itemCode: Nullable(Type.String()), itemName: Nullable(Type.String()), departmentId: Type.String(),
  regionCode: Nullable(Type.String()), source: Type.String(), status: Type.String(), triggered: Type.Boolean(), loopStatus: Nullable(Type.String()),
  category: Nullable(Type.String()), route: Nullable(Type.String()), action: Nullable(Type.String()), handlingDeadline: Nullable(Type.String()),
  handledAt: Nullable(Type.String()), handledOnTime: Nullable(Type.Boolean()), calledBack: Nullable(Type.Boolean()), sentBack: Type.Integer(),
  appealStatus: Nullable(Type.String()), escalatedAt: Nullable(Type.String()), letterId: Nullable(Type.String()), letterNumber: Nullable(Type.String()),
  feedbackAt: Nullable(Type.String()), satisfaction: Nullable(Type.String()), closedAt: Nullable(Type.String()),
});

function toRating(r: Record<string, unknown>) {
  const t = (k: string) => (r[k] === null || r[k] === undefined ? null : String(r[k]));
  return {
    id: String(r.id), caseNumber: String(r.case_number), times: Number(r.times), channel: String(r.channel), level: String(r.level), levelCode: t('level_code'),
    text: t('text'), contentCodes: (r.content_codes as string[]) ?? [], raterName: t('rater_name'), raterType: r.rater_type === null ? null : Number(r.rater_type),
    realName: !!r.real_name, ratedAt: iso(r.rated_at)!, itemCode: t('item_code'), itemName: t('item_name'), departmentId: String(r.department_id),
    regionCode: t('region_code'), source: String(r.source), status: String(r.status), triggered: !!r.triggered, loopStatus: t('loop_status'),
    category: t('category'), route: t('route'), action: t('action'), handlingDeadline: iso(r.handling_deadline), handledAt: iso(r.handled_at),
    handledOnTime: (r.handled_on_time as boolean | null) ?? null, calledBack: (r.called_back as boolean | null) ?? null, sentBack: Number(r.sent_back ?? 0),
    appealStatus: t('appeal_status'), escalatedAt: iso(r.escalated_at), letterId: t('letter_id'), letterNumber: t('letter_number'),
    feedbackAt: iso(r.feedback_at), satisfaction: t('satisfaction'), closedAt: iso(r.closed_at),
  };
}

const READ = { roles: ['admin', 'inspector', 'leader', 'clerk'] as Role[], scope: 'read' as Scope };
const IMPORT = { roles: ['admin', 'system'] as Role[], scope: 'ratings:write' as Scope };
const SourceQ = Type.String({ pattern: '^[a-z0-9_-]{1,40}$' });
const StatsQuery = Type.Object({
  groupBy: Type.Optional(Type.Union(['department', 'item', 'channel', 'month'].map((g) => Type.Literal(g)))),
  from: Type.Optional(Type.String({ format: 'date' })), to: Type.Optional(Type.String({ format: 'date' })),
  departmentId: Type.Optional(Type.String({ maxLength: 40 })),
}, { additionalProperties: false });
const SettingsT = Type.Object({
  triggerLevel: Type.Union(LEVELS.map((l) => Type.Literal(l))), handlingDays: Type.Integer({ minimum: 1, maximum: 60 }),
  defaultRatingDays: Nullable(Type.Integer({ minimum: 1, maximum: 60 })), lateWindowDays: Nullable(Type.Integer({ minimum: 1, maximum: 60 })),
}, { additionalProperties: false });

/** Keep what a caller gets back short: the rejected and duplicate rows in full, the created ones counted. */
function brief(s: IngestSummary, full: boolean): IngestSummary {
  return full ? s : { ...s, results: s.results.filter((r) => r.status !== 'created') };
}

/** 好差评: intake (push API, file import, counter entry), lists, rejected rows, settings, statistics. */
export async function ratingRoutes(app: FastifyInstance, opts: { db: Db; ratings: RatingIntake }) {
  const { db, ratings } = opts;
  // The upload screen and `curl --data-binary` send the file itself.
  app.addContentTypeParser(['text/csv', 'application/octet-stream', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'],
    { parseAs: 'buffer', bodyLimit: 30 * 1024 * 1024 }, (_req, body, done) => done(null, body));

  app.get('/api/rating-sources', {
    schema: { tags: ['ratings'], summary: 'Rating sources and their code lists (满意度代码, 评价渠道)',
      response: { 200: Type.Array(Type.Object({ name: Type.String(), description: Type.String(), levelCodes: Type.Record(Type.String(), Type.String()), channelCodes: Type.Record(Type.String(), Type.String()) })) } },
    config: { access: READ },
  }, async () => (await db('rating_sources').orderBy('name')).map((s) => ({ name: s.name, description: s.description, levelCodes: s.level_codes, channelCodes: s.channel_codes })));

  app.get('/api/ratings/settings', {
    schema: { tags: ['ratings'], summary: 'Loop settings: trigger level, handling deadline, default rating, late-rating window', response: { 200: SettingsT } },
    config: { access: READ },
  }, async () => {
    const s = await readSettings(db);
    return { triggerLevel: s.trigger_level, handlingDays: s.handling_days, defaultRatingDays: s.default_rating_days, lateWindowDays: s.late_window_days };
  });

  app.put('/api/ratings/settings', {
    schema: { tags: ['ratings'], summary: 'Change the loop settings (admins); applies to new ratings', body: SettingsT, response: { 200: SettingsT } },
    config: { access: { roles: ['admin'], scope: 'admin' } },
  }, async (req) => {
    const b = req.body as Static<typeof SettingsT>;
    const p = principalOf(req);
    await db.transaction(async (trx) => {
      const before = await readSettings(trx);
      await trx('rating_settings').where({ id: 1 }).update({ trigger_level: b.triggerLevel, handling_days: b.handlingDays, default_rating_days: b.defaultRatingDays, late_window_days: b.lateWindowDays, updated_at: trx.raw('now()'), updated_by: p.username });
      await appendAudit(trx, { actor: p.username, action: 'ratings.settings', entityType: 'rating_settings', entityId: '1', before, after: b });
    });
    return b;
  });

  app.post('/api/ratings/batch', {
    schema: {
      tags: ['ratings'], summary: 'Push API for the rating platform: up to 5,000 ratings, idempotent on (办件编号, 评价次数), a result per row',
      body: Type.Object({ source: SourceQ, ratings: Type.Array(RawRatingSchema, { minItems: 1, maxItems: 5000 }) }, { additionalProperties: false }),
      response: { 200: Summary },
    },
    config: { access: IMPORT },
  }, async (req) => {
    const b = req.body as { source: string; ratings: RawRating[] };
    return ratings.ingest(b.ratings, { source: b.source, via: 'api', actor: principalOf(req).username });
  });

  app.post('/api/ratings/import', {
    schema: {
      tags: ['ratings'], summary: 'Import a .csv or .xlsx file whose header row uses the GB/T 39046 column names (body: the file)',
      querystring: Type.Object({ source: SourceQ, fileName: Type.String({ minLength: 5, maxLength: 200, pattern: '^[^\\u0000/\\\\]+\\.(csv|xlsx|CSV|XLSX)$' }) }, { additionalProperties: false }),
      response: { 200: Summary },
    },
    config: { access: IMPORT },
  }, async (req) => {
    const q = req.query as { source: string; fileName: string };
    if (!Buffer.isBuffer(req.body)) throw new BadRequestError('send the file as the request body (Content-Type text/csv or application/octet-stream)');
    const rows = await readRatingFile(q.fileName, req.body);
    return brief(await ratings.ingest(rows, { source: q.source, via: 'file', actor: principalOf(req).username, fileName: q.fileName }), false);
  });

  app.post('/api/ratings', {
    schema: {
      tags: ['ratings'], summary: 'Enter a rating given at the counter (clerks: their own department’s cases)',
      body: RawRatingSchema, response: { 200: Summary },
    },
    config: { access: { roles: ['admin', 'clerk'], scope: 'ratings:write' } },
  }, async (req) => {
    const p = principalOf(req);
    const restrict = hasRole(p, 'admin') ? null : p.departmentId ?? '-';
    const row: RawRating = { channel: '政务大厅其他终端', ...(req.body as RawRating) };
    const reasons = await ratings.check(row, 'manual', restrict);
    if (reasons.length) throw new BadRequestError(reasons.join(';'), { reasons });
    return ratings.ingest([row], { source: 'manual', via: 'manual', actor: p.username, restrictDepartment: restrict });
  });

  const base = () => db('ratings as r').leftJoin('items as it', 'it.code', 'r.item_code').leftJoin('letters as l', 'l.id', 'r.letter_id')
    .select('r.*', 'it.name as item_name', 'l.number as letter_number');

  app.get('/api/ratings', {
    schema: {
      tags: ['ratings'], summary: 'Ratings, newest first (clerks: their department)',
      querystring: pagingQuery(['ratedAt', 'createdAt'], {
        departmentId: Type.Optional(Type.String({ maxLength: 40 })), level: Type.Optional(Type.Union(LEVELS.map((l) => Type.Literal(l)))),
        loopStatus: Type.Optional(Type.Union(['open', 'closed', 'invalid'].map((l) => Type.Literal(l)))), triggered: Type.Optional(Type.Boolean()),
        caseNumber: Type.Optional(Type.String({ maxLength: 50 })), channel: Type.Optional(Type.String({ maxLength: 20 })),
        itemCode: Type.Optional(Type.String({ maxLength: 60 })), month: Type.Optional(Type.String({ pattern: '^\\d{4}-\\d{2}$' })),
      }),
      response: { 200: pageOf(RatingT) },
    },
    config: { access: READ },
  }, async (req) => {
    const p = principalOf(req);
    const q = req.query as Record<string, string | boolean | undefined>;
    const query = base();
    if (!seesAllDepartments(p)) query.where('r.department_id', p.departmentId ?? '');
    if (q.departmentId) query.where('r.department_id', q.departmentId as string);
    if (q.level) query.where('r.level', q.level as string);
    if (q.loopStatus) query.where('r.loop_status', q.loopStatus as string);
    if (q.triggered !== undefined) query.where('r.triggered', q.triggered);
    if (q.caseNumber) query.where('r.case_number', q.caseNumber as string);
    if (q.channel) query.where('r.channel', q.channel as string);
    if (q.itemCode) query.where('r.item_code', q.itemCode as string);
    if (q.month) query.whereRaw(`to_char(r.rated_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') = ?`, [q.month]);
    return paginate(query, req.query as object, { ratedAt: 'r.rated_at', createdAt: 'r.created_at', id: 'r.id' }, 'ratedAt', toRating);
  });

  app.get('/api/ratings/rejects', {
    schema: {
      tags: ['ratings'], summary: 'Rejected rows with their reasons, to correct and take in again',
      querystring: pagingQuery(['createdAt'], { importId: Type.Optional(Type.String({ format: 'uuid' })), resolved: Type.Optional(Type.Boolean()) }),
      response: { 200: pageOf(Type.Object({ id: Type.Integer(), importId: Nullable(Type.String()), source: Type.String(), row: Nullable(Type.Integer()), caseNumber: Nullable(Type.String()), raw: Type.Record(Type.String(), Type.String()), reasons: Type.Array(Type.String()), createdAt: Type.String(), resolvedAt: Nullable(Type.String()), ratingId: Nullable(Type.String()) })) },
    },
    config: { access: { roles: ['admin', 'inspector'], scope: 'read' } },
  }, async (req) => {
    const q = req.query as { importId?: string; resolved?: boolean };
    const query = db('rating_rejects').select('*');
    if (q.importId) query.where('import_id', q.importId);
    if (q.resolved !== undefined) query[q.resolved ? 'whereNotNull' : 'whereNull']('resolved_at');
    return paginate(query, { ...(req.query as object), order: (req.query as { order?: 'asc' | 'desc' }).order ?? 'asc' }, { createdAt: 'id', id: 'id' }, 'createdAt', (r) => ({
      id: Number(r.id), importId: (r.import_id as string) ?? null, source: String(r.source), row: r.row_number === null ? null : Number(r.row_number),
      caseNumber: (r.case_number as string) ?? null, raw: r.raw as Record<string, string>, reasons: r.reasons as string[], createdAt: iso(r.created_at)!,
      resolvedAt: iso(r.resolved_at), ratingId: (r.rating_id as string) ?? null,
    }));
  });

  app.put('/api/ratings/rejects/:id', {
    schema: {
      tags: ['ratings'], summary: 'Correct a rejected row and take it in again', params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
      body: RawRatingSchema, response: { 200: Summary },
    },
    config: { access: IMPORT },
  }, async (req) => ratings.correctReject((req.params as { id: number }).id, req.body as RawRating, principalOf(req).username));

  app.get('/api/ratings/:id', {
    schema: { tags: ['ratings'], summary: 'One rating with its loop', params: IdParams, response: { 200: RatingT } },
    config: { access: READ },
  }, async (req) => {
    const p = principalOf(req);
    const r = await base().where('r.id', (req.params as { id: string }).id).first();
    if (!r || (!seesAllDepartments(p) && r.department_id !== p.departmentId)) throw new NotFoundError('rating', (req.params as { id: string }).id);
    return toRating(r);
  });

  async function stats(req: FastifyRequest) {
    const p = principalOf(req);
    const q = req.query as { groupBy?: RatingGroup; from?: string; to?: string; departmentId?: string };
    const year = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 4);
    const from = q.from ?? `${year}-01-01`;
    const to = q.to ?? new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
    if (from > to) throw new BadRequestError('"from" must not be after "to"');
    if (!seesAllDepartments(p) && q.departmentId && q.departmentId !== p.departmentId) throw forbidden('clerks see their own department’s statistics');
    const departmentId = seesAllDepartments(p) ? q.departmentId : p.departmentId ?? '-';
    return { groupBy: q.groupBy ?? 'department', from, to, rows: await ratingStats(db, q.groupBy ?? 'department', from, to, departmentId) };
  }
  const Rate = Nullable(Type.Number());
  const StatsRowT = Type.Object({
    key: Type.String(), label: Type.String(), ratings: Type.Integer(), invalid: Type.Integer(), valid: Type.Integer(), satisfied: Type.Integer(), bad: Type.Integer(),
    badRectified: Type.Integer(), badHandled: Type.Integer(), badOnTime: Type.Integer(), realNameBad: Type.Integer(), realNameBadVisited: Type.Integer(), active: Type.Integer(),
    satisfactionRate: Rate, badRate: Rate, rectificationRate: Rate, onTimeRate: Rate, revisitRate: Rate, activeRate: Rate,
    progress: Type.Object({ total: Type.Integer(), invalid: Type.Integer(), valid: Type.Integer(), inProgress: Type.Integer(), done: Type.Integer(), unfixable: Type.Integer() }),
  });

  app.get('/api/stats/ratings', {
    schema: { tags: ['statistics'], summary: '满意率, 差评率, 差评整改率, 按期整改率, 实名差评回访率, 主动评价率 and 差评整改进度 by department, item, channel or month', querystring: StatsQuery,
      response: { 200: Type.Object({ groupBy: Type.String(), from: Type.String(), to: Type.String(), rows: Type.Array(StatsRowT) }) } },
    config: { access: READ },
  }, async (req) => stats(req));

  app.get('/api/stats/ratings.xlsx', {
    schema: { tags: ['statistics'], summary: 'The rating statistics as an Excel workbook', querystring: StatsQuery },
    config: { access: READ },
  }, async (req, reply) => {
    const { groupBy, rows } = await stats(req);
    const wb = new ExcelJS.Workbook();
    wb.creator = 'Duban 督办';
    const ws = wb.addWorksheet(`好差评统计-${groupBy}`);
    ws.addRow(STATS_COLUMNS.map(([h]) => h)).font = { bold: true };
    for (const r of rows) ws.addRow(STATS_COLUMNS.map(([, f]) => f(r)));
    for (let c = 6; c <= 11; c++) ws.getColumn(c).numFmt = '0.00%';
    ws.columns.forEach((col, i) => { col.width = i === 1 ? 28 : 14; });
    return reply.type('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')
      .header('content-disposition', `attachment; filename="duban-ratings-${groupBy}.xlsx"`).send(Buffer.from(await wb.xlsx.writeBuffer()));
  });
}
