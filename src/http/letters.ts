import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Db } from '../db/database.js';
import { principalOf } from './auth.js';
import { IdParams, pageOf, paginate, pagingQuery, Nullable, iso } from './paging.js';
import { seesAllDepartments, type Role, type Scope } from '../auth/principal.js';
import { LETTER_KINDS, dayString, type LetterKind, type LetterRow, type LetterService } from '../domain/letters/letters.js';
import { letterDocx, letterHtml } from '../domain/letters/render.js';
import { NotFoundError } from '../engine/errors.js';

export const LetterSchema = Type.Object({
  id: Type.String(), kind: Type.String(), office: Type.String(), number: Type.String(), year: Type.Integer(), serial: Type.Integer(),
  title: Type.String(), recipient: Type.String(), recipientDepartmentId: Nullable(Type.String()),
  source: Type.String(), problems: Type.String(), recommendations: Type.String(), replyBy: Type.String(), cc: Type.Array(Type.String()),
  dated: Type.String(), subjectType: Nullable(Type.String()), subjectId: Nullable(Type.String()), caseNumber: Nullable(Type.String()),
  issuedBy: Type.String(), issuedAt: Type.String(), status: Type.String(), replyText: Nullable(Type.String()), repliedBy: Nullable(Type.String()),
  repliedAt: Nullable(Type.String()), replyLate: Nullable(Type.Boolean()), realertedAt: Nullable(Type.String()),
});

export function toLetter(l: LetterRow) {
  return {
    id: l.id, kind: l.kind, office: l.office, number: l.number, year: l.year, serial: l.serial, title: l.title, recipient: l.recipient,
    recipientDepartmentId: l.recipient_department_id, source: l.source, problems: l.problems, recommendations: l.recommendations,
    replyBy: iso(l.reply_by)!, cc: l.cc, dated: dayString(l.dated), subjectType: l.subject_type, subjectId: l.subject_id, caseNumber: l.case_number,
    issuedBy: l.issued_by, issuedAt: iso(l.issued_at)!, status: l.status, replyText: l.reply_text, repliedBy: l.replied_by,
    repliedAt: iso(l.replied_at), replyLate: l.reply_late, realertedAt: iso(l.realerted_at),
  };
}

const READ = { roles: ['admin', 'inspector', 'leader', 'clerk'] as Role[], scope: 'read' as Scope };
const KindT = Type.Union(LETTER_KINDS.map((k) => Type.Literal(k)));
const Text = (max: number) => Type.String({ minLength: 2, maxLength: max, pattern: '^[^\\u0000]*$' });

/** Numbered letters: inspectors issue them, the addressed department replies, everyone with a role reads its own. */
export async function letterRoutes(app: FastifyInstance, opts: { db: Db; letters: LetterService }) {
  const { db, letters } = opts;

  /** A clerk sees only letters addressed to their department; another's is a 404, as for cases. */
  async function visible(req: FastifyRequest): Promise<LetterRow> {
    const p = principalOf(req);
    const l = await letters.get((req.params as { id: string }).id);
    if (!seesAllDepartments(p) && l.recipient_department_id !== p.departmentId) throw new NotFoundError('letter', l.id);
    return l;
  }

  app.get('/api/letter-kinds', {
    schema: { tags: ['letters'], summary: 'Kinds of numbered letter with their issuing office and 机关代字',
      response: { 200: Type.Array(Type.Object({ kind: Type.String(), name: Type.String(), office: Type.String(), officeCode: Type.String(), replyDays: Type.Integer(), cc: Type.Array(Type.String()) })) } },
    config: { access: READ },
  }, async () => (await letters.kinds()).map((k) => ({ kind: k.kind, name: k.name, office: k.office, officeCode: k.office_code, replyDays: k.reply_days, cc: k.cc })));

  app.get('/api/letters', {
    schema: {
      tags: ['letters'], summary: 'Issued letters, newest first',
      querystring: pagingQuery(['issuedAt', 'replyBy'], {
        kind: Type.Optional(KindT), status: Type.Optional(Type.Union([Type.Literal('issued'), Type.Literal('replied')])),
        departmentId: Type.Optional(Type.String({ maxLength: 40 })), caseNumber: Type.Optional(Type.String({ maxLength: 50 })),
        subjectType: Type.Optional(Type.String({ maxLength: 20 })), subjectId: Type.Optional(Type.String({ maxLength: 100 })),
      }),
      response: { 200: pageOf(LetterSchema) },
    },
    config: { access: READ },
  }, async (req) => {
    const p = principalOf(req);
    const q = req.query as { kind?: string; status?: string; departmentId?: string; caseNumber?: string; subjectType?: string; subjectId?: string };
    const query = db('letters').select('*');
    if (!seesAllDepartments(p)) query.where('recipient_department_id', p.departmentId ?? '');
    if (q.kind) query.where('kind', q.kind);
    if (q.status) query.where('status', q.status);
    if (q.departmentId) query.where('recipient_department_id', q.departmentId);
    if (q.caseNumber) query.where('case_number', q.caseNumber);
    if (q.subjectType) query.where('subject_type', q.subjectType);
    if (q.subjectId) query.where('subject_id', q.subjectId);
    return paginate(query, req.query as object, { issuedAt: 'issued_at', replyBy: 'reply_by', id: 'id' }, 'issuedAt', (r) => toLetter(r as unknown as LetterRow));
  });

  app.post('/api/letters', {
    schema: {
      tags: ['letters'], summary: 'Issue a numbered letter (纪检监察建议书, 督办通知, 提醒函, 督办函); the 文号 is taken in the same transaction',
      body: Type.Object({
        kind: KindT, subject: Text(200), recipientDepartmentId: Type.String({ minLength: 1, maxLength: 40 }),
        source: Text(2000), problems: Text(5000), recommendations: Text(5000),
        replyBy: Type.Optional(Type.String({ format: 'date-time' })), replyDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 60 })),
        cc: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 100, pattern: '^[^\\u0000]*$' }), { maxItems: 20 })),
        caseNumber: Type.Optional(Type.String({ minLength: 1, maxLength: 50 })),
        subjectType: Type.Optional(Type.String({ pattern: '^[a-z-]{1,20}$' })), subjectId: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
      }, { additionalProperties: false }),
      response: { 201: LetterSchema },
    },
    config: { access: { roles: ['inspector'], scope: 'tasks:write' } },
  }, async (req, reply) => {
    const b = req.body as { kind: LetterKind; subject: string; recipientDepartmentId: string; source: string; problems: string; recommendations: string; replyBy?: string; replyDays?: number; cc?: string[]; caseNumber?: string; subjectType?: string; subjectId?: string };
    const l = await letters.issue({ ...b, replyBy: b.replyBy ? new Date(b.replyBy) : null }, principalOf(req).username);
    return reply.code(201).send(toLetter(l));
  });

  app.get('/api/letters/:id', {
    schema: { tags: ['letters'], summary: 'One letter', params: IdParams, response: { 200: LetterSchema } },
    config: { access: READ },
  }, async (req) => toLetter(await visible(req)));

  app.get('/api/letters/:id/docx', {
    schema: { tags: ['letters'], summary: 'The letter as .docx (GB/T 9704-2012 信函格式)', params: IdParams },
    config: { access: READ },
  }, async (req, reply) => {
    const l = await visible(req);
    const file = encodeURIComponent(`${l.number}${l.title}.docx`);
    return reply.type('application/vnd.openxmlformats-officedocument.wordprocessingml.document')
      .header('content-disposition', `attachment; filename="letter.docx"; filename*=UTF-8''${file}`).send(await letterDocx(l));
  });

  app.get('/api/letters/:id/print', {
    schema: { tags: ['letters'], summary: 'The letter as a printable page', params: IdParams },
    config: { access: READ },
  }, async (req, reply) => reply.type('text/html; charset=utf-8').header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'").send(letterHtml(await visible(req))));

  app.post('/api/letters/:id/reply', {
    schema: {
      tags: ['letters'], summary: 'Record the addressed department’s written reply (回复); once', params: IdParams,
      body: Type.Object({ text: Text(5000) }, { additionalProperties: false }), response: { 200: LetterSchema },
    },
    config: { access: { roles: ['clerk'], scope: 'tasks:write' } },
  }, async (req) => {
    const l = await visible(req);
    return toLetter(await letters.reply(l.id, (req.body as { text: string }).text, principalOf(req).username));
  });
}
