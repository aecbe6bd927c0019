/**
 * Exporter forms the fixtures do not contain, made by hand-editing them: the norm as Pow(x, 2) /
 * ReduceSum / Sqrt, the division as a Mul by Reciprocal(‖x‖), the token sum as Mul(v, k̂) (operands
 * swapped). Each is fused like the original form, and the outputs still equal the unedited model's.
 */
import { describe, expect, it } from 'vitest';
import { findExactFusions, fuseExactAttention } from '../../graph-rewrite/fusions/index.js';
import { Node, Tensor, type Model } from '../../graph-rewrite/ir/index.js';
import { fuseEntries, loadEntry, maxAbsDifference, referenceOf, runFirstOutput } from './helpers.js';

/** The fixtures are committed: a missing one is a failure, not a skip. */
function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`models/manifest.json has no ${what}`);
  return value;
}

const entries = fuseEntries();
const sqrtForm = entries.find((entry) => entry.name === 'fmnist_hydra_last2');
const hydra = entries.find((entry) => entry.name === 'fmnist_hydra');

async function expectFusedAndEqual(entry: NonNullable<typeof hydra>, edited: Model): Promise<void> {
  const { model, fused, skipped } = fuseExactAttention(edited);
  expect(skipped).toEqual([]);
  expect(fused.length).toBe(findExactFusions(await loadEntry(entry)).blocks.length);
  const { feeds } = referenceOf(entry);
  const [before, after] = [await runFirstOutput(await loadEntry(entry), feeds), await runFirstOutput(model, feeds)];
  expect(maxAbsDifference(after, before)).toBeLessThanOrEqual(1e-5);
}

required(sqrtForm, 'Hydra model with the Sqrt norm form');
required(hydra, 'Hydra model');

describe('the norm as Pow(x, 2), ReduceSum, Sqrt', () => {
  it('fuses, outputs equal', async () => {
    const model = await loadEntry(sqrtForm!);
    const squares = model.graph.nodes.filter((node) => node.opType === 'Mul' && node.inputs[0] === node.inputs[1]);
    expect(squares.length).toBeGreaterThanOrEqual(4);
    const two = model.graph.addInitializer(Tensor.fromFloat32Array([2], []), 'test_two');
    for (const square of squares) {
      const pow = new Node({ opType: 'Pow', inputs: [square.inputs[0], two], name: `${square.name}_pow`, outputs: [`${square.name}_pow_out`] });
      model.graph.insertBefore(square, pow);
      square.outputs[0]!.replaceAllUsesWith(pow.outputs[0]!);
      model.graph.removeNodes(square);
    }
    expect(findExactFusions(model).blocks.every((block) => block.fusable)).toBe(true);
    await expectFusedAndEqual(sqrtForm!, model);
  });
});

describe('x · Reciprocal(‖x‖) instead of x / ‖x‖, and Mul(v, k̂)', () => {
  it('fuses, outputs equal', async () => {
    const model = await loadEntry(hydra!);
    const divisions = model.graph.nodes.filter((node) => node.opType === 'Div' && node.inputs[1]?.producer()?.opType === 'ReduceL2');
    expect(divisions.length).toBe(6);
    for (const division of divisions) {
      const reciprocal = new Node({ opType: 'Reciprocal', inputs: [division.inputs[1]], name: `${division.name}_reciprocal`, outputs: [`${division.name}_reciprocal_out`] });
      const product = new Node({ opType: 'Mul', inputs: [reciprocal.outputs[0], division.inputs[0]], name: `${division.name}_mul`, outputs: [`${division.name}_mul_out`] });
      model.graph.insertBefore(division, [reciprocal, product]);
      division.outputs[0]!.replaceAllUsesWith(product.outputs[0]!);
      model.graph.removeNodes(division);
    }
    for (const sum of model.graph.nodes.filter((node) => node.opType === 'ReduceSum')) {
      const product = sum.inputs[0]!.producer()!;
      const [a, b] = product.inputs;
      product.replaceInput(0, b);
      product.replaceInput(1, a);
    }
    await expectFusedAndEqual(hydra!, model);
  });
});
