/**
 * What the refit weighs its rows by: the tokens of a block's residual stream that the model's outputs
 * read (readout.ts), found by meaning on the 6-block Fashion-MNIST ViT and on edits of it that read
 * every token (mean pooling, the stream itself as an output); and weighted normal equations, which
 * must equal repeating or dropping rows.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { convertAttention } from '../../graph-rewrite/attention/index.js';
import { Attr } from '../../graph-rewrite/ir/attributes.js';
import type { Model } from '../../graph-rewrite/ir/model.js';
import { Node } from '../../graph-rewrite/ir/node.js';
import type { Value } from '../../graph-rewrite/ir/value.js';
import { findOutputProjection, newFusedNodes } from '../../src/calibration/index.js';
import { readoutWeights, tokenReadout } from '../../src/calibration/readout.js';
import { NormalEquations } from '../../src/calibration/ridge.js';
import { loadModel } from '../../src/model-io.js';

const MODELS = join(import.meta.dirname, '..', '..', 'models');
const TOKENS = 50;
let base: Model;

/** The converted model and the residual sum after each converted block's output projection. */
function convertedStreams(blocks: readonly number[]): { model: Model; sums: Value[] } {
  const { model } = convertAttention(base, { attention: 'linear-angular', linearAngularMode: 'kernel_normalized', blocks });
  const sums = newFusedNodes(base, model).map((node) => {
    const p = findOutputProjection(node, 64);
    if (typeof p === 'string' || !p.residual) throw new Error(`no residual after ${node.label}: ${p}`);
    return p.residual.sum;
  });
  return { model, sums };
}

beforeAll(async () => {
  base = await loadModel(join(MODELS, 'fmnist_softmax6.onnx'));
});

describe('tokenReadout on fmnist_softmax6 (class token, Gather on axis 1 after the final norm)', () => {
  it('after the last block: the class token alone, nothing mixes tokens', () => {
    const { model, sums } = convertedStreams([0, 1, 2, 3, 4, 5]);
    expect(tokenReadout(model, sums[5]!, TOKENS)).toEqual({ tokens: [0], mixed: false });
  });

  it('after an earlier block, or a last converted block followed by softmax blocks: the class token, mixed', () => {
    const all = convertedStreams([0, 1, 2, 3, 4, 5]);
    expect(tokenReadout(all.model, all.sums[0]!, TOKENS)).toEqual({ tokens: [0], mixed: true });
    const some = convertedStreams([1, 3]);
    expect(tokenReadout(some.model, some.sums[1]!, TOKENS)).toEqual({ tokens: [0], mixed: true });
  });

  it('mean pooling over tokens instead of the Gather: every token counts (no readout)', () => {
    const { model, sums } = convertedStreams([5]);
    const gather = model.graph.nodes.find((n) => n.opType === 'Gather' && n.getInt('axis', 0) === 1)!;
    const pool = new Node({ opType: 'ReduceMean', inputs: [gather.inputs[0]!], attributes: [Attr.ints('axes', [1]), Attr.int('keepdims', 0)], outputs: 1 });
    model.graph.insertBefore(gather, pool);
    for (const use of gather.outputs[0]!.uses()) use.node.replaceInput(use.index, pool.outputs[0]!);
    expect(tokenReadout(model, sums[0]!, TOKENS)).toBeUndefined();
  });

  it('a graph output that reads the stream around the Gather: every token counts', () => {
    const { model, sums } = convertedStreams([5]);
    const norm = model.graph.nodes.find((n) => n.opType === 'LayerNormalization' && n.outputs[0]!.uses().some((u) => u.node.opType === 'Gather'))!;
    model.graph.addOutput(norm.outputs[0]!);
    expect(tokenReadout(model, sums[0]!, TOKENS)).toBeUndefined();
  });

  it('an out-of-range Gather index is no readout', () => {
    const { model, sums } = convertedStreams([5]);
    expect(tokenReadout(model, sums[0]!, 0)).toBeUndefined();
  });
});

describe('readoutWeights', () => {
  it.each([
    ['no readout: uniform', undefined, undefined],
    ['readout, nothing mixes after: readout tokens only', { tokens: [0], mixed: false }, [1, 0, 0, 0, 1, 0, 0, 0]],
    ['readout, mixing after: readout weighs as the rest together', { tokens: [0], mixed: true }, [3, 1, 1, 1, 3, 1, 1, 1]],
    ['two readout tokens, mixing', { tokens: [0, 1], mixed: true }, [1, 1, 1, 1, 1, 1, 1, 1]],
  ] as const)('%s', (_, readout, expected) => {
    const weight = readoutWeights(readout, 4);
    expect(weight ? Array.from({ length: 8 }, (_, r) => weight(r)) : undefined).toEqual(expected);
  });
});

describe('weighted normal equations', () => {
  const rows = [[1, 2, 0.5], [0.3, -1, 2], [2, 0.1, -0.7], [-1, 1, 1], [0.5, 0.5, 3]];
  const targets = [[1, 0], [0.2, -1], [3, 1], [-0.5, 2], [1.5, 1.5]];
  const feature = (data: number[][]) => (r: number, out: Float64Array) => data[r]!.forEach((x, i) => (out[i] = x));

  it('a weight of 2 equals the row twice, a weight of 0 equals the row left out', () => {
    const weighted = new NormalEquations(3, 2);
    weighted.add(rows.length, feature(rows), targets.flat(), (r) => [2, 1, 0, 1, 1][r]!);
    const repeated = new NormalEquations(3, 2);
    const expanded = [rows[0]!, rows[0]!, rows[1]!, rows[3]!, rows[4]!];
    const expandedTargets = [targets[0]!, targets[0]!, targets[1]!, targets[3]!, targets[4]!];
    repeated.add(expanded.length, feature(expanded), expandedTargets.flat());
    expect(weighted.rows).toBe(repeated.rows);
    const a = weighted.solve(1e-6);
    const b = repeated.solve(1e-6);
    a.forEach((x, i) => expect(x).toBeCloseTo(b[i]!, 10));
    expect(weighted.squaredError(a)).toBeCloseTo(repeated.squaredError(b), 10);
    expect(weighted.targetPower).toBeCloseTo(repeated.targetPower, 10);
  });
});
