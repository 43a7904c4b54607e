#!/usr/bin/env node
/**
 * Build the UI (vite build ui → ui/dist) unless ui/dist is newer than every source of the UI.
 * `npm start` runs it first (prestart); test/ui.test.ts calls ensureUiBuilt() before driving Chromium.
 * When Vite is not installed (npm ci --omit=dev) an existing ui/dist is used as it is.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const uiDir = path.dirname(fileURLToPath(import.meta.url));
const distIndex = path.join(uiDir, 'dist', 'index.html');

function newest(p) {
  const s = statSync(p);
  if (!s.isDirectory()) return s.mtimeMs;
  let m = 0;
  for (const name of readdirSync(p)) m = Math.max(m, newest(path.join(p, name)));
  return m;
}

export function uiIsStale() {
  if (!existsSync(distIndex)) return true;
  const sources = ['src', 'index.html', 'vite.config.ts', path.join('..', 'package-lock.json')].map((p) => path.join(uiDir, p)).filter((p) => existsSync(p));
  return Math.max(...sources.map(newest)) > statSync(distIndex).mtimeMs;
}

export async function ensureUiBuilt({ force = false, log = console.log } = {}) {
  if (!force && !uiIsStale()) return { built: false, ms: 0 };
  let vite;
  try {
    vite = await import('vite');
  } catch {
    if (existsSync(distIndex)) {
      log('vite is not installed: serving the existing ui/dist');
      return { built: false, ms: 0 };
    }
    throw new Error('the UI is not built and vite is not installed: run npm install (with dev dependencies), then npm run build:ui');
  }
  const started = Date.now();
  await vite.build({ root: uiDir, configFile: path.join(uiDir, 'vite.config.ts'), logLevel: 'warn' });
  const ms = Date.now() - started;
  log(`built the UI into ui/dist in ${(ms / 1000).toFixed(1)} s`);
  return { built: true, ms };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  ensureUiBuilt({ force: process.argv.includes('--force') }).catch((err) => {
    console.error(err.message ?? err);
    process.exit(1);
  });
}
