import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/database.js';
import { sendProblem } from './problem.js';
import { auditProtection } from '../db/roles.js';

/** Liveness and database readiness; answers 503 when PostgreSQL does not. */
export async function healthRoutes(app: FastifyInstance, opts: { db: Db; version: string }) {
  app.get('/api/health', {
    config: { access: { public: true } },
    schema: {
      response: {
        200: {
          type: 'object',
          properties: {
            status: { type: 'string' }, database: { type: 'string' }, version: { type: 'string' },
            timers: { type: 'object', properties: { pending: { type: 'integer' }, due: { type: 'integer' } } },
            outbox: { type: 'object', properties: { pending: { type: 'integer' }, failed: { type: 'integer' } } },
            incidents: { type: 'integer' },
            audit: {
              type: 'object',
              description: 'whether the serving database role is limited to appending to the audit trail; problems name what it could do besides',
              properties: { protected: { type: 'boolean' }, role: { type: 'string' }, problems: { type: 'array', items: { type: 'string' } } },
            },
          },
        },
      },
    },
  }, async (_req, reply) => {
    try {
      const { rows } = await opts.db.raw<{ rows: Array<Record<string, number>> }>(`
        SELECT (SELECT count(*) FROM timers)::int AS timers_pending,
               (SELECT count(*) FROM timers WHERE due_at <= now())::int AS timers_due,
               (SELECT count(*) FROM outbox WHERE status = 'pending')::int AS outbox_pending,
               (SELECT count(*) FROM outbox WHERE status = 'failed')::int AS outbox_failed,
               (SELECT count(*) FROM incidents WHERE status = 'open')::int AS incidents`);
      const r = rows[0]!;
      const audit = await auditProtection(opts.db);
      return {
        status: 'ok', database: 'ok', version: opts.version,
        timers: { pending: r.timers_pending, due: r.timers_due },
        outbox: { pending: r.outbox_pending, failed: r.outbox_failed },
        incidents: r.incidents,
        audit,
      };
    } catch (err) {
      reply.log.warn({ err }, 'health: database unavailable');
      return sendProblem(reply, 503, 'database-unavailable', 'the database does not answer');
    }
  });
}
