/**
 * `import 'vitlin'` stays light: onnxruntime-node and the server's dependencies are loaded on first use,
 * not at import. Observed in a fresh Node process on the compiled package (CommonJS dependencies show
 * up in the module cache once loaded).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUILD_TIMEOUT_MS, MODELS, ROOT, ensureBuilt } from '../cli/helpers.js';

beforeAll(() => ensureBuilt(), BUILD_TIMEOUT_MS);

function loadedAfter(script: string): { onnxruntime: boolean; promClient: boolean } {
  const probe = `
    const { createRequire } = await import('node:module');
    const vitlin = await import(${JSON.stringify(join(ROOT, 'dist/src/index.js'))});
    ${script}
    const cache = Object.keys(createRequire(import.meta.url).cache);
    console.log(JSON.stringify({ onnxruntime: cache.some((k) => k.includes('/onnxruntime-node/')), promClient: cache.some((k) => k.includes('/prom-client/')) }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

describe('lazy loading', () => {
  it('importing the package and reading a model loads neither onnxruntime nor the server', () => {
    expect(loadedAfter(`await vitlin.loadModel(${JSON.stringify(join(MODELS, 'timm_vit.onnx'))});`)).toEqual({ onnxruntime: false, promClient: false });
  });

  it('creating a session loads onnxruntime; starting the server loads the server', () => {
    expect(loadedAfter(`await (await vitlin.createSession(${JSON.stringify(join(MODELS, 'timm_vit.onnx'))})).release();`)).toEqual({ onnxruntime: true, promClient: false });
    expect(loadedAfter(`const s = await vitlin.startServer({ models: [${JSON.stringify(join(MODELS, 'timm_vit.onnx'))}], port: 0, log: false }).catch(() => undefined); await s?.close();`).promClient).toBe(true);
  });
});
