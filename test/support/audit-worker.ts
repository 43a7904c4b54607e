/**
 * One process of the audit race in test/audit.test.ts: many transactions at once, several audit rows
 * in each, against DATABASE_URL with the key from DUBAN_AUDIT_KEY.
 */
import { createDb } from '../../src/db/database.js';
import { appendAudit } from '../../src/audit/audit.js';

const db = createDb(process.env.DATABASE_URL!, 6);
const name = process.env.WORKER_NAME ?? String(process.pid);
const transactions = Number(process.env.WORKER_TRANSACTIONS ?? 30);
const perTransaction = Number(process.env.WORKER_ROWS ?? 3);

async function one(i: number): Promise<void> {
  await db.transaction(async (trx) => {
    for (let j = 0; j < perTransaction; j++) {
      await appendAudit(trx, { actor: name, action: 'race', entityType: 'test', entityId: `${name}-${i}-${j}`, after: { i, j } });
      // Work between appends, as a command does between its audit rows.
      await trx.raw('SELECT pg_sleep(0)');
    }
  });
}

const queue = Array.from({ length: transactions }, (_, i) => i);
await Promise.all(Array.from({ length: 5 }, async () => {
  for (let i = queue.shift(); i !== undefined; i = queue.shift()) await one(i);
}));
await db.destroy();
console.log('done');
