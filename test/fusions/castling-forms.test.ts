/**
 * Castling models exported in forms of our own (models/scripts/castling_forms.py): both linear-angular
 * forms (reference, kernel-normalised) × both depthwise-conv layouts (3×3 over the patch grid with the
 * class token excluded, 1-D over the tokens) × both ways of gating the softmax branch to 0 (a Mul by a
 * literal 0, a zero initializer), over several dims, heads and orders of operations. Each fuses exactly:
 * every block in its form, the branch dropped, the conv kept. They are trained fuse fixtures, so
 * accuracy.test.ts checks the same top-1 on every image of the 1,000-image sample with logits within 1e-5,
 * and fuse-cpu.test.ts the outputs on the reference and random inputs. Hand-edited copies that change
 * what a block computes are refused, each naming why.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findExactFusions, fuseExactAttention } from '../../graph-rewrite/fusions/index.js';
import { Attr, Node, Tensor, type Model } from '../../graph-rewrite/ir/index.js';
import { constantScalarOf } from '../../graph-rewrite/analysis/constants.js';
import { parseSampleFile } from '../../src/data/sample-file.js';
import { classifySample } from '../../src/eval/classify.js';
import { modelToBytes } from '../../src/model-io.js';
import { argmaxRows } from '../../src/runtime/index.js';
import { nodeBackend } from '../../src/runtime/node-backend.js';
import { MODELS_DIR, countOps, fuseEntries, loadEntry, loadManifestEntries, maxAbsDifference, type FuseEntry } from './helpers.js';

const forms = fuseEntries().filter((entry) => entry.blocks.some((block) => block.form !== undefined));
const samplePath = path.join(MODELS_DIR, loadManifestEntries().sample);
const sample = parseSampleFile(new Uint8Array(fs.readFileSync(samplePath)), samplePath);

/** The fixtures are committed: a missing one is a failure, not a skip. */
function required(name: string): FuseEntry {
  const entry = forms.find((candidate) => candidate.name === name);
  if (entry === undefined) throw new Error(`models/manifest.json has no ${name}`);
  return entry;
}

async function logitsOnSample(model: Model): Promise<{ logits: Float32Array; classes: number }> {
  const session = await nodeBackend.createSession(modelToBytes(model));
  try {
    const run = await classifySample(session, sample);
    return { logits: run.logits, classes: run.classes };
  } finally {
    await session.release();
  }
}

it('the Castling forms cover both forms × both conv layouts × both zero gates, over several head shapes, all trained', () => {
  expect(forms.length).toBeGreaterThanOrEqual(6);
  expect(forms.filter((entry) => entry.trained === undefined).map((entry) => entry.name)).toEqual([]);
  const blocks = forms.flatMap((entry) => entry.blocks);
  expect(new Set(blocks.map((block) => `${block.form}/${block.conv}`))).toEqual(
    new Set(['reference/grid', 'reference/tokens', 'kernel-normalized/grid', 'kernel-normalized/tokens']),
  );
  expect(new Set(blocks.map((block) => block.gate_form))).toEqual(new Set(['mul0', 'init']));
  expect(new Set(blocks.map((block) => `${block.heads}x${block.head_dim}`)).size).toBeGreaterThanOrEqual(4);
});

describe.each(forms.map((entry) => [entry.name, entry] as const))('%s', (_name, entry) => {
  it("fuses every block in the manifest's form, dropping the 0-gated softmax branch and keeping the conv", async () => {
    const original = await loadEntry(entry);
    const { model, fused, skipped } = fuseExactAttention(original);
    expect(skipped).toEqual([]);
    expect(fused.map((block) => [block.kind, block.form, block.heads, block.headDim])).toEqual(
      entry.blocks.map((block) => ['castling-switch', block.form, block.heads, block.head_dim]),
    );
    expect(fused.every((block) => block.droppedBranches?.length === 1)).toBe(true);
    const [before, after] = [countOps(original), countOps(model)];
    expect(after['Softmax'] ?? 0).toBe(0);
    expect(after['Conv']).toBe(before['Conv']);
    const modes = model.graph.nodes.filter((node) => node.opType === 'LinearAngularAttention').map((node) => node.getString('mode'));
    expect(modes).toEqual(entry.blocks.map((block) => (block.form === 'kernel-normalized' ? 'kernel_normalized' : 'reference')));
  });
});

/**
 * Fuses a hand-edited copy of `entry`: nothing skipped, and the same top-1 as the unedited model on every
 * sample image with logits within 1e-5. Returns the fusion's blocks and model for further checks.
 */
async function expectFusedLikeOriginal(entry: FuseEntry, edited: Model): Promise<ReturnType<typeof fuseExactAttention>> {
  const result = fuseExactAttention(edited);
  expect(result.skipped).toEqual([]);
  const [before, after] = [await logitsOnSample(await loadEntry(entry)), await logitsOnSample(result.model)];
  expect(argmaxRows(after.logits, after.classes)).toEqual(argmaxRows(before.logits, before.classes));
  expect(maxAbsDifference(after.logits, before.logits)).toBeLessThanOrEqual(1e-5);
  return result;
}

/** The Constant node feeding `node` the scalar `value`, if any. */
function constantInput(node: Node, value: number): Node | undefined {
  return node.inputs.map((input) => input?.producer()).find((producer) => producer?.opType === 'Constant' && constantScalarOf(producer.outputs[0]) === value);
}

function setConstant(node: Node, value: number): void {
  node.setAttribute(Attr.tensor('value', Tensor.fromFloat32Array([value], [])));
}

describe('refusals, on hand-edited copies of the kernel-normalised model', () => {
  const entry = required('fmnist_castling_kn_grid_mul0');
  const tokens = 50;

  async function refused(edit: (model: Model) => number): Promise<string[]> {
    const model = await loadEntry(entry);
    expect(edit(model)).toBe(entry.blocks.length);
    const before = modelToBytes(model);
    const { model: result, fused, skipped } = fuseExactAttention(model);
    expect(fused).toEqual([]);
    expect(Buffer.compare(modelToBytes(result), before)).toBe(0);
    expect(findExactFusions(model).blocks.every((block) => !block.fusable)).toBe(true);
    return skipped.map((skip) => skip.reason);
  }

  it('a denominator whose a·N is not ½ × the token count is refused, naming both weights', async () => {
    const reasons = await refused((model) => {
      const adds = model.graph.nodes.filter((node) => node.opType === 'Add' && constantInput(node, tokens / 2) !== undefined);
      for (const add of adds) setConstant(constantInput(add, tokens / 2)!, tokens / 2 + 1);
      return adds.length;
    });
    for (const reason of reasons) expect(reason).toMatch(/denominator 0\.52·N \+ 0\.318\d*·q̂·Σk̂.*the weights must match between numerator and denominator/);
  });

  it('a softmax branch gated by 0.5 (a Mul by a literal) is refused, naming the gate', async () => {
    const reasons = await refused((model) => {
      const gates = model.graph.nodes.filter((node) => node.opType === 'Mul' && constantInput(node, 0) !== undefined);
      for (const gate of gates) setConstant(constantInput(gate, 0)!, 0.5);
      return gates.length;
    });
    for (const reason of reasons) expect(reason).toMatch(/the auxiliary softmax branch \(Softmax '.*'\) is multiplied by the gate 0\.5 \(Mul '.*'\), not 0/);
  });

  it('Σv over the head dim instead of the tokens is refused', async () => {
    const reasons = await refused((model) => {
      const sums = model.graph.nodes.filter((node) => node.opType === 'ReduceSum' && node.outputs[0]!.uses().some((use) => constantInput(use.node, 0.5) !== undefined));
      for (const sum of sums) {
        const axes = model.graph.addInitializer(Tensor.fromInt64Array([-1], [1]), `${sum.name}_head_dim_axes`);
        sum.replaceInput(1, axes);
      }
      return sums.length;
    });
    for (const reason of reasons) expect(reason).toMatch(/ReduceSum '.*' \(Σv\) does not sum over the tokens alone/);
  });
});

describe('the angular weight written on q̂ instead of on q̂(k̂ᵀv)', () => {
  const entry = required('fmnist_castling_ref_grid_mul0');

  it('fuses (the factor on q̂ weights the whole term), outputs equal', async () => {
    const model = await loadEntry(entry);
    // (q̂ (k̂ᵀv)) / π  →  (q̂ / π) (k̂ᵀv)
    const divisions = model.graph.nodes.filter((node) => node.opType === 'Div' && constantScalarOf(node.inputs[1]) !== undefined
      && Math.abs(constantScalarOf(node.inputs[1])! - Math.PI) < 1e-6 && node.inputs[0]?.producer()?.opType === 'MatMul');
    expect(divisions.length).toBe(entry.blocks.length);
    for (const division of divisions) {
      const product = division.inputs[0]!.producer()!;
      const onQ = new Node({ opType: 'Div', inputs: [product.inputs[0], division.inputs[1]], name: `${division.name}_on_q`, outputs: [`${division.name}_on_q_out`] });
      model.graph.insertBefore(product, onQ);
      product.replaceInput(0, onQ.outputs[0]!);
      division.outputs[0]!.replaceAllUsesWith(product.outputs[0]!);
      model.graph.removeNodes(division);
    }
    const { fused } = await expectFusedLikeOriginal(entry, model);
    expect(fused.map((block) => block.form)).toEqual(entry.blocks.map(() => 'reference'));
  }, 60_000);
});

describe('the 0 gate on the softmax weights, before they multiply v: (0 · softmax(…)) v', () => {
  const entry = required('fmnist_castling_kn_grid_mul0');

  it('drops the branch and fuses, outputs equal', async () => {
    const model = await loadEntry(entry);
    const gates = model.graph.nodes.filter((node) => node.opType === 'Mul' && constantInput(node, 0) !== undefined);
    expect(gates.length).toBe(entry.blocks.length);
    for (const gate of gates) {
      const product = gate.inputs.find((input) => input?.producer()?.opType === 'MatMul')!.producer()!;
      const onWeights = new Node({ opType: 'Mul', inputs: [product.inputs[0], constantInput(gate, 0)!.outputs[0]], name: `${gate.name}_on_weights`, outputs: [`${gate.name}_on_weights_out`] });
      model.graph.insertBefore(product, onWeights);
      product.replaceInput(0, onWeights.outputs[0]!);
      gate.outputs[0]!.replaceAllUsesWith(product.outputs[0]!);
      model.graph.removeNodes(gate);
    }
    const { model: fused, fused: blocks } = await expectFusedLikeOriginal(entry, model);
    expect(blocks.map((block) => [block.kind, block.droppedBranches?.length])).toEqual(entry.blocks.map(() => ['castling-switch', 1]));
    expect(countOps(fused)['Softmax'] ?? 0).toBe(0);
  }, 60_000);
});

describe('a gate initializer that is a per-head tensor', () => {
  const entry = required('fmnist_castling_kn_tokens_init');
  const heads = entry.blocks[0]!.heads;

  /** Sets every zero scalar gate initializer (the Mul with the softmax branch reads it) to a [1, H, 1, 1] tensor. */
  async function withGate(values: number[]): Promise<Model> {
    const model = await loadEntry(entry);
    const gates = [...model.graph.initializers.values()].filter((value) => value.name?.endsWith('.attn.gate'));
    expect(gates.length).toBeGreaterThan(0);
    for (const gate of gates) gate.constValue = Tensor.fromFloat32Array(values, [1, heads, 1, 1]);
    return model;
  }

  it('of zeros is dropped like the scalar 0, outputs equal', async () => {
    const { fused } = await expectFusedLikeOriginal(entry, await withGate(Array.from({ length: heads }, () => 0)));
    expect(fused.map((block) => block.kind)).toEqual(entry.blocks.map(() => 'castling-switch'));
  }, 60_000);

  it('whose heads differ (one is not 0) is refused', async () => {
    const { fused, skipped } = fuseExactAttention(await withGate(Array.from({ length: heads }, (_, i) => (i === 1 ? 0.1 : 0))));
    expect(fused).toEqual([]);
    for (const { reason } of skipped) expect(reason).toMatch(/is multiplied by value '.*gate.*' \(Mul '.*'\), which is not a constant scalar; it cannot be dropped/);
  });
});
