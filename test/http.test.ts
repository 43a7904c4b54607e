import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createTestDatabase } from './support/db.js';
import { buildApp } from '../src/http/app.js';
import { createRuntime, type Runtime } from '../src/runtime.js';
import { seedDemo, DEMO_PASSWORD } from '../src/demo.js';
import { secureCookiesFor, trustProxyOf } from '../src/config.js';
import { bpmn, flows } from './support/bpmn.js';
import { login, as } from './support/api.js';

let t: Awaited<ReturnType<typeof createTestDatabase>>;
let app: FastifyInstance;
let runtime: Runtime;

before(async () => {
  t = await createTestDatabase();
  runtime = await createRuntime(t.db, { print: () => undefined });
  await seedDemo(t.db);
  app = await buildApp({ runtime, version: 'test', logLevel: 'silent' });
});
after(async () => {
  await app.close();
  await t.drop();
});

test('GET /api/health reports the database and the engine queues', async () => {
  const res = await app.inject({ method: 'GET', url: '/api/health' });
  assert.equal(res.statusCode, 200);
  const body = res.json();
  assert.equal(body.status, 'ok');
  assert.equal(body.database, 'ok');
  assert.deepEqual(body.timers, { pending: 0, due: 0 });
  assert.equal(body.incidents, 0);
});

test('unknown routes answer problem+json, not HTML or a stack', async () => {
  const res = await app.inject({ method: 'GET', url: '/api/nothing-here' });
  assert.equal(res.statusCode, 404);
  assert.match(String(res.headers['content-type']), /application\/problem\+json/);
  assert.equal(res.json().status, 404);
  assert.ok(!res.body.includes('    at '));
});

test('security headers are set', async () => {
  const res = await app.inject({ method: 'GET', url: '/api/health' });
  assert.equal(res.headers['x-content-type-options'], 'nosniff');
  assert.ok(res.headers['x-frame-options']);
});

test('the UI is served compressed; hashed assets are cached for a year, index.html is revalidated', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'duban-ui-'));
  mkdirSync(path.join(dir, 'assets'));
  writeFileSync(path.join(dir, 'index.html'), `<!doctype html><title>督办</title>${'<!-- -->'.repeat(200)}`);
  writeFileSync(path.join(dir, 'assets', 'Designer-abc123.js'), `export const x = ${JSON.stringify('督办'.repeat(2000))};`);
  const ui = await buildApp({ runtime: await createRuntime(t.db, { print: () => undefined }), version: 'test', logLevel: 'silent', uiDir: dir });
  try {
    const asset = await ui.inject({ method: 'GET', url: '/assets/Designer-abc123.js', headers: { 'accept-encoding': 'br, gzip' } });
    assert.equal(asset.statusCode, 200);
    assert.equal(asset.headers['content-encoding'], 'br');
    assert.ok(asset.rawPayload.length < 1000, `compressed to ${asset.rawPayload.length} bytes`);
    assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable');
    const index = await ui.inject({ method: 'GET', url: '/', headers: { 'accept-encoding': 'gzip' } });
    assert.equal(index.headers['cache-control'], 'no-cache');
    assert.equal(index.headers['content-encoding'], 'gzip');
    assert.equal((await ui.inject({ method: 'GET', url: '/assets/Designer-abc123.js' })).headers['content-encoding'], undefined, 'clients that ask for nothing get plain bytes');
  } finally {
    await ui.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

const CJK = /[\u4e00-\u9fff]/;

test('problems speak Chinese unless the request asks for English', async () => {
  const zh = await app.inject({ method: 'GET', url: '/api/nothing-here' });
  assert.equal(zh.json().title, '未找到');
  assert.match(zh.json().detail, CJK);
  assert.equal(zh.headers['content-language'], 'zh-CN');
  const en = await app.inject({ method: 'GET', url: '/api/nothing-here', headers: { 'accept-language': 'en-US,en;q=0.9' } });
  assert.equal(en.json().title, 'Not Found');
  assert.match(en.json().detail, /^no route for GET \/api\/nothing-here$/);
  assert.equal(en.headers['content-language'], 'en');
  // The highest-weighted of the two languages wins; others do not count.
  for (const [header, lang] of [['zh-CN,zh;q=0.9,en;q=0.8', 'zh'], ['fr-FR, en;q=0.5', 'en'], ['de', 'zh'], ['en;q=0.2, zh-TW;q=0.3', 'zh'], ['EN', 'en']] as const) {
    const r = await app.inject({ method: 'GET', url: '/api/nothing-here', headers: { 'accept-language': header } });
    assert.equal(r.json().title, lang === 'zh' ? '未找到' : 'Not Found', header);
  }

  // A wrong password, a schema failure (with each field's message), a missing session, a CSRF refusal.
  const wrong = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'nobody', password: 'nope-nope' } });
  assert.deepEqual([wrong.statusCode, wrong.json().title, wrong.json().detail], [401, '未登录或登录已失效', '用户名或密码错误']);
  const wrongEn = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'nobody', password: 'nope-nope' }, headers: { 'accept-language': 'en' } });
  assert.deepEqual([wrongEn.json().title, wrongEn.json().detail], ['Unauthorized', 'wrong username or password']);
  const invalid = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'x' } });
  assert.equal(invalid.statusCode, 400);
  assert.equal(invalid.json().title, '请求有误');
  assert.match(invalid.json().detail, /缺少必填字段 password/);
  assert.deepEqual(invalid.json().fields, [{ field: 'password', message: '缺少必填字段 password' }]);
  const anon = await app.inject({ method: 'GET', url: '/api/tasks' });
  assert.deepEqual([anon.statusCode, anon.json().detail], [401, '请先登录,或携带 API 令牌']);
  const clerk = await login(app, 'market.clerk');
  const noCsrf = await app.inject({ method: 'POST', url: '/api/auth/logout', headers: { cookie: clerk.cookie } });
  assert.equal(noCsrf.statusCode, 403);
  assert.match(noCsrf.json().detail, CJK);
  const role = await as(app, clerk, { method: 'POST', url: '/api/departments', payload: { id: 'xx', name: 'x' } });
  assert.deepEqual([role.json().title, role.json().detail], ['无权操作', '需要以下角色之一:管理员']);
  const missing = await as(app, clerk, { method: 'GET', url: '/api/process-instances/00000000-0000-4000-8000-000000000000' });
  assert.equal(missing.json().detail, '流程实例 00000000-0000-4000-8000-000000000000 不存在');
  const notJson = await as(app, clerk, { method: 'POST', url: '/api/auth/logout', payload: '{"a":', headers: { 'content-type': 'application/json' } });
  assert.equal(notJson.statusCode, 400);
  assert.match(notJson.json().detail, CJK);
});

test('login: one budget per normalized username (case, NFKC); Secure cookie behind https; trustProxy decides whose IP counts', async () => {
  // Ten wrong passwords under ten spellings of one name exhaust one budget, the Kelvin sign (U+212A) included.
  const spellings = ['Leader', 'lEader', 'LEADER', 'leadeR', 'LeAdEr', 'lEADEr', 'leader', 'LEADEr', 'lEaDeR', 'Leader'];
  for (const username of spellings) {
    const r = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password: 'wrong-wrong' } });
    assert.equal(r.statusCode, 401, username);
  }
  const eleventh = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'leadER', password: DEMO_PASSWORD } });
  assert.equal(eleventh.statusCode, 429, 'the right password gets no extra try under another spelling');
  assert.equal(eleventh.json().title, '请求过于频繁');
  assert.match(eleventh.json().detail, CJK);

  for (let i = 0; i < 10; i++) {
    await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'market.clerk', password: 'wrong-wrong' } });
  }
  const kelvin = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'mar\u212Aet.clerk', password: DEMO_PASSWORD } });
  assert.equal(kelvin.statusCode, 429, 'the Kelvin-sign spelling is market.clerk and shares its budget');

  // A fresh name: NFKC spelling logs in as the account itself (same lookup as the budget).
  const health = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'HEALTH.CLERK', password: DEMO_PASSWORD } });
  assert.equal(health.statusCode, 200);
  assert.equal(health.json().username, 'health.clerk');
  assert.doesNotMatch(String(health.headers['set-cookie']), /Secure/, 'plain http: no Secure flag');

  assert.equal(secureCookiesFor('https://duban.example.gov.cn'), true);
  assert.equal(secureCookiesFor('http://localhost:3000'), false);
  assert.equal(secureCookiesFor(null), false);
  assert.deepEqual(['', 'false', 'true', '1', '10.0.0.1,192.168.0.0/16'].map((v) => trustProxyOf(v)), [false, false, true, 1, '10.0.0.1,192.168.0.0/16']);

  for (const trustProxy of [false, true]) {
    const behind = await buildApp({ runtime, version: 'test', logLevel: 'silent', secureCookies: true, trustProxy });
    try {
      const ok = await behind.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'housing.clerk', password: DEMO_PASSWORD } });
      assert.match(String(ok.headers['set-cookie']), /; Secure/);
      const user = `proxy${trustProxy ? 'on' : 'off'}`;
      for (let i = 0; i < 10; i++) {
        await behind.inject({ method: 'POST', url: '/api/auth/login', payload: { username: user, password: 'wrong-wrong' }, headers: { 'x-forwarded-for': `203.0.113.${i}` } });
      }
      const next = await behind.inject({ method: 'POST', url: '/api/auth/login', payload: { username: user, password: 'wrong-wrong' }, headers: { 'x-forwarded-for': '198.51.100.7' } });
      // Untrusted, X-Forwarded-For is the client's claim and changes nothing; trusted, it names the client.
      assert.equal(next.statusCode, trustProxy ? 401 : 429, `trustProxy ${trustProxy}`);
    } finally {
      await behind.close();
    }
  }
});

test('/api/health keeps answering while a large diagram validates (validation runs in a worker thread)', { timeout: 120_000 }, async () => {
  const admin = await login(app, 'admin');
  // ~1,200 user tasks in a chain (~0.17 MB): seconds of validation.
  const ids = Array.from({ length: 1200 }, (_, i) => `t${i}`);
  const body = `<startEvent id="s"/>${ids.map((id) => `<userTask id="${id}" name="步骤 ${id}" camunda:candidateGroups="market"/>`).join('')}<endEvent id="e"/>${flows('s', ...ids, 'e')}`;
  const xml = bpmn('big', body);
  assert.ok(xml.length > 150_000, `${xml.length} bytes`);
  let deployedAt = 0;
  const deploy = as(app, admin, { method: 'POST', url: '/api/deployments', payload: { xml } }).then((r) => {
    deployedAt = performance.now();
    return r;
  });
  const latencies: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const h = await app.inject({ method: 'GET', url: '/api/health' });
    latencies.push(performance.now() - t0);
    assert.equal(h.statusCode, 200);
  }
  const healthDoneAt = performance.now();
  const res = await deploy;
  assert.equal(res.statusCode, 201, res.body.slice(0, 300));
  assert.equal(res.json().id, 'big:1');
  assert.ok(healthDoneAt < deployedAt, `three health checks (${latencies.map((l) => l.toFixed(0)).join(', ')} ms) answered before the deploy (${(deployedAt - healthDoneAt).toFixed(0)} ms later)`);
  console.log(`health latencies while validating: ${latencies.map((l) => l.toFixed(1)).join(', ')} ms`);
});
