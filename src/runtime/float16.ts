/** IEEE 754 half precision ↔ float32, for fp16 model inputs and outputs (onnxruntime passes them as Uint16Array). */

import { float16BitsToNumber as float16BitsToFloat32 } from '../../graph-rewrite/ir/dtypes.js';

/** float16 bits → number: the IR's decoder (graph-rewrite/ir/dtypes.ts), under the runtime's name. */
export { float16BitsToFloat32 };

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Rounds to nearest even, like numpy's astype(float16). */
export function float32ToFloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0); // Inf / NaN
  let e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → Inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow → ±0
    mantissa |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let result = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    if (rest > half || (rest === half && (result & 1))) result += 1;
    return sign | result;
  }
  let result = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (result & 1))) result += 1; // may carry into the exponent: still correct
  return sign | result;
}

/**
 * A tensor's values as a new float32 array, for onnxruntime-node and onnxruntime-web outputs alike:
 * float16 decoded from its bit patterns (or read from a Float16Array where onnxruntime-web hands one
 * back), int64 / uint64 converted, other numeric types copied.
 */
export function tensorToFloat32(tensor: { readonly type: string; readonly data: unknown }): Float32Array {
  const { type, data } = tensor;
  if (type === 'float16' && data instanceof Uint16Array) return Float32Array.from(data, float16BitsToFloat32);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return Float32Array.from(data, Number);
  return Float32Array.from(data as ArrayLike<number>);
}
