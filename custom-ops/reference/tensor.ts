/**
 * The dense float32 tensor the reference kernels read and write, and the shape checks they share.
 */
import { InvalidArgumentError } from '../../base/errors.js';

/** A dense row-major float32 tensor. */
export interface Float32TensorView {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

/** Sizes of the [B, N, D] inputs of an attention op. */
export interface AttentionSizes {
  readonly batch: number;
  readonly queryTokens: number;
  readonly keyTokens: number;
  readonly features: number;
}

function assertDenseRank3(name: string, tensor: Float32TensorView): void {
  const { dims, data } = tensor;
  if (dims.length !== 3 || dims.some((dim) => !Number.isInteger(dim) || dim < 0)) {
    throw new InvalidArgumentError(`'${name}' must have rank 3 [B, N, D], got dims [${dims.join(', ')}]`);
  }
  const size = dims[0]! * dims[1]! * dims[2]!;
  if (data.length !== size) {
    throw new InvalidArgumentError(`'${name}' has ${data.length} elements; dims [${dims.join(', ')}] need ${size}`);
  }
}

/** Checks Q [B, Nq, D], K and V [B, Nkv, D] and returns the sizes. */
export function attentionSizes(
  query: Float32TensorView,
  key: Float32TensorView,
  value: Float32TensorView,
): AttentionSizes {
  assertDenseRank3('Q', query);
  assertDenseRank3('K', key);
  assertDenseRank3('V', value);
  const [batch, queryTokens, features] = query.dims as [number, number, number];
  const [keyBatch, keyTokens, keyFeatures] = key.dims as [number, number, number];
  if (keyBatch !== batch || keyFeatures !== features) {
    throw new InvalidArgumentError(`'K' must be [${batch}, Nkv, ${features}], got [${key.dims.join(', ')}]`);
  }
  if (value.dims[0] !== batch || value.dims[1] !== keyTokens || value.dims[2] !== features) {
    throw new InvalidArgumentError(`'V' must be [${batch}, ${keyTokens}, ${features}], got [${value.dims.join(', ')}]`);
  }
  return { batch, queryTokens, keyTokens, features };
}

/** Checks an optional per-feature or per-head coefficient vector and returns it (or undefined). */
export function coefficientVector(
  name: string,
  values: Float32Array | readonly number[] | undefined,
  expectedLength: number,
  lengthName: string,
): Float32Array | readonly number[] | undefined {
  if (values !== undefined && values.length !== expectedLength) {
    throw new InvalidArgumentError(`'${name}' must have ${lengthName}=${expectedLength} entries, got ${values.length}`);
  }
  return values;
}

/**
 * Returns 1 / max(‖x‖₂, eps) of `length` consecutive entries of `data` from `offset`, the factor of
 * F.normalize, accumulated in double precision.
 */
export function inverseClampedNorm(data: Float32Array, offset: number, length: number, eps: number): number {
  let sumOfSquares = 0;
  for (let index = 0; index < length; index++) {
    const entry = data[offset + index]!;
    sumOfSquares += entry * entry;
  }
  return 1 / Math.max(Math.sqrt(sumOfSquares), eps);
}
