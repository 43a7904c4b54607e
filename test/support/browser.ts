import { existsSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Debian's Chromium (apt-get install chromium), driven by playwright-core; CHROMIUM_PATH overrides. */
export function chromiumPath(): string | null {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].filter(Boolean) as string[];
  return candidates.find((p) => existsSync(p)) ?? null;
}

export interface Chromium { browser: Browser; close(): Promise<void> }

export async function launchChromium(): Promise<Chromium> {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error('Chromium not found: apt-get install -y chromium (or set CHROMIUM_PATH)');
  // playwright gives every launch a fresh, temporary profile (it refuses --user-data-dir here).
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  return {
    browser,
    async close() {
      await browser.close().catch(() => undefined);
    },
  };
}

/** A page that records console errors and uncaught exceptions, so a test can assert there were none. */
export interface WatchedPage { context: BrowserContext; page: Page; errors: string[]; requests: string[] }

export async function watchedPage(browser: Browser, baseURL: string, viewport = { width: 1440, height: 900 },
  storageState?: Awaited<ReturnType<BrowserContext['storageState']>>): Promise<WatchedPage> {
  const context = await browser.newContext({ baseURL, viewport, locale: 'zh-CN', timezoneId: 'Asia/Shanghai', acceptDownloads: true, storageState });
  const page = await context.newPage();
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('request', (req) => void requests.push(req.url()));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`${page.url()} console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`${page.url()} pageerror: ${err.message}`));
  page.on('requestfailed', (req) => {
    if (!req.url().includes('/api/auth/logout')) errors.push(`${page.url()} request failed: ${req.method()} ${req.url()} ${req.failure()?.errorText ?? ''}`);
  });
  return { context, page, errors, requests };
}

export async function login(page: Page, username: string, password: string): Promise<void> {
  await page.goto('/');
  await page.getByTestId('login-username').fill(username);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('whoami').waitFor({ state: 'attached' });
}

/**
 * The tracked docs/screenshots/*.png are written only when asked (SCREENSHOTS=1), so `npm test` leaves the
 * work tree clean; otherwise the page is still rendered to a buffer, which keeps the step's timing alike.
 */
export async function screenshot(page: Page, name: string, opts: { fullPage?: boolean; dir?: string } = {}): Promise<string | null> {
  const write = process.env.SCREENSHOTS === '1';
  const file = write ? path.join(opts.dir ?? path.resolve('docs', 'screenshots'), `${name}.png`) : null;
  await page.screenshot({ ...(file ? { path: file } : {}), fullPage: opts.fullPage ?? false, animations: 'disabled' });
  return file;
}
