import type { Knex } from 'knex';
import type { Db } from '../db/database.js';
import { createHash } from 'node:crypto';
import { loadCompiled, type CompileOptions, type DefinitionMeta, type Problem } from './compile.js';
import { compileChecked } from './deploy-check.js';
import { ConflictError, InvalidDefinitionError, NotFoundError } from './errors.js';
import type { CompiledDefinition } from './run.js';

export interface DeployResult {
  id: string;
  key: string;
  version: number;
  name: string | null;
  warnings: Problem[];
  unchanged: boolean;
}

export interface DeployOptions {
  note?: string | null;
  actor?: string | null;
  /**
   * A shipped file (`processes/approval-item.bpmn`): deployed only when it differs from the version last
   * deployed from the same source, whatever was deployed in between (an admin's newer version stays latest).
   */
  source?: string | null;
}

export interface DefinitionRow {
  id: string;
  key: string;
  version: number;
  name: string | null;
  note: string | null;
  deployed_by: string | null;
  deployed_at: Date;
  checksum: string;
}

/**
 * Deployed versions, compiled once: the serialized context is stored with the row, and each
 * server process keeps the deserialized one in memory (versions are immutable, so no invalidation).
 */
export class DefinitionStore {
  private readonly cache = new Map<string, Promise<CompiledDefinition>>();

  constructor(private readonly db: Db, private readonly compileOptions: CompileOptions) {}

  async deploy(xml: string, opts: DeployOptions = {},
    onDeployed?: (trx: Knex.Transaction, result: DeployResult) => Promise<void>): Promise<DeployResult> {
    const source = opts.source ?? null;
    if (source) {
      // Cheap before compiling: a restart with unchanged shipped files parses nothing.
      const same = await this.lastFromSource(this.db, source);
      if (same && same.checksum === checksumOf(xml)) return { id: same.id, key: same.key, version: same.version, name: same.name, warnings: [], unchanged: true };
    }
    const result = await compileChecked(xml, this.compileOptions);
    if (!result.ok || !result.meta || !result.compiled) throw new InvalidDefinitionError(result.errors, result.warnings);
    const meta = result.meta;
    return this.db.transaction(async (trx) => {
      // Serialise deployments of one key so versions stay gapless.
      await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`deploy:${meta.key}`]);
      const latest = await trx('process_definitions').where({ key: meta.key }).orderBy('version', 'desc').first();
      const previous = source ? await this.lastFromSource(trx, source) : latest;
      if (previous && previous.checksum === result.checksum) {
        return { id: previous.id, key: previous.key, version: previous.version, name: previous.name, warnings: result.warnings, unchanged: true };
      }
      const version = (latest?.version ?? 0) + 1;
      const id = `${meta.key}:${version}`;
      await trx('process_definitions').insert({
        id, key: meta.key, version, name: meta.name, xml, compiled: result.compiled, meta: JSON.stringify(meta),
        note: opts.note ?? null, deployed_by: opts.actor ?? null, checksum: result.checksum, source,
      });
      const deployed = { id, key: meta.key, version, name: meta.name, warnings: result.warnings, unchanged: false };
      await onDeployed?.(trx, deployed);
      return deployed;
    });
  }

  private async lastFromSource(q: Knex | Knex.Transaction, source: string): Promise<Pick<DefinitionRow, 'id' | 'key' | 'version' | 'name' | 'checksum'> | undefined> {
    return q('process_definitions').where({ source }).orderBy('version', 'desc').first('id', 'key', 'version', 'name', 'checksum');
  }

  /** Validate without deploying (the designer's "check" button). */
  async validate(xml: string) {
    const r = await compileChecked(xml, this.compileOptions);
    return { ok: r.ok, errors: r.errors, warnings: r.warnings, key: r.meta?.key ?? null };
  }

  /** `q`: a command's transaction, so a first load inside it needs no second pool connection. */
  get(id: string, q: Knex | Knex.Transaction = this.db): Promise<CompiledDefinition> {
    let hit = this.cache.get(id);
    if (!hit) {
      hit = this.load(id, q);
      hit.catch(() => this.cache.delete(id));
      this.cache.set(id, hit);
    }
    return hit;
  }

  /** The newest version that is not suspended: new cases start on it. */
  async latest(key: string): Promise<CompiledDefinition> {
    const row = await this.db('process_definitions').where({ key }).whereNull('suspended_at').orderBy('version', 'desc').first('id');
    if (!row) {
      if (await this.db('process_definitions').where({ key }).first('id')) throw new ConflictError(`every version of process ${key} is suspended`);
      throw new NotFoundError('process definition', key);
    }
    return this.get(row.id);
  }

  /** Starting on a named version: refused while that version is suspended. */
  async startable(id: string): Promise<CompiledDefinition> {
    const row = await this.db('process_definitions').where({ id }).first('suspended_at');
    if (row?.suspended_at) throw new ConflictError(`process definition ${id} is suspended`);
    return this.get(id);
  }

  async xml(id: string): Promise<string> {
    const row = await this.db('process_definitions').where({ id }).first('xml');
    if (!row) throw new NotFoundError('process definition', id);
    return row.xml;
  }

  private async load(id: string, q: Knex | Knex.Transaction): Promise<CompiledDefinition> {
    const row = await q('process_definitions').where({ id }).first('id', 'key', 'version', 'compiled', 'meta');
    if (!row) throw new NotFoundError('process definition', id);
    return {
      id: row.id,
      key: row.key,
      version: row.version,
      meta: row.meta as DefinitionMeta,
      sourceContext: loadCompiled(typeof row.compiled === 'string' ? row.compiled : JSON.stringify(row.compiled)),
    };
  }
}

/** The same digest compile() records, without compiling. */
function checksumOf(xml: string): string {
  return createHash('sha256').update(xml).digest('hex');
}
