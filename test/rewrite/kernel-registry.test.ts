/**
 * The kernel registry: a third kernel, defined and registered here alone (no project file names it),
 * converts a real fixture through convertAttention and through the planner; onnxruntime runs the result,
 * and shape inference and the FLOP counter read the new op from its descriptor.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getKernel, kernelNames, registerKernel, unregisterKernel, type AttentionKernel } from '../../custom-ops/index.js';
import { InvalidArgumentError } from '../../graph-rewrite/errors.js';
import { convertAttention } from '../../graph-rewrite/attention/index.js';
import { inferShapes } from '../../graph-rewrite/analysis/index.js';
import { concreteShapes, countFlops, modelAttentionCores, runConversion } from '../../graph-rewrite/plan/index.js';
import { findAttentionBlocks } from '../../graph-rewrite/attention/index.js';
import { loadModel, modelToBytes } from '../../src/model-io.js';
import { MODELS_DIR } from './helpers.js';

/** y = v: attention that passes the values through (a toy: only its plumbing is under test). Cost: one copy of v. */
const valuePass: AttentionKernel = {
  name: 'value-pass',
  domain: 'test.toy',
  domainVersion: 1,
  opType: 'ValuePassAttention',
  call: (_site, _options, opset) => ({
    attributes: [],
    functionKey: `ValuePassAttention|opset=${opset}`,
    body: (overload) => ({
      name: 'ValuePassAttention', domain: 'test.toy', ...(overload === undefined ? {} : { overload }),
      inputs: ['Q', 'K', 'V'], outputs: ['Y'], attributeDefaults: [], opset, metadata: [],
      body: (tape, [, , v]) => [tape.op('Identity', [v])],
    }),
  }),
  flops: ({ batch, tokens, heads, headDim }) => batch * tokens * heads * headDim,
  headsOf: (getInt, features) => getInt('num_heads', features),
};

const FIXTURE = join(MODELS_DIR, 'fmnist_softmax.onnx');

describe('a kernel registered from a test file', () => {
  beforeAll(() => registerKernel(valuePass));
  afterAll(() => unregisterKernel('value-pass'));

  it('is listed, and a second registration of its name or op is refused', () => {
    expect(kernelNames()).toEqual(['hydra', 'linear-angular', 'value-pass']);
    expect(getKernel('value-pass')).toBe(valuePass);
    expect(() => registerKernel(valuePass)).toThrow(InvalidArgumentError);
    expect(() => registerKernel({ ...valuePass, name: 'other' })).toThrow(/test\.toy\.ValuePassAttention is already registered/);
  });

  it('converts a fixture (convertAttention), and onnxruntime loads and runs it (finite logits)', async () => {
    const model = await loadModel(FIXTURE);
    const { model: converted, converted: blocks } = convertAttention(model, { attention: 'value-pass' });
    expect(blocks.length).toBe(findAttentionBlocks(model).blocks.length);
    const fused = converted.graph.nodes.filter((n) => n.domain === 'test.toy');
    expect(fused.map((n) => n.opType)).toEqual(blocks.map(() => 'ValuePassAttention'));
    expect(converted.opsetImports.get('test.toy')).toBe(1);
    // Shape inference gives the new op Q's shape (the registry's rule), and the FLOP counter its formula.
    const shapes = inferShapes(converted.graph);
    for (const node of fused) expect(shapes.shapeOf(node.outputs[0]!)).toEqual(shapes.shapeOf(node.inputs[0]!));
    const facts = concreteShapes(converted);
    const cores = modelAttentionCores(converted, findAttentionBlocks(converted), [], facts);
    expect(cores.map((c) => c.kind)).toEqual(blocks.map(() => 'value-pass'));
    const report = countFlops(converted, cores, facts);
    const [batch, tokens, width] = facts.get(fused[0]!.outputs[0]!)!;
    expect(report.coreFlops[0]).toBe(batch! * tokens! * width!);

    const session = await ort.InferenceSession.create(modelToBytes(converted));
    const input = session.inputNames[0]!;
    const header = JSON.parse(readFileSync(FIXTURE.replace(/fmnist_softmax\.onnx$/, 'manifest.json'), 'utf8')).models.find((m: { name: string }) => m.name === 'fmnist_softmax');
    const dims = header.inputs[0].shape.map((d: number | string) => (typeof d === 'number' ? d : 1));
    const out = await session.run({ [input]: new ort.Tensor('float32', new Float32Array(dims.reduce((a: number, b: number) => a * b, 1)).fill(0.5), dims) });
    const logits = out[session.outputNames[0]!]!.data as Float32Array;
    expect(logits.length).toBeGreaterThan(0);
    expect([...logits].every(Number.isFinite)).toBe(true);
    await session.release();
  });

  it('is what the planner converts to when named, with the same model as convertAttention', async () => {
    const model = await loadModel(FIXTURE);
    const outcome = await runConversion(model, { attention: 'value-pass', selection: 'all', linearAngularMode: 'reference', fuse: true, fit: false, inlineFunctions: false });
    expect(outcome.converted.length).toBeGreaterThan(0);
    expect(modelToBytes(outcome.model)).toEqual(modelToBytes(convertAttention(model, { attention: 'value-pass' }).model));
    expect(outcome.flops.after.attention).toBeLessThan(outcome.flops.before.attention);
  });

  it('an unknown kernel name is refused with the registered names', async () => {
    const model = await loadModel(FIXTURE);
    expect(() => convertAttention(model, { attention: 'nope' })).toThrow("'options.attention' must be 'hydra' or 'linear-angular' or 'value-pass', got \"nope\"");
  });
});
