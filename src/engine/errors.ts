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
