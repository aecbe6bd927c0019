/**
 * Float32 reference kernel of `ai.vitlin::HydraAttention` — the test oracle the ONNX function body is
 * compared with. Plain loops, double-precision accumulation, no shortcuts: it follows the formula of
 * custom-ops/README.md literally (and is itself checked against a quadratic evaluation in the tests).
 */
import { DEFAULT_EPS } from '../schemas.js';
import { attentionSizes, coefficientVector, inverseClampedNorm, type Float32TensorView } from './tensor.js';

export interface HydraAttentionReferenceOptions {
  /** q̂ = q / max(‖q‖₂, eps); default {@link DEFAULT_EPS}. */
  readonly eps?: number;
  /** Optional per-feature output scale [D] (the op's 4th input). */
  readonly scale?: Float32Array | readonly number[];
}

/**
 * Y[b, n, :] = scale ⊙ q̂[b, n, :] ⊙ Σ_t k̂[b, t, :] ⊙ v[b, t, :], with q̂, k̂ L2-normalised over D
 * (clamped by eps) per token. Q is [B, Nq, D]; K, V are [B, Nkv, D]; Y is [B, Nq, D].
 */
export function hydraAttentionReference(
  query: Float32TensorView,
  key: Float32TensorView,
  value: Float32TensorView,
  options: HydraAttentionReferenceOptions = {},
): Float32TensorView {
  const { batch, queryTokens, keyTokens, features } = attentionSizes(query, key, value);
  const eps = options.eps ?? DEFAULT_EPS;
  const scale = coefficientVector('scale', options.scale, features, 'D');
  const output = new Float32Array(batch * queryTokens * features);
  const keyValueSum = new Float64Array(features);
  for (let b = 0; b < batch; b++) {
    keyValueSum.fill(0);
    for (let t = 0; t < keyTokens; t++) {
      const offset = (b * keyTokens + t) * features;
      const inverseKeyNorm = inverseClampedNorm(key.data, offset, features, eps);
      for (let f = 0; f < features; f++) {
        keyValueSum[f]! += key.data[offset + f]! * inverseKeyNorm * value.data[offset + f]!;
      }
    }
    for (let n = 0; n < queryTokens; n++) {
      const offset = (b * queryTokens + n) * features;
      const inverseQueryNorm = inverseClampedNorm(query.data, offset, features, eps);
      for (let f = 0; f < features; f++) {
        const featureScale = scale === undefined ? 1 : scale[f]!;
        output[offset + f] = query.data[offset + f]! * inverseQueryNorm * keyValueSum[f]! * featureScale;
      }
    }
  }
  return { data: output, dims: [batch, queryTokens, features] };
}
