/**
 * `npm test`: find a PostgreSQL server (DATABASE_URL, else an embedded one under .data/test),
 * then run every test/**\/*.test.ts with node's test runner. Each test file makes its own database.
 */
import { execSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { startEmbeddedPostgres } from '../src/db/embedded.js';
import { freePort } from './support/ports.js';

function findTests(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

/**
 * The browser tests drive Debian's Chromium. On a fresh machine (root, apt available) install it
 * rather than fail; elsewhere say what is missing.
 */
function ensureChromium(): void {
  if (existsSync('/usr/bin/chromium')) return;
  if (process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')) {
    console.log('installing Debian chromium for the browser tests (apt-get)…');
    execSync('apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei', { stdio: 'inherit' });
    return;
  }
  console.warn('warning: /usr/bin/chromium is missing; the browser tests need it (apt-get install -y chromium)');
}

async function main(): Promise<number> {
  const filter = process.argv.slice(2);
  if (!filter.length || filter.some((f) => 'test/ui.test.ts'.includes(f))) ensureChromium();
  let url = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  let stop: (() => Promise<void>) | undefined;
  if (!url) {
    // A server of its own per run (own folder, free port): two `npm test` on one machine never meet.
    mkdirSync('.data', { recursive: true });
    const dir = mkdtempSync(path.resolve('.data/test-'));
    const port = process.env.DUBAN_TEST_PG_PORT ? Number(process.env.DUBAN_TEST_PG_PORT) : await freePort();
    const embedded = await startEmbeddedPostgres(dir, port, (m) => console.log(m));
    url = embedded.url.replace(/\/duban$/, '/postgres');
    stop = async () => {
      await embedded.stop();
      rmSync(dir, { recursive: true, force: true });
    };
  }
  const files = findTests('test').filter((f) => !filter.length || filter.some((x) => f.includes(x)));
  const code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], {
      stdio: 'inherit',
      // SMS quiet hours (default 22:00-08:00) would make delivery tests depend on the time of day they run;
      // the tests of quiet hours set their own.
      env: { ...process.env, TEST_DATABASE_URL: url, DUBAN_SMS_QUIET_HOURS: process.env.DUBAN_SMS_QUIET_HOURS ?? 'off' },
    });
    child.on('exit', (c) => resolve(c ?? 1));
  });
  await stop?.();
  return code;
}

main().then((code) => process.exit(code), (err) => {
  console.error(err);
  process.exit(1);
});
