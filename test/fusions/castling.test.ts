/**
 * Castling's training form: the auxiliary softmax branch, multiplied by a gate that is the constant 0,
 * is dropped and the linear-angular part fused ('castling-switch'); the result computes what the
 * training form and the inference form (same weights, no branch) compute. A hand-edited copy with
 * gate 0.5 is refused, naming the value; so is a gate made a graph input (not a constant).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { findExactFusions, fuseExactAttention } from '../../graph-rewrite/fusions/index.js';
import { Tensor, type Model, type Value } from '../../graph-rewrite/ir/index.js';
import { modelToBytes } from '../../src/model-io.js';
import { countOps, fuseEntries, loadEntry, maxAbsDifference, referenceOf, runFirstOutput, seededFeeds } from './helpers.js';

const entries = fuseEntries();
const training = entries.find((entry) => entry.blocks.length > 0 && entry.blocks.every((block) => block.kind === 'linear-angular+softmax-aux'));
const inference = entries.find((entry) => entry.blocks.length > 0 && entry.blocks.every((block) => block.kind === 'linear-angular'));

/** The gate initializers of the training form: scalars multiplied with a softmax branch, found by the fusion's report. */
function gateInitializers(model: Model): Value[] {
  const softmaxes = new Set(findExactFusions(model).blocks.flatMap((block) => block.droppedBranches ?? []));
  const gates = new Set<Value>();
  for (const node of model.graph.nodes) {
    if (node.opType !== 'Mul') continue;
    const fromSoftmax = node.inputs.some((input) => {
      for (let value = input, steps = 0; value !== undefined && steps < 4; steps++) {
        const producer = value.producer();
        if (producer === undefined) return false;
        if (producer.opType === 'MatMul') return softmaxes.has(producer.inputs[0]?.producer()?.name ?? '');
        value = producer.inputs[0];
      }
      return false;
    });
    if (!fromSoftmax) continue;
    for (const input of node.inputs) {
      let value = input;
      while (value?.producer()?.opType === 'Identity') value = value.producer()!.inputs[0];
      if (value?.isInitializer() && value.constValue?.elementCount === 1) gates.add(value);
    }
  }
  return [...gates];
}

describe.skipIf(training === undefined)('Castling training form', () => {
  let original: Model;
  beforeAll(async () => {
    original = await loadEntry(training!);
  });

  it('has its softmax branches gated by the constant 0', () => {
    expect(countOps(original)['Softmax']).toBe(training!.blocks.length);
    const gates = gateInitializers(original);
    expect(gates.length).toBeGreaterThan(0);
    expect(gates.map((gate) => gate.constValue!.toFloat32Array()[0])).toEqual(gates.map(() => 0));
  });

  it('fuses every block as castling-switch: no Softmax left, each dropped branch named', () => {
    const { model, fused, skipped } = fuseExactAttention(original);
    expect(skipped).toEqual([]);
    expect(fused.map((block) => block.kind)).toEqual(training!.blocks.map(() => 'castling-switch'));
    const softmaxNames = original.graph.nodes.filter((node) => node.opType === 'Softmax').map((node) => node.name);
    expect(fused.flatMap((block) => block.droppedBranches ?? [])).toEqual(softmaxNames);
    expect(countOps(model)['Softmax'] ?? 0).toBe(0);
    expect(model.graph.nodes.some((node) => node.name !== undefined && softmaxNames.includes(node.name))).toBe(false);
  });

  it.skipIf(inference === undefined)('fused, it computes what the training form and the inference form compute (≤ 1e-5)', async () => {
    const fusedTraining = fuseExactAttention(original).model;
    const fusedInference = fuseExactAttention(await loadEntry(inference!)).model;
    const { feeds } = referenceOf(training!);
    const reference = await runFirstOutput(original, feeds);
    expect(maxAbsDifference(await runFirstOutput(fusedTraining, feeds), reference)).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDifference(await runFirstOutput(fusedInference, feeds), reference)).toBeLessThanOrEqual(1e-5);
    const random = await seededFeeds(original, 4);
    expect(maxAbsDifference(await runFirstOutput(fusedTraining, random), await runFirstOutput(original, random))).toBeLessThanOrEqual(1e-5);
  });

  it('a hand-edited copy with gate 0.5 is refused, the reason naming the gate value', async () => {
    const edited = await loadEntry(training!);
    for (const gate of gateInitializers(edited)) gate.constValue = Tensor.fromFloat32Array([0.5], gate.constValue!.dims);
    const before = modelToBytes(edited);
    const { model, fused, skipped } = fuseExactAttention(edited);
    expect(fused).toEqual([]);
    expect(skipped.length).toBe(training!.blocks.length);
    for (const { reason } of skipped) {
      expect(reason).toMatch(/the auxiliary softmax branch \(Softmax '.*'\) is multiplied by the gate 0\.5 \(Mul '.*'\), not 0: dropping it would change the output/);
    }
    expect(Buffer.compare(modelToBytes(model), before)).toBe(0);
    expect(findExactFusions(edited).blocks.every((block) => !block.fusable && /gate 0\.5/.test(block.reason ?? ''))).toBe(true);
  });

  it('a gate that is a graph input (overridable, not a constant) is refused', async () => {
    const edited = await loadEntry(training!);
    const [gate] = gateInitializers(edited);
    edited.graph.addInput(gate!);
    const { skipped } = fuseExactAttention(edited);
    expect(skipped.length).toBeGreaterThan(0);
    expect(skipped[0]!.reason).toMatch(/multiplied by value '.*' \(Mul '.*'\), which is not a constant scalar; it cannot be dropped/);
  });
});
