/**
 * The sequential output-projection refit on the project's own 6-block softmax Fashion-MNIST ViT,
 * fitted on a few images of the training split and scored on test images it never saw: it beats the
 * earlier coefficient fit by a wide margin, the extended basis beats the plain refit, a block that is
 * already exact keeps its outputs, and the model written to disk is the one that was scored — on the
 * CPU and on WebGPU, with every node calibration added placed on WebGPU.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertAttention, findAttentionBlocks } from '../../graph-rewrite/attention/index.js';
import { fuseExactAttention } from '../../graph-rewrite/fusions/index.js';
import type { Model } from '../../graph-rewrite/ir/model.js';
import { applyFits, fitBlocks, SequentialRefitter, type ConvertBlocks } from '../../src/calibration/index.js';
import { parseSampleFile } from '../../src/data/sample-file.js';
import { tensorFileInputs } from '../../src/data/tensor-file.js';
import { fidelityOf, runModel, type ModelRun } from '../../src/eval/fidelity.js';
import { sampleInputs, type InputSet } from '../../src/eval/inputs.js';
import { loadModel, modelToBytes, saveModel } from '../../src/model-io.js';
import { measureNodePlacement, type ExecutionProvider } from '../../src/runtime/index.js';
import { nodeBackend, toOrtFeeds } from '../../src/runtime/node-backend.js';
import { tempFolder } from '../cli/helpers.js';
import { webGpuUnavailableReason } from '../support/webgpu.js';

const MODELS = join(import.meta.dirname, '..', '..', 'models');
const MODEL = process.env.VITLIN_REFIT_MODEL ?? 'fmnist_softmax6';
const FIT_IMAGES = 48;
const tmp = tempFolder();

let base: Model;
let fit: InputSet;
let test: InputSet;
let baseRun: ModelRun;
const mode = 'kernel_normalized' as const;
const convert: ConvertBlocks = (blocks) => {
  const r = convertAttention(base, { attention: 'linear-angular', linearAngularMode: mode, blocks });
  return { model: r.model, blocks: r.converted };
};
let all: number[];

async function run(model: Model | Uint8Array, inputs: InputSet, ep: ExecutionProvider = 'cpu'): Promise<ModelRun> {
  const session = await nodeBackend.createSession(model instanceof Uint8Array ? model : modelToBytes(model), { ep });
  try {
    return await runModel(session, inputs);
  } finally {
    await session.release();
  }
}
const accuracy = async (model: Model) => fidelityOf(baseRun, await run(model, test), test.labels).accuracy!.converted;

beforeAll(async () => {
  base = await loadModel(join(MODELS, `${MODEL}.onnx`));
  fit = tensorFileInputs(join(MODELS, 'data', 'fashion-mnist-train-2000.npz'), { inputShape: ['batch', 1, 28, 28], inputName: 'pixel_values', limit: FIT_IMAGES });
  const sample = parseSampleFile(readFileSync(join(MODELS, 'data', 'fashion-mnist-test-1000.bin')), 'sample');
  test = sampleInputs(sample, 'test sample', 0, 300);
  baseRun = await run(base, test);
  all = findAttentionBlocks(base).blocks.map((b) => b.index);
}, 120_000);
afterAll(() => tmp.cleanup());

describe(`sequential refit on ${MODEL} (linear-angular, every block)`, () => {
  const results: Record<string, number> = {};

  it('beats the per-head coefficient fit by a wide margin, on test images not fitted on', async () => {
    const converted = convertAttention(base, { attention: 'linear-angular', linearAngularMode: mode, blocks: all });
    const fits = await fitBlocks(base, converted.model, converted.converted.map((b) => ({ heads: b.heads, scale: b.scale.value })), fit, { attention: 'linear-angular', linearAngularMode: mode, backend: nodeBackend });
    applyFits(converted.model, fits);
    results.coefficients = await accuracy(converted.model);
    const refit = await new SequentialRefitter(base, convert, fit, { backend: nodeBackend }).model(all);
    results.plain = await accuracy(refit.model);
    expect(refit.fits.map((f) => f.block)).toEqual(all);
    for (const f of refit.fits) {
      expect(f.driftCorrected).toBe(true);
      expect(f.mseAfter).toBeLessThan(f.mseBefore);
    }
    const original = fidelityOf(baseRun, baseRun, test.labels).accuracy!.original;
    console.log(`${MODEL}: original ${original}, coefficient fit ${results.coefficients}, plain refit ${results.plain}`);
    expect(results.plain - results.coefficients).toBeGreaterThan(0.15);
  }, 300_000);

  it('the extended basis beats the plain refit', async () => {
    const refit = await new SequentialRefitter(base, convert, fit, { basis: 'extended', backend: nodeBackend }).model(all);
    results.extended = await accuracy(refit.model);
    console.log(`${MODEL}: extended refit ${results.extended}`);
    expect(refit.fits.every((f) => f.basis === 'extended')).toBe(true);
    expect(results.extended).toBeGreaterThan(results.plain!);
  }, 300_000);
});

describe('rows weighted by what the output reads (the class token)', () => {
  it('beat uniform rows on test images, fitted on 300 others', async () => {
    const more = tensorFileInputs(join(MODELS, 'data', 'fashion-mnist-train-2000.npz'), { inputShape: ['batch', 1, 28, 28], inputName: 'pixel_values', limit: 300 });
    const readout = await new SequentialRefitter(base, convert, more, { backend: nodeBackend }).model(all);
    const uniform = await new SequentialRefitter(base, convert, more, { weighting: 'uniform', backend: nodeBackend }).model(all);
    const [weighted, plain] = [await accuracy(readout.model), await accuracy(uniform.model)];
    console.log(`${MODEL}: plain refit on 300 images, readout-weighted ${weighted}, uniform ${plain}`);
    expect(readout.fits.at(-1)!.notes.some((n) => n.includes('token 0 only'))).toBe(true);
    expect(readout.fits[0]!.notes.some((n) => n.includes('weigh as much'))).toBe(true);
    expect(uniform.fits.every((f) => !f.notes.some((n) => n.includes('token')))).toBe(true);
    expect(weighted - plain).toBeGreaterThan(0.02);
  }, 300_000);
});

describe('refitting blocks that are already exact', () => {
  it('fmnist_hydra, fused exactly: the refit changes the logits by at most 1e-4', async () => {
    const decomposed = await loadModel(join(MODELS, 'fmnist_hydra.onnx'));
    const fused = fuseExactAttention(decomposed);
    const blocks = fused.fused.map((b) => ({ index: b.index, heads: b.heads, embedDim: b.heads * b.headDim, tokens: 50 }));
    const refit = await new SequentialRefitter(decomposed, () => ({ model: fuseExactAttention(decomposed).model, blocks }), fit, { backend: nodeBackend }).model(blocks.map((b) => b.index));
    const before = await run(fused.model, test);
    const after = await run(refit.model, test);
    expect(fidelityOf(before, after).maxAbsError).toBeLessThanOrEqual(1e-4);
  }, 300_000);

  it('a strong ridge keeps the original projection, or with shrinkToward zero, pulls the weights to zero', async () => {
    const decomposed = await loadModel(join(MODELS, 'fmnist_hydra.onnx'));
    const fused = fuseExactAttention(decomposed);
    const blocks = fused.fused.map((b) => ({ index: b.index, heads: b.heads, embedDim: b.heads * b.headDim, tokens: 50 }));
    const refit = (shrinkToward: 'original' | 'zero') => new SequentialRefitter(decomposed, () => ({ model: fuseExactAttention(decomposed).model, blocks }),
      { ...fit, count: 8 }, { backend: nodeBackend, lambda: 1e6, shrinkToward }).refits([blocks[0]!.index]);
    const [toOriginal] = await refit('original');
    const [toZero] = await refit('zero');
    const features = toZero!.features * toZero!.outFeatures;
    const norm = (w: Float64Array) => Math.sqrt(w.subarray(0, features).reduce((a, x) => a + x * x, 0));
    expect(norm(toZero!.weights)).toBeLessThan(1e-3 * norm(toOriginal!.weights));
    expect(toOriginal!.mseAfter).toBeLessThanOrEqual(toOriginal!.mseBefore);
  }, 300_000);
});

describe('the written model is the one that was scored', () => {
  let written: Uint8Array;
  let scored: Model;
  const few = () => ({ ...test, count: 2 });

  beforeAll(async () => {
    scored = (await new SequentialRefitter(base, convert, { ...fit, count: 16 }, { basis: 'extended', backend: nodeBackend }).model(all)).model;
    const path = join(tmp.path, 'refit.onnx');
    await saveModel(scored, path);
    written = readFileSync(path);
  }, 300_000);

  it('byte for byte, and so on the CPU', async () => {
    expect(Buffer.from(written).equals(Buffer.from(modelToBytes(scored)))).toBe(true);
    expect(Array.from((await run(written, few())).output)).toEqual(Array.from((await run(scored, few())).output));
  });

  it('on WebGPU, every node calibration added running there', async (ctx) => {
    const reason = await webGpuUnavailableReason(() => written);
    if (reason) return ctx.skip(reason);
    const onGpu = await run(written, few(), 'webgpu');
    expect(fidelityOf(await run(scored, few()), onGpu).maxAbsError).toBeLessThan(1e-3);
    const feeds = toOrtFeeds(few().feeds((await nodeBackend.createSession(written)).inputs, 0, 1));
    const placement = await measureNodePlacement(written, feeds, 'webgpu', { graphOptimizationLevel: 'disabled' });
    const added = placement.nodes.filter((n) => n.name.includes('/calibration/'));
    expect(added.length).toBeGreaterThanOrEqual(all.length * 15); // the extended basis: ~19 nodes a block
    expect(added.filter((n) => n.provider !== 'WebGpuExecutionProvider')).toEqual([]);
  }, 300_000);
});
