/** `vitlin verify`: end to end on fixtures, and its bad-input contract. */
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODELS, SAMPLE, BUILD_TIMEOUT_MS, ensureBuilt, expectOneLineError, tempFolder, vitlin } from './helpers.js';

const tmp = tempFolder();
beforeAll(() => {
  ensureBuilt();
  writeFileSync(join(tmp.path, 'not-onnx.onnx'), 'this is not a protobuf model\n');
  copyFileSync(join(MODELS, 'timm_vit.onnx'), join(tmp.path, 'copy.onnx'));
}, BUILD_TIMEOUT_MS);
afterAll(() => tmp.cleanup());

describe('vitlin verify', () => {
  it('reports zero error for a model against an identical copy, on random inputs', async () => {
    const r = await vitlin(['verify', join(MODELS, 'timm_vit.onnx'), join(tmp.path, 'copy.onnx'), '--json', '--count', '4']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ items: 4, maxAbsError: 0, meanAbsError: 0, top1Agreement: 1, ep: 'cpu' });
    expect(report.cosine).toBeCloseTo(1, 12);
    expect(report.accuracy).toBeUndefined();
  });

  it('measures a real difference between two different models', async () => {
    const r = await vitlin(['verify', join(MODELS, 'hf_vit_op12.onnx'), join(MODELS, 'timm_vit.onnx'), '--json', '--count', '8']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.maxAbsError).toBeGreaterThan(0.01);
    expect(report.cosine).toBeLessThan(0.999);
  });

  it('reports accuracy on the labelled sample file, and the text report names the inputs', async () => {
    const r = await vitlin(['verify', join(MODELS, 'fmnist_softmax.onnx'), join(MODELS, 'fmnist_softmax.onnx'), '--inputs', SAMPLE, '--count', '200']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('fashion-mnist-test-1000.bin (200 images)');
    expect(r.stdout).toMatch(/accuracy\s+(\d+\.\d) % → \1 % \(\+0\.0 points\)/);
    expect(r.stdout).toMatch(/top-1 agreement\s+100\.0 %/);
  });

  it('--tolerance fails (exit 1) when the error is above it, with a one-line reason', async () => {
    const r = await vitlin(['verify', join(MODELS, 'hf_vit_op12.onnx'), join(MODELS, 'timm_vit.onnx'), '--count', '2', '--tolerance', '1e-6']);
    expect(r.code).toBe(1);
    expect(expectOneLineError(r)).toMatch(/above --tolerance 1e-6/);
  });

  const bad: [string, string[], number, RegExp][] = [
    ['a missing file', ['verify', 'nope.onnx', join(MODELS, 'timm_vit.onnx')], 1, /nope\.onnx: no such file/],
    ['a non-ONNX file', ['verify', join(tmp.path, 'not-onnx.onnx'), join(MODELS, 'timm_vit.onnx')], 1, /not-onnx\.onnx/],
    ['one model only', ['verify', join(MODELS, 'timm_vit.onnx')], 2, /missing <converted>/],
    ['an unknown --ep', ['verify', join(MODELS, 'timm_vit.onnx'), join(MODELS, 'timm_vit.onnx'), '--ep', 'tpu'], 2, /--ep: unknown value 'tpu'/],
    ['a bad --count', ['verify', join(MODELS, 'timm_vit.onnx'), join(MODELS, 'timm_vit.onnx'), '--count', 'many'], 2, /--count: expected an integer/],
    ['an unknown flag', ['verify', join(MODELS, 'timm_vit.onnx'), join(MODELS, 'timm_vit.onnx'), '--frobnicate'], 2, /frobnicate/],
    ['a missing --inputs path', ['verify', join(MODELS, 'timm_vit.onnx'), join(MODELS, 'timm_vit.onnx'), '--inputs', 'nowhere.bin'], 1, /--inputs: 'nowhere\.bin': no such file/],
    ['a sample that does not fit the model', ['verify', join(MODELS, 'timm_vit.onnx'), join(MODELS, 'timm_vit.onnx'), '--inputs', SAMPLE], 1, /images are 1×28×28, but input 'pixel_values' expects 3×32×32/],
    ['--labels with random inputs', ['verify', join(MODELS, 'timm_vit.onnx'), join(MODELS, 'timm_vit.onnx'), '--labels', 'x.txt'], 2, /--labels needs --inputs <image folder>/],
  ];
  it.each(bad)('fails on %s with a one-line error and the right exit code', async (_, args, code, message) => {
    const r = await vitlin(args);
    expect(r.code).toBe(code);
    expect(expectOneLineError(r)).toMatch(message);
    expect(r.stdout).toBe('');
  });
});
