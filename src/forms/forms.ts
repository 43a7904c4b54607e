import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';
import type { Db } from '../db/database.js';
import { appendAudit, canonical } from '../audit/audit.js';
import { BadRequestError, NotFoundError } from '../engine/errors.js';

/**
 * Task forms: @bpmn-io/form-js schemas stored by form key (camunda:formKey), versioned.
 * The browser renders them; the server only checks that a schema is one the viewer can render safely.
 */

/** Components a task form may use. Left out: iframe and documentPreview (embed foreign pages), html (raw markup), filepicker (no file store), image (external URLs). */
const ALLOWED_TYPES = new Set([
  'textfield', 'textarea', 'number', 'datetime', 'select', 'radio', 'checkbox', 'checklist', 'taglist',
  'text', 'expression', 'group', 'dynamiclist', 'table', 'spacer', 'separator', 'button',
]);
const CONTAINERS = new Set(['group', 'dynamiclist']);
const KEY = /^[A-Za-z_][A-Za-z0-9_]{0,99}$/;
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
export const FORM_KEY = '^[A-Za-z][\\w.:-]{0,99}$';
const MAX_COMPONENTS = 200;
const MAX_DEPTH = 4;

export interface FormSchema { type: 'default'; components: FormComponent[]; [k: string]: unknown }
interface FormComponent { type: string; key?: string; components?: FormComponent[]; [k: string]: unknown }

export interface StoredForm { key: string; version: number; schema: FormSchema; note: string | null; createdBy: string; createdAt: string; fields: string[] }

/** Problems with a schema, each naming the component; empty when it is fine. */
export function checkFormSchema(schema: unknown): string[] {
  if (!isObject(schema)) return ['the form must be a JSON object'];
  if (schema.type !== 'default') return ['the form must have "type": "default"'];
  if (!Array.isArray(schema.components)) return ['the form must have a "components" array'];
  const problems: string[] = [];
  let count = 0;
  // Keys are variable names in one scope; a dynamic list's rows are a scope of their own.
  const walk = (components: unknown[], depth: number, where: string, keys: Set<string>) => {
    if (depth > MAX_DEPTH) return void problems.push(`${where}: groups nest deeper than ${MAX_DEPTH}`);
    components.forEach((c, i) => {
      const at = `${where}[${i}]`;
      if (++count > MAX_COMPONENTS) return;
      if (!isObject(c) || typeof c.type !== 'string') return void problems.push(`${at}: a component needs a "type"`);
      const label = `${at} (${c.type}${typeof c.key === 'string' ? ` "${c.key}"` : ''})`;
      if (!ALLOWED_TYPES.has(c.type)) return void problems.push(`${label}: component type "${c.type}" is not allowed in task forms`);
      if (c.key !== undefined) {
        if (typeof c.key !== 'string' || !KEY.test(c.key) || RESERVED_KEYS.has(c.key)) problems.push(`${label}: the key must be a variable name (letters, digits, _)`);
        else if (keys.has(c.key)) problems.push(`${label}: the key "${c.key}" is used twice`);
        else keys.add(c.key);
      }
      if (c.components !== undefined) {
        if (!CONTAINERS.has(c.type) || !Array.isArray(c.components)) problems.push(`${label}: only groups and dynamic lists hold components`);
        else walk(c.components, depth + 1, `${at}.components`, c.type === 'dynamiclist' ? new Set() : keys);
      }
    });
  };
  walk(schema.components, 1, 'components', new Set());
  if (count > MAX_COMPONENTS) problems.push(`the form has more than ${MAX_COMPONENTS} components`);
  return problems;
}

/** The variable names a form submits (keys of input fields, groups flattened). */
export function fieldKeys(schema: FormSchema): string[] {
  const out: string[] = [];
  const walk = (cs: FormComponent[]) => cs.forEach((c) => {
    if (typeof c.key === 'string' && !['text', 'spacer', 'separator', 'button'].includes(c.type)) out.push(c.key);
    if (Array.isArray(c.components) && c.type === 'group') walk(c.components);
  });
  walk(schema.components);
  return out;
}

export function toForm(r: Record<string, unknown>): StoredForm {
  const schema = r.schema as FormSchema;
  return {
    key: String(r.key), version: Number(r.version), schema, note: (r.note as string | null) ?? null,
    createdBy: String(r.created_by), createdAt: (r.created_at as Date).toISOString(), fields: fieldKeys(schema),
  };
}

export class FormStore {
  constructor(private readonly db: Db) {}

  async latest(key: string): Promise<StoredForm> {
    const row = await this.db('forms').where({ key }).orderBy('version', 'desc').first();
    if (!row) throw new NotFoundError('form', key);
    return toForm(row);
  }

  async version(key: string, version: number): Promise<StoredForm> {
    const row = await this.db('forms').where({ key, version }).first();
    if (!row) throw new NotFoundError('form', `${key} v${version}`);
    return toForm(row);
  }

  /** Newest version of every form, for the admin list. */
  latestQuery(): Knex.QueryBuilder {
    return this.db('forms as f').select('f.*')
      .whereRaw('f.version = (SELECT max(version) FROM forms g WHERE g.key = f.key)');
  }

  versionsQuery(key: string): Knex.QueryBuilder {
    return this.db('forms').select('*').where({ key });
  }

  /** A new version; refuses a schema the viewer could not render safely. Saving an identical schema is a no-op. */
  async save(key: string, schema: unknown, opts: { actor: string; note?: string | null }): Promise<{ form: StoredForm; unchanged: boolean }> {
    const problems = checkFormSchema(schema);
    if (problems.length) throw new BadRequestError(`the form was refused: ${problems[0]}`, { errors: problems });
    return this.db.transaction(async (trx) => {
      await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`form:${key}`]);
      const last = await trx('forms').where({ key }).orderBy('version', 'desc').first();
      if (last && canonical(last.schema) === canonical(schema)) return { form: toForm(last), unchanged: true };
      const version = (last?.version ?? 0) + 1;
      const [row] = await trx('forms').insert({ key, version, schema: JSON.stringify(schema), note: opts.note ?? null, created_by: opts.actor }).returning('*');
      await appendAudit(trx, { actor: opts.actor, action: 'form.saved', entityType: 'form', entityId: key, before: last ? { version: last.version } : null, after: { version, note: opts.note ?? null, fields: fieldKeys(schema as FormSchema) } });
      return { form: toForm(row), unchanged: false };
    });
  }
}

/** Install processes/forms/<name>.form as form key duban:<name> where that key has no version yet; admins' edits are never overwritten. */
export async function installShippedForms(store: FormStore, db: Db, dir = path.resolve('processes', 'forms'), log: (m: string) => void = () => undefined): Promise<void> {
  if (!existsSync(dir)) return;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.form')).sort()) {
    const key = `duban:${file.slice(0, -'.form'.length)}`;
    if (await db('forms').where({ key }).first('key')) continue;
    await store.save(key, JSON.parse(readFileSync(path.join(dir, file), 'utf8')), { actor: 'system', note: `shipped: ${file}` });
    log(`installed form ${key}`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
