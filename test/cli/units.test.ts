/**
 * In-process checks of the pieces the commands are built from: argument parsing, shape inference
 * (against onnxruntime's own shapes), calibration fits (they must recover known coefficients), the
 * greedy block search, and latency statistics.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hydraAttentionReference, linearAngularAttentionReference } from '../../custom-ops/index.js';
import { inferShapes, resolveShape } from '../../graph-rewrite/analysis/index.js';
import type { Value } from '../../graph-rewrite/ir/index.js';
import { analyseAttention, convertAttention } from '../../graph-rewrite/attention/index.js';
import { captureBlocks } from '../../src/calibration/capture.js';
import { fitHydraScale, fitLinearAngularWeights, softmaxAttention, type BlockCapture } from '../../src/calibration/fit.js';
import { parseBlockSelection } from '../../src/cli/args.js';
import { greedySelect } from '../../src/eval/auto-select.js';
import { breakdownFromProfile, latencyStats, quantile } from '../../src/runtime/bench.js';
import { randomInputs } from '../../src/eval/inputs.js';
import { loadModel, modelToBytes } from '../../src/model-io.js';
import { createSession, gaussian, randomFeeds, seededRandom } from '../../src/runtime/index.js';
import { nodeBackend } from '../../src/runtime/node-backend.js';
import { MODELS, manifest } from './helpers.js';

describe('--blocks parsing', () => {
  const ok: [string, number, unknown][] = [
    ['all', 4, { kind: 'all' }], ['none', 4, { kind: 'none' }], ['auto', 4, { kind: 'auto' }],
    ['0,3', 4, { kind: 'list', indices: [0, 3] }], ['3,1-2,1', 4, { kind: 'list', indices: [1, 2, 3] }], [' 10-11 ', 12, { kind: 'list', indices: [10, 11] }],
  ];
  it.each(ok)('%s of %i blocks', (spec, count, expected) => expect(parseBlockSelection(spec, count)).toEqual(expected));
  const bad: [string, number, string][] = [
    ['12', 12, '--blocks: block 12 is out of range 0-11'], ['0-12', 12, '--blocks: block 12 is out of range 0-11'],
    ['0', 0, '--blocks: block 0 is out of range: the model has no attention blocks'], ['3-1', 4, "--blocks: range '3-1' is backwards"],
    ['x', 4, "--blocks: expected all, none, auto or a list like 0,3,10-11, got 'x'"], ['1,,2', 4, "got '1,,2'"],
  ];
  it.each(bad)('%s of %i blocks is refused', (spec, count, message) => expect(() => parseBlockSelection(spec, count)).toThrow(message));
});

describe('shape inference', () => {
  it.each(manifest().models.map((m) => [m.name, m.file]))('%s: every inferred shape is the one onnxruntime computes', async (_, file) => {
    const model = await loadModel(join(MODELS, file));
    const info = inferShapes(model.graph);
    const shapeOf = (v: Value) => resolveShape(info.shapeOf(v), { batch: 2, sequence: 8 });
    const values = model.graph.nodes.flatMap((n) => n.outputs).filter((v) => v.name && !v.isGraphOutput());
    for (const v of values) model.graph.addOutput(v);
    const session = await createSession(modelToBytes(model), { graphOptimizationLevel: 'disabled' });
    const outputs = await session.run(randomFeeds(session.inputs, { dims: { batch: 2, sequence: 8 } }));
    await session.release();
    let compared = 0;
    for (const v of model.graph.nodes.flatMap((n) => n.outputs)) {
      const tensor = outputs[v.name!];
      if (!tensor) continue;
      expect(shapeOf(v), `${v.name} (${v.producer()?.opType})`).toEqual([...tensor.dims]);
      compared++;
    }
    expect(compared).toBeGreaterThan(20);
  });
});

function randomCapture(items: number, tokens: number, features: number, seed: number): Omit<BlockCapture, 'target'> {
  const next = gaussian(seededRandom(seed));
  const make = () => Float32Array.from({ length: items * tokens * features }, next);
  return { items, tokens, features, q: make(), k: make(), v: make() };
}

describe('calibration fits', () => {
  it('Hydra: least squares recovers a known per-feature scale exactly', () => {
    const c = randomCapture(3, 10, 8, 1);
    const scale = Float32Array.from({ length: 8 }, (_, f) => 0.5 + f / 4);
    const target = hydraAttentionReference({ data: c.q, dims: [3, 10, 8] }, { data: c.k, dims: [3, 10, 8] }, { data: c.v, dims: [3, 10, 8] }, { scale }).data;
    const fit = fitHydraScale({ ...c, target });
    fit.coefficients.forEach((s, f) => expect(s).toBeCloseTo(scale[f]!, 4));
    expect(fit.mseAfter).toBeLessThan(1e-10);
    expect(fit.mseBefore).toBeGreaterThan(1e-3);
  });

  it.each(['kernel_normalized', 'reference'] as const)('linear-angular (%s): recovers known per-head ratios b/a', (mode) => {
    const c = randomCapture(4, 12, 8, 2);
    const valueWeight = [0.5, 0.5];
    const angularWeight = [0.1, mode === 'reference' ? 2.5 : -0.4];
    const dims = [4, 12, 8];
    const target = linearAngularAttentionReference({ data: c.q, dims }, { data: c.k, dims }, { data: c.v, dims }, { numHeads: 2, mode, valueWeight, angularWeight }).data;
    const fit = fitLinearAngularWeights({ ...c, target }, 2, mode);
    [0, 1].forEach((h) => expect(fit.coefficients.angularWeight[h]! / fit.coefficients.valueWeight[h]!).toBeCloseTo(angularWeight[h]! / valueWeight[h]!, 3));
    expect(fit.mseAfter).toBeLessThan(fit.mseBefore * 1e-4);
  });

  it('softmax target: with one token per item the output is v itself', () => {
    const c = randomCapture(2, 1, 4, 3);
    expect(Array.from(softmaxAttention(c.q, c.k, c.v, 2, 1, 4, 2, 0.5))).toEqual(Array.from(c.v).map((x) => Math.fround(x)));
  });
});

describe('--blocks auto search', () => {
  // Block costs: converting block b loses drop[b] of top-1; losses add up.
  const drop = [0.004, 0.001, 0.02, 0.002];
  const evaluate = async (blocks: readonly number[]) => ({ top1Drop: blocks.reduce((s, b) => s + drop[b]!, 0), cosine: 1 - blocks.length / 10, flops: 100 - blocks.length });
  it('adds the least harmful block first and stops at the budget', async () => {
    const result = await greedySelect([0, 1, 2, 3], evaluate, { maxTop1Drop: 0.01 });
    expect(result.rows.map((r) => r.added)).toEqual([undefined, 1, 3, 0, 2]);
    expect(result.chosen).toEqual([0, 1, 3]);
    expect(result.rows.map((r) => r.withinBudget)).toEqual([true, true, true, true, false]);
    expect(result.evaluations).toBe(1 + 4 + 3 + 2 + 1);
  });
  it('with --min-cosine', async () => {
    const result = await greedySelect([0, 1, 2, 3], evaluate, { minCosine: 0.75 });
    expect(result.chosen).toEqual([1, 3]);
  });
});

describe('bench statistics', () => {
  it('quantiles interpolate; throughput is batch per median second', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 0.9)).toBe(10);
    expect(latencyStats([4, 1, 3, 2], 8)).toMatchObject({ runs: 4, medianMs: 2.5, minMs: 1, meanMs: 2.5, throughput: 3200 });
  });
  it('the profile breakdown skips warm-up runs and attributes attention by node name', () => {
    const node = (name: string, op: string, ts: number, dur: number) => ({ cat: 'Node', name: `${name}_kernel_time`, ts, dur, args: { op_name: op } });
    const events = [
      node('/a/MatMul', 'MatMul', 1, 500), { cat: 'Session', name: 'model_run', ts: 0, dur: 10 },
      node('/a/MatMul', 'MatMul', 11, 100), node('/attn/Softmax', 'Softmax', 12, 30), node('_inlfunc_HydraAttention_x/y', 'Mul', 13, 20),
      node('/attn/MatMul/MatMulScaleFusion/', 'FusedMatMul', 14, 50), { cat: 'Session', name: 'model_run', ts: 10, dur: 10 },
    ];
    const names = new Set(['/attn/Softmax', '/attn/MatMul']);
    const b = breakdownFromProfile(events, (n) => names.has(n) || n.startsWith('_inlfunc_') || n.startsWith('/attn/MatMul/'), 1);
    expect(b.runs).toBe(1);
    expect(b.kernelMs).toBeCloseTo(0.2, 9);
    expect(b.attentionMs).toBeCloseTo(0.1, 9);
    expect(b.ops[0]).toEqual({ opType: 'MatMul', ms: 0.1, nodes: 1 });
  });
  it('the model manifest is what the tests think it is', () => {
    expect(JSON.parse(readFileSync(join(MODELS, 'manifest.json'), 'utf8')).models.length).toBeGreaterThanOrEqual(13);
  });
});

describe('calibration capture', () => {
  /**
   * The softmax target computed from the captured q, k, v must be what the original block outputs:
   * this checks the grafted q/k/v nodes, the heads ordering and the scale, per exporter style.
   */
  it.each(['timm_vit', 'hf_vit_op12', 'clip_vit', 'sdpa_vit', 'deit_vit', 'ms_attention_vit'])('%s: target = the original block output', async (name) => {
    const original = await loadModel(join(MODELS, `${name}.onnx`));
    const analysis = analyseAttention(original);
    const converted = convertAttention(original, { attention: 'hydra' });
    const inputs = randomInputs(3, 7);
    const captures = await captureBlocks(original, converted.model, converted.converted.map((b) => ({ heads: b.heads, scale: b.scale.value })), inputs, { backend: nodeBackend });
    // The value each block's merged-heads output replaces, exposed on a copy of the original ([B, N, D] for these styles).
    const probe = await loadModel(join(MODELS, `${name}.onnx`));
    const byName = new Map(probe.graph.nodes.flatMap((n) => n.outputs).map((v) => [v.name, v]));
    const targets = analysis.matches.map((m) => byName.get(m.value.output.value.name)!);
    for (const t of targets) probe.graph.addOutput(t);
    const session = await nodeBackend.createSession(modelToBytes(probe));
    const runs: Record<string, { data: unknown }>[] = [];
    for (let item = 0; item < 3; item++) runs.push(await session.run(inputs.feeds(session.inputs, item, 1))); // batch 1 models too
    await session.release();
    captures.forEach((capture, i) => {
      const actual = Float32Array.from(runs.flatMap((r) => [...(r[targets[i]!.name!]!.data as Float32Array)]));
      expect(actual.length).toBe(capture.target.length);
      let max = 0;
      actual.forEach((x, j) => { max = Math.max(max, Math.abs(x - capture.target[j]!)); });
      expect(max).toBeLessThan(1e-4);
    });
  });
});
