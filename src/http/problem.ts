import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DubanError } from '../engine/errors.js';
import { detailZh, genericZh, TITLES_EN, TITLES_ZH, validationZh, type AjvIssue } from './problem-zh.js';

/** RFC 9457 problem details: every error leaves the server as application/problem+json, never a stack. */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  [extension: string]: unknown;
}

export type Locale = 'zh' | 'en';

/**
 * The language of a problem: Chinese unless the request's Accept-Language prefers English
 * (`en`, `en-US;q=0.9, zh;q=0.8`). Languages other than these two do not count; none at all means Chinese.
 */
export function localeOf(req: Pick<FastifyRequest, 'headers'> | undefined): Locale {
  const header = req?.headers['accept-language'];
  if (typeof header !== 'string' || !header) return 'zh';
  let best: { locale: Locale; q: number } | null = null;
  for (const part of header.split(',').slice(0, 20)) {
    const [tag, ...params] = part.trim().toLowerCase().split(';');
    const locale: Locale | null = tag === 'en' || tag?.startsWith('en-') ? 'en' : tag === 'zh' || tag?.startsWith('zh-') ? 'zh' : null;
    if (!locale) continue;
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (!Number.isFinite(q) || q <= 0) continue;
    if (!best || q > best.q) best = { locale, q };
  }
  return best?.locale ?? 'zh';
}

export interface ProblemText {
  /** English; also the text of logs and the CLI. */
  en?: string;
  /** Chinese, when the thrower worded it; otherwise the catalogue (problem-zh.ts) translates `en`. */
  zh?: string;
}

// The reply's typed 200 schema does not cover problems; FastifyReply is used untyped here on purpose.
export function sendProblem(reply: FastifyReply<any>, // eslint-disable-line @typescript-eslint/no-explicit-any
   status: number, type: string, detail?: string | ProblemText, ext: Record<string, unknown> = {}) {
  const text: ProblemText = typeof detail === 'string' ? { en: detail } : (detail ?? {});
  const locale = localeOf(reply.request as FastifyRequest | undefined);
  const title = (locale === 'zh' ? TITLES_ZH[status] : TITLES_EN[status]) ?? (locale === 'zh' ? '错误' : 'Error');
  const words = locale === 'en' ? (text.en ?? text.zh) : (text.zh ?? (text.en ? chineseOf(text.en, status) : undefined));
  const body: ProblemBody = { type: `https://duban.dev/problems/${type}`, title, status, ...(words ? { detail: words } : {}), ...ext };
  reply.header('content-language', locale === 'zh' ? 'zh-CN' : 'en');
  reply.header('vary', 'Accept-Language');
  return reply.code(status).type('application/problem+json; charset=utf-8').send(body);
}

/** Errors the router raises before any hook (a malformed or overlong path parameter): Fastify's `frameworkErrors`. */
export function frameworkProblem(err: FastifyError, _req: FastifyRequest, reply: FastifyReply): void {
  const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
  void sendProblem(reply, status, err.code ? err.code.toLowerCase().replace(/^fst_err_/, '') : 'bad-request', err.message);
}

const CJK = /[\u4e00-\u9fff]/;

/** A message already worded in Chinese (the ID-number checks are) passes as it is. */
function chineseOf(message: string, status: number): string {
  if (CJK.test(message)) return message;
  return detailZh(message) ?? genericZh(status);
}

export function registerProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | DubanError | Error, req, reply) => {
    if (err instanceof DubanError) return sendProblem(reply, err.status, err.type, { en: err.message, zh: err.zh }, err.details ?? {});
    const fe = err as FastifyError;
    if (fe.validation) return sendValidationProblem(req, reply, fe);
    const status = typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500 ? fe.statusCode : 500;
    if (status === 500) {
      req.log.error({ err }, 'unhandled error');
      return sendProblem(reply, 500, 'internal', 'an unexpected error occurred; it has been logged');
    }
    return sendProblem(reply, status, fe.code ? fe.code.toLowerCase().replace(/^fst_/, '') : 'error', fe.message);
  });
  app.setNotFoundHandler((req, reply) => sendProblem(reply, 404, 'not-found', `no route for ${req.method} ${req.url.split('?')[0]}`));
}

const CONTEXT_ZH: Record<string, string> = { body: '请求内容', querystring: '查询参数', params: '路径参数', headers: '请求头' };

/** Schema failures name each field; in Chinese the wording comes from ajv's keyword, not its English text. */
function sendValidationProblem(req: FastifyRequest, reply: FastifyReply, fe: FastifyError) {
  const issues = (fe.validation ?? []) as unknown as AjvIssue[];
  const zh = localeOf(req) === 'zh';
  const fieldOf = (v: AjvIssue) => v.instancePath || String(v.params?.missingProperty ?? '');
  const fields = issues.map((v) => ({ field: fieldOf(v), message: zh ? validationZh(v) : v.message }));
  const where = CONTEXT_ZH[fe.validationContext ?? ''] ?? '请求';
  const first = issues[0];
  const zhDetail = first ? `${where}${first.instancePath ? ` ${first.instancePath}` : ''}:${validationZh(first)}` : `${where}不符合要求`;
  return sendProblem(reply, 400, 'validation', { en: fe.message, zh: zhDetail }, { fields });
}
