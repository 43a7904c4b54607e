import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DubanError } from '../engine/errors.js';

/**
 * Input that no route can store or process safely is refused here, once, before any route sees it:
 * JSON nested deeper than anything Duban exchanges (recursive code further on would overflow the stack),
 * NUL bytes and lone UTF-16 surrogates in any string (PostgreSQL refuses both in text and jsonb), and
 * process variables larger than the engine copies comfortably into state, history, audit and tasks.
 */
export const LIMITS = {
  /** Nesting of arrays and objects in a JSON body. */
  jsonDepth: 64,
  /** One variable's JSON, in bytes. */
  variableBytes: 64 * 1024,
  /** All variables of one command (start, complete, correlate), in bytes. */
  commandVariableBytes: 256 * 1024,
} as const;

export class InputError extends DubanError {}

/** The depth of the deepest array or object in a JSON text, stopping as soon as it exceeds `max`. */
export function jsonDepthExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) {
      inString = true;
    } else if (c === 91 || c === 123) {
      if (++depth > max) return true;
    } else if (c === 93 || c === 125) {
      depth--;
    }
  }
  return false;
}

// A NUL, a high surrogate not followed by a low one, or a low surrogate not preceded by a high one.
const ILL_FORMED = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The path of the first string (or key) holding a NUL byte or a lone surrogate, or null. */
export function findIllFormed(value: unknown, at = ''): string | null {
  if (typeof value === 'string') return ILL_FORMED.test(value) ? (at || '/') : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const hit = findIllFormed(value[i], `${at}/${i}`);
      if (hit) return hit;
    }
    return null;
  }
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (ILL_FORMED.test(k)) return `${at}/${k.replace(ILL_FORMED, '?')}`;
      const hit = findIllFormed(v, `${at}/${k}`);
      if (hit) return hit;
    }
  }
  return null;
}

/** 413 when one variable or all of them together exceed the limits. */
export function checkVariableSizes(variables: unknown): void {
  if (!variables || typeof variables !== 'object' || Array.isArray(variables)) return;
  let total = 0;
  for (const [name, value] of Object.entries(variables)) {
    const bytes = Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
    if (bytes > LIMITS.variableBytes) {
      throw new InputError(413, 'variable-too-large', `variable "${name}" has ${bytes} bytes; at most ${LIMITS.variableBytes} are accepted per variable`,
        { variable: name, bytes, limit: LIMITS.variableBytes });
    }
    total += bytes + Buffer.byteLength(name, 'utf8');
  }
  if (total > LIMITS.commandVariableBytes) {
    throw new InputError(413, 'variables-too-large', `the variables have ${total} bytes together; at most ${LIMITS.commandVariableBytes} are accepted per command`,
      { bytes: total, limit: LIMITS.commandVariableBytes });
  }
}

function checkRequest(req: FastifyRequest): void {
  for (const [part, value] of [['body', req.body], ['query', req.query], ['params', req.params]] as const) {
    const at = findIllFormed(value);
    if (at) {
      throw new InputError(400, 'ill-formed-text', `${part}${at === '/' ? '' : at} contains a NUL byte or an unpaired UTF-16 surrogate`, { field: `${part}${at}` });
    }
  }
  const body = req.body as { variables?: unknown } | null | undefined;
  if (body && typeof body === 'object') checkVariableSizes(body.variables);
}

export function registerInputGuards(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = body as string;
    if (jsonDepthExceeds(text, LIMITS.jsonDepth)) {
      done(new InputError(400, 'json-too-deep', `the JSON body is nested deeper than ${LIMITS.jsonDepth} levels`, { limit: LIMITS.jsonDepth }), undefined);
      return;
    }
    parseJson(req, text, done);
  });
  // preValidation: after parsing, before the schema and the handler; every route, the public login too.
  app.addHook('preValidation', async (req) => checkRequest(req));
}
