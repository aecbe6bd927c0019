/**
 * The exact-fusion rule for decomposed Hydra attention, `Y = q̂ ⊙ Σ_t (k̂_t ⊙ v_t)` with
 * q̂ = q / ‖q‖₂ and k̂ = k / ‖k‖₂ over the whole feature dim — as torch exports `q / q.norm(dim=-1)`
 * (ReduceL2, or Mul/ReduceSum/Sqrt), F.normalize (Clip, Expand) or a Mul by the reciprocal norm.
 * Anchored at the ReduceSum over tokens; q, k, v are the block's [B, N, D] tensors. The rewrite is the
 * attention module's shared one, with HydraAttention and the eps the check proved exact.
 */

import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import { dimsEqual, formatShape, type Dim } from '../analysis/dims.js';
import { describeNode, type MatchContext } from '../rewrite/match-context.js';
import type { RewriteRule } from '../rewrite/rule.js';
import { makeScale } from '../attention/scale.js';
import type { OperandView } from '../attention/types.js';
import { checkExactAttention, normalizationConditions } from './exactness.js';
import { matchL2Normalized, reductionAxes } from './l2-normalize.js';
import { rewriteExactAttention } from './rewrite.js';
import type { ExactAttentionMatch, ExactCondition } from './types.js';

/** q, k or v read as the [B, N, D] tensor it is. */
function asBND(value: Value): OperandView {
  return { value, batchAxis: 0, tokensAxis: 1, packed: undefined };
}

function isBND(shape: readonly Dim[] | undefined): shape is readonly Dim[] {
  return shape !== undefined && shape.length === 3;
}

function shapeConditions(m: MatchContext, q: Value, k: Value, v: Value, output: Value, product: Node, final: Node): ExactCondition[] {
  const [qs, ks, vs, ys] = [q, k, v, output].map((value) => m.shapeOf(value));
  const known = isBND(qs) && isBND(ks) && isBND(vs);
  return [
    { holds: known, reason: `q ${formatShape(qs)}, k ${formatShape(ks)} and v ${formatShape(vs)} are not all [B, N, D]`, node: final },
    {
      holds: known && ks!.every((dim, i) => dimsEqual(dim, vs![i])),
      reason: `k̂ ⊙ v (${describeNode(product)}) broadcasts: k is ${formatShape(ks)}, v is ${formatShape(vs)}`,
      node: product,
    },
    {
      holds: known && dimsEqual(qs![0], ks![0]) && dimsEqual(qs![2], ks![2]),
      reason: `q ${formatShape(qs)} and k ${formatShape(ks)} differ in batch or features`,
      node: final,
    },
    {
      holds: known && isBND(ys) && ys.every((dim, i) => dimsEqual(dim, qs![i])),
      reason: `q̂ ⊙ Σ k̂ ⊙ v (${describeNode(final)}) is ${formatShape(ys)}, not q's ${formatShape(qs)}`,
      node: final,
    },
  ];
}

function matchHydra(m: MatchContext, tokenSum: Node): ExactAttentionMatch {
  m.bind(tokenSum, 'token sum');
  const product = m.bind(m.producer(tokenSum.inputs[0], ['Mul'], 'the summed k̂ ⊙ v', tokenSum), 'k̂ ⊙ v');
  // Σ k̂ ⊙ v is symmetric in k and v, so either input may be the normalised one.
  const { k, v } = m.firstOf('k̂ ⊙ v', [0, 1].map((side) => [`k̂ as input ${side}`, (c: MatchContext) => ({
    k: matchL2Normalized(c, product.inputs[side], 'k̂', product),
    v: product.inputs[1 - side]!,
  })] as const));
  const sum = tokenSum.outputs[0]!;
  const final = m.bind(m.soleConsumer(sum, 'Σ k̂ ⊙ v', tokenSum), 'q̂ ⊙ Σ k̂ ⊙ v');
  m.ensure(final.domain === '' && final.opType === 'Mul' && final.inputs.length === 2, () => `Σ k̂ ⊙ v goes to ${describeNode(final)}, not a Mul with q̂`, final);
  const q = matchL2Normalized(m, final.inputs[final.inputs[0] === sum ? 1 : 0], 'q̂', final);

  const output = final.outputs[0]!;
  const qShape = m.shapeOf(q.input);
  const features = qShape?.[2];
  m.ensure(typeof features === 'number', () => `the feature dim of q ${formatShape(qShape)} is not a static size`, final);
  const tokenAxes = reductionAxes(m, tokenSum);
  const rank = m.shapeOf(product.outputs[0])?.length;
  const tokensAxis = tokenAxes?.length === 1 && rank !== undefined ? (tokenAxes[0]! < 0 ? tokenAxes[0]! + rank : tokenAxes[0]) : undefined;
  const conditions: ExactCondition[] = [
    ...shapeConditions(m, q.input, k.input, v, output, product, final),
    {
      holds: tokensAxis === 1 && tokenSum.getInt('keepdims', 1) !== 0,
      reason: `${describeNode(tokenSum)} sums k̂ ⊙ v over ${tokenAxes === undefined ? 'all axes' : `axes [${tokenAxes.join(', ')}]`}${tokenSum.getInt('keepdims', 1) === 0 ? ' without keepdims' : ''}, not over the tokens axis 1 alone keeping it`,
      node: tokenSum,
    },
    ...[q, k].flatMap((n) => normalizationConditions(n, 2, 'feature dim')),
  ];
  const elemType = m.elemTypeOf(v);
  return {
    kind: 'hydra',
    exactKind: 'hydra',
    style: 'hf', // q, k, v are read as [B, N, D] tensors, like HF's separate projections
    anchor: tokenSum,
    q: asBND(q.input),
    k: asBND(k.input),
    v: asBND(v),
    heads: features,
    headDim: 1,
    tokens: qShape![1],
    keyTokens: m.shapeOf(k.input)?.[1],
    batch: qShape![0],
    scale: makeScale(1, 'none', 1),
    elemType,
    output: { value: output, axes: [['B'], ['N'], ['H', 'd']], shape: m.shapeOf(output) ?? [], elemType: m.elemTypeOf(output) },
    interior: [...m.bound.keys()],
    notes: [],
    normalizations: [q, k],
    conditions,
    gatedBranches: [],
  };
}

/** Decomposed Hydra attention → HydraAttention, exactly. */
export const hydraAttentionRule: RewriteRule<ExactAttentionMatch, unknown> = {
  name: 'exact-hydra',
  anchor: { opType: 'ReduceSum' },
  match: matchHydra,
  check: checkExactAttention,
  rewrite: rewriteExactAttention,
};
