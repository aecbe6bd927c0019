/**
 * cancelLayoutOps: Transposes moved through MatMul / Add / Slice and composed with the Transposes
 * they meet. On every convertible fixture, the converted model with the pass (convertAttention's
 * default) computes the same outputs (≤ 1e-6) as the converted model without it, in real
 * onnxruntime-node, with no more Transposes; torchvision's sequence-first attention loses 4 per
 * layer. Hand-built graphs: identity pairs vanish, other pairs compose, a Transpose whose output has
 * a reader the pass cannot cross (or is a graph output) stays, a MatMul → Add → Slice chain with a
 * Shape reader is crossed exactly.
 */
import { describe, expect, it } from 'vitest';
import ort from 'onnxruntime-node';
import { convertAttention } from '../../graph-rewrite/attention/index.js';
import { Attr, DataType, Graph, Model, Node, Tensor, Value, tensorType } from '../../graph-rewrite/ir/index.js';
import { cancelLayoutOps, validateModel } from '../../graph-rewrite/passes/index.js';
import { modelToBytes } from '../../src/model-io.js';
import { createSession } from '../../src/runtime/index.js';
import { loadFixture, loadManifest, runModel } from './helpers.js';

const transposes = (model: Model): Node[] => model.graph.nodes.filter((node) => node.opType === 'Transpose');

/** Initializers nothing reads and nodes whose outputs nothing reads: what a rewrite may leave behind. */
const orphans = (model: Model): string[] => [
  ...[...model.graph.initializers.values()].filter((v) => !v.hasUses() && !v.isGraphOutput()).map((v) => `initializer ${v.name}`),
  ...model.graph.nodes.filter((n) => n.outputs.every((v) => !v.hasUses() && !v.isGraphOutput())).map((n) => `node ${n.label}`),
];

function maxError(actual: ort.Tensor, expected: ort.Tensor): number {
  expect(actual.dims).toEqual(expected.dims);
  const a = actual.data as ArrayLike<number | bigint>;
  const e = expected.data as ArrayLike<number | bigint>;
  let max = 0;
  for (let i = 0; i < e.length; i++) {
    const x = Number(a[i]);
    const y = Number(e[i]);
    max = Math.max(max, Math.abs(x - y) / (1 + Math.abs(y)));
  }
  return max;
}

/** Transposes the converted model keeps with the pass, per fixture (the rest must not grow). */
const EXPECTED_TRANSPOSES: Record<string, { without: number; with: number }> = {
  // 1 patch-embedding Transpose + per layer: (N, B, E) input, q / k / v to [B, N, D], output back.
  tv_vit_mha: { without: 11, with: 3 },
};

describe('cancelLayoutOps on converted fixtures', () => {
  const convertible = loadManifest().filter((entry) => entry.expect === 'convert');
  it('has fixtures', () => expect(convertible.length).toBeGreaterThan(0));
  for (const entry of convertible) {
    it(`${entry.name}: same outputs, no more Transposes`, async () => {
      const model = await loadFixture(entry);
      const without = convertAttention(model, { attention: 'hydra', cleanup: [] }).model;
      const withPass = convertAttention(model, { attention: 'hydra' }).model;
      expect(transposes(withPass).length).toBeLessThanOrEqual(transposes(without).length);
      // The axes constants the pass re-writes go with the Slices that stopped reading them.
      expect(orphans(withPass)).toEqual(orphans(without));
      const expected = EXPECTED_TRANSPOSES[entry.name];
      if (expected !== undefined) {
        expect(transposes(without).length).toBe(expected.without);
        expect(transposes(withPass).length).toBe(expected.with);
      }
      expect(withPass.graph.outputs.map((value) => value.name)).toEqual(without.graph.outputs.map((value) => value.name));
      const reference = (await runModel(without)).outputs;
      const actual = (await runModel(withPass)).outputs;
      for (const [name, tensor] of Object.entries(reference)) {
        expect(maxError(actual[name]!, tensor), `${entry.name} output ${name}`).toBeLessThanOrEqual(1e-6);
      }
    });
  }
});

class Builder {
  readonly graph = new Graph({ name: 'layout' });
  readonly x = new Value('x', { type: tensorType(DataType.FLOAT, [2, 3, 4]) });
  constructor() {
    this.graph.addInput(this.x);
  }
  add(opType: string, inputs: readonly Value[], attributes: readonly Attr[] = []): Value {
    const node = new Node({ opType, inputs, attributes, name: `${opType}_${this.graph.nodes.length}` });
    this.graph.append(node);
    return node.outputs[0]!;
  }
  transpose(input: Value, perm: readonly number[]): Value {
    return this.add('Transpose', [input], [Attr.ints('perm', perm)]);
  }
  ints(values: readonly number[]): Value {
    return this.graph.addInitializer(Tensor.fromInt64Array(values, [values.length]), `c${this.graph.initializers.size}`);
  }
  floats(dims: readonly number[]): Value {
    const count = dims.reduce((a, b) => a * b, 1);
    const data = Float32Array.from({ length: count }, (_, i) => Math.sin(i * 1.7) * 0.5);
    return this.graph.addInitializer(Tensor.fromFloat32Array(data, dims), `w${this.graph.initializers.size}`);
  }
  model(outputs: readonly Value[]): Model {
    for (const output of outputs) this.graph.addOutput(output);
    return new Model({ graph: this.graph, irVersion: 8, opsetImports: [['', 17]] });
  }
}

const X = new ort.Tensor('float32', Float32Array.from({ length: 24 }, (_, i) => Math.cos(i * 0.9)), [2, 3, 4]);

async function run(model: Model): Promise<Record<string, ort.Tensor>> {
  const session = await createSession(modelToBytes(model));
  try {
    return await session.run({ x: X });
  } finally {
    await session.release();
  }
}

/** Applies the pass to a copy-free model, checks it validates and computes what it computed before. */
async function applyAndCompare(model: Model): Promise<number> {
  const before = await run(model);
  const names = model.graph.outputs.map((value) => value.name);
  const removed = cancelLayoutOps(model.graph);
  validateModel(model);
  expect(model.graph.outputs.map((value) => value.name)).toEqual(names);
  const after = await run(model);
  for (const [name, tensor] of Object.entries(before)) expect(maxError(after[name]!, tensor), name).toBe(0);
  return removed;
}

describe('cancelLayoutOps on hand-built graphs', () => {
  it('removes a Transpose pair that composes to the identity', async () => {
    const b = new Builder();
    const y = b.add('Relu', [b.transpose(b.transpose(b.x, [1, 0, 2]), [1, 0, 2])]);
    const model = b.model([y]);
    expect(await applyAndCompare(model)).toBe(2);
    expect(transposes(model)).toHaveLength(0);
  });

  it('keeps the graph output name when an identity pair ends at a graph output', async () => {
    const b = new Builder();
    const model = b.model([b.transpose(b.transpose(b.add('Relu', [b.x]), [2, 1, 0]), [2, 1, 0])]);
    const name = model.graph.outputs[0]!.name;
    expect(await applyAndCompare(model)).toBe(2);
    expect(model.graph.outputs[0]!.producer()?.opType).toBe('Relu');
    expect(model.graph.outputs[0]!.name).toBe(name);
  });

  it('leaves an identity pair between a graph input and a graph output alone', async () => {
    const b = new Builder();
    const model = b.model([b.transpose(b.transpose(b.x, [1, 0, 2]), [1, 0, 2])]);
    expect(await applyAndCompare(model)).toBe(0);
  });

  it('composes a non-identity pair into one Transpose', async () => {
    const b = new Builder();
    const y = b.transpose(b.transpose(b.x, [1, 0, 2]), [0, 2, 1]);
    const model = b.model([y]);
    expect(await applyAndCompare(model)).toBe(1);
    expect(transposes(model).map((node) => node.getInts('perm'))).toEqual([[1, 2, 0]]);
  });

  it('leaves a pair alone when the middle value has another reader', async () => {
    const b = new Builder();
    const middle = b.transpose(b.x, [1, 0, 2]);
    const model = b.model([b.transpose(middle, [1, 0, 2]), b.add('Relu', [middle])]);
    expect(await applyAndCompare(model)).toBe(0);
    expect(transposes(model)).toHaveLength(2);
  });

  it('leaves a pair alone when the middle value is a graph output', async () => {
    const b = new Builder();
    const middle = b.transpose(b.x, [1, 0, 2]);
    const model = b.model([b.add('Relu', [b.transpose(middle, [1, 0, 2])]), middle]);
    expect(await applyAndCompare(model)).toBe(0);
    expect(transposes(model)).toHaveLength(2);
  });

  it('moves a Transpose through MatMul, Add and Slice (Shape reader kept exact)', async () => {
    const b = new Builder();
    const t = b.transpose(b.x, [1, 0, 2]);
    const packed = b.add('Add', [b.add('MatMul', [t, b.floats([4, 6])]), b.floats([6])]);
    const q = b.add('Slice', [packed, b.ints([0]), b.ints([3]), b.ints([-1])]);
    const k = b.add('Slice', [packed, b.ints([3]), b.ints([6]), b.ints([2])]);
    const shape = b.add('Shape', [packed]);
    const model = b.model([b.transpose(q, [1, 0, 2]), b.add('Relu', [b.transpose(k, [1, 0, 2])]), shape]);
    expect(await applyAndCompare(model)).toBe(3);
    expect(transposes(model)).toHaveLength(0);
    // Each Slice had its own axes initializer; the re-written ones replace them, leaving no orphan.
    expect(orphans(model)).toEqual([]);
  });

  it('does not cross a MatMul when the Transpose moves the last axis', async () => {
    const b = new Builder();
    const t = b.transpose(b.x, [0, 2, 1]);
    const y = b.transpose(b.add('MatMul', [t, b.floats([3, 5])]), [0, 2, 1]);
    const model = b.model([y]);
    expect(await applyAndCompare(model)).toBe(0);
  });
});
