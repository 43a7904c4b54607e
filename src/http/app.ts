import { existsSync } from 'node:fs';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import helmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import type { Db } from '../db/database.js';
import type { WorkflowEngine } from '../engine/engine.js';
import { registerProblemHandlers } from './problem.js';
import { healthRoutes } from './health.js';

export interface AppDeps {
  db: Db;
  engine: WorkflowEngine;
  version: string;
  logLevel?: string;
  uiDir?: string;
}

/** Each feature is a plugin with its schema beside its routes; this file only wires them. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: { level: deps.logLevel ?? 'info' },
    bodyLimit: 2 * 1024 * 1024,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  });
  registerProblemHandlers(app);
  await app.register(helmet, { contentSecurityPolicy: false });
  await app.register(healthRoutes, { db: deps.db, version: deps.version });
  const uiDir = deps.uiDir ?? path.resolve('ui', 'dist');
  const staticDir = existsSync(uiDir) ? uiDir : path.resolve('ui', 'public');
  if (existsSync(staticDir)) await app.register(fastifyStatic, { root: staticDir, prefix: '/' });
  return app;
}
