import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Db } from '../db/database.js';
import type { WorkflowEngine } from '../engine/engine.js';
import { forbidden, principalOf } from './auth.js';
import { pageOf, paginate, pagingQuery } from './paging.js';
import { hasRole } from '../auth/principal.js';
import { assertDeclared, mayStart, type DeclarationStore } from '../domain/processes/declarations.js';
import { ConflictError, NotFoundError } from '../engine/errors.js';
import { appendAudit } from '../audit/audit.js';

const Problem = Type.Object({ elementId: Type.Union([Type.String(), Type.Null()]), message: Type.String(), source: Type.String(), severity: Type.String() });
const Definition = Type.Object({
  id: Type.String(), key: Type.String(), version: Type.Integer(), name: Type.Union([Type.String(), Type.Null()]),
  note: Type.Union([Type.String(), Type.Null()]), deployedBy: Type.Union([Type.String(), Type.Null()]), deployedAt: Type.String(),
  suspendedAt: Type.Union([Type.String(), Type.Null()]),
});
const Instance = Type.Object({
  id: Type.String(), definitionId: Type.String(), processKey: Type.String(), businessKey: Type.Union([Type.String(), Type.Null()]),
  status: Type.String(), activeElements: Type.Array(Type.String()), version: Type.Integer(),
});
const Variables = Type.Record(Type.String({ maxLength: 100 }), Type.Unknown(), { maxProperties: 200 });
const KeyParams = Type.Object({ key: Type.String({ pattern: '^[A-Za-z_][\\w.-]{0,99}$' }) });
const DefIdParams = Type.Object({ id: Type.String({ pattern: '^[A-Za-z_][\\w.-]{0,99}:[0-9]{1,6}$' }) });

function toDefinition(r: Record<string, unknown>) {
  return {
    id: String(r.id), key: String(r.key), version: Number(r.version), name: (r.name as string) ?? null, note: (r.note as string) ?? null,
    deployedBy: (r.deployed_by as string) ?? null, deployedAt: (r.deployed_at as Date).toISOString(),
    suspendedAt: r.suspended_at ? (r.suspended_at as Date).toISOString() : null,
  };
}

export async function processRoutes(app: FastifyInstance, opts: { db: Db; engine: WorkflowEngine; declarations: DeclarationStore }) {
  const { db, engine, declarations } = opts;

  // Admins may upload raw BPMN as well as JSON {xml}.
  app.addContentTypeParser(['application/xml', 'text/xml', 'application/bpmn+xml'], { parseAs: 'string' }, (_req, body, done) => done(null, { xml: body }));

  app.post('/api/deployments', {
    schema: {
      tags: ['processes'], summary: 'Validate and deploy a BPMN diagram (new version of its process key)',
      body: Type.Object({ xml: Type.String({ minLength: 1, maxLength: 1_500_000 }), note: Type.Optional(Type.String({ maxLength: 500 })) }, { additionalProperties: false }),
      response: { 201: Type.Object({ id: Type.String(), key: Type.String(), version: Type.Integer(), unchanged: Type.Boolean(), warnings: Type.Array(Problem) }) },
    },
    config: { access: { roles: ['admin'], scope: 'deploy' } },
  }, async (req, reply) => {
    const p = principalOf(req);
    const b = req.body as { xml: string; note?: string };
    const r = await engine.deploy(b.xml, { note: b.note ?? null, actor: p.username });
    return reply.code(201).send({ id: r.id, key: r.key, version: r.version, unchanged: r.unchanged, warnings: r.warnings });
  });

  app.post('/api/deployments/validate', {
    schema: {
      tags: ['processes'], summary: 'Check a diagram without deploying it',
      body: Type.Object({ xml: Type.String({ minLength: 1, maxLength: 1_500_000 }) }, { additionalProperties: false }),
      response: { 200: Type.Object({ ok: Type.Boolean(), key: Type.Union([Type.String(), Type.Null()]), errors: Type.Array(Problem), warnings: Type.Array(Problem) }) },
    },
    config: { access: { roles: ['admin'], scope: 'deploy' } },
  }, async (req) => engine.definitions.validate((req.body as { xml: string }).xml));

  app.get('/api/process-definitions', {
    schema: {
      tags: ['processes'], summary: 'Deployed process versions',
      querystring: pagingQuery(['deployedAt', 'key', 'version'], { key: Type.Optional(Type.String({ maxLength: 100 })), latest: Type.Optional(Type.Boolean()) }),
      response: { 200: pageOf(Definition) },
    },
    config: { access: { roles: ['admin', 'clerk', 'inspector', 'leader'], scope: 'read' } },
  }, async (req) => {
    const q = req.query as { key?: string; latest?: boolean };
    const query = db('process_definitions as d').select('d.id', 'd.key', 'd.version', 'd.name', 'd.note', 'd.deployed_by', 'd.deployed_at', 'd.suspended_at');
    if (q.key) query.where('d.key', q.key);
    if (q.latest) query.whereRaw('d.version = (SELECT max(version) FROM process_definitions x WHERE x.key = d.key)');
    return paginate(query, req.query as object, { deployedAt: 'd.deployed_at', key: 'd.key', version: 'd.version', id: 'd.id' }, 'deployedAt', toDefinition);
  });

  app.get('/api/process-definitions/:id', {
    schema: { tags: ['processes'], summary: 'One version with its BPMN XML', params: DefIdParams, response: { 200: Type.Intersect([Definition, Type.Object({ xml: Type.String() })]) } },
    config: { access: { roles: ['admin', 'clerk', 'inspector', 'leader'], scope: 'read' } },
  }, async (req) => {
    const { id } = req.params as { id: string };
    const row = await db('process_definitions').where({ id }).first();
    if (!row) throw new NotFoundError('process definition', id);
    return { ...toDefinition(row), xml: row.xml };
  });

  // Suspending a version stops new cases on it (starting by key falls back to the newest active version); running cases go on.
  for (const action of ['suspend', 'activate'] as const) {
    app.post(`/api/process-definitions/:id/${action}`, {
      schema: {
        tags: ['processes'], summary: action === 'suspend' ? 'Suspend a version: no new case starts on it' : 'Activate a suspended version again',
        params: DefIdParams, response: { 200: Definition },
      },
      config: { access: { roles: ['admin'], scope: 'deploy' } },
    }, async (req) => {
      const p = principalOf(req);
      const { id } = req.params as { id: string };
      return db.transaction(async (trx) => {
        const row = await trx('process_definitions').where({ id }).forUpdate().first('id', 'key', 'version', 'name', 'note', 'deployed_by', 'deployed_at', 'suspended_at');
        if (!row) throw new NotFoundError('process definition', id);
        if ((action === 'suspend') === Boolean(row.suspended_at)) throw new ConflictError(`process definition ${id} is already ${action === 'suspend' ? 'suspended' : 'active'}`);
        const [updated] = await trx('process_definitions').where({ id })
          .update(action === 'suspend' ? { suspended_at: trx.raw('now()'), suspended_by: p.username } : { suspended_at: null, suspended_by: null })
          .returning(['id', 'key', 'version', 'name', 'note', 'deployed_by', 'deployed_at', 'suspended_at']);
        await appendAudit(trx, { actor: p.username, action: `definition.${action === 'suspend' ? 'suspended' : 'activated'}`, entityType: 'process_definition', entityId: id,
          before: { suspendedAt: row.suspended_at }, after: { suspendedAt: updated.suspended_at } });
        return toDefinition(updated);
      });
    });
  }

  app.post('/api/process-definitions/:key/start', {
    schema: {
      tags: ['processes'], summary: 'Start an instance of the latest version: only for its declared starters (camunda:candidateStarterGroups/Users), with the variables its start form declares; cases start through POST /api/cases',
      params: KeyParams,
      body: Type.Object({
        businessKey: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
        departmentId: Type.Optional(Type.String({ maxLength: 40 })),
        variables: Type.Optional(Variables),
      }, { additionalProperties: false }),
      response: { 201: Instance },
    },
    config: { access: { roles: ['admin', 'clerk', 'inspector', 'system'], scope: 'instances:write' } },
  }, async (req, reply) => {
    const p = principalOf(req);
    const { key } = req.params as { key: string };
    const b = req.body as { businessKey?: string; departmentId?: string; variables?: Record<string, unknown> };
    const departmentId = b.departmentId || p.departmentId;
    if (departmentId !== p.departmentId && !hasRole(p, 'admin', 'system')) throw forbidden('clerks start cases of their own department only');
    const def = await newestActive(key);
    if (await isCaseProcess(key)) throw forbidden(`办件请通过受理登记(POST /api/cases):${key} is a case process; cases start through intake`);
    const owner = DOMAIN_STARTED[key];
    if (owner) throw forbidden(`流程 ${key} 由业务自动启动(${owner}):its instances belong to rows that only that route creates`);
    const declared = await declarations.of(def.id);
    if (!mayStart(p, declared)) throw forbidden(`无权启动流程 ${key}: the process does not list you among its starters (camunda:candidateStarterGroups / candidateStarterUsers)`);
    const variables = b.variables ?? {};
    assertDeclared(variables, await declarations.accepted(declared.start), `the start of ${key}`);
    if (departmentId && !(await db('departments').where({ id: departmentId }).first('id'))) throw new NotFoundError('department', departmentId);
    // The department is Duban's to set: diagrams may route with \${departmentId}.
    const s = await engine.start(key, {
      businessKey: b.businessKey ?? null, definitionId: def.id, actor: p.username, departmentId: departmentId ?? null,
      variables: departmentId ? { ...variables, departmentId } : variables,
    });
    return reply.code(201).send({ id: s.id, definitionId: s.definitionId, processKey: s.processKey, businessKey: s.businessKey, status: s.status, activeElements: s.activeElements, version: s.version });
  });

  /** The newest version an admin has not suspended: what a start by key runs on (the engine refuses a suspended one). */
  async function newestActive(key: string): Promise<{ id: string }> {
    const versions: Array<{ id: string; suspended_at: Date | null }> = await db('process_definitions').where({ key }).orderBy('version', 'desc').select('id', 'suspended_at');
    if (!versions.length) throw new NotFoundError('process definition', key);
    const active = versions.find((v) => !v.suspended_at);
    if (!active) throw new ConflictError(`every version of ${key} is suspended: activate one to start instances`);
    return active;
  }

  /** Processes that cases (办件) run on: started only by intake, which creates the case row their services need. */
  async function isCaseProcess(key: string): Promise<boolean> {
    if (key === 'approval-item') return true;
    return !!(await db('items').where({ process_key: key }).first('code'));
  }
}

/** Processes whose instances belong to a domain row that only one route creates, with that route. */
const DOMAIN_STARTED: Record<string, string> = {
  'key-project': 'POST /api/projects',
  'letter-reply': 'POST /api/letters',
};
