/**
 * The exact-fusion rule for decomposed linear-angular attention (Castling-ViT), in both forms, per
 * head, with q̂, k̂ = q, k L2-normalised over the head dim and a = ½, b = 1/π:
 * - reference (the released code): `x = a·v + b·q̂(k̂ᵀv)`, `x̂ = x / ‖x‖₂`;
 * - kernel-normalised (the paper): `y = (a·Σ_j v_j + b·q̂(k̂ᵀv)) / (a·N + b·q̂·Σ_j k̂_j)` (kernel-normalized.ts).
 * Then `+ dwconv(v)` (a side term, kept as ordinary nodes, before or after the heads are merged) and, in
 * Castling's training form, `+ gate · softmax(q kᵀ/√d) v` (dropped when the gate is the constant 0:
 * kind 'castling-switch'). Anchored at the Add of the value term and the angular term; the association
 * (q̂k̂ᵀ)v and the weights' placement are alternatives of the pattern. q, k, v are traced to their
 * projection with the attention module's layout tracing, so any head-split style reads as one pattern.
 */

import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import { dimsEqual, formatShape } from '../analysis/dims.js';
import { formatRoles } from '../analysis/head-layout.js';
import { describeNode, type MatchContext } from '../rewrite/match-context.js';
import type { RewriteRule } from '../rewrite/rule.js';
import { interiorNodes, traceOperand, tracedOperands, type OperandTrace } from '../attention/operand.js';
import { makeScale } from '../attention/scale.js';
import { DEFAULT_ANGULAR_WEIGHT, DEFAULT_VALUE_WEIGHT } from '../../custom-ops/index.js';
import { checkExactAttention, normalizationConditions } from './exactness.js';
import { kernelConditions, matchKernelNormalized, valueSumOf, type KernelNormalizedForm } from './kernel-normalized.js';
import { matchL2Normalized } from './l2-normalize.js';
import {
  angularTerm, describeWeight, rolesAtNormalization, weighted, type AngularTerm, type NormalizedOperand, type Weighted,
} from './linear-angular-terms.js';
import { followOutput } from './output-path.js';
import { canUnmerge, rewriteExactAttention } from './rewrite.js';
import type { ExactAttentionMatch, ExactCondition, L2Normalization } from './types.js';

/** x̂ = x / ‖x‖ among the readers of x. */
function outputNormalization(m: MatchContext, x: Value, sum: Node): L2Normalization {
  const readers = x.uses().map((use) => use.node).filter((node) => node.domain === '' && ((node.opType === 'Div' && node.inputs[0] === x) || node.opType === 'Mul'));
  m.ensure(readers.length > 0, () => `x = a·v + b·q̂(k̂ᵀv) (${x.label}) is not divided by its norm`, sum);
  const found = m.firstOf('x̂ = x / ‖x‖', readers.map((node) => [describeNode(node), (c: MatchContext) => matchL2Normalized(c, node.outputs[0], 'x̂', node)] as const));
  m.ensure(found.input === x, () => `${describeNode(found.node)} normalises ${found.input.label}, not x`, found.node);
  return found;
}

function operandConditions(q: OperandTrace, k: OperandTrace, v: OperandTrace, anchor: Node): ExactCondition[] {
  const batchAxes = (trace: OperandTrace): string => formatRoles(trace.view.axes.slice(0, -2));
  return (
    [['kᵀ', k, batchAxes(k) === batchAxes(q)], ['v', v, formatRoles(v.view.axes) === formatRoles(q.view.axes)]] as const
  ).flatMap(([name, trace, aligned]) => [
    {
      holds: trace.view.heads === q.view.heads && trace.view.headDim === q.view.headDim && aligned,
      reason: `q is ${q.view.heads} heads × ${q.view.headDim} laid out ${formatRoles(q.view.axes)}, ${name} is ${trace.view.heads} × ${trace.view.headDim} laid out ${formatRoles(trace.view.axes)}`,
      node: anchor,
    },
    {
      holds: dimsEqual(trace.view.tokens, q.view.tokens) && dimsEqual(trace.view.batch, q.view.batch),
      reason: `q has batch ${String(q.view.batch)} and ${String(q.view.tokens)} tokens, ${name} has ${String(trace.view.batch)} and ${String(trace.view.tokens)}: the fused forms need self-attention`,
      node: anchor,
    },
  ]);
}

/** That q̂ and k̂ were normalised over the head dim: their normalised axis is d where the MatMuls read them. */
function normalizedAxisConditions(angular: AngularTerm, rank: number): ExactCondition[] {
  return ([[angular.q, rank - 1, 'q̂'], [angular.k, rank - 2, 'k̂ᵀ']] as const).map(([operand, at, name]) => ({
    holds: operand.normalizedAxisAt === at,
    reason: `${name} is normalised over an axis that the Transposes up to the MatMul (${operand.transposes.map(describeNode).join(', ') || 'none'}) do not bring to the head dim`,
    node: operand.transposes[0] ?? operand.norm.node,
  }));
}

/** That q and k are not scaled before their normalisation (factors after it are part of the angular weight). */
function scaleConditions(operands: readonly (readonly [OperandTrace, NormalizedOperand])[], anchor: Node): ExactCondition[] {
  return operands.map(([trace, operand]) => {
    const before = trace.scales.filter((scale) => !operand.factors.nodes.includes(scale.node));
    return {
      holds: before.length === 0,
      reason: `${operand.norm.input.label} is scaled before its normalisation (${before.map((scale) => describeNode(scale.node)).join(', ')}), which the norm's eps does not see the same way`,
      node: before[0]?.node ?? anchor,
    };
  });
}

/** Traces a normalised operand through its normalisation to the projection; its Transposes stay the block's. */
function traceNormalized(m: MatchContext, operand: NormalizedOperand, kind: 'q' | 'kT', what: string): OperandTrace {
  const trace = traceOperand(m, operand.operand, kind, what, operand.norm.node, new Map([[operand.norm.node, operand.norm.input]]));
  for (const transpose of operand.transposes) m.bind(transpose, `${operand.norm.what} layout`);
  for (const factor of operand.factors.nodes) m.bind(factor, `${operand.norm.what} weight`);
  return trace;
}

function referenceWeightConditions(valueWeight: Weighted, angular: Weighted, anchor: Node): ExactCondition[] {
  const [a, b] = [Math.fround(valueWeight.weight), Math.fround(angular.weight)];
  const holds = a === Math.fround(DEFAULT_VALUE_WEIGHT) && b === Math.fround(DEFAULT_ANGULAR_WEIGHT);
  return [{
    holds,
    reason: `x = ${a}·v + ${b}·q̂(k̂ᵀv) (value weight: ${describeWeight(valueWeight)}, angular weight: ${describeWeight(angular)}); the fused reference form computes ½·v + (1/π)·q̂(K̂ᵀV)`,
    node: valueWeight.node ?? anchor,
  }];
}

/** The numerator's two terms: the angular term and, per form, a·v (reference) or a·Σv (kernel-normalised). */
type Terms =
  | { readonly form: 'reference'; readonly angular: AngularTerm; readonly value: Weighted }
  | { readonly form: 'kernel-normalized'; readonly angular: AngularTerm; readonly kernel: KernelNormalizedForm };

function matchTerms(m: MatchContext, sum: Node): Terms {
  return m.firstOf('a·v + b·q̂(k̂ᵀv)', [0, 1].map((side) => [`b·q̂(k̂ᵀv) as input ${side}`, (c: MatchContext): Terms => {
    const angular = angularTerm(c, sum.inputs[side]!, sum);
    const valueSum = valueSumOf(c, sum.inputs[1 - side]!, sum, angular.v);
    if (valueSum === undefined) return { form: 'reference', angular, value: weighted(c, sum.inputs[1 - side]!, 'value weight', angular.v) };
    return { form: 'kernel-normalized', angular, kernel: matchKernelNormalized(c, sum.outputs[0]!, valueSum, sum) };
  }] as const));
}

function matchLinearAngular(m: MatchContext, sum: Node): ExactAttentionMatch {
  m.bind(sum, 'a·v + b·q̂(k̂ᵀv)');
  m.ensure(sum.inputs.length === 2, () => `${describeNode(sum)} does not add two terms`, sum);
  const terms = matchTerms(m, sum);
  const { angular } = terms;
  const xHat = terms.form === 'reference' ? outputNormalization(m, sum.outputs[0]!, sum) : undefined;
  const perHead = terms.form === 'reference' ? xHat!.output : terms.kernel.output;

  const q = traceNormalized(m, angular.q, 'q', 'q');
  const k = traceNormalized(m, angular.k, 'kT', 'k');
  const v = traceOperand(m, angular.v, 'v', 'v', angular.product);
  const { heads, headDim } = q.view;
  const sizes = { batch: q.view.batch, tokens: q.view.tokens, heads, headDim };
  const path = followOutput(m, perHead, q.view.axes, sizes);
  const rank = q.view.axes.length;

  const [xShape, vShape] = [m.shapeOf(sum.outputs[0]), m.shapeOf(angular.v)];
  const normalizations = terms.form === 'reference' ? [angular.q.norm, angular.k.norm, xHat!] : [angular.q.norm, angular.k.norm];
  const layouts = { q: rolesAtNormalization(m, angular.q, q.view.axes), k: rolesAtNormalization(m, angular.k, k.view.axes), v: v.view.axes };
  const conditions: ExactCondition[] = [
    ...operandConditions(q, k, v, sum),
    ...(terms.form === 'reference'
      ? [
        {
          holds: terms.value.value === angular.v,
          reason: `the value term reads ${terms.value.value.label}, but k̂ᵀv reads ${angular.v.label}: a·v must be the same v`,
          node: terms.value.node ?? sum,
        },
        ...referenceWeightConditions(terms.value, angular.weight, sum),
      ]
      : kernelConditions(m, terms.kernel, angular, layouts, k.view.tokens)),
    ...scaleConditions([[q, angular.q], [k, angular.k]], sum),
    ...normalizedAxisConditions(angular, rank),
    {
      holds: xShape !== undefined && vShape !== undefined && xShape.length === vShape.length && xShape.every((dim, i) => dimsEqual(dim, vShape[i])),
      reason: `the numerator (${formatShape(xShape)}) is not shaped like v (${formatShape(vShape)})`,
      node: sum,
    },
    ...normalizations.flatMap((n) => normalizationConditions(n, rank - 1, 'head dim')),
    ...path.conditions,
    ...(path.hasSideTerms ? [{
      holds: canUnmerge(q.view.axes),
      reason: `terms are added to the per-head output (laid out ${formatRoles(q.view.axes)}) before the heads are merged; the fused output is brought back only to layouts of single B, H, N, d axes`,
      node: sum,
    }] : []),
  ];
  // With side terms, their sums and the merge stay the model's own nodes (see rewrite.ts).
  const kept = path.hasSideTerms ? new Set(['side-term sum', 'output chain']) : new Set<string>();
  const elemType = m.elemTypeOf(v.operand.value);
  return {
    kind: 'linear-angular',
    exactKind: path.gatedBranches.length > 0 ? 'castling-switch' : 'linear-angular',
    linearAngularForm: terms.form,
    style: q.view.packed !== undefined ? 'timm-packed' : heads === 1 ? 'single-head' : 'hf',
    anchor: sum,
    ...tracedOperands(q, k, v),
    scale: makeScale(1, 'none', headDim),
    elemType,
    output: path.target,
    interior: interiorNodes(m, kept),
    notes: [],
    normalizations,
    conditions,
    ...(path.hasSideTerms ? { perHeadOutput: { value: perHead, axes: q.view.axes } } : {}),
    gatedBranches: path.gatedBranches,
  };
}

/** Decomposed linear-angular attention (Castling-ViT, both forms; training form too) → LinearAngularAttention, exactly. */
export const linearAngularAttentionRule: RewriteRule<ExactAttentionMatch, unknown> = {
  name: 'exact-linear-angular',
  anchor: { opType: 'Add' },
  match: matchLinearAngular,
  check: checkExactAttention,
  rewrite: rewriteExactAttention,
};
