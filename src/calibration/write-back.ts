/**
 * Writing a block's refit into a converted model: the fitted weight and bias become the initializers of
 * the block's existing output projection (MatMul + bias Add, or Gemm; a bias Add is added when the
 * MatMul had none); with the extended basis, the extra terms' subgraph is added beside the fused op and
 * its sum added to the projection's output. Nothing else changes. A block whose projection could not be
 * refitted (a quantised weight, several readers, no projection at all) gets a new MatMul + Add right after
 * the fused op instead: identity and zero until fitted, so it changes nothing before the fit.
 */
import { RewriteError } from '../../graph-rewrite/errors.js';
import { constantTensorOf } from '../../graph-rewrite/analysis/constants.js';
import { Attr } from '../../graph-rewrite/ir/attributes.js';
import { DataType } from '../../graph-rewrite/ir/dtypes.js';
import type { Model } from '../../graph-rewrite/ir/model.js';
import { Node } from '../../graph-rewrite/ir/node.js';
import type { Value } from '../../graph-rewrite/ir/value.js';
import { topologicalSort } from '../../graph-rewrite/passes/topological-sort.js';
import { addBasisProjection, addBasisTerms, type CalibrationBasis } from './basis.js';
import { GraphEditor } from './graph-edit.js';
import { findOutputProjection, type OutputProjection } from './projection.js';

/** A fitted block: X·W ≈ target with X = [basis…, 1]; W [(basis width) + 1, out] row-major, float64. */
export interface BlockWeights {
  readonly basis: CalibrationBasis;
  readonly features: number;
  readonly outFeatures: number;
  readonly weights: Float64Array;
  /** Static token count (the extended basis divides by it). */
  readonly tokens: number;
  /** Heads of the softmax block the fused op replaced (the extended basis splits by them). */
  readonly heads: number;
  /** Why the block's own projection could not be refitted, when the fit is written into an added MatMul + Add. */
  readonly addedProjection?: string;
}

export function opsetOf(model: Model): number {
  return model.opsetImports.get('') ?? model.opsetImports.get('ai.onnx') ?? 0;
}

/** The dtype a projection's weight is stored in (FLOAT or FLOAT16). */
function weightType(p: OutputProjection): number {
  return constantTensorOf(p.node.inputs[1])?.dataType === DataType.FLOAT16 ? DataType.FLOAT16 : DataType.FLOAT;
}

/** The element type the fused node computes in (its q input's dtype, as the projection weight tells). */
function fusedElemType(p: OutputProjection): number {
  return weightType(p);
}

/** The projection after `fused`, or a RewriteError naming why there is none (the fit found one before). */
export function projectionOf(fused: Node, features: number): OutputProjection {
  const p = findOutputProjection(fused, features);
  if (typeof p === 'string') throw new RewriteError(`calibration: ${fused.label}: ${p}`);
  return p;
}

/**
 * Adds an identity MatMul and a zero bias Add right after `fused` (its [B, N, features] output), which
 * {@link findOutputProjection} then finds as the block's projection. Returns the Add's output.
 */
export function addIdentityProjection(model: Model, fused: Node, features: number): Value {
  const output = fused.outputs[0]!;
  const isHalf = (v: Value | undefined) => v?.type?.kind === 'tensor' && v.type.elemType === DataType.FLOAT16;
  const dtype = isHalf(output) || isHalf(fused.inputs[0]) ? DataType.FLOAT16 : DataType.FLOAT;
  const editor = new GraphEditor(model.graph, opsetOf(model), `${fused.name ?? fused.opType}/calibration`);
  const identity = new Float32Array(features * features);
  for (let i = 0; i < features; i++) identity[i * features + i] = 1;
  const added = addAfter(output, (value) => editor.op('Add', [
    editor.op('MatMul', [value, editor.floats(identity, [features, features], 'added_weight', dtype)], [], 'added_projection'),
    editor.floats(new Float32Array(features), [features], 'added_bias', dtype),
  ], [], 'added_bias_add'));
  topologicalSort(model.graph);
  return added;
}

/** Writes `fit` into the projection after `fused` (a node of `model`), in place. */
export function writeBlockWeights(model: Model, fused: Node, fit: BlockWeights): void {
  if (fit.addedProjection !== undefined) addIdentityProjection(model, fused, fit.features);
  const p = projectionOf(fused, fit.features);
  const editor = new GraphEditor(model.graph, opsetOf(model), `${fused.name ?? fused.opType}/calibration`);
  const dtype = weightType(p);
  const { features: inF, outFeatures: outF, weights } = fit;
  const w = new Float32Array(inF * outF);
  for (let i = 0; i < inF; i++) for (let o = 0; o < outF; o++) w[p.transB ? o * inF + i : i * outF + o] = weights[i * outF + o]!;
  const bias = Float32Array.from(weights.subarray(weights.length - outF));
  p.node.replaceInput(1, editor.floats(w, p.transB ? [outF, inF] : [inF, outF], 'weight', dtype));
  if (p.form === 'gemm') {
    while (p.node.inputs.length < 3) p.node.appendInput(undefined);
    p.node.replaceInput(2, editor.floats(bias, [outF], 'bias', dtype));
    p.node.setAttribute(Attr.float('alpha', 1));
    p.node.setAttribute(Attr.float('beta', 1));
  } else if (p.biasAdd) {
    p.biasAdd.node.replaceInput(p.biasAdd.index, editor.floats(bias, [outF], 'bias', dtype));
  } else {
    addAfter(p.output, (value) => editor.op('Add', [value, editor.floats(bias, [outF], 'bias', dtype)], [], 'bias_add'));
  }
  if (fit.basis === 'extended') {
    const [q, k, v] = [0, 1, 2].map((i) => fused.inputs[i]!);
    const elemType = fusedElemType(p);
    const terms = addBasisTerms(editor, q!, k!, v!, fit.heads, inF, fit.tokens, elemType);
    let extra = addBasisProjection(editor, terms, weights, inF, outF, elemType);
    extra = replayChain(editor, p.chain, extra);
    const output = projectionOf(fused, inF).output; // after a bias Add added above
    addAfter(output, (value) => editor.op('Add', [value, extra], [], 'basis_add'));
  }
  topologicalSort(model.graph);
}

/** Applies the layout nodes `chain` (fused output → projection input) to another [B, N, D'] value. */
export function replayChain(editor: GraphEditor, chain: readonly Node[], value: Value): Value {
  let current = value;
  for (const node of chain) {
    const copy = new Node({ domain: node.domain, opType: node.opType, inputs: [current, ...node.inputs.slice(1)], attributes: node.attributes, outputs: 1, name: editor.graph.nameAllocator.freshNodeName(`${editor.prefix}/${node.opType}`) });
    editor.graph.append(copy);
    current = copy.outputs[0]!;
  }
  return current;
}

/** Puts `make(value)` between `value` and its readers: they read the new value instead. */
function addAfter(value: Value, make: (value: Value) => Value): Value {
  if (value.isGraphOutput()) throw new RewriteError(`calibration: ${value.label} is a graph output; cannot add nodes after it`);
  const uses = value.uses();
  const made = make(value);
  for (const use of uses) use.node.replaceInput(use.index, made);
  return made;
}
