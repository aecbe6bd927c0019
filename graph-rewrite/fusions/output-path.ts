/**
 * From a linear-angular block's per-head output x̂ down to where its heads are merged: the sum points
 * on the way. Castling-ViT adds the depthwise conv of v to x̂ (a *side term*: it stays, so x̂ is what
 * the fused op's output replaces), and its training form adds `gate · softmax(q kᵀ/√d) v` (a *gated
 * branch*: dropped when the gate is the constant 0) — before or after the merge.
 */

import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import { dimsEqual, formatShape, type Dim } from '../analysis/dims.js';
import type { BlockSizes, Role } from '../analysis/head-layout.js';
import { VALUE_NEUTRAL_OPS, describeNode, isMetadataReader, type MatchContext } from '../rewrite/match-context.js';
import { traceOutput } from '../attention/output.js';
import type { OutputTarget } from '../attention/types.js';
import type { ExactCondition, GatedSoftmaxBranch } from './types.js';
import { uniformConstant } from './constants.js';

/** Ops that move data without computing (between softmax·v and a gate). */
const DATA_MOVEMENT_OPS: ReadonlySet<string> = new Set(['Transpose', 'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', ...VALUE_NEUTRAL_OPS]);

export interface OutputPath {
  /** Whether other terms are added to x̂ before the merge. */
  readonly hasSideTerms: boolean;
  readonly gatedBranches: GatedSoftmaxBranch[];
  /** The merged output (what the fused op's output replaces when no side terms precede the merge). */
  readonly target: OutputTarget;
  readonly conditions: ExactCondition[];
}

/** The Softmax whose weights a MatMul above `value` (through data movement) multiplies, if any. */
function softmaxAttentionAbove(m: MatchContext, value: Value): Node | undefined {
  let current: Value | undefined = value;
  for (let steps = 0; current !== undefined && steps < 16; steps++) {
    const node: Node | undefined = current.producer();
    if (node === undefined || node.domain !== '' || node.graph !== m.graph) return undefined;
    if (node.opType === 'MatMul') {
      let weights = node.inputs[0];
      for (let p = weights?.producer(); p?.domain === '' && VALUE_NEUTRAL_OPS.has(p.opType); p = weights?.producer()) weights = p.inputs[0];
      const softmax = weights?.producer();
      return softmax?.domain === '' && softmax.opType === 'Softmax' ? softmax : undefined;
    }
    if (!DATA_MOVEMENT_OPS.has(node.opType)) return undefined;
    current = node.inputs[0];
  }
  return undefined;
}

/** `value` read up through value-neutral ops (Cast, Identity, …). */
function skipNeutral(value: Value | undefined): Value | undefined {
  let current = value;
  for (let p = current?.producer(); p?.domain === '' && VALUE_NEUTRAL_OPS.has(p.opType); p = current?.producer()) current = p.inputs[0];
  return current;
}

/** MatMul(gate · softmax(…), v): the weights gated before they multiply v. The Mul, its gate side and the Softmax. */
function gatedWeights(m: MatchContext, matmul: Node): { mul: Node; side: number; softmax: Node } | undefined {
  const mul = skipNeutral(matmul.inputs[0])?.producer();
  if (mul?.domain !== '' || mul.opType !== 'Mul' || mul.graph !== m.graph || mul.inputs.length !== 2) return undefined;
  for (const side of [0, 1]) {
    const softmax = skipNeutral(mul.inputs[1 - side])?.producer();
    if (softmax?.domain === '' && softmax.opType === 'Softmax') return { mul, side, softmax };
  }
  return undefined;
}

/**
 * `other` as gate · (softmax attention) added by `sum` to `main` — the gate on softmax(…)·v, or on the
 * weights before they multiply v — or undefined. Any factor counts as the gate: the check drops the
 * branch only when it is the constant 0 (then the branch is 0 for every finite v).
 */
function gatedBranchOf(m: MatchContext, sum: Node, main: Value, other: Value, afterMerge: boolean): GatedSoftmaxBranch | undefined {
  let mul = other.producer();
  // The gate may multiply before the branch is rearranged (gate · (w·v), then transposed and merged).
  const rearrangement: Node[] = [];
  for (; mul?.domain === '' && mul.graph === m.graph && DATA_MOVEMENT_OPS.has(mul.opType) && rearrangement.length < 8; mul = mul.inputs[0]?.producer()) rearrangement.push(mul);
  if (mul?.domain === '' && mul.opType === 'MatMul' && mul.graph === m.graph) {
    const weights = gatedWeights(m, mul);
    if (weights === undefined) return undefined;
    const gateValue = weights.mul.inputs[weights.side]!;
    return {
      gateNode: weights.mul, gate: uniformConstant(m, gateValue), gateValue, softmax: weights.softmax, sum, main, term: other, rearrangement: [...rearrangement, mul], afterMerge,
    };
  }
  if (mul === undefined || mul.domain !== '' || mul.opType !== 'Mul' || mul.graph !== m.graph || mul.inputs.length !== 2) return undefined;
  for (const side of [0, 1]) {
    const softmax = softmaxAttentionAbove(m, mul.inputs[1 - side]!);
    if (softmax === undefined) continue;
    const gateValue = mul.inputs[side]!;
    return { gateNode: mul, gate: uniformConstant(m, gateValue), gateValue, softmax, sum, main, term: other, rearrangement, afterMerge };
  }
  return undefined;
}

/** Whether `term` broadcasts into `shape` without changing it: right-aligned, each dim 1 or equal. */
function fitsInto(term: readonly Dim[] | undefined, shape: readonly Dim[] | undefined): boolean {
  if (term === undefined || shape === undefined || term.length > shape.length) return false;
  const offset = shape.length - term.length;
  return term.every((dim, i) => dim === 1 || dimsEqual(dim, shape[offset + i]));
}

/** The Add reading `value` as its only data reader, with the other addend; undefined when there is none. */
function nextSum(value: Value): { add: Node; other: Value } | undefined {
  const readers = value.uses().map((use) => use.node).filter((node) => !isMetadataReader(node));
  const add = readers[0];
  if (readers.length !== 1 || value.isGraphOutput() || add!.domain !== '' || add!.opType !== 'Add' || add!.inputs.length !== 2) return undefined;
  return { add: add!, other: add!.inputs[add!.inputs[0] === value ? 1 : 0]! };
}

/** The chain of Adds below `value`, each the only data reader of the one before (at most `limit`). */
function sumChain(value: Value, limit = 8): { add: Node; other: Value; main: Value }[] {
  const chain: { add: Node; other: Value; main: Value }[] = [];
  for (let current = value, sum = nextSum(current); sum !== undefined && chain.length < limit; current = sum.add.outputs[0]!, sum = nextSum(current)) {
    chain.push({ ...sum, main: current });
  }
  return chain;
}

/**
 * Follows `start` (the per-head output, with axis roles `axes`) through its sum points and the head
 * merge. Binds the Adds ('side-term sum' / 'gated sum'), the gates ('softmax gate') and the merge chain
 * ('output chain'). After the merge, sums are followed only up to the last gated branch: the side terms
 * on the way (a depthwise conv added to the merged output) stay the model's, unbound. A gated branch is
 * droppable only if it cannot have widened the sum by broadcasting: its shape fits into the per-head
 * output's (before the merge) or the merged output's (after).
 */
export function followOutput(m: MatchContext, start: Value, axes: readonly (readonly Role[])[], sizes: BlockSizes): OutputPath {
  const gatedBranches: GatedSoftmaxBranch[] = [];
  const conditions: ExactCondition[] = [];
  let hasSideTerms = false;
  const takeGated = (gated: GatedSoftmaxBranch, reference: Value): void => {
    m.bind(gated.sum, 'gated sum');
    m.bind(gated.gateNode, 'softmax gate');
    for (const node of gated.rearrangement) m.bind(node, 'softmax gate');
    gatedBranches.push(gated);
    const [term, shape] = [m.shapeOf(gated.term), m.shapeOf(reference)];
    conditions.push({
      holds: fitsInto(term, shape),
      reason: `the gated softmax branch added by ${describeNode(gated.sum)} is ${formatShape(term)}, which may broadcast the attention output ${formatShape(shape)}`,
      node: gated.sum,
    });
  };

  let current = start;
  for (const sum of sumChain(start)) {
    const gated = gatedBranchOf(m, sum.add, sum.main, sum.other, false);
    if (gated !== undefined) {
      takeGated(gated, start);
    } else {
      m.bind(sum.add, 'side-term sum');
      hasSideTerms = true;
    }
    current = sum.add.outputs[0]!;
  }
  const merged = traceOutput(m, current, axes, sizes, 'the attention output');
  const after = sumChain(merged.value).map((sum) => gatedBranchOf(m, sum.add, sum.main, sum.other, true));
  const last = after.reduce((found, gated, i) => (gated === undefined ? found : i), -1);
  for (const gated of after.slice(0, last + 1)) if (gated !== undefined) takeGated(gated, merged.value);
  return { hasSideTerms, gatedBranches, target: merged, conditions };
}
