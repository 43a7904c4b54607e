import { createHash, randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The secret that keys the audit chain. It lives outside the database (environment or a file), so
 * someone who can rewrite rows in PostgreSQL, a superuser included, cannot recompute valid hashes.
 */
export interface AuditKey {
  secret: Buffer;
  /** A fingerprint stored on each row: verify can tell "another key" from "edited". Reveals nothing of the key. */
  id: string;
  /** Where it came from, for messages: `DUBAN_AUDIT_KEY`, a file path. */
  source: string;
}

export interface AuditKeyConfig {
  key?: string | undefined;
  keyFile?: string | undefined;
  dataDir: string;
}

const MIN_LENGTH = 32;

export function keyFromString(value: string, source: string): AuditKey {
  const text = value.trim();
  if (text.length < MIN_LENGTH) throw new Error(`the audit key from ${source} is shorter than ${MIN_LENGTH} characters`);
  const secret = Buffer.from(text, 'utf8');
  return { secret, id: fingerprint(secret), source };
}

export function fingerprint(secret: Buffer): string {
  return createHash('sha256').update('duban-audit-key-id\n').update(secret).digest('hex').slice(0, 16);
}

/**
 * DUBAN_AUDIT_KEY, else DUBAN_AUDIT_KEY_FILE, else `<data dir>/audit.key`, generated on first use.
 * Several machines writing one database must share the key (set one of the two variables).
 */
export function loadAuditKey(config: AuditKeyConfig, log: (m: string) => void = () => undefined): AuditKey {
  if (config.key) return keyFromString(config.key, 'DUBAN_AUDIT_KEY');
  if (config.keyFile) {
    if (!existsSync(config.keyFile)) throw new Error(`DUBAN_AUDIT_KEY_FILE ${config.keyFile} does not exist`);
    return keyFromString(readFileSync(config.keyFile, 'utf8'), config.keyFile);
  }
  const file = path.resolve(config.dataDir, 'audit.key');
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true });
    // Written aside, then linked into place: two processes starting at once both end up with the first one's key.
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    writeFileSync(tmp, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    try {
      linkSync(tmp, file);
      log(`generated the audit-trail key ${file}: keep a copy outside this machine; without it the trail cannot be verified`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      rmSync(tmp, { force: true });
    }
  }
  return keyFromString(readFileSync(file, 'utf8'), file);
}
