/** `vitlin demo` (npm start): one table over the bundled models, and graceful when models are missing. */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_TIMEOUT_MS, MODELS, ensureBuilt, expectOneLineError, tempFolder, vitlin } from './helpers.js';

const empty = tempFolder();
beforeAll(() => {
  ensureBuilt();
  // A models folder with the manifest and the sample but no trained model in it.
  copyFileSync(join(MODELS, 'manifest.json'), join(empty.path, 'manifest.json'));
  mkdirSync(join(empty.path, 'data'));
  copyFileSync(join(MODELS, 'data', 'fashion-mnist-test-1000.bin'), join(empty.path, 'data', 'fashion-mnist-test-1000.bin'));
}, BUILD_TIMEOUT_MS);
afterAll(() => empty.cleanup());

describe('vitlin demo', () => {
  it('converts, verifies and benchmarks the bundled models in one table', async () => {
    const started = Date.now();
    // Few calibration images keep it quick; `npm start` uses 1000.
    const r = await vitlin(['demo', '--runs', '10', '--calibration-count', '96', '--json'], { timeoutMs: 300_000 });
    expect(r.code, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as { model: string; step: string; accuracy?: number; accuracyBefore?: number; top1Agreement?: number; maxAbsError?: number; medianMs?: number; note?: string }[];
    const models = rows.map((row) => row.model).filter(Boolean);
    expect(models).toEqual(['fmnist_softmax6', 'fmnist_softmax', 'fmnist_hydra', 'fmnist_hydra_last2', 'fmnist_castling_train', 'fmnist_castling']);
    for (const row of rows) {
      // Every row has figures, or says why not (a model still training): nothing is silently empty.
      expect(row.accuracy !== undefined || row.note !== undefined, JSON.stringify(row)).toBe(true);
      if (row.step.startsWith('→') && row.accuracy !== undefined) {
        expect(row.top1Agreement).toBeGreaterThan(0);
        expect(row.medianMs).toBeGreaterThan(0);
      }
      if (row.step.startsWith('→ exact fusion') && row.accuracy !== undefined) {
        expect(row.accuracy).toBe(row.accuracyBefore);
        expect(row.maxAbsError).toBeLessThan(1e-3);
      }
    }
    expect(Date.now() - started).toBeLessThan(240_000);
  }, 300_000);

  it('says what is missing and still succeeds when no trained model is there', async () => {
    const r = await vitlin(['demo', '--models-dir', empty.path, '--runs', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^vitlin demo: Fashion-MNIST ViTs on the bundled test sample \(1000 images\)/);
    expect(r.stdout.match(/not in models\/ yet/g)).toHaveLength(6);
  });

  it('fails with one line when the models folder has no manifest', async () => {
    const r = await vitlin(['demo', '--models-dir', join(empty.path, 'data')]);
    expect(r.code).toBe(1);
    expect(expectOneLineError(r)).toMatch(/--models-dir: no manifest\.json in/);
  });
});
