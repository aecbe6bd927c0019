/**
 * The attention scale: where exporters put 1/√d (on the scores, on q, √ on q and kᵀ, …), its total
 * value, and whether it is the usual one. The linear attentions normalise q and k, so a positive scale
 * does not change what they compute: it is reported, not carried over.
 */

import type { ScaleFactor } from './operand.js';
import type { AttentionScale, ScalePlacement } from './types.js';

/** Relative tolerance for "the scale is 1/√d" (float16 stores 1/√8 as 0.35352, 1e-4 off). */
const SCALE_TOLERANCE = 2e-3;

export function expectedScale(headDim: number): number {
  return 1 / Math.sqrt(headDim);
}

export function makeScale(value: number, placement: ScalePlacement, headDim: number): AttentionScale {
  const expected = expectedScale(headDim);
  return { value, placement, expected, matchesHeadDim: Math.abs(value - expected) <= SCALE_TOLERANCE * expected };
}

function placementOf(factors: readonly ScaleFactor[]): ScalePlacement {
  if (factors.length === 0) return 'none';
  const onScores = factors.filter((f) => f.on === 'scores');
  const onQ = factors.filter((f) => f.on === 'q');
  const onK = factors.filter((f) => f.on === 'k');
  if (factors.length === 1) {
    const [only] = factors as [ScaleFactor];
    const verb = only.op === 'Div' ? 'div' : 'mul';
    if (only.on === 'scores') return `${verb}-scores`;
    if (only.on === 'k') return `${verb}-k`;
    return only.afterHeadSplit ? `${verb}-q` : `${verb}-q-after-proj`;
  }
  if (onScores.length === 0 && onQ.length === 1 && onK.length === 1) {
    const [q, k] = [onQ[0]!.factor, onK[0]!.factor];
    if (Math.abs(q - k) <= SCALE_TOLERANCE * Math.abs(q)) return 'sqrt-on-q-and-kT';
  }
  return 'mixed';
}

/** The block's scale from the factors found on the scores, q and kᵀ. */
export function scaleFromFactors(factors: readonly ScaleFactor[], headDim: number): AttentionScale {
  const value = factors.reduce((product, f) => product * f.factor, 1);
  return makeScale(value, placementOf(factors), headDim);
}

/** Notes about a scale that does not block conversion but is worth telling. */
export function scaleNotes(scale: AttentionScale, headDim: number, near: string): string[] {
  if (scale.placement === 'none') {
    return [`no 1/√d scale on the scores of ${near} (softmax of the raw q·kᵀ); the linear attention normalises q and k, so nothing is lost`];
  }
  if (!scale.matchesHeadDim) {
    return [`the scale on the scores of ${near} is ${scale.value.toPrecision(6)}, not 1/√${headDim} = ${scale.expected.toPrecision(6)}; the linear attention normalises q and k and does not use it`];
  }
  return [];
}
