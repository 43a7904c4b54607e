/**
 * Key projects in the browser: the real server (`duban start --demo`) with its 29 demo projects, the built UI,
 * Debian's Chromium. The board's colours are the API's; a slow project's letter opens; a report with a photo
 * sent from the phone-sized 监督一点通 page appears on the board.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { login } from './support/browser.js';
import { DemoUi, DEMO_PASSWORD as PASSWORD, noChromium as skip } from './support/demo-server.js';

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
const demo = new DemoUi({ database: 'duban_projui' });
const open = demo.open.bind(demo);
const until = demo.until.bind(demo);

interface Board { items: Array<{ id: string; code: string; name: string; light: string; progress: number }> }

/** A user's API session as a call function. */
async function session(username: string) {
  const api = await demo.as(username);
  return <T>(method: string, url: string, body?: unknown): Promise<T> => api.call<T>(method, url, body);
}

before(async () => {
  if (skip) return;
  await demo.start();
}, { timeout: 360_000 });

after(() => demo.stop());

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
