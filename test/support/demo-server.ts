import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import type { BrowserContext } from 'playwright-core';
import { ensureUiBuilt } from '../../ui/ensure-built.mjs';
import { DEMO_PASSWORD } from '../../src/demo.js';
import { createTestDatabase } from './db.js';
import { freePort } from './ports.js';
import { chromiumPath, launchChromium, watchedPage, type Chromium, type WatchedPage } from './browser.js';

export { DEMO_PASSWORD };

/** Why a browser test file is skipped: only when this machine has no Chromium. */
export const noChromium = chromiumPath() ? false : 'Chromium is not installed (apt-get install -y chromium)';

/** Poll `fn` until it returns something truthy; the error names what was awaited (and `detail()`, e.g. the server's log). */
export async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 30_000, detail?: () => string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${detail ? `\n${detail()}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** An HTTP client with one real session (cookie + CSRF token), as the browser has. */
export class ApiSession {
  private constructor(private readonly base: string, private readonly cookie: string, private readonly csrf: string) {}

  static async login(base: string, username: string, password = DEMO_PASSWORD): Promise<ApiSession> {
    const res = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
    assert.equal(res.status, 200, `login ${username}`);
    const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    return new ApiSession(base, cookie, ((await res.json()) as { csrfToken: string }).csrfToken);
  }

  /** The session of a logged-in browser context. */
  static async of(base: string, context: BrowserContext): Promise<ApiSession> {
    const cookie = (await context.cookies(base)).map((c) => `${c.name}=${c.value}`).join('; ');
    const me = await new ApiSession(base, cookie, '').get<{ csrfToken: string }>('/api/auth/me');
    return new ApiSession(base, cookie, me.csrfToken);
  }

  /** The same session (cookie and CSRF token) on another server process of the same database. */
  at(base: string): ApiSession {
    return new ApiSession(base, this.cookie, this.csrf);
  }

  /** A request whose refusal is an answer, not an error: its status and parsed body. */
  async request<T = any>(method: string, url: string, body?: unknown): Promise<{ status: number; json: T; text: string }> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const res = await fetch(`${this.base}${url}`, {
      method,
      headers: { cookie: this.cookie, 'x-csrf-token': this.csrf, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    const json = (text && /json/.test(res.headers.get('content-type') ?? '') ? JSON.parse(text) : undefined) as T;
    return { status: res.status, json, text };
  }

  async call<T = any>(method: string, url: string, body?: unknown): Promise<T> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const res = await this.request(method, url, body);
    if (res.status < 200 || res.status > 299) throw new Error(`${method} ${url} → ${res.status} ${res.text}`);
    return (res.text ? JSON.parse(res.text) : undefined) as T;
  }
  get<T = any>(url: string) { return this.call<T>('GET', url); } // eslint-disable-line @typescript-eslint/no-explicit-any
  post<T = any>(url: string, body: unknown = {}) { return this.call<T>('POST', url, body); } // eslint-disable-line @typescript-eslint/no-explicit-any
  patch<T = any>(url: string, body: unknown) { return this.call<T>('PATCH', url, body); } // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface DemoUiOptions {
  /** Prefix of the fresh test database. */
  database: string;
  /** More environment for the server (poll intervals, a fake Twilio). */
  env?: NodeJS.ProcessEnv;
  /** How long seeding the demo may take: hundreds of demo cases through the whole procedure, minutes on a loaded machine. */
  seedTimeoutMs?: number;
}

/**
 * What every browser test file runs against: `duban start --demo` as a real child process on a fresh database,
 * the built UI, and Debian's Chromium. Pages opened through it are closed at stop().
 */
export class DemoUi {
  base = '';
  private server: ChildProcess | undefined;
  private serverLog = '';
  private dropDb: (() => Promise<void>) | undefined;
  private chromium: Chromium | undefined;
  private readonly pages: WatchedPage[] = [];
  private readonly sessions = new Map<string, Promise<ApiSession>>();

  constructor(private readonly opts: DemoUiOptions) {}

  /** The last lines the server printed, for failure messages. */
  log(chars = 3000): string {
    return this.serverLog.slice(-chars);
  }

  /** `env` adds to the options' environment (values known only now, such as a fake Twilio's URL). */
  async start(env: NodeJS.ProcessEnv = {}): Promise<void> {
    await ensureUiBuilt({ log: (m) => console.log(m) });
    const database = await createTestDatabase(this.opts.database);
    await database.db.destroy();
    this.dropDb = database.drop;
    const port = await freePort();
    this.base = `http://127.0.0.1:${port}`;
    const server = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start', '--demo'], {
      env: {
        ...process.env, DATABASE_URL: database.url, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn',
        DUBAN_TIMER_POLL_MS: '500', DUBAN_OUTBOX_POLL_MS: '500', ...this.opts.env, ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.server = server;
    const keep = (d: Buffer) => { this.serverLog = (this.serverLog + d).slice(-20_000); };
    server.stdout!.on('data', keep);
    server.stderr!.on('data', keep);
    await until('the server (demo seed)', async () => {
      if (server.exitCode !== null) throw new Error(`server exited ${server.exitCode}:\n${this.serverLog}`);
      return fetch(`${this.base}/api/health`).then((r) => r.ok, () => false);
    }, this.opts.seedTimeoutMs ?? 300_000);
    this.chromium = await launchChromium();
  }

  async stop(): Promise<void> {
    // What the browser saw go wrong, with the server's last words: the first thing to read when a test
    // of this file timed out waiting for something that never rendered.
    const errors = this.pages.flatMap((w) => w.errors);
    if (errors.length) console.log(`browser errors:\n${errors.slice(0, 30).join('\n')}\nserver log (tail):\n${this.log()}`);
    for (const w of this.pages) await w.context.close().catch(() => undefined);
    await this.chromium?.close();
    const server = this.server;
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      await new Promise((r) => { server.once('exit', r); setTimeout(r, 10_000); });
    }
    await this.dropDb?.();
  }

  /** A new browser context and page on the server, watched for console errors. */
  async open(viewport?: { width: number; height: number }, storageState?: Awaited<ReturnType<BrowserContext['storageState']>>): Promise<WatchedPage> {
    const w = await watchedPage(this.chromium!.browser, this.base, viewport, storageState);
    this.pages.push(w);
    return w;
  }

  /** One API session per user for the whole file: the login route is rate-limited. */
  as(username: string, password = DEMO_PASSWORD): Promise<ApiSession> {
    let s = this.sessions.get(username);
    if (!s) this.sessions.set(username, (s = ApiSession.login(this.base, username, password)));
    return s;
  }

  /** The API session of a logged-in page. */
  sessionOf(w: WatchedPage): Promise<ApiSession> {
    return ApiSession.of(this.base, w.context);
  }

  until<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 30_000): Promise<T> {
    return until(what, fn, timeoutMs, () => this.log());
  }
}
