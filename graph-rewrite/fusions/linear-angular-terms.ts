/**
 * The terms both linear-angular forms are built from: a value times a scalar weight (Mul either way,
 * Div by it, or several such factors in a row), and the angular term b · q̂(k̂ᵀv) in either association.
 */

import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import { describeNode, type MatchContext } from '../rewrite/match-context.js';
import { scalarConstant } from './constants.js';
import { matchL2Normalized } from './l2-normalize.js';
import type { ExactCondition, L2Normalization } from './types.js';

/** A value times scalar constants (the product of every factor on the way), or the value itself (weight 1). */
export interface Weighted {
  readonly value: Value;
  readonly weight: number;
  /** The outermost factor's node (for messages); undefined when there is none. */
  readonly node?: Node;
}

/** Strips scalar factors (Mul by a constant either way, Div by one) above `value`, binding them as `role`. */
export function weighted(m: MatchContext, value: Value, role: string): Weighted {
  let current = value;
  let weight = 1;
  let outer: Node | undefined;
  for (let node = current.producer(); node?.domain === '' && node.graph === m.graph && (node.opType === 'Mul' || node.opType === 'Div') && node.inputs.length === 2; node = current.producer()) {
    const at = (node.opType === 'Div' ? [1] : [1, 0]).find((i) => scalarConstant(m, node!.inputs[i]) !== undefined);
    if (at === undefined) break;
    m.bind(node, role);
    const factor = scalarConstant(m, node.inputs[at])!;
    weight *= node.opType === 'Div' ? 1 / factor : factor;
    outer ??= node;
    current = node.inputs[1 - at]!;
  }
  return { value: current, weight, ...(outer === undefined ? {} : { node: outer }) };
}

/** `no factor` or the node of the outermost one, for messages. */
export function describeWeight(w: Weighted): string {
  return w.node === undefined ? 'no factor' : describeNode(w.node);
}

/** b · q̂ (k̂ᵀ v), in either association. */
export interface AngularTerm {
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

/** `value` as b · q̂(k̂ᵀv) or b · (q̂k̂ᵀ)v. */
export function angularTerm(m: MatchContext, value: Value, near: Node): AngularTerm {
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

/** That `transpose` swaps the last two axes and nothing else. */
export function transposeCondition(m: MatchContext, transpose: Node, what: string): ExactCondition {
  const rank = m.shapeOf(transpose.inputs[0])?.length ?? 0;
  const perm = transpose.getInts('perm', Array.from({ length: rank }, (_, i) => rank - 1 - i));
  const swapsLastTwo = rank >= 2 && perm.length === rank && perm.every((axis, i) => axis === (i < rank - 2 ? i : i === rank - 2 ? rank - 1 : rank - 2));
  return { holds: swapsLastTwo, reason: `${describeNode(transpose)} permutes [${perm.join(', ')}], not just the last two axes of ${what}`, node: transpose };
}
