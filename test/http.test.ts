import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createTestDatabase } from './support/db.js';
import { buildApp } from '../src/http/app.js';
import { createRuntime } from '../src/runtime.js';

let t: Awaited<ReturnType<typeof createTestDatabase>>;
let app: FastifyInstance;

before(async () => {
  t = await createTestDatabase();
  app = await buildApp({ runtime: await createRuntime(t.db, { print: () => undefined }), version: 'test', logLevel: 'silent' });
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
