/**
 * The ONNX function body of `ai.vitlin::HydraAttention`.
 *
 * Composition (picked with bench/attention.ts; see custom-ops/README.md for the numbers):
 *   S  = (1 / max(‖k_t‖, eps))ᵀ · (K ⊙ V)      one Mul, then a [B,1,Nkv]×[B,Nkv,D] MatMul
 *   Y  = (Q ⊙ S) / max(‖q_n‖, eps)
 * Why: summing over tokens with ReduceSum(axis = 1) is several times slower on ORT CPU than the
 * MatMul by the row of inverse key norms, which also normalises k̂ for free; and dividing Q ⊙ S
 * by the query norm avoids materialising q̂. About 10 passes over [N, D] against the 4 of reading
 * Q, K, V and writing Y once.
 */
import { DataType } from '../../base/onnx-schema.js';
import type { HydraAttentionAttributes, VitlinElemType } from '../schemas.js';
import { asFloat, emitOutput, FunctionBodyBuilder } from './body-builder.js';

export const HYDRA_ATTENTION_INPUTS = ['Q', 'K', 'V', 'scale'] as const;
export const HYDRA_ATTENTION_OUTPUTS = ['Y'] as const;

export interface HydraAttentionBodySpec {
  readonly opset: number;
  readonly elemType: VitlinElemType;
  readonly attributes: HydraAttentionAttributes;
  /** Whether call sites wire the optional `scale` input (the body then multiplies it in). */
  readonly hasScale: boolean;
}

export function buildHydraAttentionBody(spec: HydraAttentionBodySpec): FunctionBodyBuilder {
  const builder = new FunctionBodyBuilder(spec.opset, [...HYDRA_ATTENTION_INPUTS, ...HYDRA_ATTENTION_OUTPUTS]);
  const query = asFloat(builder, 'Q', spec.elemType);
  const key = asFloat(builder, 'K', spec.elemType);
  const value = asFloat(builder, 'V', spec.elemType);
  const eps = builder.floatConstant('eps', [spec.attributes.eps]);

  const keyNorm = builder.clampedNorm(key, -1, eps, 'key_norm'); // [B, Nkv, 1]
  const keyNormRow = builder.reshape(keyNorm, [0, 1, -1], 'key_norm_row'); // [B, 1, Nkv], same memory
  const inverseKeyNormRow = builder.add('Reciprocal', [keyNormRow], 'inverse_key_norm_row');
  const keyTimesValue = builder.add('Mul', [key, value], 'key_times_value'); // [B, Nkv, D]
  let keyValueSum = builder.add('MatMul', [inverseKeyNormRow, keyTimesValue], 'key_value_sum'); // [B, 1, D]
  if (spec.hasScale) {
    // Y is linear in S per feature, so the [D] calibration scale is applied to S, not to [B, Nq, D] Y.
    const scale = builder.cast('scale', DataType.FLOAT, 'scale_float');
    keyValueSum = builder.add('Mul', [keyValueSum, scale], 'scaled_key_value_sum');
  }
  const queryNorm = builder.clampedNorm(query, -1, eps, 'query_norm'); // [B, Nq, 1]
  const unnormalized = builder.add('Mul', [query, keyValueSum], 'query_times_sum');
  emitOutput(builder, 'Y', spec.elemType, (output) => builder.add('Div', [unnormalized, queryNorm], 'y', [], output));
  return builder;
}
