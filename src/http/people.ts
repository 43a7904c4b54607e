import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Db } from '../db/database.js';
import { forbidden, principalOf } from './auth.js';
import { IdParams, pageOf, paginate, pagingQuery } from './paging.js';
import { ROLES, SCOPES, type Role, type Scope } from '../auth/principal.js';
import { createUser, phoneOrRefuse, publicUser, updateUser, type UserRow } from '../auth/users.js';
import { createApiToken, revokeApiToken, TOKEN_MAX_DAYS } from '../auth/sessions.js';
import { appendAudit } from '../audit/audit.js';
import { ConflictError } from '../engine/errors.js';

const RoleT = Type.Union(ROLES.map((r) => Type.Literal(r)));
const ScopeT = Type.Union(SCOPES.map((s) => Type.Literal(s)));
// Normalized to E.164 by the handlers (a mainland 13800000000 becomes +8613800000000); refused when it cannot be.
const Phone = Type.String({ minLength: 1, maxLength: 40 });

const Department = Type.Object({ id: Type.String(), name: Type.String(), nameEn: Type.Union([Type.String(), Type.Null()]), phone: Type.Union([Type.String(), Type.Null()]) });
const User = Type.Object({
  id: Type.String(), username: Type.String(), displayName: Type.String(), departmentId: Type.Union([Type.String(), Type.Null()]),
  roles: Type.Array(Type.String()), phone: Type.Union([Type.String(), Type.Null()]), active: Type.Boolean(),
});

const READ_PEOPLE = { roles: ['admin', 'clerk', 'inspector', 'leader'] as Role[], scope: 'read' as Scope };
const ADMIN = { roles: ['admin'] as Role[], scope: 'admin' as Scope };

export async function peopleRoutes(app: FastifyInstance, opts: { db: Db }) {
  const { db } = opts;

  app.get('/api/departments', {
    schema: { tags: ['people'], summary: 'Departments', response: { 200: Type.Array(Department) } },
    config: { access: READ_PEOPLE },
  }, async () => {
    const rows = await db('departments').orderBy('id');
    return rows.map((d) => ({ id: d.id, name: d.name, nameEn: d.name_en, phone: d.phone }));
  });

  app.post('/api/departments', {
    schema: {
      tags: ['people'], summary: 'Create a department',
      body: Type.Object({ id: Type.String({ pattern: '^[a-z][a-z0-9-]{1,39}$' }), name: Type.String({ minLength: 1, maxLength: 100 }),
        nameEn: Type.Optional(Type.String({ maxLength: 100 })), phone: Type.Optional(Phone) }, { additionalProperties: false }),
      response: { 201: Department },
    },
    config: { access: ADMIN },
  }, async (req, reply) => {
    const p = principalOf(req);
    const body = req.body as { id: string; name: string; nameEn?: string; phone?: string };
    const dept = await db.transaction(async (trx) => {
      if (await trx('departments').where({ id: body.id }).first('id')) throw new ConflictError(`department ${body.id} exists`);
      const row = { id: body.id, name: body.name, name_en: body.nameEn ?? null, phone: phoneOrRefuse(body.phone) };
      await trx('departments').insert(row);
      await appendAudit(trx, { actor: p.username, action: 'department.created', entityType: 'department', entityId: body.id, after: row });
      return { id: row.id, name: row.name, nameEn: row.name_en, phone: row.phone };
    });
    return reply.code(201).send(dept);
  });

  app.get('/api/users', {
    schema: {
      tags: ['people'], summary: 'Users (clerks see their own department)',
      querystring: pagingQuery(['username', 'createdAt'], { departmentId: Type.Optional(Type.String({ maxLength: 40 })), role: Type.Optional(RoleT) }),
      response: { 200: pageOf(User) },
    },
    config: { access: READ_PEOPLE },
  }, async (req) => {
    const p = principalOf(req);
    const q = req.query as { departmentId?: string; role?: Role; page?: number; pageSize?: number; sort?: string; order?: 'asc' | 'desc' };
    const query = db('users').select('*');
    if (!p.roles.some((r) => r === 'admin' || r === 'inspector' || r === 'leader')) query.where('department_id', p.departmentId ?? '');
    if (q.departmentId) query.where('department_id', q.departmentId);
    if (q.role) query.whereRaw('? = ANY(roles)', [q.role]);
    return paginate(query, q, { username: 'username', createdAt: 'created_at', id: 'id' }, 'username', (r) => publicUser(r as unknown as UserRow));
  });

  const UserBody = Type.Object({
    username: Type.String({ pattern: '^[a-z0-9._-]{2,40}$' }),
    displayName: Type.String({ minLength: 1, maxLength: 80 }),
    password: Type.String({ minLength: 8, maxLength: 200 }),
    departmentId: Type.Optional(Type.Union([Type.String({ maxLength: 40 }), Type.Null()])),
    roles: Type.Array(RoleT, { minItems: 1, maxItems: 5, uniqueItems: true }),
    phone: Type.Optional(Type.Union([Phone, Type.Null()])),
  }, { additionalProperties: false });

  app.post('/api/users', {
    schema: { tags: ['people'], summary: 'Create a user (password hashed with argon2id)', body: UserBody, response: { 201: User } },
    config: { access: ADMIN },
  }, async (req, reply) => {
    const p = principalOf(req);
    const b = req.body as { username: string; displayName: string; password: string; departmentId?: string | null; roles: Role[]; phone?: string | null };
    return reply.code(201).send(await createUser(db, b, p.username));
  });

  app.patch('/api/users/:id', {
    schema: {
      tags: ['people'], summary: 'Change a user: roles, department, phone, password, active', params: IdParams,
      body: Type.Partial(Type.Object({
        displayName: Type.String({ minLength: 1, maxLength: 80 }), password: Type.String({ minLength: 8, maxLength: 200 }),
        departmentId: Type.Union([Type.String({ maxLength: 40 }), Type.Null()]), roles: Type.Array(RoleT, { minItems: 1, maxItems: 5, uniqueItems: true }),
        phone: Type.Union([Phone, Type.Null()]), active: Type.Boolean(),
      }), { additionalProperties: false, minProperties: 1 }),
      response: { 200: User },
    },
    config: { access: ADMIN },
  }, async (req) => {
    const p = principalOf(req);
    return updateUser(db, (req.params as { id: string }).id, req.body as Record<string, never>, p.username);
  });

  const Token = Type.Object({
    id: Type.String(), name: Type.String(), userId: Type.String(), scopes: Type.Array(Type.String()),
    createdAt: Type.String(), expiresAt: Type.Union([Type.String(), Type.Null()]), revokedAt: Type.Union([Type.String(), Type.Null()]), lastUsedAt: Type.Union([Type.String(), Type.Null()]),
  });

  app.get('/api/tokens', {
    schema: { tags: ['people'], summary: 'API tokens (never their secrets)', querystring: pagingQuery(['createdAt'], {}), response: { 200: pageOf(Token) } },
    config: { access: ADMIN },
  }, async (req) => {
    return paginate(db('api_tokens').select('*'), req.query as object, { createdAt: 'created_at', id: 'id' }, 'createdAt', (r) => ({
      id: String(r.id), name: String(r.name), userId: String(r.user_id), scopes: r.scopes as string[],
      createdAt: (r.created_at as Date).toISOString(), expiresAt: r.expires_at ? (r.expires_at as Date).toISOString() : null, revokedAt: r.revoked_at ? (r.revoked_at as Date).toISOString() : null,
      lastUsedAt: r.last_used_at ? (r.last_used_at as Date).toISOString() : null,
    }));
  });

  app.post('/api/tokens', {
    schema: {
      tags: ['people'], summary: `Issue a scoped API token acting for the caller (never for another user), at most ${TOKEN_MAX_DAYS} days; the secret is shown once`,
      body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 80 }), userId: Type.Optional(Type.String({ format: 'uuid' })),
        scopes: Type.Array(ScopeT, { minItems: 1, maxItems: SCOPES.length, uniqueItems: true }),
        expiresAt: Type.Optional(Type.String({ format: 'date-time' })) }, { additionalProperties: false }),
      response: { 201: Type.Object({ id: Type.String(), token: Type.String(), expiresAt: Type.String() }) },
    },
    // Every role may hold a token for itself (other systems log in as their `system` user and mint one).
    config: { access: { roles: [...ROLES], scope: 'read' } },
  }, async (req, reply) => {
    const p = principalOf(req);
    const b = req.body as { name: string; userId?: string; scopes: Scope[]; expiresAt?: string };
    if (p.via !== 'session') throw forbidden('API tokens are issued to a logged-in user, not to another token');
    if (b.userId && b.userId !== p.userId) throw forbidden('令牌只能代表签发者本人:a token acts only for the user who creates it');
    const created = await createApiToken(db, { name: b.name, scopes: b.scopes, userId: p.userId, expiresAt: b.expiresAt ? new Date(b.expiresAt) : null, createdBy: p.userId, actor: p.username });
    return reply.code(201).send({ ...created, expiresAt: created.expiresAt.toISOString() });
  });

  app.delete('/api/tokens/:id', {
    schema: { tags: ['people'], summary: 'Revoke an API token', params: IdParams, response: { 204: Type.Null() } },
    config: { access: ADMIN },
  }, async (req, reply) => {
    await revokeApiToken(db, (req.params as { id: string }).id, principalOf(req).username);
    return reply.code(204).send();
  });
}
