import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { DubanError } from '../engine/errors.js';

/** RFC 9457 problem details: every error leaves the server as application/problem+json, never a stack. */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  [extension: string]: unknown;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict',
  413: 'Payload Too Large', 415: 'Unsupported Media Type', 422: 'Unprocessable Content', 429: 'Too Many Requests',
  500: 'Internal Server Error', 503: 'Service Unavailable',
};

// The reply's typed 200 schema does not cover problems; FastifyReply is used untyped here on purpose.
export function sendProblem(reply: FastifyReply<any>, // eslint-disable-line @typescript-eslint/no-explicit-any
   status: number, type: string, detail?: string, ext: Record<string, unknown> = {}) {
  const body: ProblemBody = { type: `https://duban.dev/problems/${type}`, title: TITLES[status] ?? 'Error', status, ...(detail ? { detail } : {}), ...ext };
  return reply.code(status).type('application/problem+json; charset=utf-8').send(body);
}

export function registerProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | DubanError | Error, req, reply) => {
    if (err instanceof DubanError) return sendProblem(reply, err.status, err.type, err.message, err.details ?? {});
    const fe = err as FastifyError;
    if (fe.validation) {
      const fields = fe.validation.map((v) => ({ field: v.instancePath || String(v.params?.missingProperty ?? ''), message: v.message }));
      return sendProblem(reply, 400, 'validation', fe.message, { fields });
    }
    const status = typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500 ? fe.statusCode : 500;
    if (status === 500) {
      req.log.error({ err }, 'unhandled error');
      return sendProblem(reply, 500, 'internal', 'an unexpected error occurred; it has been logged');
    }
    return sendProblem(reply, status, fe.code ? fe.code.toLowerCase().replace(/^fst_/, '') : 'error', fe.message);
  });
  app.setNotFoundHandler((req, reply) => sendProblem(reply, 404, 'not-found', `no route for ${req.method} ${req.url.split('?')[0]}`));
}
