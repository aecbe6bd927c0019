/**
 * The library's browser build: `npx vite build --config web/vite.lib.config.ts` → dist/web/vitlin-web.js,
 * one ESM file from src/web/index.ts for bundlers and <script type="module">. onnxruntime-web stays an
 * import (the app that uses it serves its WASM files). test/web/bundle.test.ts builds it and checks that
 * it pulls in no Node built-in.
 */
import { resolve } from 'node:path';
import { defineConfig } from 'vite';

export const LIB_ENTRY = resolve(import.meta.dirname, '../src/web/index.ts');

export default defineConfig({
  publicDir: false,
  logLevel: 'warn',
  build: {
    lib: { entry: LIB_ENTRY, formats: ['es'], fileName: () => 'vitlin-web.js' },
    outDir: resolve(import.meta.dirname, '../dist/web'),
    emptyOutDir: true,
    target: 'es2022',
    minify: false,
    sourcemap: true,
    rolldownOptions: { external: [/^onnxruntime-web(\/|$)/] },
  },
});
