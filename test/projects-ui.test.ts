/**
 * Key projects in the browser: the real server (`duban start --demo`) with its 29 demo projects, the built UI,
 * Debian's Chromium. The board's colours are the API's; a slow project's letter opens; a report with a photo
 * sent from the phone-sized 监督一点通 page appears on the board.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from './support/ports.js';
import { ensureUiBuilt } from '../ui/ensure-built.mjs';
import { createTestDatabase } from './support/db.js';
import { chromiumPath, launchChromium, login, watchedPage, type Chromium, type WatchedPage } from './support/browser.js';

const PASSWORD = 'duban-demo-2026';
const skip = chromiumPath() ? false : 'Chromium is not installed (apt-get install -y chromium)';
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

let server: ChildProcess | undefined;
let serverLog = '';
let base = '';
let dropDb: (() => Promise<void>) | undefined;
let chromium: Chromium | undefined;
const pages: WatchedPage[] = [];

interface Board { items: Array<{ id: string; code: string; name: string; light: string; progress: number }> }

async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${serverLog.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** An API session for one user (cookie + CSRF token). */
async function session(username: string) {
  const res = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: PASSWORD }) });
  assert.equal(res.status, 200, `login ${username}`);
  const cookie = (res.headers.getSetCookie?.() ?? []).map((c) => c.split(';')[0]).join('; ');
  const { csrfToken } = (await res.json()) as { csrfToken: string };
  return async <T>(method: string, url: string, body?: unknown): Promise<T> => {
    const r = await fetch(`${base}${url}`, { method, headers: { cookie, 'x-csrf-token': csrfToken, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${url} → ${r.status} ${text}`);
    return JSON.parse(text) as T;
  };
}

before(async () => {
  if (skip) return;
  await ensureUiBuilt({ log: (m) => console.log(m) });
  const database = await createTestDatabase('duban_projui');
  await database.db.destroy();
  dropDb = database.drop;
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start', '--demo'], {
    env: { ...process.env, DATABASE_URL: database.url, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', DUBAN_TIMER_POLL_MS: '500', DUBAN_OUTBOX_POLL_MS: '500' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout!.on('data', (d) => { serverLog = (serverLog + d).slice(-20_000); });
  server.stderr!.on('data', (d) => { serverLog = (serverLog + d).slice(-20_000); });
  await until('the server (demo seed)', async () => {
    if (server!.exitCode !== null) throw new Error(`server exited ${server!.exitCode}:\n${serverLog}`);
    return fetch(`${base}/api/health`).then((r) => r.ok, () => false);
  }, 300_000);
  chromium = await launchChromium();
}, { timeout: 360_000 });

after(async () => {
  for (const w of pages) await w.context.close().catch(() => undefined);
  await chromium?.close();
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => { server!.once('exit', r); setTimeout(r, 10_000); });
  }
  await dropDb?.();
});

async function open(viewport?: { width: number; height: number }): Promise<WatchedPage> {
  const w = await watchedPage(chromium!.browser, base, viewport);
  pages.push(w);
  return w;
}

test('the board shows the 29 demo projects in the API’s colours; a slow project opens with its letter', { skip, timeout: 120_000 }, async () => {
  const leader = await session('leader');
  const board = await leader<Board>('GET', '/api/projects');
  assert.equal(board.items.length, 29);
  for (const light of ['green', 'yellow', 'red']) assert.ok(board.items.some((p) => p.light === light), `a ${light} demo project`);

  const w = await open();
  await login(w.page, 'leader', PASSWORD);
  await w.page.goto('/#/projects');
  await w.page.getByTestId('projects-page').waitFor();
  const rows = w.page.getByTestId('project-row');
  await until('29 rows', async () => (await rows.count()) === 29);
  for (const p of board.items) {
    const row = w.page.locator(`[data-testid="project-row"][data-code="${p.code}"]`);
    assert.equal(await row.getAttribute('data-light'), p.light, `${p.code} ${p.name}`);
    assert.equal(await row.getByTestId('project-light').getAttribute('data-light'), p.light);
  }

  // A project that missed a milestone: the scheduler issued its 提醒函 after start-up.
  const slow = await until('a red project with a reminder letter', async () => {
    for (const p of (await leader<Board>('GET', '/api/projects?light=red')).items) {
      const d = await leader<{ letters: Array<{ number: string; title: string }> }>('GET', `/api/projects/${p.id}`);
      if (d.letters.length) return { ...p, letter: d.letters[0]! };
    }
    return undefined;
  });
  await w.page.locator(`[data-testid="project-row"][data-code="${slow.code}"]`).getByTestId('project-link').click();
  const detail = w.page.getByTestId('project-detail');
  await detail.waitFor();
  assert.equal(await detail.getAttribute('data-light'), 'red');
  assert.match(await w.page.getByTestId('project-reasons').innerText(), /逾期/);
  const letter = w.page.getByTestId('project-letter').first();
  assert.equal(await letter.getByTestId('project-letter-number').innerText(), slow.letter.number);
  const [printed] = await Promise.all([w.context.waitForEvent('page'), letter.getByTestId('project-letter-print').click()]);
  await printed.waitForLoadState();
  const text = await printed.locator('body').innerText();
  assert.ok(text.includes(slow.letter.number), 'the letter shows its 文号');
  assert.ok(text.includes('提醒函'), text.slice(0, 300));
  assert.deepEqual(w.errors, [], 'no console errors');
});

test('监督一点通: a report with a photo sent from a phone-sized page appears on the board', { skip, timeout: 120_000 }, async () => {
  const admin = await session('admin');
  const board = await admin<Board>('GET', '/api/projects?light=green');
  const project = board.items[0]!;
  const { path } = await admin<{ path: string }>('POST', `/api/projects/${project.id}/links`);

  const phone = await open({ width: 390, height: 844 });
  await phone.page.goto(path);
  await phone.page.getByTestId('mobile-page').waitFor();
  assert.ok(await phone.page.getByText(project.name).isVisible());
  const progress = Math.min(99, project.progress + 7);
  await phone.page.getByTestId('mobile-progress').fill(String(progress));
  await phone.page.getByTestId('mobile-text').fill('主体结构施工至第五层,现场照片见附件');
  await phone.page.getByTestId('mobile-photos').setInputFiles({ name: '现场照片.png', mimeType: 'image/png', buffer: PNG });
  await phone.page.getByTestId('mobile-submit').click();
  await phone.page.getByTestId('mobile-sent').waitFor();
  const width = await phone.page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `no sideways scrolling on the phone (${width}px)`);
  assert.deepEqual(phone.errors, [], 'no console errors on the phone');

  const w = await open();
  await login(w.page, 'leader', PASSWORD);
  await w.page.goto('/#/projects');
  const row = w.page.locator(`[data-testid="project-row"][data-code="${project.code}"]`);
  await row.waitFor();
  assert.match(await row.innerText(), new RegExp(`${progress}% /`));
  await row.getByTestId('project-link').click();
  await w.page.getByTestId('project-report').first().waitFor();
  assert.match(await w.page.getByTestId('project-reports').innerText(), /主体结构施工至第五层/);
  // antd's Image puts the test id on its wrapper; the <img> is inside it.
  const photo = w.page.getByTestId('report-photo').first().locator('img');
  await photo.waitFor();
  await until('the photo to load', () => photo.evaluate((img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth > 0));
  assert.deepEqual(w.errors, [], 'no console errors on the board');
});
