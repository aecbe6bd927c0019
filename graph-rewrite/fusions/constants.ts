/** Reading the scalar constants of decomposed attention (weights, eps, gates). */

import type { Value } from '../ir/value.js';
import { constantTensorOf } from '../analysis/constants.js';
import type { MatchContext } from '../rewrite/match-context.js';

/** `value` read through Identity nodes: torch's exporter shares equal initializers between layers that way. */
function throughIdentity(value: Value | undefined): Value | undefined {
  let current = value;
  for (let node = current?.producer(); node?.domain === '' && node.opType === 'Identity'; node = current?.producer()) current = node.inputs[0];
  return current;
}

/**
 * The number a one-element constant holds, read through Identity nodes (block 1's gate =
 * Identity(block 0's gate)).
 */
export function scalarConstant(m: MatchContext, value: Value | undefined): number | undefined {
  return m.scalar(throughIdentity(value));
}

/**
 * The number every element of a small constant holds (a scalar, or a per-head gate tensor of zeros),
 * read through Identity nodes; undefined when it is not a constant or its elements differ.
 */
export function uniformConstant(m: MatchContext, value: Value | undefined, limit = 4096): number | undefined {
  const scalar = scalarConstant(m, value);
  if (scalar !== undefined) return scalar;
  const tensor = constantTensorOf(throughIdentity(value));
  if (tensor === undefined || tensor.elementCount > limit || tensor.storage === 'external') return undefined;
  let elements: Float32Array;
  try {
    elements = tensor.toFloat32Array();
  } catch {
    return undefined; // not a numeric tensor
  }
  const first = elements[0];
  return first !== undefined && elements.every((element) => Object.is(element, first) || element === first) ? first : undefined;
}
