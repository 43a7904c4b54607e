import { evaluate, parseExpression } from 'feelin';

/**
 * The only expression language a diagram can use. No code from a diagram ever runs:
 * - `=…` is FEEL (as in Camunda 8), evaluated by feelin, which cannot reach JavaScript;
 * - `${a.b.c}` only reads variables, outputs and registered services by plain property paths.
 */

const FORBIDDEN_SEGMENTS = new Set(['constructor', '__proto__', 'prototype']);
const PATH = /^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*|\[\d+\]|\['[^'\\]*'\]|\["[^"\\]*"\])*$/;
const TEMPLATE = /\$\{([^}]*)\}/g;
const WHOLE_TEMPLATE = /^\$\{([^}]*)\}$/;

export class ExpressionError extends Error {}

/** What a template or FEEL expression may read: never the engine, only data. */
export interface ExpressionScope {
  variables: Record<string, unknown>;
  output?: Record<string, unknown>;
  content?: Record<string, unknown>;
  services: Record<string, unknown>;
  functions?: Record<string, (...args: never[]) => unknown>;
}

export function isFeel(expression: string): boolean {
  return expression.trimStart().startsWith('=');
}

/** Static check at deploy time; returns an error message or undefined. */
export function checkExpression(expression: string): string | undefined {
  if (isFeel(expression)) {
    try {
      parseExpression(expression.trimStart().slice(1), {}, undefined);
      return undefined;
    } catch (err) {
      return `invalid FEEL expression: ${(err as Error).message}`;
    }
  }
  for (const match of expression.matchAll(TEMPLATE)) {
    const problem = checkPath(match[1]!.trim());
    if (problem) return problem;
  }
  return undefined;
}

function checkPath(path: string): string | undefined {
  if (/^(true|false|null)$/.test(path) || isNumeric(path)) return undefined;
  if (!PATH.test(path)) return `\${${path}} is not a plain property path (calls and operators are not allowed; use FEEL with "=")`;
  const bad = segmentsOf(path).find((s) => FORBIDDEN_SEGMENTS.has(s));
  if (bad) return `\${${path}} reaches "${bad}", which is not allowed`;
  return undefined;
}

export function evaluateFeel(expression: string, context: Record<string, unknown>): unknown {
  const { value } = evaluate(expression.trimStart().slice(1), context);
  return toPlain(value);
}

/** Resolve `${…}` templates and `=FEEL` against a scope; unknown paths give undefined. */
export function resolve(expression: string, scope: ExpressionScope): unknown {
  if (isFeel(expression)) return evaluateFeel(expression, feelContext(scope));
  const whole = WHOLE_TEMPLATE.exec(expression);
  if (whole) return readTemplate(whole[1]!.trim(), scope);
  if (!expression.includes('${')) return expression;
  return expression.replace(TEMPLATE, (_m, inner: string) => {
    const value = readTemplate(inner.trim(), scope);
    return value === undefined || value === null ? '' : String(value);
  });
}

export function feelContext(scope: ExpressionScope): Record<string, unknown> {
  return { ...scope.functions, ...scope.variables, ...(isRecord(scope.output) ? scope.output : {}) };
}

function readTemplate(path: string, scope: ExpressionScope): unknown {
  if (path === 'true') return true;
  if (path === 'false') return false;
  if (path === 'null') return null;
  if (isNumeric(path)) return Number(path);
  const problem = checkPath(path);
  if (problem) throw new ExpressionError(problem);
  const [root, ...rest] = segmentsOf(path);
  const roots: Record<string, unknown> = {
    variables: scope.variables,
    content: scope.content,
    output: scope.output,
    environment: { variables: scope.variables, output: scope.output, services: scope.services },
    services: scope.services,
  };
  if (!Object.hasOwn(roots, root!)) {
    // A bare name reads a process variable, as Camunda users expect.
    return walk(scope.variables, [root!, ...rest]);
  }
  return walk(roots[root!], rest);
}

function walk(start: unknown, segments: string[]): unknown {
  let current: unknown = start;
  for (const segment of segments) {
    if (current === null || typeof current !== 'object') return undefined;
    if (!Object.hasOwn(current, segment)) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

function segmentsOf(path: string): string[] {
  const segments: string[] = [];
  for (const m of path.matchAll(/([A-Za-z_$][\w$]*)|\[(\d+)\]|\['([^']*)'\]|\["([^"]*)"\]/g)) {
    segments.push(m[1] ?? m[2] ?? m[3] ?? m[4]!);
  }
  return segments;
}

function isNumeric(s: string): boolean {
  return s.trim() !== '' && !Number.isNaN(Number(s));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** FEEL temporal values become ISO strings so they persist as JSON and feed timers. */
function toPlain(value: unknown): unknown {
  if (value && typeof value === 'object' && 'iso' in value && typeof (value as { iso: unknown }).iso === 'string') {
    return (value as { iso: string }).iso;
  }
  if (value && typeof value === 'object' && typeof (value as { toString?: unknown }).toString === 'function' &&
      value.constructor?.name?.startsWith('Feel')) {
    return String(value);
  }
  return value;
}
