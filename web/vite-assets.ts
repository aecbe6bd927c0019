/**
 * Vite plugin: serves (dev) and copies (build) what the page loads besides its own code — the bundled
 * fixture models, the Fashion-MNIST sample, and onnxruntime-web's WASM glue + binary — from where they
 * already are in the repository, so nothing is duplicated in git and nothing is fetched from a CDN.
 */
import { copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import type { Plugin } from 'vite';

const REPO = resolve(import.meta.dirname, '..');
const MODELS = join(REPO, 'models');
/** Fixtures over this size stay out of the page's assets (ViT-B sized benchmark models, say). */
const MAX_FIXTURE_BYTES = 2 * 1024 * 1024;
/** The files onnxruntime-web/webgpu loads at run time (its WASM build with the WebGPU EP). */
export const ORT_RUNTIME_FILES = ['ort-wasm-simd-threaded.asyncify.mjs', 'ort-wasm-simd-threaded.asyncify.wasm'];

interface ManifestModel {
  name: string;
  file: string;
  description?: string;
  expect?: string;
  dtype?: string;
  inputs?: unknown[];
  outputs?: unknown[];
  trained?: unknown;
}

/** Page path → absolute source path, and the page's fixture list (written as assets/fixtures.json). */
function collectAssets(): { files: Map<string, string>; fixtures: string } {
  const require = createRequire(import.meta.url);
  const manifest = JSON.parse(readFileSync(join(MODELS, 'manifest.json'), 'utf8')) as {
    sample: { file: string; normalization: unknown };
    models: ManifestModel[];
  };
  const files = new Map<string, string>();
  // onnxruntime-web exports these paths: resolve them the way a bundler would.
  for (const name of ORT_RUNTIME_FILES) files.set(`ort/${name}`, require.resolve(`onnxruntime-web/${name}`));
  files.set('assets/sample.bin', join(MODELS, manifest.sample.file));
  const models = [];
  for (const model of manifest.models) {
    const path = join(MODELS, model.file);
    const size = statSync(path, { throwIfNoEntry: false })?.size;
    if (size === undefined || size > MAX_FIXTURE_BYTES) continue;
    files.set(`assets/models/${model.file}`, path);
    models.push({
      name: model.name, file: `assets/models/${model.file}`, bytes: size, description: model.description ?? '',
      expect: model.expect ?? '', dtype: model.dtype ?? '', trained: model.trained !== undefined,
    });
  }
  // Trained models first: they are the ones whose predictions mean something on the sample.
  models.sort((a, b) => Number(b.trained) - Number(a.trained));
  return { files, fixtures: JSON.stringify({ sample: { file: 'assets/sample.bin', name: basename(manifest.sample.file), normalization: manifest.sample.normalization }, models }) };
}

/** Cross-origin isolation: SharedArrayBuffer, hence multi-threaded WASM in onnxruntime-web. */
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

const TYPES: Record<string, string> = { '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };

export function vitlinAssets(): Plugin {
  let outDir = '';
  return {
    name: 'vitlin-assets',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const path = decodeURIComponent((req.url ?? '').split('?')[0]!).replace(/^\/+/, '');
        const { files, fixtures } = collectAssets();
        const body = path === 'assets/fixtures.json' ? fixtures : files.has(path) ? readFileSync(files.get(path)!) : undefined;
        if (body === undefined) return next();
        res.setHeader('Content-Type', TYPES[path.slice(path.lastIndexOf('.'))] ?? 'application/octet-stream');
        // Vite adds server.headers only to what it serves itself; ORT's worker script needs them too
        // (a cross-origin-isolated page refuses a worker whose script lacks COEP).
        for (const [name, value] of Object.entries(ISOLATION_HEADERS)) res.setHeader(name, value);
        res.end(body);
      });
    },
    writeBundle() {
      const { files, fixtures } = collectAssets();
      for (const [target, source] of files) {
        mkdirSync(dirname(join(outDir, target)), { recursive: true });
        copyFileSync(source, join(outDir, target));
      }
      writeFileSync(join(outDir, 'assets/fixtures.json'), fixtures);
    },
  };
}
