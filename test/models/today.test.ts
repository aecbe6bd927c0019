/**
 * The fixtures of today's exporters (models/today/, made by models/scripts/today.py with torch 2.x,
 * transformers 5 and timm 1.0; see models/README.md), driven by their manifest:
 * - vitlin finds exactly the expected attention blocks, converts the expected ones, leaves no Softmax
 *   unexplained, and names the real cause of each block it leaves alone;
 * - each export reproduces its family's PyTorch output, and the converted model reproduces the same
 *   PyTorch model with Hydra / linear-angular patched in (≤ 1e-4), on the CPU EP;
 * - two exports (a learned-query cross-attention, rotary q / k) run converted on the WebGPU EP and match the
 *   same reference.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { convertAttention, findAttentionBlocks, type ConvertAttentionOptions } from '../../graph-rewrite/attention/index.js';
import type { Model } from '../../graph-rewrite/ir/index.js';
import { loadModel, modelToBytes } from '../../src/model-io.js';
import { createSession, type ExecutionProvider } from '../../src/runtime/index.js';
import { webGpuUnavailableReason } from '../support/webgpu.js';
import { MODELS_DIR, maxRelErr, numbers, toTensor, type RefTensor } from './helpers.js';

const DIR = path.join(MODELS_DIR, 'today');

interface TodayEntry {
  name: string;
  file: string;
  family: string;
  exporter: string;
  opset: number;
  dynamic_batch: boolean;
  expect: { found: number; convertible: number; reason?: string };
  reference: string;
  tolerance: number;
}
interface FamilyReference {
  family: string;
  tolerance: number;
  inputs: RefTensor[];
  outputs: RefTensor[];
  hydra?: { outputs: RefTensor[] };
  linear_angular?: { mode: 'kernel_normalized'; outputs: RefTensor[] };
}

const read = <T>(rel: string): T => JSON.parse(fs.readFileSync(path.join(DIR, rel), 'utf8')) as T;
const entries = read<{ models: TodayEntry[] }>('manifest.json').models;
const references = new Map<string, FamilyReference>();
const referenceOf = (e: TodayEntry): FamilyReference => {
  if (!references.has(e.family)) references.set(e.family, read<FamilyReference>(e.reference));
  return references.get(e.family)!;
};
const models = new Map<string, Promise<Model>>();
const modelOf = (e: TodayEntry): Promise<Model> => {
  if (!models.has(e.name)) models.set(e.name, loadModel(path.join(DIR, e.file)));
  return models.get(e.name)!;
};

/** Runs `model` (a converted model, or a fixture's path) on the family's reference input: max rel. error against `want`. */
async function errorAgainst(model: Model | string, ref: FamilyReference, want: RefTensor[], ep: ExecutionProvider = 'cpu'): Promise<number> {
  const session = await createSession(typeof model === 'string' ? model : modelToBytes(model), { ep });
  try {
    const out = await session.run(Object.fromEntries(ref.inputs.map((t) => [t.name, toTensor(t)])));
    return Math.max(...want.map((w) => maxRelErr(numbers(out[w.name] as ort.Tensor), w.data)));
  } finally {
    await session.release();
  }
}

const HYDRA: ConvertAttentionOptions = { attention: 'hydra' };
const LINEAR_ANGULAR: ConvertAttentionOptions = { attention: 'linear-angular', linearAngularMode: 'kernel_normalized' };

describe.each(entries.map((e) => [e.name, e] as const))('%s', (_name, e) => {
  it(`finds ${e.expect.found} blocks, ${e.expect.convertible} convertible, and explains every Softmax`, async () => {
    const report = findAttentionBlocks(await modelOf(e));
    expect(report.unmatched.map((u) => u.reason)).toEqual([]);
    expect(report.blocks).toHaveLength(e.expect.found);
    expect(report.blocks.filter((b) => b.convertible)).toHaveLength(e.expect.convertible);
    for (const block of report.blocks.filter((b) => !b.convertible)) expect(block.reason).toContain(e.expect.reason);
  });

  it('reproduces the PyTorch output as exported', async () => {
    const ref = referenceOf(e);
    expect(await errorAgainst(path.join(DIR, e.file), ref, ref.outputs)).toBeLessThanOrEqual(e.tolerance);
  });

  // Only blocks that convert have a converted output to compare: the others register no such test.
  const convertible = e.expect.convertible > 0;
  if (convertible) it('converted to Hydra, reproduces PyTorch with Hydra patched in (CPU)', async () => {
    const ref = referenceOf(e);
    const { model, converted } = convertAttention(await modelOf(e), HYDRA);
    expect(converted).toHaveLength(e.expect.convertible);
    // Nothing of the softmax path is left: no Softmax, no ONNX Attention, no NaN guard.
    expect(model.graph.nodes.filter((node) => node.domain === '' && ['Softmax', 'Attention', 'IsNaN'].includes(node.opType))).toHaveLength(0);
    const error = await errorAgainst(model, ref, ref.hydra!.outputs);
    expect(error).toBeLessThanOrEqual(e.tolerance);
    // The check has teeth: the softmax output is far from the Hydra (and linear-angular) reference.
    for (const other of [ref.hydra!.outputs, ref.linear_angular!.outputs]) {
      expect(Math.max(...other.map((w, i) => maxRelErr(ref.outputs[i]!.data, w.data)))).toBeGreaterThan(e.tolerance * 10);
    }
  });

  if (convertible && e.dynamic_batch) it('converted with a dynamic batch, runs a batch of 2 (each row = the batch-1 reference)', async () => {
    const ref = referenceOf(e);
    const { model } = convertAttention(await modelOf(e), HYDRA);
    const twice: FamilyReference = {
      ...ref,
      inputs: ref.inputs.map((t) => ({ ...t, shape: [2, ...t.shape.slice(1)], data: [...t.data, ...t.data] })),
    };
    const want = ref.hydra!.outputs.map((t) => ({ ...t, shape: [2, ...t.shape.slice(1)], data: [...t.data, ...t.data] }));
    expect(await errorAgainst(model, twice, want)).toBeLessThanOrEqual(e.tolerance);
  });

  if (convertible) it('converted to linear-angular, reproduces PyTorch with it patched in (CPU)', async () => {
    const ref = referenceOf(e);
    const { model } = convertAttention(await modelOf(e), LINEAR_ANGULAR);
    expect(await errorAgainst(model, ref, ref.linear_angular!.outputs)).toBeLessThanOrEqual(e.tolerance);
  });
});

// WebGPU (SwiftShader is slow: 10–30 s a model on a loaded machine): the two new forms of what the rewrite
// emits — a single learned query (cross-attention, Nq = 1 ≠ Nk) and per-head rotary q, k merged back.
// (No-op masks and the NaN guard are removed by the rewrite: nothing new runs.)
const WEBGPU = ['hf_siglip_sdpa_dynamo', 'timm_eva02_fused_dynamo'];
const webGpuCases = entries.filter((e) => WEBGPU.includes(e.name));
const unavailable = await webGpuUnavailableReason(async () => modelToBytes(convertAttention(await modelOf(webGpuCases[0]!), HYDRA).model));

describe.skipIf(unavailable !== undefined)('converted on the WebGPU EP', () => {
  it.each(webGpuCases.map((e) => [e.name, e] as const))('%s → Hydra matches the PyTorch Hydra reference (≤ 1e-4)', async (_name, e) => {
    const ref = referenceOf(e);
    const { model } = convertAttention(await modelOf(e), HYDRA);
    expect(await errorAgainst(model, ref, ref.hydra!.outputs, 'webgpu')).toBeLessThanOrEqual(e.tolerance);
  });
});

afterAll(() => {
  models.clear();
});
