/**
 * The tracer on hand-edited variants of real fixtures: each edit (remove the scale, add a bias, mask
 * with Where, break a head reshape, …) must be reported with a reason that names the node responsible —
 * as the reason of a found-but-rejected block, a note on a convertible one, or the explanation of an
 * unmatched Softmax (the attempt that got furthest).
 */
import { describe, expect, it } from 'vitest';
import { findAttentionBlocks, type AttentionBlocksReport } from '../../graph-rewrite/attention/index.js';
import { Attr, DataType, Node, Tensor, tensorType, type Model } from '../../graph-rewrite/ir/index.js';
import { copyModel, loadFixture, loadManifest } from './helpers.js';

const manifest = loadManifest();
const originals = new Map<string, Model>();

async function fixture(name: string): Promise<Model> {
  if (!originals.has(name)) originals.set(name, await loadFixture(manifest.find((entry) => entry.name === name)!));
  return copyModel(originals.get(name)!);
}

function node(model: Model, name: string): Node {
  const found = model.graph.nodes.find((candidate) => candidate.name === name);
  if (found === undefined) throw new Error(`no node '${name}'`);
  return found;
}

/** Inserts `inserted` (one input, one output) on the edge from `from`'s output 0 to `to`'s input `index`. */
function spliceBetween(model: Model, from: Node, to: Node, index: number, inserted: Node): void {
  model.graph.insertBefore(to, inserted);
  to.replaceInput(index, inserted.outputs[0]!);
  expect(inserted.inputs[0]).toBe(from.outputs[0]);
}

function constant(model: Model, name: string, tensor: Tensor) {
  return model.graph.addInitializer(tensor, name);
}

/** Adds the constant `bias` to block 0's scores, between its q·kᵀ MatMul and its Softmax. */
function addBiasToScores(model: Model, values: Float32Array, dims: readonly number[]): void {
  const bias = constant(model, 'injected_bias', Tensor.fromFloat32Array(values, [...dims]));
  const add = new Node({ opType: 'Add', name: 'injected/Add', inputs: [node(model, `${TIMM}MatMul`).outputs[0]!, bias] });
  spliceBetween(model, node(model, `${TIMM}MatMul`), node(model, `${TIMM}Softmax`), 0, add);
}

/** torch dynamo's guard after block 0's Softmax: w → Where(IsNaN(w), 0, w) → the weights·v MatMul. */
function insertNanGuard(model: Model): void {
  const softmax = node(model, `${TIMM}Softmax`);
  const reader = softmax.outputs[0]!.uses()[0]!.node;
  const isNaN = new Node({ opType: 'IsNaN', name: 'injected/IsNaN', inputs: [softmax.outputs[0]!] });
  const where = new Node({ opType: 'Where', name: 'injected/Where', inputs: [isNaN.outputs[0]!, constant(model, 'guard_zero', Tensor.fromFloat32Array([0], [])), softmax.outputs[0]!] });
  model.graph.insertBefore(reader, isNaN);
  model.graph.insertBefore(reader, where);
  reader.replaceInput(0, where.outputs[0]!);
}

interface Variant {
  readonly name: string;
  readonly fixture: string;
  readonly edit: (model: Model) => void;
  readonly expect: (report: AttentionBlocksReport) => void;
}

const TIMM = '/blocks.0/attn/';
const HF = '/blocks.0/attn/';

const VARIANTS: Variant[] = [
  {
    name: 'remove the scale → convertible, with a note naming the scores MatMul',
    fixture: 'timm_vit',
    edit: (model) => {
      const scale = node(model, `${TIMM}Mul`);
      node(model, `${TIMM}MatMul`).replaceInput(0, scale.inputs[0]!);
      model.graph.removeNodes(scale);
    },
    expect: ({ blocks }) => {
      expect(blocks[0]!.convertible).toBe(true);
      expect(blocks[0]!.scale.placement).toBe('none');
      expect(blocks[0]!.notes.join()).toMatch(/no 1\/√d scale on the scores of MatMul '\/blocks\.0\/attn\/MatMul'/);
      expect(blocks[1]!.notes).toEqual([]);
    },
  },
  {
    name: 'a scale that is not 1/√d → convertible, with a note giving both values',
    fixture: 'timm_vit',
    edit: (model) => node(model, `${TIMM}Mul`).replaceInput(1, constant(model, 'half', Tensor.fromFloat32Array([0.5], []))),
    expect: ({ blocks }) => {
      expect(blocks[0]!.convertible).toBe(true);
      expect(blocks[0]!.scale).toMatchObject({ value: 0.5, placement: 'mul-q', matchesHeadDim: false });
      expect(blocks[0]!.notes.join()).toMatch(/scale on the scores of MatMul '\/blocks\.0\/attn\/MatMul' is 0\.500000, not 1\/√16 = 0\.250000/);
    },
  },
  {
    name: 'add a constant all-zero bias before Softmax (dynamo\'s folded all-True mask) → no mask, convertible',
    fixture: 'timm_vit',
    edit: (model) => addBiasToScores(model, new Float32Array(17 * 17), [1, 1, 17, 17]),
    expect: ({ blocks }) => {
      expect(blocks.map((block) => block.convertible)).toEqual([true, true]);
      expect(blocks[0]!.nodes).toContain('injected/Add');
    },
  },
  {
    name: 'add a bias the same for every key (softmax is shift-invariant) → no mask, convertible',
    fixture: 'timm_vit',
    edit: (model) => addBiasToScores(model, Float32Array.from({ length: 4 * 17 }, (_, i) => i * 0.37 - 3), [1, 4, 17, 1]),
    expect: ({ blocks }) => expect(blocks.map((block) => block.convertible)).toEqual([true, true]),
  },
  {
    name: 'add a per-key bias (the same for every query) → found, rejected as a per-key bias, not a relative-position one',
    fixture: 'timm_vit',
    edit: (model) => addBiasToScores(model, Float32Array.from({ length: 17 }, (_, i) => Math.sin(i)), [1, 1, 1, 17]),
    expect: ({ blocks }) => {
      expect(blocks[0]!.convertible).toBe(false);
      expect(blocks[0]!.reason).toMatch(/a per-key bias \(the same for every query\)/);
      expect(blocks[0]!.reason).not.toMatch(/relative-position/);
    },
  },
  {
    name: 'add a bias that varies per query-key pair before Softmax → found, rejected, the reason names the Add and the bias shape',
    fixture: 'timm_vit',
    edit: (model) => addBiasToScores(model, Float32Array.from({ length: 4 * 17 * 17 }, (_, i) => Math.sin(i)), [1, 4, 17, 17]),
    expect: ({ blocks }) => {
      expect(blocks.map((block) => block.convertible)).toEqual([false, true]);
      expect(blocks[0]!.reason).toBe("Softmax '/blocks.0/attn/Softmax': the scores have an additive input (Add 'injected/Add' with a constant [1,4,17,17] bias) before Softmax — a relative-position bias (it varies per query–key pair); no linear-attention equivalent, left alone");
    },
  },
  {
    name: 'mask the scores with Where by a constant all-True condition → no mask, convertible',
    fixture: 'timm_vit',
    edit: (model) => {
      const condition = constant(model, 'injected_mask', Tensor.fromRawData(DataType.BOOL, [1, 1, 1, 17], new Uint8Array(17).fill(1)));
      const fill = constant(model, 'injected_fill', Tensor.fromFloat32Array([-1e4], []));
      const where = new Node({ opType: 'Where', name: 'injected/Where', inputs: [condition, node(model, `${TIMM}MatMul`).outputs[0]!, fill] });
      model.graph.insertBefore(node(model, `${TIMM}Softmax`), where);
      node(model, `${TIMM}Softmax`).replaceInput(0, where.outputs[0]!);
    },
    expect: ({ blocks }) => expect(blocks[0]!.convertible).toBe(true),
  },
  {
    name: 'mask the scores with Where → found, rejected, the reason names the Where',
    fixture: 'timm_vit',
    edit: (model) => {
      const condition = constant(model, 'injected_mask', Tensor.fromRawData(DataType.BOOL, [1, 1, 1, 17], Uint8Array.from({ length: 17 }, (_, i) => Number(i !== 3))));
      const fill = constant(model, 'injected_fill', Tensor.fromFloat32Array([-1e4], []));
      const where = new Node({ opType: 'Where', name: 'injected/Where', inputs: [condition, node(model, `${TIMM}MatMul`).outputs[0]!, fill] });
      model.graph.insertBefore(node(model, `${TIMM}Softmax`), where);
      node(model, `${TIMM}Softmax`).replaceInput(0, where.outputs[0]!);
    },
    expect: ({ blocks }) => {
      expect(blocks[0]!.convertible).toBe(false);
      expect(blocks[0]!.reason).toMatch(/scores are masked \(Where 'injected\/Where' with a constant \[1,1,1,17\] condition that masks 5\.9 % of the entries\).*a constant attention mask; left alone/);
    },
  },
  {
    name: "break q's head reshape → unmatched, explained at that Reshape",
    fixture: 'hf_vit_op12',
    edit: (model) => node(model, `${HF}Reshape`).replaceInput(1, constant(model, 'broken_shape', Tensor.fromInt64Array([1, 3, 17, 16], [4]))),
    expect: ({ blocks, unmatched }) => {
      expect(blocks.map((block) => block.anchor)).toEqual(['/blocks.1/attn/Softmax']);
      expect(unmatched).toHaveLength(1);
      expect(unmatched[0]).toMatchObject({ node: '/blocks.0/attn/Softmax', opType: 'Softmax', rule: 'softmax-attention', stoppedAt: `${HF}Reshape` });
      expect(unmatched[0]!.reason).toMatch(/^Softmax '\/blocks\.0\/attn\/Softmax': q: Reshape '\/blocks\.0\/attn\/Reshape' reshape \[1,17,48\] → \[1,3,17,16\] does not split along whole factors/);
    },
  },
  {
    name: 'k split into other heads than q → unmatched, explained at the scores MatMul',
    fixture: 'hf_vit_op12',
    edit: (model) => node(model, `${HF}Reshape_1`).replaceInput(1, constant(model, 'other_heads', Tensor.fromInt64Array([1, 17, 6, 8], [4]))),
    expect: ({ unmatched }) => {
      expect(unmatched.map((entry) => entry.node)).toEqual(['/blocks.0/attn/Softmax']);
      expect(unmatched[0]!.reason).toMatch(/q has 3 heads × 16, but kᵀ has 6 × 8 \[rule softmax-attention, stopped at MatMul '\/blocks\.0\/attn\/MatMul'\]/);
    },
  },
  {
    name: 'Softmax over another axis → unmatched, explained at the Softmax',
    fixture: 'hf_vit_op12',
    edit: (model) => node(model, `${HF}Softmax`).setAttribute(Attr.int('axis', 1)),
    expect: ({ unmatched }) => {
      expect(unmatched.map((entry) => entry.reason)).toEqual([
        "Softmax '/blocks.0/attn/Softmax': Softmax normalises over axis 1 of [1,3,17,17], not the last (keys) axis [rule softmax-attention]",
      ]);
    },
  },
  {
    name: 'guard the weights with Where(IsNaN(w), 0, w) (torch dynamo) → part of the block, convertible',
    fixture: 'timm_vit',
    edit: (model) => insertNanGuard(model),
    expect: ({ blocks }) => {
      expect(blocks.map((block) => block.convertible)).toEqual([true, true]);
      expect(blocks[0]!.nodes).toEqual(expect.arrayContaining(['injected/IsNaN', 'injected/Where']));
    },
  },
  {
    name: 'the NaN guard around a partially masked Softmax → found, rejected for the mask',
    fixture: 'timm_vit',
    edit: (model) => {
      addBiasToScores(model, Float32Array.from({ length: 17 }, (_, i) => (i === 5 ? -Infinity : 0)), [1, 1, 1, 17]);
      insertNanGuard(model);
    },
    expect: ({ blocks }) => {
      expect(blocks[0]!.convertible).toBe(false);
      expect(blocks[0]!.reason).toMatch(/a constant attention mask \(5\.9 % of the score entries filled with ≤ -100\), left alone/);
    },
  },
  {
    name: 'ONNX Attention with a constant all-True attn_mask → no mask, convertible; one False entry → a constant mask',
    fixture: 'onnx_attention23_vit',
    edit: (model) => {
      const attention = model.graph.nodes.filter((candidate) => candidate.opType === 'Attention');
      const mask = (values: number[]) => constant(model, `mask_${values.join('')}`.slice(0, 20), Tensor.fromRawData(DataType.BOOL, [1, 1, 1, 17], Uint8Array.from(values)));
      // q, k, v, then attn_mask (input 3).
      attention[0]!.appendInput(mask(Array(17).fill(1)));
      attention[1]!.appendInput(mask(Array.from({ length: 17 }, (_, i) => Number(i !== 0))));
    },
    expect: ({ blocks }) => {
      expect(blocks.map((block) => block.convertible)).toEqual([true, false]);
      expect(blocks[1]!.reason).toMatch(/has a constant attention mask \(input 3, \[1,1,1,17\]\) that masks 5\.9 % of the entries; left alone/);
    },
  },
  {
    name: 'the attention weights are also a graph output → found, rejected, naming the value',
    fixture: 'timm_vit',
    edit: (model) => {
      const weights = node(model, `${TIMM}Softmax`).outputs[0]!;
      weights.type = tensorType(DataType.FLOAT);
      model.graph.addOutput(weights);
    },
    expect: ({ blocks }) => {
      expect(blocks[0]!.convertible).toBe(false);
      expect(blocks[0]!.reason).toMatch(/intermediate value '\/blocks\.0\/attn\/Softmax_output_0' \(from Softmax '\/blocks\.0\/attn\/Softmax'\) is a graph output/);
    },
  },
  {
    name: 'the attention weights are also averaged elsewhere → found, rejected, naming the reader',
    fixture: 'timm_vit',
    edit: (model) => {
      const average = new Node({ opType: 'ReduceMean', name: 'injected/ReduceMean', inputs: [node(model, `${TIMM}Softmax`).outputs[0]!], attributes: [Attr.ints('axes', [1])] });
      model.graph.insertAfter(node(model, `${TIMM}Softmax`), average);
      average.outputs[0]!.type = tensorType(DataType.FLOAT);
      model.graph.addOutput(average.outputs[0]!);
    },
    expect: ({ blocks }) => {
      expect(blocks[0]!.convertible).toBe(false);
      expect(blocks[0]!.reason).toMatch(/is also read by ReduceMean 'injected\/ReduceMean'; converting would keep the softmax path/);
    },
  },
  {
    name: 'a classifier Softmax → unmatched, explained at the Gemm that feeds it',
    fixture: 'timm_vit',
    edit: (model) => {
      const softmax = new Node({ opType: 'Softmax', name: '/head/Softmax', inputs: [model.graph.outputs[0]!], attributes: [Attr.int('axis', -1)] });
      model.graph.append(softmax);
      softmax.outputs[0]!.type = tensorType(DataType.FLOAT);
      model.graph.addOutput(softmax.outputs[0]!);
    },
    expect: ({ blocks, unmatched }) => {
      expect(blocks).toHaveLength(2);
      expect(unmatched).toEqual([{
        node: '/head/Softmax',
        opType: 'Softmax',
        rule: 'softmax-attention',
        reason: "Softmax '/head/Softmax': the Softmax input: expected the attention scores from MatMul, found Gemm '/head/Gemm' [rule softmax-attention, stopped at Gemm '/head/Gemm']",
        stoppedAt: '/head/Gemm',
      }]);
    },
  },
  {
    name: 'an op on the output before its heads are merged → unmatched, explained at that op',
    fixture: 'timm_vit',
    edit: (model) => {
      const relu = new Node({ opType: 'Relu', name: 'injected/Relu', inputs: [node(model, `${TIMM}MatMul_1`).outputs[0]!] });
      spliceBetween(model, node(model, `${TIMM}MatMul_1`), node(model, `${TIMM}Transpose_2`), 0, relu);
    },
    expect: ({ unmatched }) => {
      expect(unmatched.map((entry) => entry.stoppedAt)).toEqual(['injected/Relu']);
      expect(unmatched[0]!.reason).toMatch(/the attention output \(heads split, \[1, H, N, d\]\) goes to Relu 'injected\/Relu' before its heads are merged/);
    },
  },
];

describe('the tracer explains hand-edited variants', () => {
  it.each(VARIANTS.map((variant) => [variant.fixture, variant.name, variant] as const))('%s: %s', async (_fixture, _name, variant) => {
    const model = await fixture(variant.fixture);
    // The unedited fixture is fully explained: every Softmax is a convertible block.
    const before = findAttentionBlocks(model);
    expect(before.unmatched).toEqual([]);
    expect(before.blocks.every((block) => block.convertible)).toBe(true);
    variant.edit(model);
    variant.expect(findAttentionBlocks(model));
  });
});
