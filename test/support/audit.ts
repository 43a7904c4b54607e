import { sealAudit } from '../../src/audit/audit.js';
import type { Db } from '../../src/db/database.js';

/**
 * Entries reach the chain (`audit_log`) shortly after their commit, through the background sealer.
 * A test that reads the chain right after a request seals first, as `duban audit verify` does.
 */
export async function sealed(db: Db): Promise<Db> {
  await sealAudit(db, { settleMs: 30_000 });
  return db;
}

/** Every audit entry, in the chain or queued for it: what "nothing changed" counts in one snapshot. */
export const AUDIT_ENTRIES = '(SELECT id FROM audit_log UNION ALL SELECT id FROM audit_queue)';
