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
import { asFloat, emitOutput, FunctionBodyBuilder } from './body-builder.js';

export const LINEAR_ANGULAR_ATTENTION_INPUTS = ['Q', 'K', 'V', 'value_weight', 'angular_weight'] as const;
export const LINEAR_ANGULAR_ATTENTION_OUTPUTS = ['Y'] as const;

export interface LinearAngularAttentionBodySpec {
  readonly opset: number;
  readonly elemType: VitlinElemType;
  readonly attributes: LinearAngularAttentionAttributes;
  /** Whether call sites wire the optional `value_weight` input (else the weight is ½). */
  readonly hasValueWeight: boolean;
  /** Whether call sites wire the optional `angular_weight` input (else the weight is 1/π). */
  readonly hasAngularWeight: boolean;
}

/** A per-head weight: a float scalar constant, or the [H] input reshaped to [H, 1, 1] for [B, H, N, d]. */
function headWeight(builder: FunctionBodyBuilder, given: boolean, input: string, defaultValue: number): string {
  if (!given) return builder.floatConstant(`${input}_default`, [defaultValue]);
  const asFloat32 = builder.cast(input, DataType.FLOAT, `${input}_float`);
  return builder.reshape(asFloat32, [-1, 1, 1], `${input}_per_head`);
}

/** Values shared by both modes, all float32 in head-major layouts. */
interface HeadTensors {
  readonly spec: LinearAngularAttentionBodySpec;
  readonly eps: string;
  /** max(‖k‖, eps) per key token and head [B, Nkv, H, 1]. */
  readonly keyNorm: string;
  /** K̂ with heads first and tokens last [B, H, d, Nkv]. */
  readonly keysByFeature: string;
  /** V [B, H, Nkv, d]. */
  readonly values: string;
  /** K̂ᵀV [B, H, d, d]. */
  readonly keyValue: string;
  /** Q (not normalised) [B, H, Nq, d]. */
  readonly queries: string;
  /** max(‖q‖, eps) [B, H, Nq, 1]. */
  readonly queryNorm: string;
}

/** x = a·v + b·q̂(K̂ᵀV), y = x / max(‖x‖, eps) → [B, H, Nq, d]. */
function referenceMode(builder: FunctionBodyBuilder, tensors: HeadTensors): string {
  const { spec, keyValue, queries, queryNorm, values } = tensors;
  if (!spec.hasValueWeight) {
    // x / max(‖x‖, eps) is unchanged when x and eps are divided by the value weight a = ½, so compute
    // x/a = v + (b/a)·q̂(K̂ᵀV) with eps/a and skip a pass over V; (b/a) multiplies the small K̂ᵀV.
    const ratio = spec.hasAngularWeight
      ? builder.add(
          'Div',
          [
            headWeight(builder, true, 'angular_weight', DEFAULT_ANGULAR_WEIGHT),
            builder.floatConstant('value_weight_default', [DEFAULT_VALUE_WEIGHT]),
          ],
          'angular_to_value_ratio',
        )
      : builder.floatConstant('angular_to_value_ratio', [DEFAULT_ANGULAR_WEIGHT / DEFAULT_VALUE_WEIGHT]);
    const weightedKeyValue = builder.add('Mul', [keyValue, ratio], 'weighted_key_value');
    const mixed = builder.add('MatMul', [queries, weightedKeyValue], 'query_key_value');
    const angularTerm = builder.add('Div', [mixed, queryNorm], 'angular_term');
    const scaled = builder.add('Add', [angularTerm, values], 'x_over_value_weight');
    const scaledEps = builder.floatConstant('eps_over_value_weight', [spec.attributes.eps / DEFAULT_VALUE_WEIGHT]);
    const norm = builder.clampedNorm(scaled, -1, scaledEps, 'x_norm');
    return builder.add('Div', [scaled, norm], 'normalized_x');
  }
  // A calibrated a may be 0 or negative, so no folding: one more Mul over V.
  const valueWeight = headWeight(builder, true, 'value_weight', DEFAULT_VALUE_WEIGHT);
  const angularWeight = headWeight(builder, spec.hasAngularWeight, 'angular_weight', DEFAULT_ANGULAR_WEIGHT);
  const weightedKeyValue = builder.add('Mul', [keyValue, angularWeight], 'weighted_key_value');
  const mixed = builder.add('MatMul', [queries, weightedKeyValue], 'query_key_value');
  const angularTerm = builder.add('Div', [mixed, queryNorm], 'angular_term');
  const valueTerm = builder.add('Mul', [values, valueWeight], 'value_term');
  const x = builder.add('Add', [angularTerm, valueTerm], 'x');
  const norm = builder.clampedNorm(x, -1, tensors.eps, 'x_norm');
  return builder.add('Div', [x, norm], 'normalized_x');
}

/** y = (a·Σ_j v_j + b·q̂(K̂ᵀV)) / (a·Nkv + b·q̂·Σ_j k̂_j) → [B, H, Nq, d]. */
function kernelNormalizedMode(builder: FunctionBodyBuilder, tensors: HeadTensors): string {
  const { spec, keyValue, queries, queryNorm, values, keysByFeature, keyNorm } = tensors;
  const valueWeight = headWeight(builder, spec.hasValueWeight, 'value_weight', DEFAULT_VALUE_WEIGHT);
  const angularWeight = headWeight(builder, spec.hasAngularWeight, 'angular_weight', DEFAULT_ANGULAR_WEIGHT);
  const weightedKeyValue = builder.add('Mul', [keyValue, angularWeight], 'weighted_key_value');
  const mixed = builder.add('MatMul', [queries, weightedKeyValue], 'query_key_value');
  const keySum = builder.reduce('ReduceSum', keysByFeature, [-1], 'key_sum'); // Σ_j k̂_j [B, H, d, 1]
  const weightedKeySum = builder.add('Mul', [keySum, angularWeight], 'weighted_key_sum');
  const queryDotKeySum = builder.add('MatMul', [queries, weightedKeySum], 'query_dot_key_sum'); // [B, H, Nq, 1]
  // A row of exact ones [B, H, 1, Nkv] (norms are ≥ eps > 0) for the token sums.
  const keyNormRow = builder.transpose(keyNorm, [0, 2, 3, 1], 'key_norm_row');
  const onesRow = builder.add('Div', [keyNormRow, keyNormRow], 'ones_row');
  const valueSum = builder.add('MatMul', [onesRow, values], 'value_sum'); // Σ_j v_j [B, H, 1, d]
  const tokenCount = builder.reduce('ReduceSum', onesRow, [-1], 'token_count'); // Nkv [B, H, 1, 1]
  const numerator = builder.add(
    'Add',
    [builder.add('Div', [mixed, queryNorm], 'angular_term'), builder.add('Mul', [valueSum, valueWeight], 'value_term')],
    'numerator',
  );
  const denominator = builder.add(
    'Add',
    [
      builder.add('Div', [queryDotKeySum, queryNorm], 'angular_normalizer'),
      builder.add('Mul', [tokenCount, valueWeight], 'value_normalizer'),
    ],
    'denominator',
  );
  return builder.add('Div', [numerator, denominator], 'kernel_normalized');
}

export function buildLinearAngularAttentionBody(spec: LinearAngularAttentionBodySpec): FunctionBodyBuilder {
  const builder = new FunctionBodyBuilder(spec.opset, [
    ...LINEAR_ANGULAR_ATTENTION_INPUTS,
    ...LINEAR_ANGULAR_ATTENTION_OUTPUTS,
  ]);
  const query = asFloat(builder, 'Q', spec.elemType);
  const key = asFloat(builder, 'K', spec.elemType);
  const value = asFloat(builder, 'V', spec.elemType);
  const eps = builder.floatConstant('eps', [spec.attributes.eps]);

  // Split heads: [B, N, D] → [B, N, H, d] (a view) → head-major layouts for the batched MatMuls.
  const splitShape = [0, 0, spec.attributes.num_heads, -1];
  const keyHeads = builder.reshape(key, splitShape, 'key_heads');
  const keyNorm = builder.clampedNorm(keyHeads, -1, eps, 'key_norm'); // [B, Nkv, H, 1]
  const normalizedKeys = builder.add('Div', [keyHeads, keyNorm], 'normalized_key_heads');
  const keysByFeature = builder.transpose(normalizedKeys, [0, 2, 3, 1], 'normalized_keys_t'); // [B, H, d, Nkv]
  const valueHeads = builder.reshape(value, splitShape, 'value_heads');
  const values = builder.transpose(valueHeads, [0, 2, 1, 3], 'values_t'); // [B, H, Nkv, d]
  const keyValue = builder.add('MatMul', [keysByFeature, values], 'key_value'); // K̂ᵀV [B, H, d, d]
  const queryHeads = builder.reshape(query, splitShape, 'query_heads');
  const queries = builder.transpose(queryHeads, [0, 2, 1, 3], 'queries_t'); // [B, H, Nq, d]
  const queryNorm = builder.clampedNorm(queries, -1, eps, 'query_norm'); // [B, H, Nq, 1]

  const tensors: HeadTensors = { spec, eps, keyNorm, keysByFeature, values, keyValue, queries, queryNorm };
  const result = spec.attributes.mode === 'reference' ? referenceMode(builder, tensors) : kernelNormalizedMode(builder, tensors);
  const mergedLayout = builder.transpose(result, [0, 2, 1, 3], 'y_heads'); // [B, Nq, H, d]
  emitOutput(builder, 'Y', spec.elemType, (output) => builder.reshape(mergedLayout, [0, 0, -1], 'y', output));
  return builder;
}
