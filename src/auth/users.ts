import { randomUUID } from 'node:crypto';
import argon2 from 'argon2';
import type { Knex } from 'knex';
import type { Db } from '../db/database.js';
import type { Role } from './principal.js';
import { authChanged } from './session-cache.js';
import { appendAudit } from '../audit/audit.js';
import { ConflictError, NotFoundError, BadRequestError } from '../engine/errors.js';
import { normalizePhone } from '../notify/phone.js';

/** Stored in E.164 (SMS providers refuse anything else); null stays null; refused when it cannot be normalized. */
export function phoneOrRefuse(phone: string | null | undefined, field = '/phone'): string | null {
  if (phone === null || phone === undefined || phone === '') return null;
  const e164 = normalizePhone(phone);
  if (!e164) throw new BadRequestError(`手机号无法识别:${phone}(expected a mainland number such as 13800000000 or E.164 such as +8613800000000)`, { fields: [{ field, message: 'not a phone number' }] });
  return e164;
}

export interface UserRow {
  id: string;
  username: string;
  display_name: string;
  password_hash: string | null;
  department_id: string | null;
  roles: Role[];
  phone: string | null;
  active: boolean;
}

export interface PublicUser {
  id: string;
  username: string;
  displayName: string;
  departmentId: string | null;
  roles: Role[];
  phone: string | null;
  active: boolean;
}

export function publicUser(u: UserRow): PublicUser {
  return { id: u.id, username: u.username, displayName: u.display_name, departmentId: u.department_id, roles: u.roles, phone: u.phone, active: u.active };
}

// argon2id with the library's defaults (64 MiB, t=3) — OWASP's recommended floor.
export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, { type: argon2.argon2id });
}

export async function verifyPassword(hash: string | null, password: string): Promise<boolean> {
  if (!hash) return false;
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

export interface NewUser {
  username: string;
  displayName: string;
  password?: string;
  departmentId?: string | null;
  roles: Role[];
  phone?: string | null;
}

export async function createUser(db: Db | Knex.Transaction, input: NewUser, actor: string | null): Promise<PublicUser> {
  if (input.password !== undefined && input.password.length < 8) throw new BadRequestError('the password must have at least 8 characters');
  const phone = phoneOrRefuse(input.phone);
  const passwordHash = input.password ? await hashPassword(input.password) : null;
  // JSON null arrives as "" after schema coercion; both mean "no department".
  const departmentId = input.departmentId || null;
  const run = async (trx: Knex.Transaction) => {
    if (departmentId && !(await trx('departments').where({ id: departmentId }).first('id'))) {
      throw new BadRequestError(`department ${departmentId} does not exist`);
    }
    if (await trx('users').where({ username: input.username }).first('id')) throw new ConflictError(`user ${input.username} exists`);
    const row: UserRow = {
      id: randomUUID(), username: input.username, display_name: input.displayName, password_hash: passwordHash,
      department_id: departmentId, roles: input.roles, phone, active: true,
    };
    await trx('users').insert(row);
    await appendAudit(trx, { actor, action: 'user.created', entityType: 'user', entityId: row.id, after: publicUser(row) });
    return publicUser(row);
  };
  return 'isTransaction' in db && db.isTransaction ? run(db as Knex.Transaction) : (db as Db).transaction(run);
}

export interface UserPatch {
  displayName?: string;
  password?: string;
  departmentId?: string | null;
  roles?: Role[];
  phone?: string | null;
  active?: boolean;
}

export async function updateUser(db: Db, id: string, patch: UserPatch, actor: string | null): Promise<PublicUser> {
  if (patch.password !== undefined && patch.password.length < 8) throw new BadRequestError('the password must have at least 8 characters');
  const phone = patch.phone === undefined ? undefined : phoneOrRefuse(patch.phone);
  const passwordHash = patch.password ? await hashPassword(patch.password) : undefined;
  const updated = await db.transaction(async (trx) => {
    const before: UserRow | undefined = await trx('users').where({ id }).forUpdate().first();
    if (!before) throw new NotFoundError('user', id);
    if (patch.departmentId && !(await trx('departments').where({ id: patch.departmentId }).first('id'))) {
      throw new BadRequestError(`department ${patch.departmentId} does not exist`);
    }
    const changes: Record<string, unknown> = { updated_at: trx.raw('now()') };
    if (patch.displayName !== undefined) changes.display_name = patch.displayName;
    if (passwordHash) changes.password_hash = passwordHash;
    if (patch.departmentId !== undefined) changes.department_id = patch.departmentId || null;
    if (patch.roles !== undefined) changes.roles = patch.roles;
    if (phone !== undefined) changes.phone = phone;
    if (patch.active !== undefined) changes.active = patch.active;
    await trx('users').where({ id }).update(changes);
    const after: UserRow = await trx('users').where({ id }).first();
    if (patch.active === false || passwordHash) {
      // Sessions and API tokens die with a password change or a deactivation (reactivating revives neither).
      await trx('sessions').where({ user_id: id }).delete();
      await trx('api_tokens').where({ user_id: id }).whereNull('revoked_at').update({ revoked_at: trx.raw('now()') });
    }
    await appendAudit(trx, {
      actor, action: 'user.updated', entityType: 'user', entityId: id, before: publicUser(before),
      after: { ...publicUser(after), ...(passwordHash ? { passwordChanged: true } : {}) },
    });
    return publicUser(after);
  });
  // After the commit: this process's session cache forgets the user's old roles and sessions at once.
  authChanged();
  return updated;
}
