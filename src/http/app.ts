import { existsSync } from 'node:fs';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import compress from '@fastify/compress';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Runtime } from '../runtime.js';
import { frameworkProblem, registerProblemHandlers } from './problem.js';
import { registerInputGuards } from './input.js';
import { registerSecurityHeaders } from './security-headers.js';
import { healthRoutes } from './health.js';
import { authPlugin, authRoutes } from './auth.js';
import type { SessionCache } from '../auth/session-cache.js';
import { peopleRoutes } from './people.js';
import { processRoutes } from './processes.js';
import { instanceRoutes } from './instances.js';
import { taskRoutes } from './tasks.js';
import { operationRoutes } from './operations.js';
import { Metrics, metricsRoutes } from './metrics.js';
import { calendarRoutes } from './calendar.js';
import { itemRoutes } from './items.js';
import { caseRoutes } from './cases.js';
import { supervisionRoutes } from './supervision.js';
import { statsRoutes } from './stats.js';
import { smsRoutes } from './sms.js';
import { formRoutes } from './forms.js';
import { letterRoutes } from './letters.js';
import { ratingRoutes } from './ratings.js';
import { projectRoutes } from './projects.js';
import { DeclarationStore } from '../domain/processes/declarations.js';
import { consoleRoutes } from './console.js';

export interface AppDeps {
  runtime: Runtime;
  version: string;
  logLevel?: string;
  uiDir?: string;
  metrics?: Metrics;
  /** Twilio's auth token (verifies delivery callbacks) and Duban's public URL (DUBAN_PUBLIC_URL). */
  sms?: { authToken?: string | null; publicUrl?: string | null };
  /** Set the Secure flag on the session cookie (on whenever DUBAN_PUBLIC_URL is https). */
  secureCookies?: boolean;
  /** Fastify's trustProxy (DUBAN_TRUST_PROXY): which proxies' X-Forwarded-For sets the client IP. */
  trustProxy?: boolean | number | string;
  /** Recently confirmed sessions for reads (the server's, watched by its LISTEN connection); none: every request asks. */
  sessionCache?: SessionCache;
}

function trustHops(hops: number) {
  return (_address: string, hop: number) => hop < hops;
}

/** Each feature is a plugin with its schema beside its routes; this file only wires them. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { db, engine, calendars, cases, supervisions, forms, letters, ratings } = deps.runtime;
  const app = Fastify({
    logger: { level: deps.logLevel ?? 'info', redact: ['req.headers.authorization', 'req.headers.cookie'] },
    bodyLimit: 2 * 1024 * 1024,
    // The router's own refusals (an overlong or malformed path parameter) are problems like any other.
    frameworkErrors: frameworkProblem,
    // A hop count means: trust that many proxies nearest to us (proxy-addr counts hops from the socket).
    trustProxy: typeof deps.trustProxy === 'number' ? trustHops(deps.trustProxy) : (deps.trustProxy ?? false),
    // strictNumbers: `page=Infinity` or `1e309` is not an integer (ajv would otherwise accept a non-finite number).
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false, strictNumbers: true } },
  });
  registerProblemHandlers(app);
  registerInputGuards(app);
  registerSecurityHeaders(app, {
    contentSecurityPolicy: {
      directives: { defaultSrc: ["'self'"], scriptSrc: ["'self'", "'unsafe-inline'"], styleSrc: ["'self'", "'unsafe-inline'"], imgSrc: ["'self'", 'data:'] },
    },
  });
  // The designer chunk is ~1.6 MB of JavaScript; compressed it is a third of that. API lists compress well too.
  await app.register(compress, { threshold: 1024, encodings: ['br', 'gzip'] });
  await app.register(swagger, {
    openapi: {
      info: { title: 'Duban API', description: '督办 — durable BPMN engine for government-service supervision', version: deps.version },
      components: {
        securitySchemes: {
          session: { type: 'apiKey', in: 'cookie', name: 'duban_session' },
          token: { type: 'http', scheme: 'bearer' },
        },
      },
      security: [{ session: [] }, { token: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(authPlugin, { db, sessionCache: deps.sessionCache });
  await app.register(metricsRoutes, { metrics: deps.metrics ?? new Metrics(db) });
  await app.register(healthRoutes, { db, version: deps.version });
  await app.register(authRoutes, { db: db, secureCookies: deps.secureCookies ?? false });
  await app.register(peopleRoutes, { db });
  // Who may start each process and which variables each step accepts, parsed once per version.
  const declarations = new DeclarationStore(db, forms);
  await app.register(processRoutes, { db, engine, declarations });
  await app.register(instanceRoutes, { db, engine });
  await app.register(taskRoutes, { db, engine, calendars, declarations, supervisions });
  await app.register(operationRoutes, { db, engine, declarations });
  await app.register(smsRoutes, { db, authToken: deps.sms?.authToken ?? null, publicUrl: deps.sms?.publicUrl ?? null });
  await app.register(calendarRoutes, { db, cases });
  await app.register(itemRoutes, { db });
  await app.register(caseRoutes, { db, cases, calendars });
  await app.register(supervisionRoutes, { db, supervisions });
  await app.register(statsRoutes, { db, calendars });
  await app.register(formRoutes, { forms });
  await app.register(letterRoutes, { db, letters });
  await app.register(ratingRoutes, { db, ratings });
  await app.register(projectRoutes, { db, projects: deps.runtime.projects });
  await app.register(consoleRoutes, { db });
  const uiDir = deps.uiDir ?? path.resolve('ui', 'dist');
  const staticDir = existsSync(uiDir) ? uiDir : path.resolve('ui', 'public');
  if (existsSync(staticDir)) {
    await app.register(fastifyStatic, {
      root: staticDir, prefix: '/', cacheControl: false,
      // Vite names built assets by content hash, so they never change under their name; index.html is revalidated.
      setHeaders: (res, file) => {
        res.setHeader('cache-control', file.includes(`${path.sep}assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    });
  }
  return app;
}
