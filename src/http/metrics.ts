import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Registry, Histogram, Gauge, collectDefaultMetrics } from 'prom-client';
import type { Db } from '../db/database.js';

/** Prometheus metrics: HTTP latency, timer lag, due/pending timers, outbox backlog, incidents. */
export class Metrics {
  readonly registry = new Registry();
  readonly httpDuration = new Histogram({
    name: 'duban_http_request_duration_seconds', help: 'HTTP request latency', labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [this.registry],
  });
  readonly timerLag = new Histogram({
    name: 'duban_timer_lag_seconds', help: 'time between a timer falling due and firing', buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 30],
    registers: [this.registry],
  });

  constructor(db: Db) {
    collectDefaultMetrics({ register: this.registry, prefix: 'duban_' });
    const queue = (name: string, help: string, sql: string) => new Gauge({
      name, help, registers: [this.registry],
      async collect() {
        const { rows } = await db.raw<{ rows: Array<{ n: number }> }>(sql);
        this.set(rows[0]?.n ?? 0);
      },
    });
    queue('duban_timers_pending', 'timers waiting in the table', 'SELECT count(*)::int AS n FROM timers');
    queue('duban_timers_due', 'timers already due', 'SELECT count(*)::int AS n FROM timers WHERE due_at <= now()');
    queue('duban_outbox_backlog', 'outbox rows waiting for delivery', `SELECT count(*)::int AS n FROM outbox WHERE status = 'pending'`);
    queue('duban_incidents_open', 'open incidents', `SELECT count(*)::int AS n FROM incidents WHERE status = 'open'`);
    // Normally near 0: entries wait here from their commit until the sealer links them into the chain.
    queue('duban_audit_queued', 'committed audit entries not yet sealed into the chain', 'SELECT count(*)::int AS n FROM audit_queue');
    queue('duban_audit_queued_age_seconds', 'age of the oldest audit entry not yet sealed into the chain',
      'SELECT coalesce(extract(epoch FROM now() - min(at)), 0)::float8 AS n FROM audit_queue');
  }
}

/**
 * Not encapsulated (fastify-plugin): the latency hook must see every route of the app, not only the
 * routes of this plugin (as a plain plugin it timed /metrics alone).
 */
export const metricsRoutes = fp(async (app: FastifyInstance, opts: { metrics: Metrics }) => {
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    opts.metrics.httpDuration.observe({ method: req.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
  app.get('/metrics', {
    schema: { tags: ['operations'], summary: 'Prometheus metrics (bearer token with the "metrics" scope, or an admin session)', hide: false },
    config: { access: { roles: ['admin', 'system'], scope: 'metrics' } },
  }, async (_req, reply) => reply.type(opts.metrics.registry.contentType).send(await opts.metrics.registry.metrics()));
});
