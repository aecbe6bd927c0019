/**
 * Every model of models/manifest.json loads in onnxruntime-node and reproduces the output PyTorch recorded in
 * models/reference/<name>.json (tolerance: max |ort - torch| / (1 + |torch|) <= 1e-4 fp32, 1e-2 fp16).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import {
  loadManifest,
  maxRelErr,
  modelPath,
  numbers,
  readJson,
  toTensor,
  type ModelEntry,
  type RefTensor,
  type Reference,
} from './helpers.js';

const manifest = loadManifest();

describe.each(manifest.models.map((m) => [m.name, m] as [string, ModelEntry]))('%s', (_name, m) => {
  let session: ort.InferenceSession;
  let ref: Reference;
  beforeAll(async () => {
    ref = readJson<Reference>(m.reference);
    session = await ort.InferenceSession.create(modelPath(m), { intraOpNumThreads: 1 });
  });
  afterAll(async () => {
    await session?.release();
  });

  it('has a reference recorded for exactly its inputs and outputs', () => {
    expect(ref.model).toBe(m.name);
    expect(ref.file).toBe(m.file);
    expect(ref.tolerance).toBe(m.tolerance);
    expect(m.tolerance).toBe(m.dtype === 'float16' ? 1e-2 : 1e-4);
    expect(ref.inputs.map((t) => t.name)).toEqual(m.inputs.map((t) => t.name));
    expect(ref.outputs.map((t) => t.name)).toEqual(m.outputs.map((t) => t.name));
    for (const t of [...ref.inputs, ...ref.outputs]) {
      expect(t.data.length).toBe(t.shape.reduce((a, b) => a * b, 1));
      expect(t.data.every((v) => Number.isFinite(v))).toBe(true);
    }
    // Reference outputs must not be trivial (a zero-initialised head would make any graph "match").
    for (const t of ref.outputs) {
      const spread = Math.max(...t.data) - Math.min(...t.data);
      expect(spread).toBeGreaterThan(0.1);
    }
  });

  it('matches the PyTorch output in onnxruntime-node', async () => {
    const feeds = Object.fromEntries(ref.inputs.map((t) => [t.name, toTensor(t)]));
    const out = await session.run(feeds);
    for (const want of ref.outputs) {
      const got = out[want.name] as ort.Tensor;
      expect(got.type).toBe(want.dtype);
      expect(got.dims.map(Number)).toEqual(want.shape);
      expect(maxRelErr(numbers(got), want.data)).toBeLessThanOrEqual(m.tolerance);
    }
  });

  it('fails the comparison when the input is perturbed (the check has teeth)', async () => {
    const perturbed: RefTensor[] = ref.inputs.map((t) => {
      if (t.dtype === 'int64') {
        // change token ids where the mask is 1 (ids are < 100); leave attention_mask alone
        return t.name === 'attention_mask' ? t : { ...t, data: t.data.map((v) => (v + 37) % 100) };
      }
      return { ...t, data: t.data.map((v, i) => (i % 7 === 0 ? v + 1 : v)) };
    });
    const out = await session.run(Object.fromEntries(perturbed.map((t) => [t.name, toTensor(t)])));
    const worst = Math.max(...ref.outputs.map((w) => maxRelErr(numbers(out[w.name] as ort.Tensor), w.data)));
    expect(worst).toBeGreaterThan(m.tolerance * 10);
  });
});
