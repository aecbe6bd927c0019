/**
 * The ONNX function body of `ai.vitlin::LinearAngularAttention`.
 *
 * Layout: Q, V → [B, H, N, d] and K → [B, H, d, N] by Reshape + Transpose, so that K̂ᵀV is one
 * batched [d, Nkv]×[Nkv, d] MatMul per head and q(K̂ᵀV) one [Nq, d]×[d, d] MatMul; elementwise work
 * stays in [B, H, N, d] and a single Transpose merges the heads at the end. Keys are normalised
 * before their Transpose (a contiguous last-axis reduction); queries are never normalised as a
 * tensor: q̂(K̂ᵀV) = q(K̂ᵀV) / max(‖q‖, eps), one Div on the product.
 * Token sums (Σ_j v_j, Nkv) use a MatMul with a row of ones: ReduceSum over a non-last axis is
 * several times slower on ORT CPU (bench/attention.ts), and no Shape op is needed, which WebGPU
 * execution providers would place on the CPU.
 */
import { DataType } from '../../base/onnx-schema.js';
import {
  DEFAULT_ANGULAR_WEIGHT,
  DEFAULT_VALUE_WEIGHT,
  type LinearAngularAttentionAttributes,
  type VitlinElemType,
} from '../schemas.js';
import { asFloat, asOutput } from './body-builder.js';
import { cast, clampedNorm, reduce, reshape, transpose, type NodeTape } from './node-tape.js';

export const LINEAR_ANGULAR_ATTENTION_INPUTS = ['Q', 'K', 'V', 'value_weight', 'angular_weight'] as const;
export const LINEAR_ANGULAR_ATTENTION_OUTPUTS = ['Y'] as const;

export interface LinearAngularAttentionBodySpec {
  readonly elemType: VitlinElemType;
  readonly attributes: LinearAngularAttentionAttributes;
  /** Whether call sites wire the optional `value_weight` input (else the weight is ½). */
  readonly hasValueWeight: boolean;
  /** Whether call sites wire the optional `angular_weight` input (else the weight is 1/π). */
  readonly hasAngularWeight: boolean;
}

/** A per-head weight: a float scalar constant, or the [H] input reshaped to [H, 1, 1] for [B, H, N, d]. */
function headWeight<V>(tape: NodeTape<V>, weight: FormalInput<V>, given: boolean, defaultValue: number): V {
  const [input, name] = weight;
  if (!given) return tape.float32([defaultValue], [], `${name}_default`);
  const asFloat32 = cast(tape, input, DataType.FLOAT, `${name}_float`);
  return reshape(tape, asFloat32, [-1, 1, 1], `${name}_per_head`);
}

/** A formal input of the function and its name (the hint of what is derived from it). */
type FormalInput<V> = readonly [value: V, name: string];

/** Values shared by both modes, all float32 in head-major layouts. */
interface HeadTensors<V> {
  readonly valueWeight: FormalInput<V>;
  readonly angularWeight: FormalInput<V>;
  readonly spec: LinearAngularAttentionBodySpec;
  readonly eps: V;
  /** max(‖k‖, eps) per key token and head [B, Nkv, H, 1]. */
  readonly keyNorm: V;
  /** K̂ with heads first and tokens last [B, H, d, Nkv]. */
  readonly keysByFeature: V;
  /** V [B, H, Nkv, d]. */
  readonly values: V;
  /** K̂ᵀV [B, H, d, d]. */
  readonly keyValue: V;
  /** Q (not normalised) [B, H, Nq, d]. */
  readonly queries: V;
  /** max(‖q‖, eps) [B, H, Nq, 1]. */
  readonly queryNorm: V;
}

/** x = a·v + b·q̂(K̂ᵀV), y = x / max(‖x‖, eps) → [B, H, Nq, d]. */
function referenceMode<V>(tape: NodeTape<V>, tensors: HeadTensors<V>): V {
  const { spec, keyValue, queries, queryNorm, values } = tensors;
  if (!spec.hasValueWeight) {
    // x / max(‖x‖, eps) is unchanged when x and eps are divided by the value weight a = ½, so compute
    // x/a = v + (b/a)·q̂(K̂ᵀV) with eps/a and skip a pass over V; (b/a) multiplies the small K̂ᵀV.
    const ratio = spec.hasAngularWeight
      ? tape.op(
          'Div',
          [
            headWeight(tape, tensors.angularWeight, true, DEFAULT_ANGULAR_WEIGHT),
            tape.float32([DEFAULT_VALUE_WEIGHT], [], 'value_weight_default'),
          ], { name: 'angular_to_value_ratio' })
      : tape.float32([DEFAULT_ANGULAR_WEIGHT / DEFAULT_VALUE_WEIGHT], [], 'angular_to_value_ratio');
    const weightedKeyValue = tape.op('Mul', [keyValue, ratio], { name: 'weighted_key_value' });
    const mixed = tape.op('MatMul', [queries, weightedKeyValue], { name: 'query_key_value' });
    const angularTerm = tape.op('Div', [mixed, queryNorm], { name: 'angular_term' });
    const scaled = tape.op('Add', [angularTerm, values], { name: 'x_over_value_weight' });
    const scaledEps = tape.float32([spec.attributes.eps / DEFAULT_VALUE_WEIGHT], [], 'eps_over_value_weight');
    const norm = clampedNorm(tape, scaled, -1, scaledEps, 'x_norm');
    return tape.op('Div', [scaled, norm], { name: 'normalized_x' });
  }
  // A calibrated a may be 0 or negative, so no folding: one more Mul over V.
  const valueWeight = headWeight(tape, tensors.valueWeight, true, DEFAULT_VALUE_WEIGHT);
  const angularWeight = headWeight(tape, tensors.angularWeight, spec.hasAngularWeight, DEFAULT_ANGULAR_WEIGHT);
  const weightedKeyValue = tape.op('Mul', [keyValue, angularWeight], { name: 'weighted_key_value' });
  const mixed = tape.op('MatMul', [queries, weightedKeyValue], { name: 'query_key_value' });
  const angularTerm = tape.op('Div', [mixed, queryNorm], { name: 'angular_term' });
  const valueTerm = tape.op('Mul', [values, valueWeight], { name: 'value_term' });
  const x = tape.op('Add', [angularTerm, valueTerm], { name: 'x' });
  const norm = clampedNorm(tape, x, -1, tensors.eps, 'x_norm');
  return tape.op('Div', [x, norm], { name: 'normalized_x' });
}

/** y = (a·Σ_j v_j + b·q̂(K̂ᵀV)) / (a·Nkv + b·q̂·Σ_j k̂_j) → [B, H, Nq, d]. */
function kernelNormalizedMode<V>(tape: NodeTape<V>, tensors: HeadTensors<V>): V {
  const { spec, keyValue, queries, queryNorm, values, keysByFeature, keyNorm } = tensors;
  const valueWeight = headWeight(tape, tensors.valueWeight, spec.hasValueWeight, DEFAULT_VALUE_WEIGHT);
  const angularWeight = headWeight(tape, tensors.angularWeight, spec.hasAngularWeight, DEFAULT_ANGULAR_WEIGHT);
  const weightedKeyValue = tape.op('Mul', [keyValue, angularWeight], { name: 'weighted_key_value' });
  const mixed = tape.op('MatMul', [queries, weightedKeyValue], { name: 'query_key_value' });
  const keySum = reduce(tape, 'ReduceSum', keysByFeature, [-1], 'key_sum'); // Σ_j k̂_j [B, H, d, 1]
  const weightedKeySum = tape.op('Mul', [keySum, angularWeight], { name: 'weighted_key_sum' });
  const queryDotKeySum = tape.op('MatMul', [queries, weightedKeySum], { name: 'query_dot_key_sum' }); // [B, H, Nq, 1]
  // A row of exact ones [B, H, 1, Nkv] (norms are ≥ eps > 0) for the token sums.
  const keyNormRow = transpose(tape, keyNorm, [0, 2, 3, 1], 'key_norm_row');
  const onesRow = tape.op('Div', [keyNormRow, keyNormRow], { name: 'ones_row' });
  const valueSum = tape.op('MatMul', [onesRow, values], { name: 'value_sum' }); // Σ_j v_j [B, H, 1, d]
  const tokenCount = reduce(tape, 'ReduceSum', onesRow, [-1], 'token_count'); // Nkv [B, H, 1, 1]
  const numerator = tape.op(
    'Add',
    [tape.op('Div', [mixed, queryNorm], { name: 'angular_term' }), tape.op('Mul', [valueSum, valueWeight], { name: 'value_term' })], { name: 'numerator' });
  const denominator = tape.op(
    'Add',
    [
      tape.op('Div', [queryDotKeySum, queryNorm], { name: 'angular_normalizer' }),
      tape.op('Mul', [tokenCount, valueWeight], { name: 'value_normalizer' }),
    ], { name: 'denominator' });
  return tape.op('Div', [numerator, denominator], { name: 'kernel_normalized' });
}

/** Writes the body on `tape` from the formal inputs (Q, K, V, value_weight, angular_weight); returns Y. */
export function buildLinearAngularAttentionBody<V>(tape: NodeTape<V>, spec: LinearAngularAttentionBodySpec, inputs: readonly V[]): V {
  const [q, k, v, valueWeight, angularWeight] = inputs as [V, V, V, V, V];
  const query = asFloat(tape, q, 'Q', spec.elemType);
  const key = asFloat(tape, k, 'K', spec.elemType);
  const value = asFloat(tape, v, 'V', spec.elemType);
  const eps = tape.float32([spec.attributes.eps], [], 'eps');

  // Split heads: [B, N, D] → [B, N, H, d] (a view) → head-major layouts for the batched MatMuls.
  const splitShape = [0, 0, spec.attributes.num_heads, -1];
  const keyHeads = reshape(tape, key, splitShape, 'key_heads');
  const keyNorm = clampedNorm(tape, keyHeads, -1, eps, 'key_norm'); // [B, Nkv, H, 1]
  const normalizedKeys = tape.op('Div', [keyHeads, keyNorm], { name: 'normalized_key_heads' });
  const keysByFeature = transpose(tape, normalizedKeys, [0, 2, 3, 1], 'normalized_keys_t'); // [B, H, d, Nkv]
  const valueHeads = reshape(tape, value, splitShape, 'value_heads');
  const values = transpose(tape, valueHeads, [0, 2, 1, 3], 'values_t'); // [B, H, Nkv, d]
  const keyValue = tape.op('MatMul', [keysByFeature, values], { name: 'key_value' }); // K̂ᵀV [B, H, d, d]
  const queryHeads = reshape(tape, query, splitShape, 'query_heads');
  const queries = transpose(tape, queryHeads, [0, 2, 1, 3], 'queries_t'); // [B, H, Nq, d]
  const queryNorm = clampedNorm(tape, queries, -1, eps, 'query_norm'); // [B, H, Nq, 1]

  const tensors: HeadTensors<V> = {
    spec, valueWeight: [valueWeight, 'value_weight'], angularWeight: [angularWeight, 'angular_weight'], eps, keyNorm, keysByFeature, values, keyValue, queries, queryNorm };
  const result = spec.attributes.mode === 'reference' ? referenceMode(tape, tensors) : kernelNormalizedMode(tape, tensors);
  const mergedLayout = transpose(tape, result, [0, 2, 1, 3], 'y_heads'); // [B, Nq, H, d]
  return asOutput(tape, reshape(tape, mergedLayout, [0, 0, -1], 'y'), 'Y', spec.elemType);
}
