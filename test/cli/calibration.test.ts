/**
 * `vitlin convert --calibration` end to end, as a user runs it: NumPy inputs, the refit report (per
 * block: branch error before / after, top-1 on the held-out selection part) in text and --json, the
 * extended basis, `--blocks auto` choosing on held-out inputs, and the usage errors of the new flags.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODELS, BUILD_TIMEOUT_MS, ensureBuilt, expectOneLineError, tempFolder, vitlin } from './helpers.js';

const tmp = tempFolder();
const out = (name: string) => join(tmp.path, name);
const model = join(MODELS, 'fmnist_softmax.onnx');
const npz = join(MODELS, 'data', 'fashion-mnist-train-2000.npz');
beforeAll(() => ensureBuilt(), BUILD_TIMEOUT_MS);
afterAll(() => tmp.cleanup());

describe('vitlin convert --calibration', () => {
  it('refits every block on a .npz, reports per block on the held-out part (--json)', async () => {
    const r = await vitlin(['convert', model, '-o', out('refit.onnx'), '--attention', 'linear-angular', '--calibration', npz,
      '--calibration-count', '40', '--calibration-basis', 'extended', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const { calibration } = JSON.parse(r.stdout);
    expect(calibration.basis).toBe('extended');
    expect(calibration.fitting).toMatch(/items 0–29 \(30\) of fashion-mnist-train-2000.npz \(40 inputs\)/);
    expect(calibration.selection).toMatch(/items 30–39 \(10\)/);
    expect(calibration.blocks.map((b: { index: number }) => b.index)).toEqual([0, 1, 2]);
    for (const b of calibration.blocks) {
      expect(b.mseAfter).toBeLessThan(b.mseBefore);
      expect(b.driftCorrected).toBe(true);
      expect(b.selectionTop1).toBeGreaterThanOrEqual(0);
    }
    expect(calibration.with.items).toBe(10);
    expect(calibration.with.accuracy.converted).toBeGreaterThan(calibration.without.accuracy.converted);
  }, 300_000);

  it('--blocks auto fits on one part, chooses on the other, and prints the curve and the per-block table', async () => {
    const r = await vitlin(['convert', model, '-o', out('auto.onnx'), '--attention', 'linear-angular', '--blocks', 'auto', '--budget', '10%',
      '--calibration', npz, '--calibration-count', '40']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/output-projection refit, sequential/);
    expect(r.stdout).toMatch(/fitted on items 0–19 \(20\) .*; measured on items 20–39 \(20\)/);
    expect(r.stdout).toMatch(/trade-off \(greedy, 7 evaluations; budget top-1 drop ≤ 10%\)/);
    expect(r.stdout).toMatch(/#\d plain: branch error \(relative\) \d\.\d\de-\d → \d\.\d\de-\d; top-1 on the held-out part \d+\.\d %/);
  }, 300_000);

  it.each([
    ['an unknown basis', ['--calibration', npz, '--calibration-basis', 'huge'], 2, /--calibration-basis: unknown value 'huge' \(expected plain \| extended\)/],
    ['a basis without calibration', ['--calibration-basis', 'extended'], 2, /--calibration-basis goes with --calibration/],
    ['an unknown calibration EP', ['--calibration', npz, '--calibration-ep', 'cuda'], 2, /--calibration-ep: unknown value 'cuda' \(expected cpu \| webgpu \| wasm\)/],
    ['a calibration EP without calibration', ['--calibration-ep', 'wasm'], 2, /--calibration-ep goes with --calibration/],
    ['a .npy of the wrong layout', ['--calibration', join(MODELS, 'data', 'fashion-mnist-train-2000-labels.npy')], 1, /fashion-mnist-train-2000-labels.npy: shape \(2000\); input 'pixel_values' expects \[N, 1, 28, 28\]/],
  ] as const)('%s is refused with one line', async (_what, args, code, message) => {
    const r = await vitlin(['convert', model, '-o', out('never.onnx'), '--attention', 'hydra', ...args]);
    expect(r.code).toBe(code);
    expect(expectOneLineError(r)).toMatch(message);
  });
});
