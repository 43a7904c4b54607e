import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
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
