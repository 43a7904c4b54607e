import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { principalOf } from './auth.js';
import type { Role } from '../auth/principal.js';
import { pageOf, paginate, pagingQuery, Nullable } from './paging.js';
import { FORM_KEY, toForm, type FormStore, type StoredForm } from '../forms/forms.js';

const FormSchema = Type.Object({ type: Type.Literal('default'), components: Type.Array(Type.Object({ type: Type.String() }, { additionalProperties: true })) },
  { additionalProperties: true, description: 'A @bpmn-io/form-js schema' });
const FormSummary = Type.Object({ key: Type.String(), version: Type.Integer(), note: Nullable(Type.String()), createdBy: Type.String(), createdAt: Type.String(), fields: Type.Array(Type.String()) });
const Form = Type.Composite([FormSummary, Type.Object({ schema: FormSchema })]);
const KeyParams = Type.Object({ key: Type.String({ pattern: FORM_KEY }) });
const VersionParams = Type.Object({ key: Type.String({ pattern: FORM_KEY }), version: Type.Integer({ minimum: 1, maximum: 1_000_000 }) });
const readers = { roles: ['admin', 'clerk', 'inspector', 'leader', 'system'] as Role[], scope: 'read' as const };
const sortColumns = { key: 'key', version: 'version', createdAt: 'created_at', id: 'key' };

const summary = ({ schema: _schema, ...rest }: StoredForm) => rest;

/** Task forms by form key: everyone who handles tasks reads them; admins save new versions (audited). */
export async function formRoutes(app: FastifyInstance, opts: { forms: FormStore }) {
  const { forms } = opts;

  app.get('/api/forms', {
    schema: {
      tags: ['forms'], summary: 'Task forms, newest version of each',
      querystring: pagingQuery(['key', 'version', 'createdAt'], { q: Type.Optional(Type.String({ maxLength: 100 })) }),
      response: { 200: pageOf(FormSummary) },
    },
    config: { access: readers },
  }, async (req) => {
    const q = req.query as { q?: string; order?: 'asc' | 'desc' };
    const query = forms.latestQuery();
    if (q.q) query.whereILike('f.key', `%${q.q.replace(/[%_\\]/g, '\\$&')}%`);
    return paginate(query, { ...(req.query as object), order: q.order ?? 'asc' }, sortColumns, 'key', (r) => summary(toForm(r)));
  });

  app.get('/api/forms/:key', {
    schema: { tags: ['forms'], summary: 'The newest version of a form (what task lists render)', params: KeyParams, response: { 200: Form } },
    config: { access: readers },
  }, async (req) => forms.latest((req.params as { key: string }).key));

  app.get('/api/forms/:key/versions', {
    schema: {
      tags: ['forms'], summary: 'Saved versions of a form', params: KeyParams,
      querystring: pagingQuery(['version', 'createdAt'], {}), response: { 200: pageOf(FormSummary) },
    },
    config: { access: readers },
  }, async (req) => {
    const { key } = req.params as { key: string };
    await forms.latest(key); // 404 for an unknown key rather than an empty page
    return paginate(forms.versionsQuery(key), { ...(req.query as object), sort: (req.query as { sort?: string }).sort ?? 'version' }, sortColumns, 'version', (r) => summary(toForm(r)));
  });

  app.get('/api/forms/:key/versions/:version', {
    schema: { tags: ['forms'], summary: 'One saved version of a form', params: VersionParams, response: { 200: Form } },
    config: { access: readers },
  }, async (req) => {
    const { key, version } = req.params as { key: string; version: number };
    return forms.version(key, version);
  });

  app.put('/api/forms/:key', {
    schema: {
      tags: ['forms'], summary: 'Save a new version of a form; 400 names every component that is refused', params: KeyParams,
      body: Type.Object({ schema: Type.Unknown(), note: Type.Optional(Nullable(Type.String({ maxLength: 500 }))) }, { additionalProperties: false }),
      response: { 200: Type.Composite([Form, Type.Object({ unchanged: Type.Boolean() })]) },
    },
    config: { access: { roles: ['admin'], scope: 'admin' } },
  }, async (req) => {
    const { key } = req.params as { key: string };
    const b = req.body as { schema: unknown; note?: string | null };
    const r = await forms.save(key, b.schema, { actor: principalOf(req).username, note: b.note ?? null });
    return { ...r.form, unchanged: r.unchanged };
  });
}
