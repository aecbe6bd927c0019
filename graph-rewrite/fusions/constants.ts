/** Reading the scalar constants of decomposed attention (weights, eps, gates). */

import type { Value } from '../ir/value.js';
import type { MatchContext } from '../rewrite/match-context.js';

/**
 * The number a one-element constant holds, read through Identity nodes: torch's exporter shares equal
 * initializers between layers that way (block 1's gate = Identity(block 0's gate)).
 */
export function scalarConstant(m: MatchContext, value: Value | undefined): number | undefined {
  let current = value;
  for (let node = current?.producer(); node?.domain === '' && node.opType === 'Identity'; node = current?.producer()) current = node.inputs[0];
  return m.scalar(current);
}
