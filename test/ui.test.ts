/**
 * Browser tests of the web UI: the real server (`src/cli.ts start --demo`) on a fresh database, the built UI (ui/dist),
 * Debian's Chromium driven by playwright-core. Screenshots of every screen go to docs/screenshots/.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { login, screenshot, type WatchedPage } from './support/browser.js';
import { DemoUi, DEMO_PASSWORD as PASSWORD, noChromium as skip, type ApiSession as Api } from './support/demo-server.js';
import { usccCheck } from '../src/domain/cases/identity.js';

const SHOTS = path.resolve('docs', 'screenshots');
// 300 demo cases through the full approval procedure: minutes on a loaded 2-core machine.
const demo = new DemoUi({ database: 'duban_ui', seedTimeoutMs: 400_000 });
const open = demo.open.bind(demo);
const until = <T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 20_000) => demo.until(what, fn, timeoutMs);

/**
 * Choose the first option of an antd Select, and see it chosen: a click that lands while the dialog or the
 * dropdown is still moving, or just as the options arrive, opens nothing or picks nothing, so try again.
 */
async function pickFirstOption(page: Page, testId: string): Promise<void> {
  const select = page.getByTestId(testId);
  // antd 6: a single select marks its content "has value"; a multiple one shows selection items.
  const chosen = select.locator('.ant-select-content-has-value, .ant-select-selection-item').first();
  for (let attempt = 0; attempt < 5 && !(await chosen.count()); attempt++) {
    if (!(await page.locator('.ant-select-dropdown:visible').count())) await select.click();
    const option = page.locator('.ant-select-dropdown:visible .ant-select-item-option').first();
    await option.waitFor();
    await option.click().catch(() => undefined);
    await chosen.waitFor({ timeout: 2_000 }).catch(() => undefined);
  }
  await chosen.waitFor({ timeout: 1_000 });
}

function assertNoErrors(w: WatchedPage, screen: string) {
  assert.deepEqual(w.errors, [], `console errors on ${screen}`);
}

/** Complete the open department tasks of a case (not the inspectors' 督办 task) until none is left. */
async function finishDepartmentTasks(clerk: Api, instanceId: string) {
  for (let i = 0; i < 10; i++) {
    const tasks = await clerk.get<{ items: { id: string; elementId: string }[] }>(`/api/tasks?instanceId=${instanceId}`);
    const open = tasks.items.filter((x) => x.elementId !== 'supervise');
    if (!open.length) return;
    for (const task of open) await clerk.post(`/api/tasks/${task.id}/complete`, { variables: task.elementId === 'decide' ? { decision: '准予许可' } : { opinion: '同意' } });
  }
}

before(async () => {
  if (skip) return;
  mkdirSync(SHOTS, { recursive: true });
  await demo.start();
}, { timeout: 480_000 });

after(() => demo.stop());

test('admin: designer adds a user task with a 2-working-day timer, deploys with a note; a new case runs on the new version', { skip, timeout: 90_000 }, async () => {
  const w = await open();
  const { page } = w;
  await page.goto('/');
  await page.getByTestId('login-page').waitFor();
  await screenshot(page, 'login');
  await login(page, 'admin', PASSWORD);
  await page.locator('[data-testid="designer"][data-ready="1"]').waitFor();
  await page.locator('[data-testid="lint-status"] .ant-tag').first().waitFor();
  await screenshot(page, 'designer');

  // Select 决定 (decide), insert a user task after it, name it, give it a 2-working-day limit in the panel.
  await page.locator('.designer-canvas [data-element-id="decide"]').click();
  await page.locator('[data-testid="duban-panel"][data-element-id="decide"]').waitFor();
  await page.getByTestId('insert-user-task').click();
  const panel = page.getByTestId('duban-panel');
  const newId = await until('the new task in the panel', async () => {
    const id = await panel.getAttribute('data-element-id');
    return id && id !== 'decide' ? id : null;
  });
  assert.match(newId, /^Activity_|^UserTask_/);
  await page.getByTestId('panel-name').fill('复核');
  await page.getByTestId('panel-name').press('Enter');
  assert.equal(await page.getByTestId('panel-candidate-groups').inputValue(), '${departmentId}');
  await page.getByTestId('step-limit-days').fill('2');
  await page.getByTestId('step-limit-add').click();
  const timer = page.getByTestId('timer-editor');
  await timer.waitFor();
  assert.equal(await timer.getAttribute('data-expression'), '=workingDays(2)');
  const timerId = (await panel.getAttribute('data-element-id'))!;
  // Live validation has no errors; the deploy dialog takes a version note.
  await until('validation without errors', async () => (await page.getByTestId('lint-status').getAttribute('data-errors')) === '0' && !(await page.locator('[data-testid="lint-status"]').textContent())?.includes('…'));
  await screenshot(page, 'designer-edited');
  await page.getByTestId('deploy').click();
  await page.getByTestId('deploy-note').fill('界面测试:决定后增加复核环节,2 个工作日时限');
  await page.getByTestId('deploy-ok').click();
  const row = page.locator('[data-testid="version-row"][data-id="approval-item:2"]');
  await row.waitFor();
  assert.match((await row.textContent()) ?? '', /2 个工作日时限/);
  await page.locator('.ant-modal-wrap').waitFor({ state: 'hidden' });
  await screenshot(page, 'designer-deployed');

  // Compare v1 → v2 (bpmn-js-differ): the inserted task and its timer are marked as added.
  await page.getByTestId('compare-versions').click();
  await page.locator('[data-testid="diff"][data-ready="1"]').waitFor();
  await page.locator(`[data-testid="diff-change"][data-kind="added"][data-element-id="${newId}"]`).waitFor();
  await page.locator(`[data-testid="diff-change"][data-kind="added"][data-element-id="${timerId}"]`).waitFor();
  await page.locator(`[data-testid="diff-canvas"] [data-element-id="${newId}"].diff-added`).waitFor();
  await screenshot(page, 'designer-diff');
  await page.locator('.ant-modal-close:visible').click();
  await page.getByTestId('diff').waitFor({ state: 'detached' });

  // Element templates: insert a service task after 复核 and pick 黄灯预警提醒部门 in the chooser; the exported XML is an external task on that topic.
  await page.locator(`.designer-canvas [data-element-id="${newId}"]`).click();
  await page.locator(`[data-testid="duban-panel"][data-element-id="${newId}"]`).waitFor();
  await page.getByTestId('insert-service-task').click();
  await page.locator('[data-testid="template-option"][data-id="duban.notifyDepartment"]').waitFor();
  assert.equal(await page.getByTestId('template-option').count(), 6);
  await page.waitForTimeout(500); // let the dialog's zoom-in animation finish before the screenshot
  await screenshot(page, 'designer-templates');
  await page.locator('[data-testid="template-option"][data-id="duban.notifyDepartment"] a').click();
  await page.getByTestId('template-chooser').waitFor({ state: 'detached' });
  assert.equal(await page.getByTestId('panel-name').inputValue(), '黄灯预警提醒部门');
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-xml').click()]);
  const exported = await fs.readFile((await download.path())!, 'utf8');
  assert.match(exported, /<bpmn:serviceTask [^>]*camunda:type="external"/);
  assert.match(exported, /<bpmn:serviceTask [^>]*camunda:topic="notifyDepartment"/);
  assert.match(exported, /camunda:modelerTemplate="duban.notifyDepartment"/);

  // FEEL condition editor: a sequence flow's condition is edited as FEEL and stored with a leading =.
  const flowBox = (await page.locator('.designer-canvas [data-element-id="f_accept_review"] .djs-hit').boundingBox())!; // a horizontal line: zero height, so click its middle
  await page.mouse.click(flowBox.x + flowBox.width / 2, flowBox.y + flowBox.height / 2);
  await page.locator('[data-testid="duban-panel"][data-element-id="f_accept_review"]').waitFor();
  await page.getByTestId('condition-input').click();
  await page.keyboard.type('approved = true');
  await page.keyboard.press('Escape'); // close the FEEL autocompletion
  await page.getByTestId('panel-id').click(); // blur commits
  const cond = page.getByTestId('condition-editor');
  await until('the condition in the model', async () => (await cond.getAttribute('data-expression')) === '=approved = true' || null);
  assert.equal(await cond.getAttribute('data-problems'), '0');
  await screenshot(page, 'designer-feel');
  const [download2] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-xml').click()]);
  const exported2 = await fs.readFile((await download2.path())!, 'utf8');
  assert.match(exported2, /<bpmn:sequenceFlow id="f_accept_review"[^>]*>\s*<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">=approved = true<\/bpmn:conditionExpression>/);

  // The deployed XML has the friendly timer; a new case starts on version 2 and reaches the new step with its timer pending.
  const admin = await demo.sessionOf(w);
  const def = await admin.get<{ xml: string }>('/api/process-definitions/approval-item:2');
  assert.match(def.xml, /<bpmn:timeDate[^>]*>=workingDays\(2\)<\/bpmn:timeDate>/);
  // The step limit is more than a timer: the step is due at its own limit and its department is told when it runs over.
  assert.match(def.xml, new RegExp(`<bpmn:userTask id="${newId}"[^>]*camunda:dueDate="=workingDays\\(2\\)"`));
  assert.match(def.xml, /<bpmn:serviceTask [^>]*camunda:topic="notifyStepOverdue"/);
  const items = await admin.get<{ items: { code: string }[] }>('/api/items?departmentId=market&pageSize=1&sort=code&order=asc');
  const first17 = '91371400MA3C4D5E6';
  const kase = await admin.post<{ id: string; number: string }>('/api/cases', {
    itemCode: items.items[0]!.code, applicantName: '界面测试有限公司', applicantType: 2, idType: 'uscc', idNumber: first17 + usccCheck(first17), phone: '+8613900000000', source: 'window',
  });
  const inst = await admin.get<{ definitionId: string }>(`/api/process-instances/${kase.id}`);
  assert.equal(inst.definitionId, 'approval-item:2');
  const clerk = await demo.as('market.clerk');
  for (const step of ['accept', 'review', 'decide']) {
    const tasks = await clerk.get<{ items: { id: string; elementId: string }[] }>(`/api/tasks?instanceId=${kase.id}`);
    const task = tasks.items.find((x) => x.elementId === step);
    assert.ok(task, `task ${step}`);
    await clerk.post(`/api/tasks/${task.id}/complete`, { variables: { opinion: '同意' } });
  }
  const reached = await admin.get<{ activeElements: string[]; timers: { elementId?: string }[] }>(`/api/process-instances/${kase.id}`);
  assert.ok(reached.activeElements.includes(newId), `active: ${reached.activeElements.join()}`);
  assert.ok(JSON.stringify(reached.timers).includes(timerId), `timers: ${JSON.stringify(reached.timers)}`);

  // The catalogue and the holiday calendar pages.
  await page.getByTestId('nav-items').click();
  await page.getByTestId('item-row').first().waitFor();
  await screenshot(page, 'items');
  await page.getByTestId('nav-calendar').click();
  await page.locator('[data-testid="calendar-page"] .ant-table-row').first().waitFor();
  await screenshot(page, 'calendar');

  // Users & departments: create an inspector, then give them a department and a phone; create a department.
  await page.getByTestId('nav-users').click();
  await page.locator('[data-testid="user-row"][data-username="admin"]').waitFor();
  await screenshot(page, 'users');
  const depts = await admin.get<{ id: string; name: string }[]>('/api/departments');
  const inspection = depts.find((d) => d.id === 'inspection')!;
  const option = (label: string) => page.locator(`.ant-select-dropdown:visible .ant-select-item-option[title="${label}"]`).click();
  await page.getByTestId('user-new').click();
  await page.getByTestId('user-username').fill('duty.inspector');
  await page.getByTestId('user-display-name').fill('王敏(纪检监察)');
  await page.getByTestId('user-password').fill('duty-inspector-2026');
  await page.getByTestId('user-roles').click();
  await option('纪检监察');
  await page.locator('.ant-modal-title:visible').click(); // closes the dropdown (Escape would close the dialog)
  await page.getByTestId('user-save').click();
  await page.locator('[data-testid="user-row"][data-username="duty.inspector"]').waitFor();
  await page.locator('.ant-modal-wrap').first().waitFor({ state: 'hidden' });
  await page.getByTestId('user-edit-duty.inspector').click();
  await page.getByTestId('user-department').click();
  await page.keyboard.type(inspection.name); // the list is longer than the dropdown shows: search it
  await option(inspection.name);
  await page.locator('.ant-modal-title:visible').click();
  await page.getByTestId('user-phone').fill('+8613800000066');
  await screenshot(page, 'user-edit');
  await page.getByTestId('user-save').click();
  await until('the edited user', async () => (await page.locator('[data-testid="user-row"][data-username="duty.inspector"]').textContent())?.includes('+8613800000066'));
  const inspectors = await admin.get<{ items: { id: string; username: string; roles: string[]; departmentId: string | null; phone: string | null; active: boolean }[] }>('/api/users?role=inspector&pageSize=200');
  const duty = inspectors.items.find((u) => u.username === 'duty.inspector');
  assert.deepEqual(duty && { roles: duty.roles, departmentId: duty.departmentId, phone: duty.phone, active: duty.active },
    { roles: ['inspector'], departmentId: 'inspection', phone: '+8613800000066', active: true });
  await page.getByRole('tab', { name: '部门' }).click();
  await page.getByTestId('dept-new').click();
  await page.getByTestId('dept-id').fill('data-bureau');
  await page.getByTestId('dept-name').fill('大数据局');
  await page.getByTestId('dept-name-en').fill('Big Data Bureau');
  await page.getByTestId('dept-save').click();
  await page.locator('[data-testid="dept-row"][data-id="data-bureau"]').waitFor();
  await page.locator('.ant-modal-wrap').first().waitFor({ state: 'hidden' });
  await screenshot(page, 'departments');

  // Duty roster: put both inspectors on duty today.
  const today = new Date().toLocaleDateString('sv-SE', { timeZone: 'Asia/Shanghai' });
  await page.getByTestId('nav-roster').click();
  await page.locator(`[data-testid="roster-row"][data-day="${today}"]`).waitFor();
  assert.equal(await page.getByTestId('roster-row').count(), 7);
  await page.getByTestId(`roster-edit-${today}`).click();
  await page.getByTestId('roster-select').click();
  await option('陈刚(纪检监察) (inspector)');
  await option('王敏(纪检监察) (duty.inspector)');
  await page.keyboard.press('Escape');
  await page.getByTestId('roster-save').click();
  await page.locator(`[data-testid="roster-row"][data-day="${today}"][data-count="2"]`).waitFor();
  const roster = await admin.get<{ username: string; departmentId: string }[]>(`/api/roster?from=${today}&to=${today}`);
  assert.deepEqual(roster.map((r) => `${r.username}@${r.departmentId}`).sort(), ['duty.inspector@*', 'inspector@*']);
  await screenshot(page, 'roster');

  // Task forms: the form-js editor adds a 许可证编号 field to the accept form and saves version 2 with a note.
  await page.getByTestId('nav-forms').click();
  await page.locator('[data-testid="form-row"][data-key="duban:accept"]').click();
  await page.locator('[data-testid="form-editor"][data-ready="1"]').waitFor();
  assert.equal(await page.locator('.fjs-palette-field[data-field-type="iframe"]').isVisible(), false, 'refused components are not offered');
  await dragPaletteField(page, 'textfield', 'Field_opinion');
  await page.locator('.fjs-properties-panel[data-field^="Field_"] [data-entry-id="key"]').waitFor({ state: 'attached' });
  if (!(await page.locator('#bio-properties-panel-key').isVisible())) await page.locator('[data-group-id="group-general"] .bio-properties-panel-group-header').click();
  await page.locator('#bio-properties-panel-label').click();
  await page.keyboard.press('Control+A');
  await page.keyboard.type('许可证编号');
  // The label editor commits after a pause; wait until the canvas shows it before moving on.
  await page.locator('.fjs-editor-container .fjs-element', { hasText: '许可证编号' }).last().waitFor();
  await page.locator('#bio-properties-panel-key').fill('licenceNo');
  await page.locator('#bio-properties-panel-key').press('Tab');
  await page.getByTestId('form-dirty').waitFor();
  await page.getByTestId('form-note').fill('受理时登记许可证编号');
  await screenshot(page, 'form-editor');
  await page.getByTestId('form-save').click();
  await page.locator('[data-testid="form-row"][data-key="duban:accept"]', { hasText: 'v2' }).waitFor();
  const acceptForm = await admin.get<{ version: number; fields: string[]; note: string; schema: { components: { key?: string; label?: string }[] } }>('/api/forms/duban:accept');
  assert.deepEqual([acceptForm.version, acceptForm.fields, acceptForm.note], [2, ['acceptDecision', 'opinion', 'licenceNo', 'supplementDays'], '受理时登记许可证编号']);
  assert.equal(acceptForm.schema.components.find((c) => c.key === 'licenceNo')?.label, '许可证编号');
  await page.goto('/#/forms/duban:decide'); // the designer's "edit form" link
  await page.locator('.fjs-editor-container .fjs-element[data-id="Field_decision"]').waitFor();
  assertNoErrors(w, 'admin screens');
});

/** Drag a component from the form-js palette to just below a field (draggle follows real mouse moves). */
async function dragPaletteField(page: WatchedPage['page'], type: string, belowFieldId: string) {
  const from = (await page.locator(`.fjs-palette-field[data-field-type="${type}"]`).boundingBox())!;
  const to = (await page.locator(`.fjs-editor-container .fjs-element[data-id="${belowFieldId}"]`).boundingBox())!;
  const [x0, y0, x1, y1] = [from.x + from.width / 2, from.y + from.height / 2, to.x + to.width / 2, to.y + to.height + 30];
  await page.mouse.move(x0, y0);
  await page.mouse.down();
  for (let i = 1; i <= 15; i++) await page.mouse.move(x0 + ((x1 - x0) * i) / 15, y0 + ((y1 - y0) * i) / 15);
  await page.mouse.up();
}

test('clerk: sees only the department\'s tasks, completes one with its form; the case diagram marks the next step', { skip, timeout: 60_000 }, async () => {
  const w = await open();
  const { page } = w;
  await login(page, 'market.clerk', PASSWORD);
  await page.getByTestId('tasks-page').waitFor();
  await page.getByTestId('task-row').first().waitFor();
  const departments = await page.getByTestId('task-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-department')));
  assert.ok(departments.length > 0);
  assert.deepEqual([...new Set(departments)], ['market']);
  const clerk = await demo.sessionOf(w);
  const api = await clerk.get<{ total: number; items: { id: string; instanceId: string; elementId: string; departmentId: string }[] }>('/api/tasks?assignment=department&pageSize=20');
  assert.ok(api.items.every((x) => x.departmentId === 'market'));
  assert.match((await page.getByTestId('tasks-total').textContent()) ?? '', new RegExp(`${api.total}`));
  await screenshot(page, 'tasks');

  // The most urgent accept task: claim it, handle it with the form the admin just edited (form-js, version 2).
  const target = api.items.find((x) => x.elementId === 'accept')!;
  assert.ok(target, 'an accept task');
  await page.getByTestId(`claim-${target.id}`).click();
  await page.getByTestId(`unclaim-${target.id}`).waitFor();
  await page.getByTestId(`complete-${target.id}`).click();
  const form = page.locator('[data-testid="task-form"][data-form-key="duban:accept"][data-form-version="2"]');
  await form.getByLabel('许可证编号').fill('SC-2026-0001');
  await form.getByLabel('办理意见').fill('');
  await page.getByTestId('task-form-submit').click();
  await form.locator('.fjs-form-field-error', { hasText: '此项必填。' }).waitFor(); // required, in Chinese; nothing submitted
  assert.ok((await clerk.get<{ items: { id: string }[] }>(`/api/tasks?instanceId=${target.instanceId}`)).items.some((x) => x.id === target.id), 'still open');
  await form.getByLabel('办理意见').fill('材料齐全,准予受理');
  await screenshot(page, 'task-form');
  await page.getByTestId('task-form-submit').click();
  await page.locator(`[data-task-id="${target.id}"]`).waitFor({ state: 'detached' });
  const handled = await clerk.get<{ variables: Record<string, unknown> }>(`/api/process-instances/${target.instanceId}`);
  assert.deepEqual([handled.variables.licenceNo, handled.variables.opinion], ['SC-2026-0001', '材料齐全,准予受理']);

  const inst = await clerk.get<{ activeElements: string[] }>(`/api/process-instances/${target.instanceId}`);
  const next = inst.activeElements.filter((e) => e !== 'supervise');
  assert.ok(next.length > 0 && !next.includes(target.elementId), `next: ${inst.activeElements.join()}`);
  await page.goto(`/#/cases/${target.instanceId}`);
  await page.locator('[data-testid="diagram"][data-ready="1"]').waitFor();
  for (const id of next) await page.locator(`[data-testid="diagram"] [data-element-id="${id}"].duban-active`).waitFor();
  await page.locator(`[data-testid="diagram"] [data-element-id="${target.elementId}"].duban-done`).waitFor();
  assert.ok(await page.locator(`[data-testid="current-badge"][data-element-id="${next[0]}"], [data-testid="overdue-badge"][data-element-id="${next[0]}"]`).count() > 0);
  assert.ok((await page.getByTestId('timeline-entry').count()) > 2);
  await screenshot(page, 'case-detail', { fullPage: true });
  assertNoErrors(w, 'clerk screens');
  // Clerks never download the modeler or the charts: those are separate chunks.
  assert.deepEqual(w.requests.filter((u) => /\/assets\/(Designer|Dashboard|Forms)-/.test(u)), []);
  assert.ok(w.requests.some((u) => /\/assets\/NavigatedViewer-/.test(u)), 'the viewer chunk loads with the case detail');

  // 受理: a clerk takes in a new case; it opens on its first step.
  await page.goto('/#/tasks');
  await page.getByTestId('intake').click();
  await pickFirstOption(page, 'intake-item');
  await page.getByTestId('intake-applicant').fill('界面受理测试有限公司');
  const first17 = '91371400MA3C4D5E7';
  await page.getByTestId('intake-id').fill(first17 + usccCheck(first17));
  await page.getByTestId('intake-phone').fill('+8613900000001');
  await screenshot(page, 'intake');
  await page.getByTestId('intake-ok').click();
  // The dialog either opens the new case or says why not (a form rule or the server's problem): fail with that text.
  const refused = page.locator('.ant-message-error, .ant-modal .ant-form-item-explain-error').first();
  const outcome = await Promise.race([
    page.waitForURL(/#\/cases\//).then(() => 'opened'),
    refused.waitFor().then(async () => `refused: ${await refused.innerText()}`),
  ]);
  assert.equal(outcome, 'opened');
  await page.locator('[data-testid="diagram"][data-ready="1"]').waitFor().catch((e: Error) => {
    throw new Error(`${e.message}\nbrowser errors: ${w.errors.join(' | ') || 'none'}`);
  });
  await page.locator('[data-testid="diagram"] [data-element-id="accept"].duban-active').waitFor();
  assertNoErrors(w, 'clerk intake');

  // Phone width: the task list and the case detail.
  const phone = await open({ width: 390, height: 844 }, await w.context.storageState());
  await phone.page.goto('/#/tasks');
  await phone.page.getByTestId('task-row').first().waitFor();
  await screenshot(phone.page, 'tasks-phone');
  await phone.page.goto(`/#/cases/${target.instanceId}`);
  await phone.page.locator('[data-testid="diagram"][data-ready="1"]').waitFor();
  await screenshot(phone.page, 'case-detail-phone', { fullPage: true });
  const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `horizontal overflow ${overflow}px at phone width`);
  assertNoErrors(phone, 'clerk phone screens');
});

test('inspector: an overdue case shows a red badge; urging notice; closed once the department finishes', { skip, timeout: 60_000 }, async () => {
  const w = await open();
  const { page } = w;
  await login(page, 'inspector', PASSWORD);
  const inspector = await demo.sessionOf(w);
  const sups = await inspector.get<{ items: { id: string; caseId: string; caseNumber: string }[] }>('/api/supervisions?status=open&departmentId=market&pageSize=50');
  let chosen: { id: string; caseId: string } | undefined;
  for (const s of sups.items) {
    const c = await inspector.get<{ light: string }>(`/api/cases/${s.caseId}`);
    if (c.light === 'red') { chosen = s; break; }
  }
  assert.ok(chosen, 'an open supervision of a red market case');
  await page.getByTestId('supervisions-page').waitFor();
  await page.getByTestId('supervision-row').first().waitFor();
  await screenshot(page, 'supervisions');
  const link = page.locator(`[data-testid="supervision-row"][data-case-id="${chosen.caseId}"] [data-testid="supervision-link"]`);
  if (await link.count()) await link.click();
  else await page.goto(`/#/cases/${chosen.caseId}`);
  await page.locator(`[data-testid="case-detail"][data-light="red"]`).waitFor();
  await page.locator('[data-testid="diagram"][data-ready="1"]').waitFor();
  await page.getByTestId('overdue-badge').first().waitFor();
  const badgeColor = await page.getByTestId('overdue-badge').first().evaluate((e) => getComputedStyle(e).backgroundColor);
  assert.equal(badgeColor, 'rgb(245, 34, 45)');
  await page.getByTestId('case-sms').waitFor();

  await page.getByTestId('sup-urge').click();
  await page.getByTestId('urge-content').fill('请市场监管局于两个工作日内办结并书面反馈。');
  await page.getByTestId('urge-dialog-ok').click();
  // The notice appears, or the dialog says why not; a timeout says whether the server has the urging.
  const urgeRefused = page.locator('.ant-message-error, .ant-modal .ant-form-item-explain-error').first();
  const urged = await Promise.race([
    page.getByTestId('urging-notice').first().waitFor().then(() => 'shown'),
    urgeRefused.waitFor().then(async () => `refused: ${await urgeRefused.innerText()}`),
  ]).catch(async (e: Error) => {
    const onServer = await inspector.get<{ urgingNotices: unknown[] }>(`/api/supervisions/${chosen!.id}`);
    const dialogOpen = await page.getByTestId('urge-dialog').isVisible();
    return `${e.message}; the server has ${onServer.urgingNotices.length} urging(s); dialog open: ${dialogOpen}; browser errors: ${w.errors.join(' | ') || 'none'}\nserver log (tail):\n${demo.log()}`;
  });
  assert.equal(urged, 'shown');
  await page.locator('.ant-modal-wrap').waitFor({ state: 'hidden' });
  const detail = await inspector.get<{ urgingNotices: unknown[] }>(`/api/supervisions/${chosen.id}`);
  assert.equal(detail.urgingNotices.length, 1);
  await screenshot(page, 'inspector-case', { fullPage: true });

  // The department finishes the case (API), then the inspector closes the supervision with a result.
  await finishDepartmentTasks(await demo.as('market.clerk'), chosen.caseId);
  await until('the case completed', async () => (await inspector.get<{ status: string }>(`/api/cases/${chosen!.caseId}`)).status === 'completed');
  await page.reload();
  await page.getByTestId('sup-close').click();
  await page.getByTestId('close-result').fill('部门已办结,督办结束。');
  await page.getByTestId('close-dialog-ok').click();
  await page.getByTestId('supervision-result').waitFor();
  assert.equal((await inspector.get<{ status: string }>(`/api/supervisions/${chosen.id}`)).status, 'closed');
  await screenshot(page, 'inspector-closed');

  // The duty roster, read-only for inspectors.
  await page.getByTestId('nav-roster').click();
  await page.getByTestId('roster-row').first().waitFor();
  await page.locator('[data-testid="roster-entry"][data-username="inspector"]').first().waitFor(); // the rows render before the entries load
  assert.equal(await page.locator('[data-testid^="roster-edit-"]').count(), 0);
  assertNoErrors(w, 'inspector screens');
});

test('leader: dashboard charts show the numbers of the API', { skip, timeout: 60_000 }, async () => {
  const w = await open();
  const { page } = w;
  await login(page, 'leader', PASSWORD);
  await page.getByTestId('dashboard').waitFor();
  for (const id of ['chart-overdue-by-department', 'chart-lights', 'chart-trend']) await page.locator(`[data-testid="${id}"] canvas`).first().waitFor();
  await page.waitForTimeout(1200); // let the chart animations finish before the screenshot
  await screenshot(page, 'dashboard', { fullPage: true });

  const leader = await demo.sessionOf(w);
  const year = new Date().getFullYear();
  // The page and the API are read a moment apart: a deadline passing in between changes the numbers, so compare twice at most.
  const compare = async () => {
    for (const id of ['chart-overdue-by-department', 'chart-lights', 'chart-trend']) await page.locator(`[data-testid="${id}"] canvas`).first().waitFor();
    const byDept = (await leader.get<{ rows: { key: string; received: number; completed: number; onTime: number; overdueNow: number }[] }>(`/api/stats/cases?groupBy=department&from=${year}-01-01`)).rows;
    const byMonth = (await leader.get<{ rows: { key: string; received: number; completed: number; overdueNow: number }[] }>(`/api/stats/cases?groupBy=month&from=${year}-01-01`)).rows;
    const sum = (k: 'received' | 'completed' | 'onTime' | 'overdueNow') => byDept.reduce((a, r) => a + r[k], 0);
    assert.equal(Number(await page.getByTestId('stat-received').textContent()), sum('received'));
    assert.equal(Number(await page.getByTestId('stat-overdue').textContent()), sum('overdueNow'));
    assert.ok(Math.abs(Number(await page.getByTestId('stat-ontime').getAttribute('data-value')) - sum('onTime') / sum('completed')) < 1e-9);
    const overdue = JSON.parse((await page.getByTestId('chart-overdue-by-department').getAttribute('data-values'))!);
    assert.deepEqual(overdue, Object.fromEntries(byDept.map((r) => [r.key, r.overdueNow])));
    const trend = JSON.parse((await page.getByTestId('chart-trend').getAttribute('data-values'))!);
    assert.deepEqual(trend, Object.fromEntries(byMonth.map((r) => [r.key, { received: r.received, completed: r.completed, overdueNow: r.overdueNow }])));
    const lights = JSON.parse((await page.getByTestId('chart-lights').getAttribute('data-values'))!) as Record<string, Record<string, number>>;
    const red = Object.values(lights).reduce((a, l) => a + (l.red ?? 0), 0);
    assert.equal(red, (await leader.get<{ total: number }>('/api/cases?light=red&pageSize=1')).total);
    const openSup = (await leader.get<{ total: number }>('/api/supervisions?status=open&pageSize=1')).total;
    assert.equal(Number(await page.getByTestId('stat-open-supervisions').textContent()), openSup);
  };
  try {
    await compare();
  } catch {
    await page.reload();
    await page.getByTestId('dashboard').waitFor();
    await compare();
  }

  // Click through: the red bar of a department lists its red cases.
  await page.getByTestId('top-item').first().click();
  await page.getByTestId('cases-page').waitFor();
  await page.getByTestId('case-row').first().waitFor();
  assert.ok(await page.locator('[data-testid="case-row"]:not([data-light="red"])').count() === 0);
  await screenshot(page, 'cases');

  // English switch.
  await page.getByTestId('lang-switch').click();
  await page.getByTestId('nav-dashboard').click();
  await page.locator('[data-testid="chart-trend"] canvas').first().waitFor();
  assert.match((await page.getByTestId('nav-dashboard').textContent()) ?? '', /Dashboard/);
  await page.waitForTimeout(800);
  await screenshot(page, 'dashboard-en');
  assertNoErrors(w, 'leader screens');
});
