#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { loadConfig } from './config.js';
import { createDb, migrate } from './db/database.js';
import { openDatabase, startServer, VERSION } from './server.js';
import { WorkflowEngine } from './engine/engine.js';
import { createServiceRegistry } from './services.js';
import { DubanError } from './engine/errors.js';

const program = new Command();
program.name('duban').description('Duban (督办) — durable BPMN engine for government-service supervision').version(VERSION);

program.command('start')
  .description('start the server (embedded PostgreSQL unless DATABASE_URL is set)')
  .option('--demo', 'load demo data on first run')
  .action(async () => {
    const server = await startServer(loadConfig());
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
      const engine = new WorkflowEngine(db, createServiceRegistry());
      const r = await engine.deploy(readFileSync(file, 'utf8'), { note: opts.note ?? null, actor: 'cli' });
      console.log(r.unchanged ? `unchanged: ${r.id}` : `deployed ${r.id}`);
      for (const w of r.warnings) console.log(`  warning ${w.elementId ?? ''} ${w.message}`);
    });
  });

async function withDb(fn: (db: ReturnType<typeof createDb>) => Promise<void>): Promise<void> {
  const config = loadConfig();
  const database = await openDatabase(config, (m) => console.error(m));
  const db = createDb(database.url);
  try {
    await migrate(db);
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
