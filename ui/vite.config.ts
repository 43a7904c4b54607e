import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `vite build ui` → ui/dist, served by the Fastify server at `/` (src/http/app.ts).
// The API runs on the same origin; `vite ui` proxies /api to a server on :3000 (DUBAN_API to change it).
export default defineConfig({
  base: './',
  publicDir: false,
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // The designer chunk (modeler, properties panel, element templates) is admin-only and lazily loaded.
    chunkSizeWarningLimit: 2500,
    sourcemap: false,
    reportCompressedSize: false,
  },
  server: { proxy: { '/api': process.env.DUBAN_API ?? 'http://127.0.0.1:3000' } },
});
