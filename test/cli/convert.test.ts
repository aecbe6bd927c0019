/** `vitlin convert` end to end on the fixtures: every exporter style, both ops, flags, and the bad-input contract. */
import { copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encode } from 'fast-png';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODELS, BUILD_TIMEOUT_MS, ensureBuilt, expectOneLineError, manifest, tempFolder, vitlin } from './helpers.js';

const tmp = tempFolder();
const out = (name: string) => join(tmp.path, name);
beforeAll(() => {
  ensureBuilt();
  copyFileSync(join(MODELS, 'timm_vit.onnx'), out('input.onnx'));
  symlinkSync(out('input.onnx'), out('link.onnx'));
  writeFileSync(out('not-onnx.onnx'), 'plain text, not a model');
  writeFileSync(out('a-file'), 'x');
  // 6 small RGB images with labels, for image-folder calibration.
  mkdirSync(out('images'));
  const lines: string[] = [];
  for (let i = 0; i < 6; i++) {
    const data = Uint8Array.from({ length: 40 * 40 * 3 }, (_, j) => (j * (i + 3) * 7) % 256);
    writeFileSync(out(`images/img${i}.png`), encode({ width: 40, height: 40, data, channels: 3, depth: 8 }));
    lines.push(`img${i}.png ${i % 10}`);
  }
  writeFileSync(out('labels.txt'), lines.join('\n'));
}, BUILD_TIMEOUT_MS);
afterAll(() => tmp.cleanup());

const convertible = manifest().models.filter((m) => m.expect === 'convert' && !m.trained);

describe('vitlin convert', () => {
  const cases = convertible.flatMap((m) => (['hydra', 'linear-angular'] as const).map((op) => [m.name, op, m] as const));
  it.each(cases)('%s → %s: converts every block, loads in onnxruntime, reports the check', async (name, op, entry) => {
    const target = out(`${name}-${op}.onnx`);
    const r = await vitlin(['convert', join(MODELS, entry.file), '-o', target, '--attention', op, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.converted.map((b: { index: number }) => b.index)).toEqual([...Array(entry.attention_blocks).keys()]);
    expect(report.flops.after.attention).toBeLessThan(report.flops.before.attention);
    expect(report.check.items).toBe(1);
    expect(report.check.cosine).toBeGreaterThan(-1);
    expect(Number.isFinite(report.check.maxAbsError)).toBe(true);
    expect(existsSync(target)).toBe(true);
    // The written file is what verify runs: onnxruntime must load it and see the same interface.
    const v = await vitlin(['verify', join(MODELS, entry.file), target, '--count', '2', '--json']);
    expect(v.code, v.stderr).toBe(0);
    const verified = JSON.parse(v.stdout);
    expect(verified.items).toBe(2);
    // Linear attention is not softmax: the random-weight fixtures' outputs change, by a finite amount.
    expect(verified.maxAbsError).toBeGreaterThan(1e-4);
    expect(Number.isFinite(verified.maxAbsError)).toBe(true);
    const inspected = JSON.parse((await vitlin(['inspect', target, '--json'])).stdout);
    expect(inspected.blocks).toHaveLength(0); // no softmax attention left
    expect(inspected.functions.join(' ')).toContain(op === 'hydra' ? 'ai.vitlin::HydraAttention' : 'ai.vitlin::LinearAngularAttention');
  });

  it('--blocks converts exactly the listed blocks; the text report says which', async () => {
    const r = await vitlin(['convert', join(MODELS, 'timm_vit.onnx'), '-o', out('block1.onnx'), '--attention', 'hydra', '--blocks', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/blocks\s+1 of 2 softmax blocks converted to hydra: 1\n/);
    expect(r.stdout).toMatch(/FLOPs\s+[\d.]+ [kM]FLOPs → [\d.]+ [kM]FLOPs \(0\.\d+×\); attention [\d.]+ kFLOPs → [\d.]+ kFLOPs/);
    expect(r.stdout).toMatch(/check\s+1 random input \(seed 1\): max \|Δ\| [\d.e+-]+, cosine/);
    const inspected = JSON.parse((await vitlin(['inspect', out('block1.onnx'), '--json'])).stdout);
    expect(inspected.blocks).toHaveLength(1); // block 0 is still softmax
  });

  it('--blocks none --no-fuse re-saves the model unchanged, byte for byte', async () => {
    const r = await vitlin(['convert', join(MODELS, 'clip_vit.onnx'), '-o', out('same.onnx'), '--blocks', 'none', '--no-fuse', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).converted).toEqual([]);
    expect(readFileSync(out('same.onnx')).equals(readFileSync(join(MODELS, 'clip_vit.onnx')))).toBe(true);
  });

  it('a model whose blocks cannot be converted is written unchanged, with the reasons', async () => {
    const r = await vitlin(['convert', join(MODELS, 'bert_mask.onnx'), '-o', out('bert.onnx'), '--attention', 'hydra']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/0 of 2 softmax blocks converted/);
    expect(r.stdout).toMatch(/skipped\s+block 0: .*attention mask/);
  });

  it('--external-data writes the weights next to the model, and the pair loads', async () => {
    const r = await vitlin(['convert', join(MODELS, 'hf_vit_op12.onnx'), '-o', out('ext.onnx'), '--attention', 'linear-angular', '--external-data']);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(out('ext.onnx.data'))).toBe(true);
    expect(readFileSync(out('ext.onnx')).length).toBeLessThan(readFileSync(join(MODELS, 'hf_vit_op12.onnx')).length / 4);
    expect((await vitlin(['verify', join(MODELS, 'hf_vit_op12.onnx'), out('ext.onnx'), '--count', '2'])).code).toBe(0);
  });

  it('--calibration on an image folder fits coefficients and reports fidelity with and without', async () => {
    const r = await vitlin(['convert', join(MODELS, 'timm_vit.onnx'), '-o', out('calibrated.onnx'), '--attention', 'linear-angular',
      '--calibration', out('images'), '--labels', out('labels.txt'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const { calibration } = JSON.parse(r.stdout);
    expect(calibration.inputs).toMatch(/images \(6 images\)/);
    expect(calibration.blocks).toHaveLength(2);
    for (const b of calibration.blocks) expect(b.mseAfter).toBeLessThanOrEqual(b.mseBefore);
    expect(calibration.without.accuracy).toBeDefined();
    const inspected = JSON.parse((await vitlin(['inspect', out('calibrated.onnx'), '--json'])).stdout);
    expect(inspected.functions).toEqual(['ai.vitlin::LinearAngularAttention']); // one calibrated body, no leftover
  });

  it('--inline-functions writes plain ONNX that computes the same as the fused model', async () => {
    const fused = out('fused.onnx');
    const inlined = out('inlined.onnx');
    expect((await vitlin(['convert', join(MODELS, 'timm_vit.onnx'), '-o', fused, '--attention', 'linear-angular'])).code).toBe(0);
    const r = await vitlin(['convert', join(MODELS, 'timm_vit.onnx'), '-o', inlined, '--attention', 'linear-angular', '--inline-functions']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/inlined\s+the fused ops were replaced by their function bodies/);
    const summary = JSON.parse((await vitlin(['inspect', inlined, '--json'])).stdout);
    expect(summary.functions).toEqual([]);
    expect(Object.keys(summary.opsets)).not.toContain('ai.vitlin');
    const v = JSON.parse((await vitlin(['verify', fused, inlined, '--count', '4', '--json'])).stdout);
    expect(v.maxAbsError).toBeLessThan(1e-5);
  });

  const timm = join(MODELS, 'timm_vit.onnx');
  const bad: [string, string[], number, RegExp, { cwd?: string }?][] = [
    ['a missing model', ['convert', out('missing.onnx'), '-o', out('x1.onnx'), '--attention', 'hydra'], 1, /missing\.onnx: no such file/],
    ['a non-ONNX model', ['convert', out('not-onnx.onnx'), '-o', out('x2.onnx'), '--attention', 'hydra'], 1, /not-onnx\.onnx/],
    ['an unknown --attention', ['convert', timm, '-o', out('x3.onnx'), '--attention', 'performer'], 2, /--attention: unknown value 'performer' \(expected hydra \| linear-angular\)/],
    ['no --attention', ['convert', timm, '-o', out('x4.onnx')], 2, /--attention is required/],
    ['--blocks out of range', ['convert', timm, '-o', out('x5.onnx'), '--attention', 'hydra', '--blocks', '0,2'], 2, /--blocks: block 2 is out of range 0-1/],
    ['a malformed --blocks', ['convert', timm, '-o', out('x6.onnx'), '--attention', 'hydra', '--blocks', 'first'], 2, /--blocks: expected all, none, auto or a list/],
    ['a non-convertible block by index', ['convert', join(MODELS, 'swin_window_relpos.onnx'), '-o', out('x7.onnx'), '--attention', 'hydra', '--blocks', '0'], 2, /--blocks: block 0 cannot be converted: .*relative-position bias/],
    ['no -o', ['convert', timm, '--attention', 'hydra'], 2, /-o\/--output is required/],
    ['an output folder that does not exist', ['convert', timm, '-o', out('no/such/dir/x.onnx'), '--attention', 'hydra'], 1, /cannot write .*does not exist/],
    ['an output under a file', ['convert', timm, '-o', out('a-file/x.onnx'), '--attention', 'hydra'], 1, /cannot write .*is not a folder/],
    ['an output that is a folder', ['convert', timm, '-o', out('images'), '--attention', 'hydra'], 1, /is a folder/],
    ['output = input (same path)', ['convert', out('input.onnx'), '-o', out('input.onnx'), '--attention', 'hydra'], 2, /is the input model; refusing to overwrite it/],
    ['output = input (relative spelling)', ['convert', out('input.onnx'), '-o', './input.onnx', '--attention', 'hydra'], 2, /refusing to overwrite/, { cwd: tmp.path }],
    ['output = input (through a symlink)', ['convert', out('input.onnx'), '-o', out('link.onnx'), '--attention', 'hydra'], 2, /refusing to overwrite/],
    ['--blocks auto without --calibration', ['convert', timm, '-o', out('x8.onnx'), '--attention', 'hydra', '--blocks', 'auto', '--budget', '1%'], 2, /--blocks auto needs --calibration/],
    ['--blocks auto without a budget', ['convert', timm, '-o', out('x9.onnx'), '--attention', 'hydra', '--blocks', 'auto', '--calibration', out('images')], 2, /exactly one of --budget/],
    ['--budget without auto', ['convert', timm, '-o', out('x10.onnx'), '--attention', 'hydra', '--budget', '1%'], 2, /--budget and --min-cosine go with --blocks auto/],
    ['a bad --budget', ['convert', timm, '-o', out('x11.onnx'), '--attention', 'hydra', '--blocks', 'auto', '--calibration', out('images'), '--budget', 'lots'], 2, /--budget: expected a fraction like 1%/],
    ['a missing --calibration file', ['convert', join(MODELS, 'fmnist_softmax.onnx'), '-o', out('x12.onnx'), '--attention', 'hydra', '--calibration', join(MODELS, 'data', 'nope.bin')], 1, /--calibration: .*no such file/],
  ];
  it.each(bad)('fails on %s: one-line error, right exit code, no file left', async (_, args, code, message, options) => {
    const before = tmp.files();
    const r = await vitlin(args, options);
    expect(r.code).toBe(code);
    expect(expectOneLineError(r)).toMatch(message);
    expect(r.stdout).toBe('');
    expect(tmp.files()).toEqual(before);
    expect(readFileSync(out('input.onnx')).equals(readFileSync(timm))).toBe(true);
  });
});
