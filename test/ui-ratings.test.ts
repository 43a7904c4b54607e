/**
 * Browser test of the 好差评 loop as an editable process (issue 13, acceptance 3): the real server on a fresh
 * database, the built UI, Debian's Chromium. An admin adds a step to rating-loop in the designer and deploys;
 * the next bad rating runs through it, a loop already running does not. Also the upload screen, the ratings
 * list and the dashboard panel, with screenshots.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { login, screenshot } from './support/browser.js';
import { DemoUi, DEMO_PASSWORD as PASSWORD, noChromium as skip, type ApiSession as Api } from './support/demo-server.js';

const work = mkdtempSync(path.join(tmpdir(), 'duban-ui-ratings-'));
const demo = new DemoUi({ database: 'duban_uir', env: { DUBAN_OUTBOX_POLL_MS: '300' } });
const until = demo.until.bind(demo);

before(async () => {
  if (skip) return;
  mkdirSync(path.resolve('docs', 'screenshots'), { recursive: true });
  await demo.start();
}, { timeout: 360_000 });

after(async () => {
  await demo.stop();
  rmSync(work, { recursive: true, force: true });
});

let serial = 0;
async function badRating(admin: Api): Promise<string> {
  const caseNumber = `UIR-${Date.now()}-${++serial}`;
  const r = await admin.call('POST', '/api/ratings/batch', { source: 'gbt39046', ratings: [{ caseNumber, times: 1, channel: 'PC端', level: '不满意', text: '办理时间太长', departmentId: 'market', ratedAt: new Date().toISOString() }] });
  assert.equal(r.results[0].status, 'created', JSON.stringify(r));
  return r.results[0].id;
}

async function openTasks(api: Api, instanceId: string): Promise<Array<{ elementId: string; name: string | null }>> {
  return (await api.call('GET', `/api/tasks?instanceId=${instanceId}`)).items;
}

test('admin adds a step to the rating loop in the designer and deploys; the next bad rating runs it, a running loop does not', { skip, timeout: 150_000 }, async () => {
  const admin = await demo.as('admin');
  const inspector = await demo.as('inspector');
  const running = await badRating(admin);
  await until('the running loop at 回访核实', async () => (await openTasks(inspector, running)).some((t) => t.elementId === 'callback'));

  const w = await demo.open();
  const { page } = w;
  await login(page, 'admin', PASSWORD);
  const v1 = (await admin.call('GET', '/api/process-definitions?key=rating-loop')).items?.[0]?.id ?? 'rating-loop:1';
  await page.goto(`/#/designer/${encodeURIComponent(v1)}`);
  await page.locator('[data-testid="designer"][data-ready="1"]').waitFor();
  await page.locator('.designer-canvas [data-element-id="accept_rating"]').waitFor();
  await screenshot(page, 'rating-loop-designer');

  // After 系统受理, insert a user task 审批局初审 for the department.
  // The loop is wide and fitted to the canvas, so 系统受理 starts under the palette: pan the canvas right first.
  const canvas = (await page.locator('.designer-canvas').boundingBox())!;
  await page.mouse.move(canvas.x + canvas.width * 0.6, canvas.y + canvas.height * 0.9);
  await page.mouse.down();
  await page.mouse.move(canvas.x + canvas.width * 0.6 + 250, canvas.y + canvas.height * 0.9, { steps: 10 });
  await page.mouse.up();
  const box = (await page.locator('.designer-canvas [data-element-id="accept_rating"]').boundingBox())!;
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  await page.locator('[data-testid="duban-panel"][data-element-id="accept_rating"]').waitFor();
  await page.getByTestId('insert-user-task').click();
  const panel = page.getByTestId('duban-panel');
  const newId = await until('the new task in the panel', async () => {
    const id = await panel.getAttribute('data-element-id');
    return id && id !== 'accept_rating' ? id : null;
  });
  await page.getByTestId('panel-name').fill('审批局初审');
  await page.getByTestId('panel-name').press('Enter');
  await until('validation without errors', async () => (await page.getByTestId('lint-status').getAttribute('data-errors')) === '0' && !(await page.locator('[data-testid="lint-status"]').textContent())?.includes('…'));
  await page.getByTestId('deploy').click();
  await page.getByTestId('deploy-note').fill('系统受理后增加审批局初审');
  await page.getByTestId('deploy-ok').click();
  await page.locator('[data-testid="version-row"][data-id="rating-loop:2"]').waitFor();
  await page.locator('.ant-modal-wrap').waitFor({ state: 'hidden' });
  await screenshot(page, 'rating-loop-deployed');

  const fresh = await badRating(admin);
  const task = await until('the new loop at the added step', async () => (await openTasks(inspector, fresh)).find((t) => t.elementId === newId));
  assert.equal(task.name, '审批局初审');
  const inst = await admin.call('GET', `/api/process-instances/${fresh}`);
  assert.equal(inst.definitionId, 'rating-loop:2');
  const old = await admin.call('GET', `/api/process-instances/${running}`);
  assert.equal(old.definitionId, v1, 'the running loop stays on its version');
  assert.deepEqual((await openTasks(inspector, running)).map((t) => t.elementId), ['callback']);
  assert.deepEqual(w.errors, [], 'no console errors');
});

test('upload screen, ratings list and the dashboard panel', { skip, timeout: 90_000 }, async () => {
  const w = await demo.open();
  const { page } = w;
  await login(page, 'admin', PASSWORD);
  const file = path.join(work, '评价.csv');
  writeFileSync(file, '\uFEFF办件编号,评价次数,评价渠道,满意度,文字评价,评价时间,部门\r\nUIF-1,1,PC端,满意,,20261120100000,market\r\nUIF-2,1,PC端,不满意,,20261120100000,market\r\nUIF-3,1,二维码,非常满意,,20261121100000,health\r\n');
  await page.goto('/#/ratings/import');
  await page.getByTestId('rating-import').waitFor();
  await page.locator('input[type=file]').setInputFiles(file);
  const summary = page.getByTestId('import-summary');
  await summary.waitFor();
  assert.match((await summary.textContent()) ?? '', /共 3 行:新增 2,重复 0,拒收 1/);
  assert.match((await page.getByTestId('import-rejected').textContent()) ?? '', /须有文字评价/);
  await screenshot(page, 'ratings-import');

  await page.goto('/#/ratings');
  await page.locator('[data-testid="rating-row"]').first().waitFor();
  await screenshot(page, 'ratings');

  const leader = await demo.open();
  await login(leader.page, 'leader', PASSWORD);
  await leader.page.goto('/#/dashboard');
  await leader.page.getByTestId('ratings-panel').locator('[data-testid="ratings-dept-row"]').first().waitFor();
  const api = await demo.as('leader');
  const year = new Date().getFullYear();
  const stats = await api.call('GET', `/api/stats/ratings?groupBy=department&from=${year}-01-01`);
  const valid = stats.rows.reduce((a: number, r: { valid: number }) => a + r.valid, 0);
  const satisfied = stats.rows.reduce((a: number, r: { satisfied: number }) => a + r.satisfied, 0);
  assert.equal(Number(await leader.page.getByTestId('rt-satisfactionRate').getAttribute('data-value')), satisfied / valid, 'the panel shows the API’s rate');
  await leader.page.getByTestId('ratings-panel').scrollIntoViewIfNeeded();
  await screenshot(leader.page, 'dashboard-ratings');
  await leader.page.locator('[data-testid="ratings-dept-row"][data-key="market"]').click();
  await leader.page.getByTestId('ratings-page').waitFor();
  assert.match(leader.page.url(), /departmentId=market/);
  assert.deepEqual([...w.errors, ...leader.errors], [], 'no console errors');
});
