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
import { asFloat, asOutput } from './body-builder.js';
import { cast, clampedNorm, reshape, type NodeTape } from './node-tape.js';

export const HYDRA_ATTENTION_INPUTS = ['Q', 'K', 'V', 'scale'] as const;
export const HYDRA_ATTENTION_OUTPUTS = ['Y'] as const;

export interface HydraAttentionBodySpec {
  readonly elemType: VitlinElemType;
  readonly attributes: HydraAttentionAttributes;
  /** Whether call sites wire the optional `scale` input (the body then multiplies it in). */
  readonly hasScale: boolean;
}

/** Writes the body on `tape` from the formal inputs (Q, K, V, scale); returns Y. */
export function buildHydraAttentionBody<V>(tape: NodeTape<V>, spec: HydraAttentionBodySpec, inputs: readonly V[]): V {
  const [q, k, v, scaleInput] = inputs as [V, V, V, V];
  const query = asFloat(tape, q, 'Q', spec.elemType);
  const key = asFloat(tape, k, 'K', spec.elemType);
  const value = asFloat(tape, v, 'V', spec.elemType);
  const eps = tape.float32([spec.attributes.eps], [], 'eps');

  const keyNorm = clampedNorm(tape, key, -1, eps, 'key_norm'); // [B, Nkv, 1]
  const keyNormRow = reshape(tape, keyNorm, [0, 1, -1], 'key_norm_row'); // [B, 1, Nkv], same memory
  const inverseKeyNormRow = tape.op('Reciprocal', [keyNormRow], { name: 'inverse_key_norm_row' });
  const keyTimesValue = tape.op('Mul', [key, value], { name: 'key_times_value' }); // [B, Nkv, D]
  let keyValueSum = tape.op('MatMul', [inverseKeyNormRow, keyTimesValue], { name: 'key_value_sum' }); // [B, 1, D]
  if (spec.hasScale) {
    // Y is linear in S per feature, so the [D] calibration scale is applied to S, not to [B, Nq, D] Y.
    const scale = cast(tape, scaleInput, DataType.FLOAT, 'scale_float');
    keyValueSum = tape.op('Mul', [keyValueSum, scale], { name: 'scaled_key_value_sum' });
  }
  const queryNorm = clampedNorm(tape, query, -1, eps, 'query_norm'); // [B, Nq, 1]
  const unnormalized = tape.op('Mul', [query, keyValueSum], { name: 'query_times_sum' });
  return asOutput(tape, tape.op('Div', [unnormalized, queryNorm], { name: 'y' }), 'Y', spec.elemType);
}
