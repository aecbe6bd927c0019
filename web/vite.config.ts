/**
 * The web app: `npx vite build --config web/vite.config.ts` → web/dist; `npx vite preview --config
 * web/vite.config.ts` (or `vite` for dev) serves it on http://127.0.0.1:4173 (5173 for dev).
 */
import { resolve } from 'node:path';
import { defaultClientConditions, defineConfig } from 'vite';
import { ISOLATION_HEADERS, vitlinAssets } from './vite-assets.js';

export default defineConfig({
  root: import.meta.dirname,
  base: './',
  publicDir: false,
  resolve: {
    // onnxruntime-web's "extern wasm" build: the WASM glue (.mjs) and binary are loaded at run time
    // from env.wasm.wasmPaths (our own origin) instead of being inlined into the bundle.
    conditions: ['onnxruntime-web-use-extern-wasm', ...defaultClientConditions],
  },
  build: {
    outDir: resolve(import.meta.dirname, 'dist'),
    emptyOutDir: true,
    target: 'es2022',
    reportCompressedSize: false,
  },
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  server: { host: '127.0.0.1', headers: ISOLATION_HEADERS },
  preview: { host: '127.0.0.1', headers: ISOLATION_HEADERS },
  plugins: [vitlinAssets()],
});
