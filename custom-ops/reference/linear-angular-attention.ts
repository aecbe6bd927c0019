/**
 * Float32 reference kernel of `ai.vitlin::LinearAngularAttention` — the test oracle the ONNX function
 * body is compared with. Plain loops, double-precision accumulation, the README formulas taken
 * literally (and checked against a quadratic evaluation in the tests).
 */
import { InvalidArgumentError } from '../../base/errors.js';
import {
  DEFAULT_ANGULAR_WEIGHT,
  DEFAULT_EPS,
  DEFAULT_VALUE_WEIGHT,
  LINEAR_ANGULAR_MODES,
  type LinearAngularMode,
} from '../schemas.js';
import { attentionSizes, coefficientVector, inverseClampedNorm, type Float32TensorView } from './tensor.js';

export interface LinearAngularAttentionReferenceOptions {
  readonly numHeads: number;
  /** Default 'reference'. */
  readonly mode?: LinearAngularMode;
  /** Default {@link DEFAULT_EPS}. */
  readonly eps?: number;
  /** Per-head weight a of the value term [H]; default ½ for every head. */
  readonly valueWeight?: Float32Array | readonly number[];
  /** Per-head weight b of the angular term [H]; default 1/π for every head. */
  readonly angularWeight?: Float32Array | readonly number[];
}

/**
 * Per batch b and head h (features h·d … h·d+d−1, d = D / numHeads), with q̂, k̂ L2-normalised over d:
 * - reference: x_i = a·v_i + b·q̂_i (K̂ᵀV), y_i = x_i / max(‖x_i‖₂, eps);
 * - kernel_normalized: y_i = (a·Σ_j v_j + b·q̂_i (K̂ᵀV)) / (a·Nkv + b·q̂_i·Σ_j k̂_j).
 * Q is [B, Nq, D]; K, V are [B, Nkv, D]; Y is [B, Nq, D] with heads merged.
 */
export function linearAngularAttentionReference(
  query: Float32TensorView,
  key: Float32TensorView,
  value: Float32TensorView,
  options: LinearAngularAttentionReferenceOptions,
): Float32TensorView {
  const { batch, queryTokens, keyTokens, features } = attentionSizes(query, key, value);
  const { numHeads } = options;
  if (!Number.isInteger(numHeads) || numHeads < 1 || features % numHeads !== 0) {
    throw new InvalidArgumentError(`'num_heads' must divide D=${features}, got ${numHeads}`);
  }
  const mode = options.mode ?? 'reference';
  if (!LINEAR_ANGULAR_MODES.includes(mode)) {
    throw new InvalidArgumentError(`'mode' must be one of ${LINEAR_ANGULAR_MODES.join(', ')}, got ${String(mode)}`);
  }
  if (mode === 'reference' && queryTokens !== keyTokens) {
    // The reference form adds each query token's own v_i, so queries and values must pair up.
    throw new InvalidArgumentError(`mode 'reference' needs as many query as key/value tokens, got Nq=${queryTokens}, Nkv=${keyTokens}`);
  }
  const eps = options.eps ?? DEFAULT_EPS;
  const valueWeights = coefficientVector('value_weight', options.valueWeight, numHeads, 'H');
  const angularWeights = coefficientVector('angular_weight', options.angularWeight, numHeads, 'H');
  const headDim = features / numHeads;
  const output = new Float32Array(batch * queryTokens * features);
  const keyValue = new Float64Array(headDim * headDim); // K̂ᵀV of one head, row = key feature
  const keySum = new Float64Array(headDim); // Σ_j k̂_j
  const valueSum = new Float64Array(headDim); // Σ_j v_j
  const mixed = new Float64Array(headDim);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < numHeads; h++) {
      const headOffset = h * headDim;
      const valueWeight = valueWeights === undefined ? DEFAULT_VALUE_WEIGHT : valueWeights[h]!;
      const angularWeight = angularWeights === undefined ? DEFAULT_ANGULAR_WEIGHT : angularWeights[h]!;
      keyValue.fill(0);
      keySum.fill(0);
      valueSum.fill(0);
      for (let t = 0; t < keyTokens; t++) {
        const offset = (b * keyTokens + t) * features + headOffset;
        const inverseKeyNorm = inverseClampedNorm(key.data, offset, headDim, eps);
        for (let row = 0; row < headDim; row++) {
          const normalizedKey = key.data[offset + row]! * inverseKeyNorm;
          keySum[row]! += normalizedKey;
          valueSum[row]! += value.data[offset + row]!;
          for (let column = 0; column < headDim; column++) {
            keyValue[row * headDim + column]! += normalizedKey * value.data[offset + column]!;
          }
        }
      }
      for (let n = 0; n < queryTokens; n++) {
        const queryOffset = (b * queryTokens + n) * features + headOffset;
        const inverseQueryNorm = inverseClampedNorm(query.data, queryOffset, headDim, eps);
        // mixed = q̂ (K̂ᵀV): the angular term before its weight.
        mixed.fill(0);
        let queryDotKeySum = 0;
        for (let row = 0; row < headDim; row++) {
          const normalizedQuery = query.data[queryOffset + row]! * inverseQueryNorm;
          queryDotKeySum += normalizedQuery * keySum[row]!;
          for (let column = 0; column < headDim; column++) {
            mixed[column]! += normalizedQuery * keyValue[row * headDim + column]!;
          }
        }
        if (mode === 'reference') {
          // The token's own value (not Σ_j v_j), as in the Castling-ViT code.
          const valueOffset = (b * keyTokens + n) * features + headOffset;
          let sumOfSquares = 0;
          for (let column = 0; column < headDim; column++) {
            mixed[column] = valueWeight * value.data[valueOffset + column]! + angularWeight * mixed[column]!;
            sumOfSquares += mixed[column]! * mixed[column]!;
          }
          const inverseNorm = 1 / Math.max(Math.sqrt(sumOfSquares), eps);
          for (let column = 0; column < headDim; column++) {
            output[queryOffset + column] = mixed[column]! * inverseNorm;
          }
        } else {
          const denominator = valueWeight * keyTokens + angularWeight * queryDotKeySum;
          for (let column = 0; column < headDim; column++) {
            output[queryOffset + column] = (valueWeight * valueSum[column]! + angularWeight * mixed[column]!) / denominator;
          }
        }
      }
    }
  }
  return { data: output, dims: [batch, queryTokens, features] };
}
