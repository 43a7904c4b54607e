import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import cookie from '@fastify/cookie';
import rateLimit from '@fastify/rate-limit';
import { postgresRateLimitStore } from './rate-limit-store.js';
import { Type } from '@sinclair/typebox';
import type { Db } from '../db/database.js';
import { DubanError } from '../engine/errors.js';
import { hasRole, hasScope, type Principal, type Role, type Scope } from '../auth/principal.js';
import { createSession, deleteSession, sessionPrincipal, tokenPrincipal } from '../auth/sessions.js';
import type { SessionCache } from '../auth/session-cache.js';
import { publicUser, verifyPassword, hashPassword, type UserRow } from '../auth/users.js';
import { appendAudit } from '../audit/audit.js';

export const SESSION_COOKIE = 'duban_session';
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** Every /api route declares who may call it; `public` routes skip authentication. */
    access?: { public: true } | { roles: Role[]; scope: Scope };
  }
}

export class AuthError extends DubanError {}

export function unauthorized(detail = 'log in or send an API token'): AuthError {
  return new AuthError(401, 'unauthorized', detail);
}

export function forbidden(detail: string): AuthError {
  return new AuthError(403, 'forbidden', detail);
}

/** The caller, or 401. */
export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw unauthorized();
  return req.principal;
}

/**
 * Resolve the caller from the session cookie or a bearer token, enforce CSRF for cookie sessions,
 * and check each route's declared access. A route without a declaration fails at start-up.
 */
export const authPlugin = fp(async (app: FastifyInstance, opts: { db: Db; sessionCache?: SessionCache }) => {
  await app.register(cookie);
  // Counted in PostgreSQL: every server process on the database shares the login budget.
  await app.register(rateLimit, { global: false, store: postgresRateLimitStore(opts.db) });
  app.decorateRequest('principal', null);

  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/api/')) return;
    if (!route.config?.access) throw new Error(`route ${route.method} ${route.url} declares no access rule`);
  });

  const check: onRequestHookHandler = async (req) => {
    const access = req.routeOptions.config?.access;
    if (!access || 'public' in access) return;
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ')) {
      req.principal = await tokenPrincipal(opts.db, auth.slice(7).trim());
      if (!req.principal) throw unauthorized('the API token is invalid, expired or revoked');
    } else {
      const value = req.cookies[SESSION_COOKIE];
      // Only a read may trust a recently confirmed session: a change always asks the database.
      req.principal = value ? await sessionPrincipal(opts.db, value, UNSAFE.has(req.method) ? undefined : opts.sessionCache) : null;
      if (!req.principal) throw unauthorized();
      if (UNSAFE.has(req.method) && req.headers['x-csrf-token'] !== req.principal.csrfToken) {
        throw forbidden('missing or wrong X-CSRF-Token header');
      }
    }
    const p = req.principal;
    if (!hasRole(p, ...access.roles)) throw forbidden(`needs one of the roles: ${access.roles.join(', ')}`);
    if (!hasScope(p, access.scope)) throw forbidden(`the API token lacks the scope "${access.scope}"`);
  };
  // onRequest: who may call is settled before the body is parsed or validated.
  app.addHook('onRequest', check);
});

const LoginBody = Type.Object({
  username: Type.String({ minLength: 1, maxLength: 64 }),
  password: Type.String({ minLength: 1, maxLength: 200 }),
}, { additionalProperties: false });

const Me = Type.Object({
  id: Type.String(), username: Type.String(), displayName: Type.String(), departmentId: Type.Union([Type.String(), Type.Null()]),
  roles: Type.Array(Type.String()), csrfToken: Type.Optional(Type.String()), via: Type.String(),
});

/**
 * One spelling of a username for the login's rate-limit key and its lookup: NFKC folds compatibility
 * characters (the Kelvin sign in `mar\u212Aet.clerk` is a K) and case is ignored, so `Leader`, `lEader`
 * and `leader` share one budget and one account.
 */
export function normalizeUsername(username: string): string {
  return username.normalize('NFKC').toLowerCase();
}

function loginKey(req: FastifyRequest): string {
  const username = (req.body as { username?: unknown } | undefined)?.username;
  return `${req.ip}|${typeof username === 'string' ? normalizeUsername(username) : ''}`;
}

// A real hash so unknown usernames cost the same time as wrong passwords.
const dummyHash = hashPassword('not-a-real-password-0');

export async function authRoutes(app: FastifyInstance, opts: { db: Db; secureCookies: boolean }) {
  const { db } = opts;
  app.post('/api/auth/login', {
    schema: { tags: ['auth'], summary: 'Log in; sets an httpOnly session cookie and returns the CSRF token', body: LoginBody, response: { 200: Me } },
    config: {
      access: { public: true },
      // preHandler: the key needs the parsed body (the username).
      rateLimit: { hook: 'preHandler', max: 10, timeWindow: '1 minute', keyGenerator: loginKey },
    },
  }, async (req, reply) => {
    const { password } = req.body as { username: string; password: string };
    const username = normalizeUsername((req.body as { username: string }).username);
    const user: UserRow | undefined = await db('users').where({ username }).first();
    const ok = user?.active ? await verifyPassword(user.password_hash, password) : await verifyPassword(await dummyHash, password).then(() => false);
    if (!user || !ok) {
      await appendAudit(db, { actor: username, action: 'login.failed', entityType: 'user', entityId: user?.id ?? null });
      throw unauthorized('wrong username or password');
    }
    const session = await createSession(db, user.id);
    await appendAudit(db, { actor: user.username, action: 'login', entityType: 'user', entityId: user.id });
    reply.setCookie(SESSION_COOKIE, session.cookie, {
      path: '/', httpOnly: true, sameSite: 'strict', secure: opts.secureCookies, expires: session.expiresAt,
    });
    return { ...publicUser(user), csrfToken: session.csrfToken, via: 'session' };
  });

  app.post('/api/auth/logout', {
    schema: { tags: ['auth'], summary: 'End the session', response: { 204: Type.Null() } },
    config: { access: { roles: ['admin', 'clerk', 'inspector', 'leader', 'system'], scope: 'read' } },
  }, async (req, reply) => {
    const p = principalOf(req);
    const value = req.cookies[SESSION_COOKIE];
    if (value) await deleteSession(db, value);
    await appendAudit(db, { actor: p.username, action: 'logout', entityType: 'user', entityId: p.userId });
    reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'strict', secure: opts.secureCookies });
    return reply.code(204).send();
  });

  app.get('/api/auth/me', {
    schema: { tags: ['auth'], summary: 'The current user, with the CSRF token for this session', response: { 200: Me } },
    config: { access: { roles: ['admin', 'clerk', 'inspector', 'leader', 'system'], scope: 'read' } },
  }, async (req) => {
    const p = principalOf(req);
    return { id: p.userId, username: p.username, displayName: p.displayName, departmentId: p.departmentId, roles: p.roles, csrfToken: p.csrfToken, via: p.via };
  });
}
