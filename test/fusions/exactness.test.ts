/**
 * The checks refuse what is not exact, with a reason naming why: hand-edited copies of the fuse
 * fixtures (a token sum over the wrong axis, a norm over the wrong axis, guards that differ, ‖x‖ + eps,
 * linear-angular weights other than ½ and 1/π, an intermediate read outside the block). Each edit
 * touches one block; the others still fuse. A guard the op has (a clamp at eps on every norm) is
 * fused with that eps, and the outputs still match.
 */
import { describe, expect, it } from 'vitest';
import { fuseExactAttention, findExactFusions } from '../../graph-rewrite/fusions/index.js';
import { Attr, DataType, Node, Tensor, tensorType, type Model, type Value } from '../../graph-rewrite/ir/index.js';
import { expectedKinds, fuseEntries, loadEntry, maxAbsDifference, referenceOf, runFirstOutput, type FuseEntry } from './helpers.js';

/** The fixtures are committed: a missing one is a failure, not a skip. */
function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`models/manifest.json has no ${what}`);
  return value;
}

const entries = fuseEntries();
const hydraEntry = entries.find((entry) => entry.blocks.some((block) => block.kind === 'hydra') && entry.blocks.every((block) => block.kind !== 'softmax'));
const angularEntry = entries.find((entry) => entry.blocks.length > 0 && entry.blocks.every((block) => block.kind === 'linear-angular'));

function nodeNamed(model: Model, name: string): Node {
  const node = model.graph.nodes.find((candidate) => candidate.name === name);
  if (node === undefined) throw new Error(`no node '${name}'`);
  return node;
}

function producerOf(value: Value | undefined, opType: string): Node {
  const node = value?.producer();
  if (node?.opType !== opType) throw new Error(`expected ${opType} producing ${value?.label}, found ${node?.opType}`);
  return node;
}

function soleReader(value: Value): Node {
  const readers = value.uses().map((use) => use.node).filter((node) => node.opType !== 'Shape');
  if (readers.length !== 1) throw new Error(`${value.label} has ${readers.length} readers`);
  return readers[0]!;
}

function constant(model: Model, values: number[], name: string, int = false): Value {
  const tensor = int ? Tensor.fromInt64Array(values, [values.length]) : Tensor.fromFloat32Array(values, []);
  return model.graph.addInitializer(tensor, name);
}

/** The Div computing q̂ of a Hydra block anchored at its token sum. */
function hydraQueryDivision(model: Model, anchor: string): Node {
  const final = soleReader(nodeNamed(model, anchor).outputs[0]!);
  return producerOf(final.inputs[0] === nodeNamed(model, anchor).outputs[0] ? final.inputs[1] : final.inputs[0], 'Div');
}

/** Puts `op(norm, eps)` between the norm a Div divides by and the Div. */
function guardNorm(model: Model, division: Node, op: 'Clip' | 'Add', eps: number, name: string): void {
  const norm = division.inputs[1]!;
  const guard = new Node({ opType: op, inputs: [norm, constant(model, [eps], `${name}_eps`)], name, outputs: [`${name}_out`] });
  model.graph.insertAfter(norm.producer()!, guard);
  division.replaceInput(1, guard.outputs[0]);
}

async function expectRefused(model: Model, blockIndex: number, reason: RegExp): Promise<void> {
  const { fused, skipped } = fuseExactAttention(model);
  expect(skipped.map((s) => s.block.index)).toEqual([blockIndex]);
  expect(skipped[0]!.reason).toMatch(reason);
  expect(findExactFusions(model).blocks[blockIndex]!.reason).toBe(skipped[0]!.reason);
  expect(fused.length).toBe(findExactFusions(model).blocks.length - 1);
}

async function expectSameOutputs(entry: FuseEntry, original: Model, fused: Model): Promise<void> {
  const { feeds } = referenceOf(entry);
  expect(maxAbsDifference(await runFirstOutput(fused, feeds), await runFirstOutput(original, feeds))).toBeLessThanOrEqual(1e-5);
}

required(hydraEntry, 'Hydra fuse model');
required(angularEntry, 'linear-angular fuse model');

describe('Hydra: what the check refuses', () => {
  const entry = hydraEntry!;
  const load = async (): Promise<{ model: Model; anchor: string }> => {
    const model = await loadEntry(entry);
    return { model, anchor: findExactFusions(model).blocks[0]!.anchor };
  };

  it('has a fixture with Hydra in every layer', () => {
    expect(expectedKinds(entry).every((kind) => kind === 'hydra')).toBe(true);
  });

  it('a token sum over the feature axis instead of the tokens', async () => {
    const { model, anchor } = await load();
    nodeNamed(model, anchor).replaceInput(1, constant(model, [2], 'test_axes', true));
    await expectRefused(model, 0, /sums k̂ ⊙ v over axes \[2\], not over the tokens axis 1 alone/);
  });

  it('a norm over the tokens axis instead of the features', async () => {
    const { model, anchor } = await load();
    const norm = hydraQueryDivision(model, anchor).inputs[1]!.producer()!;
    if (norm.opType === 'ReduceL2') norm.setAttribute(Attr.ints('axes', [1]));
    else norm.replaceInput(1, constant(model, [1], 'test_axes', true));
    await expectRefused(model, 0, /q̂ = x \/ ‖x‖ normalises over axes \[1\] of its rank-3 input, not over the feature dim \(axis 2\) alone/);
  });

  it('q clamped at 1e-6 but k not: the op has one eps', async () => {
    const { model, anchor } = await load();
    guardNorm(model, hydraQueryDivision(model, anchor), 'Clip', 1e-6, 'test_clip');
    await expectRefused(model, 0, /guard the norm differently \(q̂: max\(‖x‖, 9\.99999997\d*e-7\), k̂: no guard/);
  });

  it('‖x‖ + eps is not the op\'s clamp', async () => {
    const { model, anchor } = await load();
    guardNorm(model, hydraQueryDivision(model, anchor), 'Add', 1e-6, 'test_add');
    await expectRefused(model, 0, /q̂ divides by ‖x‖ \+ 9\.99999997\d*e-7 \(Add 'test_add'\); the fused op clamps max\(‖x‖, eps\)/);
  });

  it('q and k both clamped at 1e-6 (F.normalize\'s form): fused with eps 1e-6, outputs equal', async () => {
    const { model, anchor } = await load();
    const qDivision = hydraQueryDivision(model, anchor);
    const product = producerOf(nodeNamed(model, anchor).inputs[0], 'Mul');
    const kDivision = [0, 1].map((i) => product.inputs[i]!.producer()!).find((node) => node.opType === 'Div')!;
    guardNorm(model, qDivision, 'Clip', 1e-6, 'test_clip_q');
    guardNorm(model, kDivision, 'Clip', 1e-6, 'test_clip_k');
    const { model: fused, fused: blocks, skipped } = fuseExactAttention(model);
    expect(skipped).toEqual([]);
    expect(blocks[0]!.eps).toBe(Math.fround(1e-6));
    expect(blocks.slice(1).every((block) => block.eps === 2 ** -126)).toBe(true);
    expect(fused.graph.nodes.find((node) => node.name === blocks[0]!.fusedNode)!.getFloat('eps')).toBe(Math.fround(1e-6));
    await expectSameOutputs(entry, model, fused);
  });

  it('an intermediate (q̂) that is also a graph output', async () => {
    const { model, anchor } = await load();
    const qHat = hydraQueryDivision(model, anchor).outputs[0]!;
    qHat.type = tensorType(DataType.FLOAT);
    model.graph.addOutput(qHat);
    await expectRefused(model, 0, /intermediate value '.*' \(from Div '.*'\) is a graph output; fusing would keep the decomposed block/);
  });
});

describe('linear-angular: what the check refuses', () => {
  const entry = angularEntry!;
  const load = async (): Promise<{ model: Model; anchor: Node }> => {
    const model = await loadEntry(entry);
    return { model, anchor: nodeNamed(model, findExactFusions(model).blocks[0]!.anchor) };
  };
  /** The Mul by ½ on v, among the two inputs of the anchor (a·v + b·q̂(k̂ᵀv)). */
  const valueWeight = (anchor: Node): { mul: Node; at: number } => {
    for (const input of anchor.inputs) {
      const mul = input!.producer()!;
      const at = [0, 1].find((i) => mul.inputs[i]!.producer()?.opType === 'Constant' && mul.inputs[1 - i]!.producer()?.opType !== 'MatMul');
      if (mul.opType === 'Mul' && at !== undefined) return { mul, at };
    }
    throw new Error('no value weight');
  };
  /** The Div computing x̂ = x / ‖x‖. */
  const outputDivision = (anchor: Node): Node => anchor.outputs[0]!.uses().map((use) => use.node).find((node) => node.opType === 'Div')!;

  it('a value weight of 0.4 instead of ½', async () => {
    const { model, anchor } = await load();
    const { mul, at } = valueWeight(anchor);
    mul.replaceInput(at, constant(model, [0.4], 'test_value_weight'));
    await expectRefused(model, 0, /x = 0\.4000000059604645·v \+ 0\.31830987334251404·q̂\(k̂ᵀv\).*computes ½·v \+ \(1\/π\)·q̂\(K̂ᵀV\)/);
  });

  it('x̂ clamped at 1e-6 while q̂ and k̂ are clamped at 1e-12', async () => {
    const { model, anchor } = await load();
    const clip = producerOf(producerOf(outputDivision(anchor).inputs[1], 'Expand').inputs[0], 'Clip');
    clip.replaceInput(1, constant(model, [1e-6], 'test_eps'));
    await expectRefused(model, 0, /guard the norm differently \(q̂: max\(‖x‖, 9\.99999\d*e-13\), k̂: max\(‖x‖, 9\.99999\d*e-13\), x̂: max\(‖x‖, 9\.99999997\d*e-7\)\)/);
  });

  it('x̂ normalised over the tokens axis', async () => {
    const { model, anchor } = await load();
    const clip = producerOf(producerOf(outputDivision(anchor).inputs[1], 'Expand').inputs[0], 'Clip');
    clip.inputs[0]!.producer()!.setAttribute(Attr.ints('axes', [2]));
    await expectRefused(model, 0, /x̂ = x \/ ‖x‖ normalises over axes \[2\] of its rank-4 input, not over the head dim \(axis 3\) alone/);
  });

  it('q̂ also read outside the block', async () => {
    const { model, anchor } = await load();
    const angular = anchor.inputs.map((input) => input!.producer()!).find((node) => node.inputs.some((input) => input?.producer()?.opType === 'MatMul'))!;
    const product = angular.inputs.map((input) => input?.producer()).find((node) => node?.opType === 'MatMul')!;
    const qHat = product.inputs[0]!;
    model.graph.append(new Node({ opType: 'Identity', inputs: [qHat], name: 'test_reader', outputs: ['test_reader_out'] }));
    const out = model.graph.nodes.at(-1)!.outputs[0]!;
    out.type = tensorType(DataType.FLOAT);
    model.graph.addOutput(out);
    await expectRefused(model, 0, /intermediate value '.*' \(from Div '.*'\) is also read by Identity 'test_reader'; fusing would keep the decomposed block/);
  });
});
