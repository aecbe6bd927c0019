/**
 * The trained Fashion-MNIST ViTs: converting the softmax model costs real accuracy (measured on the
 * bundled sample), fusing the Hydra / Castling-trained ones exactly costs none. Each case runs once its
 * model is in models/ and fails when the manifest lists a model that is not there.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODELS, SAMPLE, BUILD_TIMEOUT_MS, ensureBuilt, manifestModel, tempFolder, vitlin } from './helpers.js';

const tmp = tempFolder();
beforeAll(() => ensureBuilt(), BUILD_TIMEOUT_MS);
afterAll(() => tmp.cleanup());

/** The model's path when it exists; throws when the manifest lists it but the file is missing. */
function trained(name: string): string | undefined {
  const entry = manifestModel(name); // throws if listed but missing
  const path = join(MODELS, entry?.file ?? `${name}.onnx`);
  return existsSync(path) ? path : undefined;
}

const softmax = trained('fmnist_softmax');

describe('trained Fashion-MNIST models', () => {
  it('has the trained softmax model (committed in models/)', () => expect(softmax).toBeTruthy());

  it.each(['hydra', 'linear-angular'])('softmax → %s: verify reports the real accuracy drop', async (op) => {
    const out = join(tmp.path, `softmax-${op}.onnx`);
    const c = await vitlin(['convert', softmax!, '-o', out, '--attention', op]);
    expect(c.code, c.stderr).toBe(0);
    const v = await vitlin(['verify', softmax!, out, '--inputs', SAMPLE, '--json']);
    expect(v.code, v.stderr).toBe(0);
    const report = JSON.parse(v.stdout);
    expect(report.items).toBe(1000);
    expect(report.accuracy.original).toBeGreaterThan(0.75); // the trained model (≈ 82 %)
    // Without retraining the conversion changes the model: a drop of many points, measured, not hidden.
    expect(report.accuracy.original - report.accuracy.converted).toBeGreaterThan(0.05);
    expect(report.top1Agreement).toBeLessThan(0.95);
    expect(report.maxAbsError).toBeGreaterThan(0.1);
  });

  it('--blocks auto prints the trade-off table and keeps within the budget', async () => {
    const out = join(tmp.path, 'auto.onnx');
    const r = await vitlin(['convert', softmax!, '-o', out, '--attention', 'linear-angular', '--blocks', 'auto', '--budget', '5%',
      '--calibration', SAMPLE, '--calibration-count', '80']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/trade-off \(greedy, 7 evaluations; budget top-1 drop ≤ 5%\)/);
    const rows = r.stdout.split('\n').filter((l) => /^\s+[0-3]\s+(—|\+\d)/.test(l));
    expect(rows).toHaveLength(4); // 0, 1, 2, 3 blocks converted
    const chosen = rows.find((l) => l.includes('◀ chosen'))!;
    expect(chosen).toMatch(/\byes\b/);
    const drop = Number(/(\d+\.\d) %\s+-?\d\.\d{4}/.exec(chosen.split(/\s{2,}/).slice(3).join('  '))![1]);
    expect(drop).toBeLessThanOrEqual(5);
    const json = JSON.parse((await vitlin(['inspect', out, '--json'])).stdout);
    expect(json.blocks.length).toBe(3 - Number(chosen.trim().split(/\s+/)[0])); // the rest stay softmax
  }, 300_000);

  it('inspect lists the decomposed Hydra blocks of fmnist_hydra_last2 beside its softmax block', async (ctx) => {
    const path = trained('fmnist_hydra_last2');
    if (!path) return ctx.skip('fmnist_hydra_last2 is not in models/ yet');
    const report = JSON.parse((await vitlin(['inspect', path, '--json'])).stdout);
    expect(report.blocks.map((b: { index: number; convertible: boolean }) => [b.index, b.convertible])).toEqual([[0, true]]);
    expect(report.decomposed.map((b: { kind: string; heads: number; headDim: number; tokens: number; fusable: boolean }) => [b.kind, b.heads, b.headDim, b.tokens, b.fusable]))
      .toEqual([['hydra', 64, 1, 50, true], ['hydra', 64, 1, 50, true]]);
    // Two Hydra blocks at 4·N·D each, plus the softmax block's 4·N²·D + N²·H.
    expect(report.flops.softmax.attention).toBe(2 * 4 * 50 * 64 + (4 * 50 * 50 * 64 + 50 * 50 * 4));
  });

  /** Exact fusion: the fused model computes what the decomposed one did. */
  it.for(['fmnist_hydra', 'fmnist_hydra_last2', 'fmnist_castling_train', 'fmnist_castling'])('%s: exact fusion keeps accuracy', async (name, ctx) => {
    const path = trained(name);
    if (!path) return ctx.skip(`${name} is not in models/ yet`);
    const out = join(tmp.path, `${name}-fused.onnx`);
    const c = await vitlin(['convert', path, '-o', out, '--blocks', 'none', '--json']);
    expect(c.code, c.stderr).toBe(0);
    const report = JSON.parse(c.stdout);
    if (!report.fusion.available) return ctx.skip('exact fusion is not in this build yet');
    expect(report.fusion.fused.length).toBeGreaterThan(0);
    const v = await vitlin(['verify', path, out, '--inputs', SAMPLE, '--json']);
    expect(v.code, v.stderr).toBe(0);
    const fidelity = JSON.parse(v.stdout);
    expect(fidelity.accuracy.converted).toBe(fidelity.accuracy.original);
    expect(fidelity.top1Agreement).toBe(1);
    expect(fidelity.maxAbsError).toBeLessThan(1e-3);
    // --no-fuse leaves the decomposed blocks alone: the model is re-saved unchanged.
    const kept = join(tmp.path, `${name}-kept.onnx`);
    expect((await vitlin(['convert', path, '-o', kept, '--blocks', 'none', '--no-fuse'])).code).toBe(0);
    expect(readFileSync(kept).equals(readFileSync(path))).toBe(true);
  });
});
