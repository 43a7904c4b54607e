import { randomUUID } from 'node:crypto';
import argon2 from 'argon2';
import type { Knex } from 'knex';
import type { Db } from '../db/database.js';
import type { Role } from './principal.js';
import { appendAudit } from '../audit/audit.js';
import { ConflictError, NotFoundError, BadRequestError } from '../engine/errors.js';

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
      department_id: departmentId, roles: input.roles, phone: input.phone ?? null, active: true,
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
  const passwordHash = patch.password ? await hashPassword(patch.password) : undefined;
  return db.transaction(async (trx) => {
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
    if (patch.phone !== undefined) changes.phone = patch.phone;
    if (patch.active !== undefined) changes.active = patch.active;
    await trx('users').where({ id }).update(changes);
    const after: UserRow = await trx('users').where({ id }).first();
    if (patch.active === false || passwordHash) await trx('sessions').where({ user_id: id }).delete();
    await appendAudit(trx, {
      actor, action: 'user.updated', entityType: 'user', entityId: id, before: publicUser(before),
      after: { ...publicUser(after), ...(passwordHash ? { passwordChanged: true } : {}) },
    });
    return publicUser(after);
  });
}
