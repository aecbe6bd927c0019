/** Turning logits into what a page shows: probabilities and the top classes. Pure. */
import { tensorToFloat32 } from '../runtime/float16.js';

export interface ClassScore {
  readonly index: number;
  readonly probability: number;
  readonly logit: number;
}

/** Numerically stable softmax over one row. */
export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  const out = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += out[i] = Math.exp(logits[i]! - max);
  for (let i = 0; i < out.length; i++) out[i]! /= sum;
  return out;
}

/** The `k` most probable classes of one row of logits, best first (ties: lower index first). */
export function topClasses(logits: ArrayLike<number>, k: number): ClassScore[] {
  const probabilities = softmax(logits);
  return Array.from(probabilities, (probability, index) => ({ index, probability, logit: logits[index]! }))
    .sort((a, b) => b.probability - a.probability || a.index - b.index)
    .slice(0, Math.max(0, k));
}

/** An output tensor's values as float32 (fp16 models give Uint16Array bit patterns). */
export function outputToFloat32(type: string, data: unknown): Float32Array {
  if (type !== 'float32' && type !== 'float16') throw new TypeError(`expected float32 or float16 logits, got ${type}`);
  return tensorToFloat32({ type, data });
}
