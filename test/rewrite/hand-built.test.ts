/**
 * Layouts no fixture covers, on hand-built graphs whose expected output is computed here from the
 * inputs and weights: torch MultiheadAttention's (N, B, E) with a real batch of 2 (so a wrong
 * batch/token order in the q/k/v Transposes or the (N·B, E) output shows), and single-head attention
 * on a batch-less [N, D] input. Also: converted dynamic-batch fixtures keep batch rows independent.
 */
import { describe, expect, it } from 'vitest';
import ort from 'onnxruntime-node';
import { hydraAttentionReference, linearAngularAttentionReference, type Float32TensorView } from '../../custom-ops/index.js';
import { convertAttention } from '../../graph-rewrite/attention/index.js';
import { Attr, DataType, Graph, Model, Node, Tensor, Value, tensorType } from '../../graph-rewrite/ir/index.js';
import { modelToBytes } from '../../src/model-io.js';
import { createSession, seededRandom } from '../../src/runtime/index.js';
import { fusedNodes, loadFixture, loadManifest, maxAbsoluteError, toFloat32View } from './helpers.js';

function randomArray(length: number, random: () => number): Float32Array {
  return Float32Array.from({ length }, () => random() * 2 - 1);
}

/** [rows, inner] × [inner, cols] + bias, in double precision. */
function linear(x: Float32Array, rows: number, weight: Float32Array, inner: number, cols: number, bias?: Float32Array): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      let sum = bias?.[c] ?? 0;
      for (let i = 0; i < inner; i++) sum += x[r * inner + i]! * weight[i * cols + c]!;
      out[r * cols + c] = sum;
    }
  }
  return out;
}

class GraphBuilder {
  readonly graph = new Graph({ name: 'hand-built' });
  add(opType: string, inputs: readonly Value[], attributes: readonly Attr[] = []): Value {
    const node = new Node({ opType, inputs, attributes, name: `/attn/${opType}_${this.graph.nodes.length}` });
    this.graph.append(node);
    return node.outputs[0]!;
  }
  ints(values: readonly number[]): Value {
    return this.graph.addInitializer(Tensor.fromInt64Array(values, [values.length]), `c${this.graph.initializers.size}`);
  }
  floats(values: Float32Array, dims: readonly number[]): Value {
    return this.graph.addInitializer(Tensor.fromFloat32Array(values, dims), `w${this.graph.initializers.size}`);
  }
  model(output: Value, shape: readonly number[], opset = 17): Model {
    output.type = tensorType(DataType.FLOAT, shape);
    this.graph.addOutput(output);
    return new Model({ graph: this.graph, irVersion: opset >= 23 ? 11 : 8, opsetImports: [['', opset]] });
  }
}

type Reference = (q: Float32TensorView, k: Float32TensorView, v: Float32TensorView) => Float32TensorView;
const REFERENCES: readonly [string, 'hydra' | 'linear-angular', (heads: number) => Reference][] = [
  ['hydra', 'hydra', () => (q, k, v) => hydraAttentionReference(q, k, v)],
  ['linear-angular', 'linear-angular', (heads) => (q, k, v) => linearAngularAttentionReference(q, k, v, { numHeads: heads })],
];

async function run(model: Model, name: string, data: Float32Array, dims: readonly number[]): Promise<Float32Array> {
  const session = await createSession(modelToBytes(model));
  try {
    const outputs = await session.run({ [name]: new ort.Tensor('float32', data, [...dims]) });
    return toFloat32View(Object.values(outputs)[0]!).data;
  } finally {
    await session.release();
  }
}

describe('torch MultiheadAttention with batch 2: (N, B, E) in, (N·B, E) out', () => {
  const [N, B, H, d] = [5, 2, 2, 4];
  const E = H * d;
  const random = seededRandom(41);
  const x = randomArray(N * B * E, random);
  const weight = randomArray(E * 3 * E, random);
  const bias = randomArray(3 * E, random);

  function build(): Model {
    const g = new GraphBuilder();
    const input = new Value('x', { type: tensorType(DataType.FLOAT, [N, B, E]) });
    g.graph.addInput(input);
    const projected = g.add('Add', [g.floats(bias, [3 * E]), g.add('MatMul', [input, g.floats(weight, [E, 3 * E])])]);
    const part = (i: number): Value => g.add('Reshape', [g.add('Slice', [projected, g.ints([i * E]), g.ints([(i + 1) * E]), g.ints([-1])]), g.ints([N, B * H, d])]);
    const q = g.add('Div', [g.add('Transpose', [part(0)], [Attr.ints('perm', [1, 0, 2])]), g.floats(Float32Array.of(Math.sqrt(d)), [])]);
    const kT = g.add('Transpose', [part(1)], [Attr.ints('perm', [1, 2, 0])]);
    const v = g.add('Transpose', [part(2)], [Attr.ints('perm', [1, 0, 2])]);
    const weights = g.add('Softmax', [g.add('MatMul', [q, kT])], [Attr.int('axis', -1)]);
    const heads = g.add('Transpose', [g.add('MatMul', [weights, v])], [Attr.ints('perm', [1, 0, 2])]);
    return g.model(g.add('Reshape', [heads, g.ints([N * B, E])]), [N * B, E]);
  }

  it.each(REFERENCES)('%s: the output rows are (token, batch) rows of the reference', async (_label, attention, reference) => {
    const { model, converted } = convertAttention(build(), { attention });
    expect(converted.map((block) => [block.style, block.heads, block.headDim, block.batch, block.tokens])).toEqual([['torch-mha', H, d, B, N]]);
    const projection = linear(x, N * B, weight, E, 3 * E, bias); // rows n·B + b
    const operand = (i: number): Float32TensorView => {
      const data = new Float32Array(B * N * E);
      for (let b = 0; b < B; b++) for (let n = 0; n < N; n++) for (let e = 0; e < E; e++) data[(b * N + n) * E + e] = projection[(n * B + b) * 3 * E + i * E + e]!;
      return { data, dims: [B, N, E] };
    };
    const y = reference(H)(operand(0), operand(1), operand(2));
    const expected = new Float32Array(N * B * E);
    for (let b = 0; b < B; b++) for (let n = 0; n < N; n++) for (let e = 0; e < E; e++) expected[(n * B + b) * E + e] = y.data[(b * N + n) * E + e]!;
    const actual = await run(model, 'x', x, [N, B, E]);
    expect(maxAbsoluteError({ data: actual, dims: [N * B, E] }, { data: expected, dims: [N * B, E] })).toBeLessThanOrEqual(1e-5);
  });
});

describe('single-head attention on a batch-less [N, D] input', () => {
  const [N, D] = [6, 8];
  const random = seededRandom(43);
  const x = randomArray(N * D, random);
  const weights = [0, 1, 2].map(() => randomArray(D * D, random));

  function build(): Model {
    const g = new GraphBuilder();
    const input = new Value('x', { type: tensorType(DataType.FLOAT, [N, D]) });
    g.graph.addInput(input);
    const [q, k, v] = weights.map((w) => g.add('MatMul', [input, g.floats(w, [D, D])])) as [Value, Value, Value];
    const scores = g.add('Mul', [g.add('MatMul', [q, g.add('Transpose', [k], [Attr.ints('perm', [1, 0])])]), g.floats(Float32Array.of(1 / Math.sqrt(D)), [])]);
    return g.model(g.add('MatMul', [g.add('Softmax', [scores], [Attr.int('axis', 1)]), v]), [N, D]);
  }

  it.each(REFERENCES)('%s: converts with an added batch axis and gives the reference', async (_label, attention, reference) => {
    const { model, converted } = convertAttention(build(), { attention });
    expect(converted.map((block) => [block.style, block.heads, block.headDim, block.batch, block.scale.placement])).toEqual([['single-head', 1, D, 1, 'mul-scores']]);
    expect(fusedNodes(model)).toHaveLength(1);
    const [q, k, v] = weights.map((w) => ({ data: linear(x, N, w, D, D), dims: [1, N, D] }));
    const expected = reference(1)(q!, k!, v!);
    const actual = await run(model, 'x', x, [N, D]);
    expect(maxAbsoluteError({ data: actual, dims: [1, N, D] }, expected)).toBeLessThanOrEqual(1e-5);
  });
});

describe('ONNX Attention (opset 23) with 4-D [B, H, N, d] inputs', () => {
  const [B, N, H, d] = [2, 5, 2, 4];
  const D = H * d;
  const random = seededRandom(45);
  const x = randomArray(B * N * D, random);
  const weights = [0, 1, 2].map(() => randomArray(D * D, random));

  function build(): Model {
    const g = new GraphBuilder();
    const input = new Value('x', { type: tensorType(DataType.FLOAT, [B, N, D]) });
    g.graph.addInput(input);
    const heads = weights.map((w) => g.add('Transpose', [g.add('Reshape', [g.add('MatMul', [input, g.floats(w, [D, D])]), g.ints([B, N, H, d])])], [Attr.ints('perm', [0, 2, 1, 3])]));
    const attention = g.add('Attention', heads);
    const merged = g.add('Reshape', [g.add('Transpose', [attention], [Attr.ints('perm', [0, 2, 1, 3])]), g.ints([B, N, D])]);
    return g.model(merged, [B, N, D], 23);
  }

  it.each(REFERENCES)('%s: reads the heads back to their projections and gives the reference', async (_label, attention, reference) => {
    const { model, converted } = convertAttention(build(), { attention });
    expect(converted.map((block) => [block.style, block.heads, block.headDim, block.scale.placement])).toEqual([['onnx.Attention', H, d, 'in-op']]);
    expect(model.graph.nodes.filter((node) => node.opType === 'Attention')).toEqual([]);
    const [q, k, v] = weights.map((w) => ({ data: linear(x, B * N, w, D, D), dims: [B, N, D] }));
    const expected = reference(H)(q!, k!, v!);
    const actual = await run(model, 'x', x, [B, N, D]);
    expect(maxAbsoluteError({ data: actual, dims: [B, N, D] }, expected)).toBeLessThanOrEqual(1e-5);
  });
});

describe('converted dynamic-batch fixtures keep batch rows independent', () => {
  const dynamic = loadManifest().filter((entry) => entry.expect === 'convert' && entry.inputs.length === 1 && entry.inputs[0]!.shape[0] === 'batch');
  it.each(dynamic.map((entry) => [entry.name, entry] as const))('%s: row 1 of a batch of 2 equals that image alone', async (_name, entry) => {
    const { model } = convertAttention(await loadFixture(entry), { attention: 'linear-angular' });
    const input = entry.inputs[0]!;
    const image = (input.shape.slice(1) as number[]).reduce((a, b) => a * b, 1);
    const pair = randomArray(2 * image, seededRandom(47));
    const both = await run(model, input.name, pair, [2, ...input.shape.slice(1) as number[]]);
    const alone = await run(model, input.name, pair.slice(image), [1, ...input.shape.slice(1) as number[]]);
    const classes = alone.length;
    expect(maxAbsoluteError({ data: both.slice(classes), dims: [classes] }, { data: alone, dims: [classes] })).toBeLessThanOrEqual(1e-5);
    expect(maxAbsoluteError({ data: both.slice(0, classes), dims: [classes] }, { data: alone, dims: [classes] })).toBeGreaterThan(1e-3);
  });
});
