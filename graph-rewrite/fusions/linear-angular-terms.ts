/**
 * The terms both linear-angular forms are built from: a value times a scalar weight (Mul either way,
 * Div by it, or several such factors in a row), and the angular term b · q̂(k̂ᵀv) in either association.
 */

import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import { describeNode, type MatchContext } from '../rewrite/match-context.js';
import { scalarConstant } from './constants.js';
import { matchL2Normalized } from './l2-normalize.js';
import type { Role } from '../analysis/head-layout.js';
import type { ExactCondition, L2Normalization } from './types.js';

/** A value times scalar constants (the product of every factor on the way), or the value itself (weight 1). */
export interface Weighted {
  readonly value: Value;
  readonly weight: number;
  /** The outermost factor's node (for messages); undefined when there is none. */
  readonly node?: Node;
  /** Every factor's node, outermost first. */
  readonly nodes: readonly Node[];
}

/**
 * Strips scalar factors (Mul by a constant either way, Div by one) above `value`, binding them as
 * `role`; stops at `stopAt` (the v the other term reads, which may itself be a scaled value).
 */
export function weighted(m: MatchContext, value: Value, role: string, stopAt?: Value): Weighted {
  let current = value;
  let weight = 1;
  const nodes: Node[] = [];
  for (let node = current.producer(); current !== stopAt && node?.domain === '' && node.graph === m.graph && (node.opType === 'Mul' || node.opType === 'Div') && node.inputs.length === 2; node = current.producer()) {
    const at = (node.opType === 'Div' ? [1] : [1, 0]).find((i) => scalarConstant(m, node!.inputs[i]) !== undefined);
    if (at === undefined) break;
    m.bind(node, role);
    const factor = scalarConstant(m, node.inputs[at])!;
    weight *= node.opType === 'Div' ? 1 / factor : factor;
    nodes.push(node);
    current = node.inputs[1 - at]!;
  }
  return { value: current, weight, nodes, ...(nodes[0] === undefined ? {} : { node: nodes[0] }) };
}

/** `no factor` or the node of the outermost one, for messages. */
export function describeWeight(w: Weighted): string {
  return w.node === undefined ? 'no factor' : describeNode(w.node);
}

/**
 * A normalised operand of the angular MatMuls: x̂ = x / ‖x‖ (q̂ or k̂), then Transposes up to the MatMul
 * (none, k̂ᵀ, or a head split done after normalising: normalize([B, N, H, d]).transpose(1, 2)) and
 * scalar factors (the angular weight written on q̂ or k̂).
 */
export interface NormalizedOperand {
  readonly norm: L2Normalization;
  /** The MatMul input. */
  readonly operand: Value;
  /** The Transposes from x̂ to the MatMul input, nearest x̂ first. */
  readonly transposes: readonly Node[];
  /** Scalar factors between x̂ and the MatMul: their nodes and product. */
  readonly factors: Weighted;
  /** Where x̂'s last axis (the normalised one) ends up at the MatMul input; undefined when a perm is unknown. */
  readonly normalizedAxisAt: number | undefined;
}

function normalizedOperand(m: MatchContext, value: Value | undefined, what: string, near: Node): NormalizedOperand {
  m.ensure(value !== undefined, `${what} is missing`, near);
  const transposes: Node[] = [];
  const factorNodes: Node[] = [];
  let factor = 1;
  let current: Value = value;
  for (let steps = 0; steps < 8; steps++) {
    const node = current.producer();
    if (node?.domain !== '' || node.graph !== m.graph) break;
    if (node.opType === 'Transpose') {
      m.bind(node, `${what} layout`);
      transposes.unshift(node);
      current = node.inputs[0]!;
      continue;
    }
    const scaled = weighted(m, current, `${what} weight`);
    if (scaled.node === undefined) break;
    factorNodes.push(...scaled.nodes);
    factor *= scaled.weight;
    current = scaled.value;
  }
  const norm = matchL2Normalized(m, current, what, transposes[0] ?? near);
  const rank = m.shapeOf(norm.output)?.length;
  let axis: number | undefined = rank === undefined ? undefined : rank - 1;
  for (const transpose of transposes) {
    const perm = transpose.getInts('perm', rank === undefined ? [] : Array.from({ length: rank }, (_, i) => rank - 1 - i));
    axis = axis === undefined || perm.length !== rank ? undefined : perm.indexOf(axis);
    if (axis === -1) axis = undefined;
  }
  return { norm, operand: value, transposes, factors: { value: norm.output, weight: factor, nodes: factorNodes, ...(factorNodes[0] === undefined ? {} : { node: factorNodes[0] }) }, normalizedAxisAt: axis };
}

/** b · q̂ (k̂ᵀ v), in either association. */
export interface AngularTerm {
  readonly q: NormalizedOperand;
  /** k̂ᵀ: the operand is [..., d, N]. */
  readonly k: NormalizedOperand;
  readonly v: Value;
  readonly weight: Weighted;
  readonly product: Node;
}

/** `value` as b · q̂(k̂ᵀv) or b · (q̂k̂ᵀ)v. */
export function angularTerm(m: MatchContext, value: Value, near: Node): AngularTerm {
  const weight = weighted(m, value, 'angular weight');
  const product = m.bind(m.producer(weight.value, ['MatMul'], 'q̂(k̂ᵀv)', weight.node ?? near), 'q̂·(k̂ᵀv) MatMul');
  const term = m.firstOf<AngularTerm>('q̂ k̂ᵀ v', [
    ['q̂ (k̂ᵀ v)', (c) => {
      const keyValue = c.bind(c.producer(product.inputs[1], ['MatMul'], 'k̂ᵀv', product), 'k̂ᵀ·v MatMul');
      const k = normalizedOperand(c, keyValue.inputs[0], 'k̂', keyValue);
      return { q: normalizedOperand(c, product.inputs[0], 'q̂', product), k, v: keyValue.inputs[1]!, weight, product };
    }],
    ['(q̂ k̂ᵀ) v', (c) => {
      const scores = c.bind(c.producer(product.inputs[0], ['MatMul'], 'q̂k̂ᵀ', product), 'q̂·k̂ᵀ MatMul');
      const k = normalizedOperand(c, scores.inputs[1], 'k̂', scores);
      return { q: normalizedOperand(c, scores.inputs[0], 'q̂', scores), k, v: product.inputs[1]!, weight, product };
    }],
  ]);
  // A factor written on q̂ or k̂ weights the whole term.
  const nodes = [...weight.nodes, ...term.q.factors.nodes, ...term.k.factors.nodes];
  return { ...term, weight: { ...weight, weight: weight.weight * term.q.factors.weight * term.k.factors.weight, nodes, ...(nodes[0] === undefined ? {} : { node: nodes[0] }) } };
}

/** The roles of x̂'s axes: the MatMul input's roles `axes` taken back through the Transposes. */
export function rolesAtNormalization(m: MatchContext, operand: NormalizedOperand, axes: readonly (readonly Role[])[]): (readonly Role[])[] | undefined {
  let roles = [...axes];
  for (const transpose of [...operand.transposes].reverse()) {
    const perm = transpose.getInts('perm', roles.map((_, i) => roles.length - 1 - i));
    if (perm.length !== roles.length) return undefined;
    const before: (readonly Role[])[] = new Array(roles.length);
    perm.forEach((from, to) => (before[from] = roles[to]!));
    roles = before;
  }
  return m.shapeOf(operand.norm.output)?.length === roles.length ? roles : undefined;
}

/** That `transpose` swaps the last two axes and nothing else. */
export function transposeCondition(m: MatchContext, transpose: Node, what: string): ExactCondition {
  const rank = m.shapeOf(transpose.inputs[0])?.length ?? 0;
  const perm = transpose.getInts('perm', Array.from({ length: rank }, (_, i) => rank - 1 - i));
  const swapsLastTwo = rank >= 2 && perm.length === rank && perm.every((axis, i) => axis === (i < rank - 2 ? i : i === rank - 2 ? rank - 1 : rank - 2));
  return { holds: swapsLastTwo, reason: `${describeNode(transpose)} permutes [${perm.join(', ')}], not just the last two axes of ${what}`, node: transpose };
}
