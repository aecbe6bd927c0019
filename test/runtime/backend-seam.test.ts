/**
 * The runtime seam (src/runtime/backend.ts) holds: eval and calibration run through any `Backend`. A second,
 * independent implementation written here — onnxruntime-node's InferenceSession used directly, feeds and
 * outputs copied rather than shared, none of session.ts or node-backend.ts — runs the same evaluator,
 * coefficient fit and calibrated conversion as the node backend, and gives the same numbers bit for bit
 * (both are real onnxruntime CPU sessions). The node backend's own contract is checked too: feeds are
 * checked with errors that name the argument, and vitlin tensors cross without copies.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { convertAttention, findAttentionBlocks } from '../../graph-rewrite/attention/index.js';
import type { Model } from '../../graph-rewrite/ir/model.js';
import { calibrateConversion, fitBlocks, type ConvertBlocks } from '../../src/calibration/index.js';
import { backendEvaluator } from '../../src/eval/backend-evaluator.js';
import { randomInputs } from '../../src/eval/inputs.js';
import { loadModel } from '../../src/model-io.js';
import type { Backend, BackendSession, Tensor, TensorType, ValueInfo } from '../../src/runtime/backend.js';
import { checkFeeds } from '../../src/runtime/backend.js';
import { fromOrtTensor, nodeBackend, toOrtTensor } from '../../src/runtime/node-backend.js';
import { SESSION_CHANNEL } from '../../src/runtime/session.js';

const MODELS = join(import.meta.dirname, '..', '..', 'models');

/** A deep copy of a tensor's data (so nothing this backend hands over shares memory with onnxruntime). */
function copyData<T extends Tensor['data']>(data: T): T {
  return (Array.isArray(data) ? [...data] : (data as Float32Array).slice()) as T;
}

/** The second backend: InferenceSession directly, copying tensors both ways, counting its sessions. */
function directOrtBackend(): Backend & { sessions: number } {
  const backend = {
    name: 'onnxruntime-node (direct, test)',
    eps: ['cpu'] as const,
    sessions: 0,
    async createSession(model: Uint8Array, options: { ep?: string; label?: string } = {}): Promise<BackendSession> {
      if ((options.ep ?? 'cpu') !== 'cpu') throw new Error(`ep ${options.ep} not supported`);
      const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], logSeverityLevel: 3 });
      backend.sessions++;
      const info = (m: ort.InferenceSession.ValueMetadata): ValueInfo => (m.isTensor
        ? { name: m.name, isTensor: true, type: m.type as TensorType, shape: m.shape }
        : { name: m.name, isTensor: false, shape: [] });
      const inputs = session.inputMetadata.map(info);
      return {
        ep: 'cpu',
        inputs,
        outputs: session.outputMetadata.map(info),
        async run(feeds) {
          const ortFeeds: Record<string, ort.Tensor> = {};
          for (const [name, t] of Object.entries(checkFeeds(inputs, feeds))) ortFeeds[name] = new ort.Tensor(t.type, copyData(t.data) as Float32Array, [...t.dims]);
          const out = await session.run(ortFeeds);
          return Object.fromEntries(Object.entries(out).map(([name, t]) => [name, { type: t.type as TensorType, dims: [...t.dims], data: copyData(t.data as Float32Array) }]));
        },
        release: () => session.release(),
      };
    },
  };
  return backend;
}

/** Runs `body` and counts the sessions session.ts (the node backend) creates meanwhile. */
async function nodeSessionsDuring<T>(body: () => Promise<T>): Promise<{ result: T; created: number }> {
  let created = 0;
  const listener = (message: unknown) => { if ((message as { event: string }).event === 'create') created++; };
  subscribe(SESSION_CHANNEL, listener);
  try {
    return { result: await body(), created };
  } finally {
    unsubscribe(SESSION_CHANNEL, listener);
  }
}

describe('eval and calibration through a second backend', () => {
  const setup = async () => {
    const base = await loadModel(join(MODELS, 'deit_vit.onnx'));
    const blocks = findAttentionBlocks(base).blocks.filter((b) => b.convertible).map((b) => b.index);
    const convert = (chosen: readonly number[]) => {
      const r = convertAttention(base, { attention: 'hydra', blocks: chosen });
      return { model: r.model, blocks: r.converted };
    };
    return { base, blocks, convert };
  };
  const run = async (backend: Backend, base: Model, blocks: number[], convert: ConvertBlocks) => {
    const inputs = randomInputs(8, 3);
    const evaluator = backendEvaluator(inputs, { backend });
    const converted = convertAttention(base, { attention: 'hydra', blocks });
    const fidelity = evaluator.compare(await evaluator.run(base, 'original'), await evaluator.run(converted.model, 'converted'));
    const coefficientFits = await fitBlocks(base, converted.model, converted.converted.map((b) => ({ heads: b.heads, scale: b.scale.value })), inputs,
      { attention: 'hydra', linearAngularMode: 'kernel_normalized', backend });
    const calibrated = await calibrateConversion({ base, convert, blocks, inputs, backend });
    return { fidelity, coefficientFits, report: calibrated.report, fits: calibrated.fits.map((f) => Array.from(f.weights)) };
  };

  it('gives the node backend\'s numbers, bit for bit, without a session of the node backend', async () => {
    const { base, blocks, convert } = await setup();
    expect(blocks.length).toBeGreaterThan(0);
    const direct = directOrtBackend();
    const viaDirect = await nodeSessionsDuring(() => run(direct, base, blocks, convert));
    const viaNode = await nodeSessionsDuring(() => run(nodeBackend, base, blocks, convert));
    expect(viaDirect.created).toBe(0); // everything ran on the second backend …
    expect(direct.sessions).toBeGreaterThanOrEqual(6);
    expect(viaNode.created).toBe(direct.sessions); // … and the node backend opened as many sessions
    expect(viaDirect.result.fidelity.cosine).toBeLessThan(1); // a real conversion, really measured
    expect(viaDirect.result.report.blocks.length).toBe(blocks.length);
    expect(viaDirect.result).toEqual(viaNode.result);
  }, 120_000);
});

describe('the node backend', () => {
  it('checks feeds with errors that name the argument, and shares tensor memory both ways', async () => {
    const session = await nodeBackend.createSession(join(MODELS, 'deit_vit.onnx'), { label: 'deit' });
    try {
      const [input] = session.inputs;
      expect(input).toMatchObject({ isTensor: true, type: 'float32' });
      const feeds = randomInputs(1, 0).feeds(session.inputs, 0, 1);
      const pixels = feeds[input!.name]!;
      await expect(session.run({ ...feeds, extra: pixels })).rejects.toThrow(/'feeds' has 'extra', which is not a model input/);
      await expect(session.run({ [input!.name]: { type: 'int64', dims: pixels.dims, data: new BigInt64Array(pixels.data.length) } }))
        .rejects.toThrow(new RegExp(`'feeds.${input!.name}' must be float32, got int64`));
      await expect(session.run({ [input!.name]: { ...pixels, data: (pixels.data as Float32Array).subarray(1) } }))
        .rejects.toThrow(new RegExp(`'feeds.${input!.name}' has \\d+ elements but dims`));
      await expect(session.run({ [input!.name]: new Float32Array(4) as unknown as Tensor })).rejects.toThrow(/must be a tensor/);
      const outputs = await session.run(feeds);
      expect(Object.keys(outputs)).toEqual(session.outputs.map((o) => o.name));
    } finally {
      await session.release();
    }
    const data = new Float32Array([1, 2, 3, 4, 5, 6]);
    const asOrt = toOrtTensor({ type: 'float32', dims: [2, 3], data });
    expect(asOrt.data).toBe(data);
    expect(fromOrtTensor(asOrt).data).toBe(data);
  });

  it('rejects an EP it does not have, naming it', async () => {
    await expect(nodeBackend.createSession(join(MODELS, 'deit_vit.onnx'), { ep: 'cuda' as 'cpu' })).rejects.toThrow(/'ep' must be one of cpu, webgpu, got "cuda"/);
  });
});
