/**
 * The enlarged calibration basis (`--calibration-basis extended`): besides the fused op's output Y, the
 * refit may use v, its mean over tokens, and per head an unnormalised linear attention
 *   T1_h = (q_h/√d) · K_hᵀ (V_h − mean_t V_h) / N        (O(N·d²), heads merged back to [B, N, D]).
 * The same subgraph serves the fit (added to a probe copy, its values captured) and the written model
 * (added beside the fused op, followed by MatMuls with the fitted weights), so the written model
 * computes exactly what was fitted. Only ordinary ONNX ops, all with WebGPU kernels.
 */
import { DataType } from '../../graph-rewrite/ir/dtypes.js';
import type { Value } from '../../graph-rewrite/ir/value.js';
import type { GraphEditor } from './graph-edit.js';

export type CalibrationBasis = 'plain' | 'extended';
export const CALIBRATION_BASES: readonly CalibrationBasis[] = ['plain', 'extended'];

/** The extra basis terms, each [B, N, D] except `meanV` [B, 1, D]. */
export interface BasisTerms {
  readonly v: Value;
  readonly meanV: Value;
  readonly t1: Value;
}

/** Number of basis blocks of D features: Y plus the extra terms. */
export function basisWidth(basis: CalibrationBasis, features: number): number {
  return basis === 'extended' ? 4 * features : features;
}

/**
 * Adds the subgraph computing the extra terms from the fused node's q, k, v ([B, N, D], `heads` heads,
 * `tokens` static). Returns its values.
 */
export function addBasisTerms(editor: GraphEditor, q: Value, k: Value, v: Value, heads: number, features: number, tokens: number, elemType: number): BasisTerms {
  const d = features / heads;
  const split = (x: Value, perm: readonly number[], hint: string) => editor.transpose(editor.reshape(x, [0, 0, heads, d], `${hint}_heads`), perm, `${hint}_split`);
  const qh = split(q, [0, 2, 1, 3], 'basis_q'); // [B, H, N, d]
  const kt = split(k, [0, 2, 3, 1], 'basis_k'); // [B, H, d, N]
  const vh = split(v, [0, 2, 1, 3], 'basis_v'); // [B, H, N, d]
  const centred = editor.op('Sub', [vh, editor.reduceMean(vh, [2], 'basis_v_mean_heads')], [], 'basis_v_centred');
  const kv = editor.op('MatMul', [kt, centred], [], 'basis_kv'); // [B, H, d, d]
  const scaled = editor.op('Mul', [qh, editor.floats([1 / (Math.sqrt(d) * tokens)], [], 'basis_scale', elemType === DataType.FLOAT16 ? DataType.FLOAT16 : DataType.FLOAT)], [], 'basis_q_scaled');
  const t = editor.op('MatMul', [scaled, kv], [], 'basis_t1_heads'); // [B, H, N, d]
  const t1 = editor.reshape(editor.transpose(t, [0, 2, 1, 3], 'basis_t1_merge'), [0, 0, features], 'basis_t1');
  const meanV = editor.reduceMean(v, [1], 'basis_v_mean');
  return { v, meanV, t1 };
}

/**
 * Writes the extra terms' share of the fit: v·W2 + mean_t(v)·W3 + T1·W4 ([B, N, D'], weights
 * [D, D'] each in `weights` rows D..4D of the ridge solution). Returns the sum.
 */
export function addBasisProjection(editor: GraphEditor, terms: BasisTerms, weights: Float64Array, features: number, outFeatures: number, elemType: number): Value {
  const block = (i: number) => weights.subarray((1 + i) * features * outFeatures, (2 + i) * features * outFeatures);
  const dtype = elemType === DataType.FLOAT16 ? DataType.FLOAT16 : DataType.FLOAT;
  const product = (x: Value, i: number, hint: string) => editor.op('MatMul', [x, editor.floats(block(i), [features, outFeatures], `${hint}_weight`, dtype)], [], hint);
  const fromV = product(terms.v, 0, 'basis_v_proj');
  const fromMean = product(terms.meanV, 1, 'basis_v_mean_proj');
  const fromT1 = product(terms.t1, 2, 'basis_t1_proj');
  return editor.op('Add', [editor.op('Add', [fromV, fromMean], [], 'basis_sum_v'), fromT1], [], 'basis_sum');
}
