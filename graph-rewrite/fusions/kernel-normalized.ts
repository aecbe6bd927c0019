/**
 * The paper's (kernel-normalised) linear-angular form, per head:
 *
 *   y = (a·Σ_j v_j + b·q̂(k̂ᵀv)) / (a·N + b·q̂·Σ_j k̂_j),   a = ½, b = 1/π
 *
 * matched by meaning: the weights may sit before or after a sum, on either side of an Add, as Mul or
 * Div; q̂·Σk̂ as q̂ @ (Σk̂)ᵀ or as ReduceSum(q̂ ⊙ Σk̂) over the head dim; a·N as a constant or computed from
 * the shape; the division as Div or a Mul by the reciprocal; and numerator and denominator may share a
 * common factor c (a = c/2, b = c/π in both), which cancels. The fused op computes the ratio with
 * a = ½, b = 1/π, so the check requires that the numerator's weights equal the denominator's and that
 * b / a = 2/π.
 */

import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import { dimsEqual, formatShape, type Dim } from '../analysis/dims.js';
import { formatRoles, type Role } from '../analysis/head-layout.js';
import { describeNode, type MatchContext } from '../rewrite/match-context.js';
import { DEFAULT_ANGULAR_WEIGHT, DEFAULT_VALUE_WEIGHT } from '../../custom-ops/index.js';
import { scalarConstant } from './constants.js';
import { matchQuotient, reductionAxes } from './l2-normalize.js';
import { describeWeight, transposeCondition, weighted, type AngularTerm, type Weighted } from './linear-angular-terms.js';
import type { ExactCondition } from './types.js';

/** Relative tolerance for weights compared after a division (c / N, b / a): float32 rounding. */
const WEIGHT_TOLERANCE = 1e-6;

/** Σ_j x_j over one axis: the ReduceSum, its input x (scalar factors inside stripped) and the factor product. */
interface AxisSum {
  readonly node: Node;
  readonly input: Weighted;
}

function axisSum(m: MatchContext, value: Value | undefined, what: string, near: Node, stopAt?: Value): AxisSum {
  const node = m.bind(m.producer(value, ['ReduceSum'], what, near), what);
  return { node, input: weighted(m, node.inputs[0]!, `${what} weight`, stopAt) };
}

/** The numerator's value term a·Σ_j v_j (the factor before or after the sum). */
export interface ValueSum {
  readonly sum: AxisSum;
  readonly weight: number;
  readonly outer: Weighted;
}

/** `value` as a·Σ_j v_j when it is one (a ReduceSum under the scalar factors); undefined otherwise. `v`: the angular term's. */
export function valueSumOf(m: MatchContext, value: Value, near: Node, v: Value): ValueSum | undefined {
  const outer = weighted(m, value, 'value weight', v);
  const producer = outer.value.producer();
  if (producer?.domain !== '' || producer.opType !== 'ReduceSum') return undefined;
  const sum = axisSum(m, outer.value, 'Σv', outer.node ?? near, v);
  return { sum, weight: outer.weight * sum.input.weight, outer };
}

/** q̂·Σ_j k̂_j, per query token: the nodes, and the q̂ and k̂ it reads. */
interface KeySumProduct {
  readonly q: Value;
  readonly keySum: AxisSum;
  /** The Transpose of Σk̂ (MatMul form) or the ReduceSum over the head dim (Mul form). */
  readonly combine: { readonly kind: 'matmul'; readonly transpose: Node } | { readonly kind: 'mul'; readonly reduce: Node };
  readonly product: Node;
}

function keySumProduct(m: MatchContext, value: Value, near: Node): KeySumProduct {
  return m.firstOf<KeySumProduct>('q̂·Σk̂', [
    ['q̂ @ (Σk̂)ᵀ', (c) => {
      const product = c.bind(c.producer(value, ['MatMul'], 'q̂·Σk̂', near), 'q̂·Σk̂ MatMul');
      const transpose = c.bind(c.producer(product.inputs[1], ['Transpose'], '(Σk̂)ᵀ', product), '(Σk̂)ᵀ Transpose');
      return { q: product.inputs[0]!, keySum: axisSum(c, transpose.inputs[0], 'Σk̂', transpose), combine: { kind: 'matmul', transpose } as const, product };
    }],
    ['Σ_d q̂ ⊙ Σk̂', (c) => {
      const reduce = c.bind(c.producer(value, ['ReduceSum'], 'q̂·Σk̂', near), 'q̂·Σk̂ ReduceSum');
      const product = c.bind(c.producer(reduce.inputs[0], ['Mul'], 'q̂ ⊙ Σk̂', reduce), 'q̂ ⊙ Σk̂ Mul');
      const side = c.firstOf('Σk̂ in q̂ ⊙ Σk̂', [0, 1].map((i) => [`Σk̂ as input ${i}`, (d: MatchContext) => ({ i, keySum: axisSum(d, product.inputs[i], 'Σk̂', product) })] as const));
      return { q: product.inputs[1 - side.i]!, keySum: side.keySum, combine: { kind: 'mul', reduce } as const, product };
    }],
  ]);
}

/** The denominator's count term a·N: the count (a constant, or Cast of a shape value) and its factor. */
interface CountTerm {
  readonly count: Dim;
  readonly weight: Weighted;
}

function countTerm(m: MatchContext, value: Value): CountTerm {
  const weight = weighted(m, value, 'count weight');
  const constant = scalarConstant(m, weight.value);
  if (constant !== undefined) return { count: constant, weight };
  const cast = weight.value.producer();
  m.ensure(cast?.domain === '' && cast.opType === 'Cast', () => `the denominator's constant term ${weight.value.label} is neither a constant nor a token count`, cast ?? m.anchor);
  const ints = m.ints(cast.inputs[0]);
  m.ensure(ints?.length === 1 && ints[0] !== undefined, () => `the denominator's constant term (${describeNode(cast)}) is not a known count`, cast);
  m.bind(cast, 'token count');
  return { count: ints[0]!, weight };
}

/** The denominator a·N + b·q̂·Σk̂ (either order). */
interface Denominator {
  readonly add: Node;
  readonly count: CountTerm;
  readonly keyTerm: Weighted;
  readonly keys: KeySumProduct;
}

function denominator(m: MatchContext, value: Value, near: Node): Denominator {
  const add = m.bind(m.producer(value, ['Add'], 'the denominator a·N + b·q̂·Σk̂', near), 'denominator Add');
  return m.firstOf('a·N + b·q̂·Σk̂', [0, 1].map((side) => [`b·q̂·Σk̂ as input ${side}`, (c: MatchContext) => {
    const keyTerm = weighted(c, add.inputs[side]!, 'key-sum weight');
    return { add, keyTerm, keys: keySumProduct(c, keyTerm.value, keyTerm.node ?? add), count: countTerm(c, add.inputs[1 - side]!) };
  }] as const));
}

/** What the pattern found below the numerator: the division, y and the denominator. */
export interface KernelNormalizedForm {
  readonly valueSum: ValueSum;
  readonly division: Node;
  /** y: the per-head output. */
  readonly output: Value;
  readonly denominator: Denominator;
}

/** Matches y = numerator / denominator among the readers of the numerator `x` (Div, or Mul by the reciprocal). */
export function matchKernelNormalized(m: MatchContext, x: Value, valueSum: ValueSum, numerator: Node): KernelNormalizedForm {
  const readers = x.uses().map((use) => use.node).filter((node) => node.domain === '' && ((node.opType === 'Div' && node.inputs[0] === x) || node.opType === 'Mul'));
  m.ensure(readers.length > 0, () => `a·Σv + b·q̂(k̂ᵀv) (${x.label}) is not divided by a denominator`, numerator);
  return m.firstOf('y = numerator / denominator', readers.map((node) => [describeNode(node), (c: MatchContext) => {
    const quotient = matchQuotient(c, node.outputs[0]!, 'y', node);
    c.ensure(quotient.numerator === x, () => `${describeNode(quotient.node)} divides ${quotient.numerator.label}, not the numerator`, quotient.node);
    return { valueSum, division: quotient.node, output: node.outputs[0]!, denominator: denominator(c, quotient.denominator, quotient.node) };
  }] as const));
}

function near(a: number, b: number): boolean {
  return Math.abs(a - b) <= WEIGHT_TOLERANCE * Math.max(Math.abs(a), Math.abs(b));
}

/** Whether a ReduceSum sums over exactly the axis with role `role` in `axes`, keeping it. */
function sumsOver(m: MatchContext, node: Node, axes: readonly (readonly Role[])[], role: Role): boolean {
  const summed = reductionAxes(m, node);
  const rank = axes.length;
  const axis = summed?.length === 1 ? (summed[0]! < 0 ? summed[0]! + rank : summed[0]!) : undefined;
  return axis !== undefined && formatRoles([axes[axis] ?? []]) === formatRoles([[role]]) && node.getInt('keepdims', 1) !== 0;
}

function sumCondition(m: MatchContext, sum: AxisSum, axes: readonly (readonly Role[])[], role: Role, what: string): ExactCondition {
  const over = role === 'N' ? 'the tokens' : 'the head dim';
  return { holds: sumsOver(m, sum.node, axes, role), reason: `${describeNode(sum.node)} (${what}) does not sum over ${over} alone keeping the axis (layout ${formatRoles(axes)})`, node: sum.node };
}

/** The roles of q̂'s and k̂'s axes where they are normalised (undefined: not known), and of v's. */
export interface KernelLayouts {
  readonly q: readonly (readonly Role[])[] | undefined;
  readonly k: readonly (readonly Role[])[] | undefined;
  readonly v: readonly (readonly Role[])[];
}

/**
 * The conditions under which the fused kernel_normalized op computes y: the sums over the right axes
 * of the right tensors, and weights in the fused op's proportions (see the file comment).
 */
export function kernelConditions(m: MatchContext, form: KernelNormalizedForm, angular: AngularTerm, layouts: KernelLayouts, tokens: Dim): ExactCondition[] {
  const { valueSum, denominator: den } = form;
  const { keys } = den;
  const a = valueSum.weight;
  const b = angular.weight.weight;
  const countWeight = typeof den.count.count === 'number' && typeof tokens === 'number'
    ? den.count.weight.weight * den.count.count / tokens
    : dimsEqual(den.count.count, tokens) ? den.count.weight.weight : undefined;
  const keyWeight = den.keyTerm.weight * keys.keySum.input.weight;
  const [va, vb] = [DEFAULT_VALUE_WEIGHT, DEFAULT_ANGULAR_WEIGHT];
  const weights = `numerator ${a}·Σv + ${b}·q̂(k̂ᵀv) (weights: ${describeWeight(valueSum.outer)}, ${describeWeight(angular.weight)}), denominator ${countWeight === undefined ? `${String(den.count.count)} (not a multiple of the ${String(tokens)} tokens)` : `${countWeight}·N`} + ${keyWeight}·q̂·Σk̂`;
  const ySize = m.shapeOf(form.output);
  const denShape = m.shapeOf(den.add.outputs[0]);
  return [
    {
      holds: layouts.q !== undefined && layouts.k !== undefined && formatRoles(layouts.q) === formatRoles(layouts.v) && formatRoles(layouts.k) === formatRoles(layouts.v),
      reason: `q̂ ${layouts.q === undefined ? '(layout unknown)' : formatRoles(layouts.q)} and k̂ ${layouts.k === undefined ? '(layout unknown)' : formatRoles(layouts.k)} are not laid out like v ${formatRoles(layouts.v)}: the denominator would not line up with the numerator`,
      node: den.add,
    },
    sumCondition(m, valueSum.sum, layouts.v, 'N', 'Σv'),
    { holds: valueSum.sum.input.value === angular.v, reason: `Σv sums ${valueSum.sum.input.value.label}, but k̂ᵀv reads ${angular.v.label}: they must be the same v`, node: valueSum.sum.node },
    sumCondition(m, keys.keySum, layouts.k ?? layouts.v, 'N', 'Σk̂'),
    { holds: keys.keySum.input.value === angular.k.norm.output, reason: `Σk̂ sums ${keys.keySum.input.value.label}, not the k̂ of k̂ᵀv (${angular.k.norm.output.label})`, node: keys.keySum.node },
    { holds: keys.q === angular.q.norm.output, reason: `the denominator's q̂·Σk̂ (${describeNode(keys.product)}) reads ${keys.q.label}, not the q̂ of the numerator (${angular.q.norm.output.label})`, node: keys.product },
    keys.combine.kind === 'matmul'
      ? transposeCondition(m, keys.combine.transpose, 'Σk̂')
      : {
        holds: sumsOver(m, keys.combine.reduce, layouts.q ?? layouts.v, 'd'),
        reason: `${describeNode(keys.combine.reduce)} does not sum q̂ ⊙ Σk̂ over the head dim alone keeping the axis`,
        node: keys.combine.reduce,
      },
    {
      holds: countWeight !== undefined && near(a, countWeight) && near(b, keyWeight) && near(b / a, vb / va),
      reason: `${weights}; the fused kernel_normalized form computes (½·Σv + (1/π)·q̂(K̂ᵀV)) / (½·N + (1/π)·q̂·Σk̂): the weights must match between numerator and denominator, in the proportion 1/2 : 1/π`,
      node: den.add,
    },
    {
      holds: ySize !== undefined && denShape !== undefined && denShape.length === ySize.length
        && denShape.every((dim, i) => (i === denShape.length - 1 ? dim === 1 : dimsEqual(dim, ySize[i]))),
      reason: `the denominator is ${formatShape(denShape)}, not one value per query token of y ${formatShape(ySize)}`,
      node: form.division,
    },
  ];
}
