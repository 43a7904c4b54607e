import { Worker } from 'node:worker_threads';
import { compile, type CompileOptions, type CompileResult } from './compile.js';
import { DubanError } from './errors.js';

/**
 * Validation cost grows faster than the diagram (moddle, bpmnlint and the structure rules walk the
 * tree, some of them recursively): unbounded, a 1.2 MB diagram took ~9 s and depth 4,000 took 5.5 s,
 * and depth 20,000 overflowed the stack. Diagrams are bounded before parsing, and validated in a
 * worker thread so the server keeps answering meanwhile.
 */
export const XML_LIMITS = {
  bytes: 2 * 1024 * 1024,
  /** Element nesting; a real diagram stays far below (definitions › process › sub-process › task › extensions ≈ 10). */
  depth: 100,
  elements: 50_000,
  /**
   * Smaller diagrams validate in-process: tens of milliseconds, less than starting the worker (~1–3 s, once
   * per process) would cost a test suite that deploys hundreds of small diagrams.
   */
  inProcessBytes: 16 * 1024,
  /** A validation still running after this is abandoned (the worker is replaced). */
  timeoutMs: 60_000,
} as const;

export class DiagramTooComplexError extends DubanError {
  constructor(message: string, details: Record<string, unknown>) {
    super(400, 'bpmn-too-complex', message, details);
  }
}

// Comments, CDATA, processing instructions and declarations are skipped; quoted attribute values may hold '>'.
const TOKEN = /<!--[\s\S]*?-->|<!\[CDATA\[[\s\S]*?\]\]>|<[?!][^>]*>|<(\/?)[^\s/>]+(?:[^>"']|"[^"]*"|'[^']*')*?(\/?)>/g;

/** Size, nesting depth and element count of a BPMN text, measured in one linear pass before any parser sees it. */
export function checkXmlBounds(xml: string): void {
  const bytes = Buffer.byteLength(xml, 'utf8');
  if (bytes > XML_LIMITS.bytes) throw new DiagramTooComplexError(`the diagram has ${bytes} bytes; at most ${XML_LIMITS.bytes} are accepted`, { bytes, limit: XML_LIMITS.bytes });
  let depth = 0;
  let elements = 0;
  TOKEN.lastIndex = 0;
  for (let m = TOKEN.exec(xml); m; m = TOKEN.exec(xml)) {
    if (m[1] === undefined) continue; // comment, CDATA, declaration
    if (m[1] === '/') {
      depth--;
      continue;
    }
    if (++elements > XML_LIMITS.elements) {
      throw new DiagramTooComplexError(`the diagram has more than ${XML_LIMITS.elements} elements`, { limit: XML_LIMITS.elements });
    }
    if (m[2] === '/') continue; // self-closing
    if (++depth > XML_LIMITS.depth) {
      throw new DiagramTooComplexError(`the diagram nests elements deeper than ${XML_LIMITS.depth} levels`, { limit: XML_LIMITS.depth });
    }
  }
}

interface Job {
  resolve: (r: CompileResult) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** One worker per process, started on first use; it holds the event loop open only while a job runs. */
class CompileWorker {
  private worker: Worker | null = null;
  private readonly jobs = new Map<number, Job>();
  private next = 1;

  run(xml: string, services: string[], lint: boolean | undefined): Promise<CompileResult> {
    const worker = this.ensure();
    const id = this.next++;
    return new Promise<CompileResult>((resolve, reject) => {
      const timer = setTimeout(() => this.abandon(new DubanError(422, 'validation-timeout',
        `validating the diagram took longer than ${XML_LIMITS.timeoutMs / 1000} s; simplify it or split it into called processes`)), XML_LIMITS.timeoutMs);
      this.jobs.set(id, { resolve, reject, timer });
      worker.ref();
      worker.postMessage({ id, xml, services, lint });
    });
  }

  private ensure(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./compile-worker.mjs', import.meta.url));
    worker.unref();
    worker.on('message', (msg: { id: number; result?: CompileResult; error?: string }) => {
      const job = this.jobs.get(msg.id);
      if (!job) return;
      this.jobs.delete(msg.id);
      clearTimeout(job.timer);
      if (!this.jobs.size) worker.unref();
      if (msg.result) job.resolve(msg.result);
      else job.reject(new Error(msg.error ?? 'validation failed'));
    });
    worker.on('error', (err) => this.abandon(err));
    worker.on('exit', () => {
      if (this.worker === worker) this.worker = null;
      this.failAll(new Error('the validation worker stopped'));
    });
    this.worker = worker;
    return worker;
  }

  private abandon(err: Error): void {
    const worker = this.worker;
    this.worker = null;
    this.failAll(err);
    void worker?.terminate();
  }

  private failAll(err: Error): void {
    for (const [id, job] of this.jobs) {
      clearTimeout(job.timer);
      job.reject(err);
      this.jobs.delete(id);
    }
  }
}

const shared = new CompileWorker();

/**
 * `compile`, bounded, and off the event loop for anything but small diagrams. Options that carry code
 * (the conformance runner's script-task allowance) cannot cross to a worker, so those compile in-process,
 * still bounded.
 */
export async function compileChecked(xml: string, options: CompileOptions): Promise<CompileResult> {
  checkXmlBounds(xml);
  if (options.allowScriptTask || xml.length <= XML_LIMITS.inProcessBytes) return compile(xml, options);
  return shared.run(xml, options.services.names(), options.lint);
}
