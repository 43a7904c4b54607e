import type { Problem } from './compile.js';

/** Errors that carry an HTTP status and a stable type; the HTTP layer renders them as problem+json. */
export class DubanError extends Error {
  /** The detail in Chinese, when the thrower words it; the HTTP layer translates the others (src/http/problem-zh.ts). */
  zh?: string;

  constructor(readonly status: number, readonly type: string, message: string, readonly details?: Record<string, unknown>) {
    super(message);
  }

  withZh(zh: string): this {
    this.zh = zh;
    return this;
  }
}

export class NotFoundError extends DubanError {
  constructor(what: string, id: string) {
    super(404, 'not-found', `${what} ${id} does not exist`);
  }
}

export class ConflictError extends DubanError {
  constructor(message: string, details?: Record<string, unknown>) {
    super(409, 'conflict', message, details);
  }
}

export class InvalidDefinitionError extends DubanError {
  constructor(readonly problems: Problem[], readonly warnings: Problem[] = []) {
    const first = problems[0];
    super(422, 'invalid-bpmn', `the diagram was refused: ${problems.length} problem(s)${first ? `, first: ${first.elementId ? `[${first.elementId}] ` : ''}${first.message}` : ''}`, {
      errors: problems,
      warnings,
    });
  }
}

export class BadRequestError extends DubanError {
  constructor(message: string, details?: Record<string, unknown>) {
    super(400, 'bad-request', message, details);
  }
}

/** PostgreSQL's serialization failure and deadlock: the transaction did nothing and may simply run again. */
export function isRetryable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '40001' || code === '40P01';
}

/** Run a whole transaction again (a few times) when PostgreSQL aborted it for a serialization failure or deadlock. */
export async function withRetry<T>(fn: () => Promise<T>, attempts = 4): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (!isRetryable(err) || i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 5 * i + Math.floor(Math.random() * 10)));
    }
  }
}
