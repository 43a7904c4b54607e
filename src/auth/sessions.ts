import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Db } from '../db/database.js';
import type { Principal, Role, Scope } from './principal.js';
import { appendAudit } from '../audit/audit.js';
import { queryPrepared, type PreparedStatement } from '../db/prepared.js';
import { authChanged, type SessionCache } from './session-cache.js';
import { BadRequestError, DubanError, NotFoundError } from '../engine/errors.js';

const SESSION_HOURS = 12;

export function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

function token(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

interface PrincipalRow {
  id: string;
  username: string;
  display_name: string;
  roles: Role[];
  department_id: string | null;
  active: boolean;
}

function toPrincipal(u: PrincipalRow, via: Principal['via'], scopes: string[] | null, csrfToken?: string): Principal {
  return { userId: u.id, username: u.username, displayName: u.display_name, roles: u.roles, departmentId: u.department_id, via, scopes, csrfToken };
}

/** A browser session: the cookie holds a random value, the table only its hash. */
export async function createSession(db: Db, userId: string): Promise<{ cookie: string; csrfToken: string; expiresAt: Date }> {
  const cookie = token();
  const csrfToken = token(24);
  const expiresAt = new Date(Date.now() + SESSION_HOURS * 3_600_000);
  await db('sessions').insert({ id: sha256(cookie), user_id: userId, csrf_token: csrfToken, expires_at: expiresAt });
  return { cookie, csrfToken, expiresAt };
}

/**
 * A constant statement, prepared once per connection (one primary-key probe and one unique-key probe),
 * which knex need not build. Every request that changes something asks it afresh, so a deleted session
 * or a deactivated user is refused at once by every server process; reads may take the answer from
 * the session cache (session-cache.ts), which every such change clears.
 */
const SESSION_PRINCIPAL: PreparedStatement = {
  name: 'session_principal',
  text: `SELECT u.id, u.username, u.display_name, u.roles, u.department_id, u.active, s.csrf_token, s.expires_at
    FROM sessions s JOIN users u ON u.id = s.user_id
    WHERE s.id = $1 AND s.expires_at > now() AND u.active`,
};

/** The session's user, or null; `cache` for a read (GET/HEAD) only. */
export async function sessionPrincipal(db: Db, cookie: string, cache?: SessionCache): Promise<Principal | null> {
  const key = sha256(cookie);
  const cached = cache?.get(key);
  if (cached) return cached;
  const ticket = cache?.ticket();
  const [row] = await queryPrepared<PrincipalRow & { csrf_token: string; expires_at: Date }>(db, SESSION_PRINCIPAL, [key]);
  if (!row) return null;
  const principal = toPrincipal(row, 'session', null, row.csrf_token);
  if (cache && ticket !== undefined) cache.put(key, principal, row.expires_at, ticket);
  return principal;
}

export async function deleteSession(db: Db, cookie: string): Promise<void> {
  await db('sessions').where({ id: sha256(cookie) }).delete();
  authChanged();
}

/** The longest an API token lives; a token without an expiry gets this one. */
export const TOKEN_MAX_DAYS = 90;

/**
 * API tokens: `dbn_<id>.<secret>`; scoped, revocable, stored as a hash of the secret. A token acts only
 * for the user who created it (no one mints a token to act as someone else), lives at most
 * TOKEN_MAX_DAYS, and dies with its user's password change or deactivation (users.ts).
 */
export async function createApiToken(db: Db, opts: { name: string; userId: string; scopes: Scope[]; createdBy: string; actor: string; expiresAt?: Date | null }): Promise<{ id: string; token: string; expiresAt: Date }> {
  if (opts.userId !== opts.createdBy) throw new DubanError(403, 'forbidden', 'a token acts only for the user who creates it');
  const now = Date.now();
  const longest = now + TOKEN_MAX_DAYS * 86_400_000;
  const expiresAt = opts.expiresAt ?? new Date(longest);
  if (expiresAt.getTime() <= now) throw new BadRequestError('expiresAt lies in the past');
  if (expiresAt.getTime() > longest + 60_000) throw new BadRequestError(`令牌有效期最长 ${TOKEN_MAX_DAYS} 天:a token lives at most ${TOKEN_MAX_DAYS} days`);
  const id = randomUUID();
  const secret = token();
  return db.transaction(async (trx) => {
    const user = await trx('users').where({ id: opts.userId }).first('id');
    if (!user) throw new NotFoundError('user', opts.userId);
    await trx('api_tokens').insert({
      id, name: opts.name, secret_hash: sha256(secret), user_id: opts.userId, scopes: opts.scopes,
      created_by: opts.createdBy, expires_at: expiresAt,
    });
    await appendAudit(trx, { actor: opts.actor, action: 'token.created', entityType: 'api_token', entityId: id, after: { name: opts.name, userId: opts.userId, scopes: opts.scopes, expiresAt: expiresAt.toISOString() } });
    return { id, token: `dbn_${id}.${secret}`, expiresAt };
  });
}

export async function tokenPrincipal(db: Db, bearer: string): Promise<Principal | null> {
  const m = /^dbn_([0-9a-f-]{36})\.([A-Za-z0-9_-]{20,})$/.exec(bearer);
  if (!m) return null;
  // Tokens minted for someone else before this rule are refused too (created_by = user_id).
  const row = await db('api_tokens as t').join('users as u', 'u.id', 't.user_id')
    .where('t.id', m[1]).whereNull('t.revoked_at').andWhere('u.active', true).andWhereRaw('t.created_by = t.user_id')
    .andWhere('t.expires_at', '>', db.raw('now()'))
    .first('u.id', 'u.username', 'u.display_name', 'u.roles', 'u.department_id', 'u.active', 't.secret_hash', 't.scopes');
  if (!row || row.secret_hash !== sha256(m[2]!)) return null;
  await db('api_tokens').where({ id: m[1] }).update({ last_used_at: db.raw('now()') });
  return toPrincipal(row, 'token', row.scopes);
}

export async function revokeApiToken(db: Db, id: string, actor: string): Promise<void> {
  await db.transaction(async (trx) => {
    const row = await trx('api_tokens').where({ id }).forUpdate().first('id', 'revoked_at', 'name');
    if (!row) throw new NotFoundError('API token', id);
    if (row.revoked_at) return;
    await trx('api_tokens').where({ id }).update({ revoked_at: trx.raw('now()') });
    await appendAudit(trx, { actor, action: 'token.revoked', entityType: 'api_token', entityId: id, before: { name: row.name } });
  });
}
