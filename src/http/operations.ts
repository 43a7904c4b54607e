import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Db } from '../db/database.js';
import type { WorkflowEngine } from '../engine/engine.js';
import { forbidden, principalOf } from './auth.js';
import { pageOf, paginate, pagingQuery, Nullable, iso } from './paging.js';
import { hasRole } from '../auth/principal.js';
import { assertUnprotected, mayStart, type DeclarationStore } from '../domain/processes/declarations.js';
import { retryIncident } from '../engine/outbox.js';
import { sealAudit, verifyAudit } from '../audit/audit.js';
import { ConflictError, NotFoundError } from '../engine/errors.js';


/** Incidents, message correlation and the audit trail: the operator's side of the engine. */
export async function operationRoutes(app: FastifyInstance, opts: { db: Db; engine: WorkflowEngine; declarations: DeclarationStore }) {
  const { db, engine, declarations } = opts;

  const Incident = Type.Object({
    id: Type.Integer(), instanceId: Nullable(Type.String()), elementId: Nullable(Type.String()), kind: Type.String(),
    message: Type.String(), status: Type.String(), createdAt: Type.String(), resolvedAt: Nullable(Type.String()),
  });

  app.get('/api/incidents', {
    schema: {
      tags: ['operations'], summary: 'Incidents: failed deliveries, failing timers, runtime failures',
      querystring: pagingQuery(['createdAt'], { status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('resolved')])), kind: Type.Optional(Type.String({ maxLength: 40 })) }),
      response: { 200: pageOf(Incident) },
    },
    config: { access: { roles: ['admin', 'inspector'], scope: 'read' } },
  }, async (req) => {
    const q = req.query as { status?: string; kind?: string };
    const query = db('incidents as n').select('n.*');
    if (q.status) query.where('n.status', q.status);
    if (q.kind) query.where('n.kind', q.kind);
    return paginate(query, req.query as object, { createdAt: 'n.created_at', id: 'n.id' }, 'createdAt', (r) => ({
      id: Number(r.id), instanceId: (r.instance_id as string) ?? null, elementId: (r.element_id as string) ?? null, kind: String(r.kind),
      message: String(r.message), status: String(r.status), createdAt: iso(r.created_at)!, resolvedAt: iso(r.resolved_at),
    }));
  });

  app.post('/api/incidents/:id/retry', {
    schema: { tags: ['operations'], summary: 'Retry the delivery or timer behind an incident', params: Type.Object({ id: Type.Integer({ minimum: 1, maximum: 2 ** 53 }) }), response: { 204: Type.Null() } },
    config: { access: { roles: ['admin'], scope: 'admin' } },
  }, async (req, reply) => {
    const { id } = req.params as { id: number };
    const r = await retryIncident(db, id, principalOf(req).username);
    if (r.kind === 'missing') throw new NotFoundError('incident', String(id));
    if (!r.retried) throw new ConflictError(`incident ${id} cannot be retried (${r.kind}, or already resolved)`);
    return reply.code(204).send();
  });

  app.post('/api/messages/correlate', {
    schema: {
      tags: ['operations'], summary: 'Deliver a message to the instances waiting for it (by name and business key), or start one; clerks reach their own department only and need a business key',
      body: Type.Object({
        messageName: Type.String({ minLength: 1, maxLength: 100 }), businessKey: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
        variables: Type.Optional(Type.Record(Type.String({ maxLength: 100 }), Type.Unknown(), { maxProperties: 200 })),
      }, { additionalProperties: false }),
      response: { 200: Type.Object({ delivered: Type.Integer(), startedInstanceId: Nullable(Type.String()) }) },
    },
    config: { access: { roles: ['admin', 'clerk', 'system'], scope: 'messages:write' } },
  }, async (req) => {
    const p = principalOf(req);
    const b = req.body as { messageName: string; businessKey?: string; variables?: Record<string, unknown> };
    const everywhere = hasRole(p, 'admin', 'system');
    // A message without a business key reaches every waiting instance: only for admins and other systems.
    if (!b.businessKey && !everywhere) throw forbidden('需要业务编号:without a business key, messages are for admins and system tokens only');
    const variables = b.variables ?? {};
    assertUnprotected(variables);
    const r = await engine.correlate(b.messageName, {
      businessKey: b.businessKey ?? null, variables, actor: p.username,
      // Clerks reach only their own department's instances, whatever matches elsewhere.
      instances: everywhere ? undefined : (q) => void q.where('i.department_id', p.departmentId ?? ''),
      beforeStart: async (def) => {
        if (!mayStart(p, await declarations.of(def.id))) throw forbidden(`无权启动流程 ${def.key}: the process does not list you among its starters`);
      },
    });
    return { delivered: r.delivered, startedInstanceId: r.started?.id ?? null };
  });

  const AuditRow = Type.Object({
    id: Type.Integer(), at: Type.String(), actor: Nullable(Type.String()), action: Type.String(), entityType: Type.String(),
    entityId: Nullable(Type.String()), before: Type.Unknown(), after: Type.Unknown(), hash: Type.String(),
  });

  app.get('/api/audit', {
    schema: {
      tags: ['operations'], summary: 'The append-only audit trail',
      querystring: pagingQuery(['id'], { actor: Type.Optional(Type.String({ maxLength: 64 })), action: Type.Optional(Type.String({ maxLength: 64 })), entityId: Type.Optional(Type.String({ maxLength: 100 })) }),
      response: { 200: pageOf(AuditRow) },
    },
    config: { access: { roles: ['admin', 'inspector'], scope: 'admin' } },
  }, async (req) => {
    const q = req.query as { actor?: string; action?: string; entityId?: string };
    // The list is the chain: entries committed a moment ago are sealed into it first.
    await sealAudit(db, { settleMs: 1000 });
    const query = db('audit_log as a').select('a.*');
    if (q.actor) query.where('a.actor', q.actor);
    if (q.action) query.where('a.action', q.action);
    if (q.entityId) query.where('a.entity_id', q.entityId);
    return paginate(query, req.query as object, { id: 'a.id' }, 'id', (r) => ({
      id: Number(r.id), at: iso(r.at)!, actor: (r.actor as string) ?? null, action: String(r.action), entityType: String(r.entity_type),
      entityId: (r.entity_id as string) ?? null, before: r.before ?? null, after: r.after ?? null, hash: String(r.hash),
    }));
  });

  app.get('/api/audit/verify', {
    schema: {
      tags: ['operations'], summary: 'Recompute the keyed audit chain; names every broken row (brokenId/reason: the first)',
      response: { 200: Type.Object({
        ok: Type.Boolean(), rows: Type.Integer(), brokenId: Type.Optional(Type.Integer()), reason: Type.Optional(Type.String()),
        broken: Type.Optional(Type.Array(Type.Object({ id: Type.Integer(), reason: Type.String() }))),
      }) },
    },
    config: { access: { roles: ['admin'], scope: 'admin' } },
  }, async () => verifyAudit(db));
}
