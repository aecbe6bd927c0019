/**
 * The exact-fusion rule for decomposed linear-angular attention in Castling-ViT's reference-code form,
 * per head: q̂, k̂ = q, k L2-normalised over the head dim, `x = a·v + b·q̂(k̂ᵀv)` (a = ½, b = 1/π),
 * `x̂ = x / ‖x‖₂` — then `x̂ + dwconv(v)` (a side term, kept as ordinary nodes) and, in Castling's
 * training form, `+ gate · softmax(q kᵀ/√d) v` (dropped when the gate is the constant 0: kind
 * 'castling-switch'). Anchored at the Add of a·v and b·q̂(k̂ᵀv); the association (q̂k̂ᵀ)v is an
 * alternative of the pattern. q, k, v are traced to their projection with the attention module's
 * layout tracing, so any head-split style reads as one pattern.
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
import { matchL2Normalized } from './l2-normalize.js';
import { followOutput } from './output-path.js';
import { canUnmerge, rewriteExactAttention } from './rewrite.js';
import type { ExactAttentionMatch, ExactCondition, L2Normalization } from './types.js';
import { scalarConstant } from './constants.js';

/** A value times a scalar constant (Mul either way, or Div by it), or the value itself (weight 1). */
interface Weighted {
  readonly value: Value;
  readonly weight: number;
  readonly node?: Node;
}

function weighted(m: MatchContext, value: Value, role: string): Weighted {
  const node = value.producer();
  if (node?.domain === '' && node.graph === m.graph && (node.opType === 'Mul' || node.opType === 'Div') && node.inputs.length === 2) {
    const at = (node.opType === 'Div' ? [1] : [1, 0]).find((i) => scalarConstant(m, node.inputs[i]) !== undefined);
    if (at !== undefined) {
      m.bind(node, role);
      const factor = scalarConstant(m, node.inputs[at])!;
      return { value: node.inputs[1 - at]!, weight: node.opType === 'Div' ? 1 / factor : factor, node };
    }
  }
  return { value, weight: 1 };
}

/** b · q̂ (k̂ᵀ v), in either association. */
interface AngularTerm {
  readonly q: L2Normalization;
  readonly k: L2Normalization;
  readonly transpose: Node;
  readonly v: Value;
  readonly weight: Weighted;
  readonly product: Node;
}

function transposedKey(m: MatchContext, value: Value | undefined, near: Node): { transpose: Node; k: L2Normalization } {
  const transpose = m.bind(m.producer(value, ['Transpose'], 'k̂ᵀ', near), 'k̂ᵀ Transpose');
  return { transpose, k: matchL2Normalized(m, transpose.inputs[0], 'k̂', transpose) };
}

function angularTerm(m: MatchContext, value: Value, near: Node): AngularTerm {
  const weight = weighted(m, value, 'angular weight');
  const product = m.bind(m.producer(weight.value, ['MatMul'], 'q̂(k̂ᵀv)', weight.node ?? near), 'q̂·(k̂ᵀv) MatMul');
  return m.firstOf('q̂ k̂ᵀ v', [
    ['q̂ (k̂ᵀ v)', (c) => {
      const keyValue = c.bind(c.producer(product.inputs[1], ['MatMul'], 'k̂ᵀv', product), 'k̂ᵀ·v MatMul');
      const { transpose, k } = transposedKey(c, keyValue.inputs[0], keyValue);
      return { q: matchL2Normalized(c, product.inputs[0], 'q̂', product), k, transpose, v: keyValue.inputs[1]!, weight, product };
    }],
    ['(q̂ k̂ᵀ) v', (c) => {
      const scores = c.bind(c.producer(product.inputs[0], ['MatMul'], 'q̂k̂ᵀ', product), 'q̂·k̂ᵀ MatMul');
      const { transpose, k } = transposedKey(c, scores.inputs[1], scores);
      return { q: matchL2Normalized(c, scores.inputs[0], 'q̂', scores), k, transpose, v: product.inputs[1]!, weight, product };
    }],
  ]);
}

/** x̂ = x / ‖x‖ among the readers of x. */
function outputNormalization(m: MatchContext, x: Value, sum: Node): L2Normalization {
  const readers = x.uses().map((use) => use.node).filter((node) => node.domain === '' && ((node.opType === 'Div' && node.inputs[0] === x) || node.opType === 'Mul'));
  m.ensure(readers.length > 0, () => `x = a·v + b·q̂(k̂ᵀv) (${x.label}) is not divided by its norm`, sum);
  const found = m.firstOf('x̂ = x / ‖x‖', readers.map((node) => [describeNode(node), (c: MatchContext) => matchL2Normalized(c, node.outputs[0], 'x̂', node)] as const));
  m.ensure(found.input === x, () => `${describeNode(found.node)} normalises ${found.input.label}, not x`, found.node);
  return found;
}

function operandConditions(q: OperandTrace, k: OperandTrace, v: OperandTrace, anchor: Node): ExactCondition[] {
  return (
    [['k', k], ['v', v]] as const
  ).flatMap(([name, trace]) => [
    {
      holds: trace.view.heads === q.view.heads && trace.view.headDim === q.view.headDim && formatRoles(trace.view.axes) === formatRoles(q.view.axes),
      reason: `q is ${q.view.heads} heads × ${q.view.headDim} laid out ${formatRoles(q.view.axes)}, ${name} is ${trace.view.heads} × ${trace.view.headDim} laid out ${formatRoles(trace.view.axes)}`,
      node: anchor,
    },
    {
      holds: dimsEqual(trace.view.tokens, q.view.tokens) && dimsEqual(trace.view.batch, q.view.batch),
      reason: `q has batch ${String(q.view.batch)} and ${String(q.view.tokens)} tokens, ${name} has ${String(trace.view.batch)} and ${String(trace.view.tokens)}: the reference form needs self-attention (½·v is the token's own v)`,
      node: anchor,
    },
  ]);
}

function weightConditions(valueWeight: Weighted, angular: Weighted, anchor: Node): ExactCondition[] {
  const [a, b] = [Math.fround(valueWeight.weight), Math.fround(angular.weight)];
  const holds = a === Math.fround(DEFAULT_VALUE_WEIGHT) && b === Math.fround(DEFAULT_ANGULAR_WEIGHT);
  const where = (w: Weighted): string => (w.node === undefined ? 'no factor' : describeNode(w.node));
  return [{
    holds,
    reason: `x = ${a}·v + ${b}·q̂(k̂ᵀv) (value weight: ${where(valueWeight)}, angular weight: ${where(angular)}); the fused reference form computes ½·v + (1/π)·q̂(K̂ᵀV)`,
    node: valueWeight.node ?? anchor,
  }];
}

function transposeCondition(m: MatchContext, transpose: Node): ExactCondition {
  const rank = m.shapeOf(transpose.inputs[0])?.length ?? 0;
  const perm = transpose.getInts('perm', Array.from({ length: rank }, (_, i) => rank - 1 - i));
  const swapsLastTwo = rank >= 2 && perm.length === rank && perm.every((axis, i) => axis === (i < rank - 2 ? i : i === rank - 2 ? rank - 1 : rank - 2));
  return { holds: swapsLastTwo, reason: `${describeNode(transpose)} permutes [${perm.join(', ')}], not just the last two axes of k̂`, node: transpose };
}

function matchLinearAngular(m: MatchContext, sum: Node): ExactAttentionMatch {
  m.bind(sum, 'a·v + b·q̂(k̂ᵀv)');
  m.ensure(sum.inputs.length === 2, () => `${describeNode(sum)} does not add two terms`, sum);
  const { angular, value } = m.firstOf('a·v + b·q̂(k̂ᵀv)', [0, 1].map((side) => [`b·q̂(k̂ᵀv) as input ${side}`, (c: MatchContext) => ({
    angular: angularTerm(c, sum.inputs[side]!, sum),
    value: weighted(c, sum.inputs[1 - side]!, 'value weight'),
  })] as const));
  const xHat = outputNormalization(m, sum.outputs[0]!, sum);

  const q = traceOperand(m, angular.q.input, 'q', 'q', angular.q.node);
  const k = traceOperand(m, angular.k.input, 'v', 'k', angular.k.node); // k̂ is transposed after normalising: k reads like v
  const v = traceOperand(m, angular.v, 'v', 'v', angular.product);
  const { heads, headDim } = q.view;
  const sizes = { batch: q.view.batch, tokens: q.view.tokens, heads, headDim };
  const path = followOutput(m, xHat.output, q.view.axes, sizes);

  const rank = q.view.axes.length;
  const [xShape, vShape] = [m.shapeOf(sum.outputs[0]), m.shapeOf(angular.v)];
  const conditions: ExactCondition[] = [
    ...operandConditions(q, k, v, sum),
    {
      holds: value.value === angular.v,
      reason: `the value term reads ${value.value.label}, but k̂ᵀv reads ${angular.v.label}: a·v must be the same v`,
      node: value.node ?? sum,
    },
    { holds: q.scales.length === 0, reason: `q is scaled before its normalisation (${q.scales.map((s) => describeNode(s.node)).join(', ')})`, node: q.scales[0]?.node ?? sum },
    ...weightConditions(value, angular.weight, sum),
    transposeCondition(m, angular.transpose),
    {
      holds: xShape !== undefined && vShape !== undefined && xShape.length === vShape.length && xShape.every((dim, i) => dimsEqual(dim, vShape[i])),
      reason: `x (${formatShape(xShape)}) is not shaped like v (${formatShape(vShape)})`,
      node: sum,
    },
    ...[angular.q, angular.k, xHat].flatMap((n) => normalizationConditions(n, rank - 1, 'head dim')),
    ...path.conditions,
    ...(path.hasSideTerms ? [{
      holds: canUnmerge(q.view.axes),
      reason: `terms are added to the per-head output (laid out ${formatRoles(q.view.axes)}) before the heads are merged; the fused output is brought back only to layouts of single B, H, N, d axes`,
      node: sum,
    }] : []),
  ];
  // With side terms, their sums and the merge stay the model's own nodes (see rewrite.ts).
  const kept = path.hasSideTerms ? new Set(['side-term sum', 'output chain']) : new Set<string>();
  const elemType = m.shapes.elemTypeOf(v.operand.value);
  return {
    kind: 'linear-angular',
    exactKind: path.gatedBranches.length > 0 ? 'castling-switch' : 'linear-angular',
    style: q.view.packed !== undefined ? 'timm-packed' : heads === 1 ? 'single-head' : 'hf',
    anchor: sum,
    ...tracedOperands(q, k, v),
    scale: makeScale(1, 'none', headDim),
    elemType,
    output: path.target,
    interior: interiorNodes(m, kept),
    notes: [],
    normalizations: [angular.q, angular.k, xHat],
    conditions,
    ...(path.hasSideTerms ? { perHeadOutput: { value: xHat.output, axes: q.view.axes } } : {}),
    gatedBranches: path.gatedBranches,
  };
}

/** Decomposed linear-angular attention (Castling-ViT, reference form; training form too) → LinearAngularAttention, exactly. */
export const linearAngularAttentionRule: RewriteRule<ExactAttentionMatch, unknown> = {
  name: 'exact-linear-angular',
  anchor: { opType: 'Add' },
  match: matchLinearAngular,
  check: checkExactAttention,
  rewrite: rewriteExactAttention,
};
