/**
 * The attention blocks vitlin finds, and what its rules hand to the shared rewrite: where the block's
 * q, k and v are as [B, N, D] tensors, and where its merged-heads output goes.
 */

import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import type { Dim } from '../analysis/dims.js';
import type { Role } from '../analysis/head-layout.js';
import type { Pass } from '../passes/pass.js';

/** The exporter style a block was recognised as. */
export type AttentionStyle =
  | 'torch-mha' | 'hf' | 'timm-packed' | 'sdpa' | 'clip-bmm' | 'single-head' | 'cross-attention'
  | 'onnx.Attention' | 'com.microsoft.MultiHeadAttention' | 'com.microsoft.Attention';

/**
 * Where the 1/√d scale is applied: on the scores (`div-scores`, `mul-scores`), on q after the head
 * split (`div-q`, `mul-q`) or right after its projection (`div-q-after-proj`, `mul-q-after-proj`),
 * √scale on both q and kᵀ (`sqrt-on-q-and-kT`), inside a fused op (`in-op`), nowhere (`none`), or a
 * combination of these (`mixed`).
 */
export type ScalePlacement =
  | 'div-scores' | 'mul-scores' | 'div-q' | 'mul-q' | 'div-q-after-proj' | 'mul-q-after-proj'
  | 'div-k' | 'mul-k' | 'sqrt-on-q-and-kT' | 'in-op' | 'none' | 'mixed';

export interface AttentionScale {
  /** The total factor on q·kᵀ (for a fused op without a `scale` attribute: its default, 1/√d). */
  readonly value: number;
  readonly placement: ScalePlacement;
  /** 1/√headDim. */
  readonly expected: number;
  /** Whether `value` is 1/√headDim (relative tolerance 2e-3, so float16 constants agree). */
  readonly matchesHeadDim: boolean;
}

/** One attention block of a model, as {@link findAttentionBlocks} reports it. */
export interface AttentionBlock {
  /** Position among the model's blocks, in graph order (0-based): what `convertAttention`'s `blocks` selects. */
  readonly index: number;
  readonly style: AttentionStyle;
  /** What the block computes now (exact-fusion rules report 'hydra' / 'linear-angular' blocks). */
  readonly kind: AttentionKind;
  readonly heads: number;
  readonly headDim: number;
  /** heads × headDim: the width of q, k, v and of the merged output. */
  readonly embedDim: number;
  /** Query tokens (a number, or a symbolic dim such as 'sequence'). */
  readonly tokens: Dim;
  /** Key/value tokens (equal to `tokens` for self-attention). */
  readonly keyTokens: Dim;
  readonly batch: Dim;
  readonly scale: AttentionScale;
  /** Element type of the attention computation: 'float32', 'float16', … */
  readonly dtype: string;
  readonly convertible: boolean;
  /** Why the block is not convertible (absent when it is). */
  readonly reason?: string;
  /** Remarks that do not prevent conversion (e.g. an unusual scale). */
  readonly notes: readonly string[];
  /** The node the block was found from (its Softmax, or the fused attention op). */
  readonly anchor: string;
  /** Names of the nodes the block consists of (those a conversion replaces). */
  readonly nodes: readonly string[];
  /** The rule that recognised it. */
  readonly rule: string;
}

/** An operand (q, k or v) as a view of a value that holds it as [B, N, D] — possibly packed, transposed or 2-D. */
export interface OperandView {
  readonly value: Value;
  /** Axis of `value` holding the batch (undefined: no batch axis, batch 1). */
  readonly batchAxis: number | undefined;
  readonly tokensAxis: number;
  /** The features are the last axis; when packed, this operand is part `part` of `parts` equal parts. */
  readonly packed: { readonly part: number; readonly parts: number } | undefined;
  /**
   * Set when `value` is [B, H, N, d]-like with the heads already split on this axis (q, k transformed per
   * head after the projection, e.g. by rotary embeddings): the rewrite merges the heads back ([B, N, H·d]).
   */
  readonly headsAxis?: number;
  /** A bias to add after selecting the part: [D], or part `part` of a packed [parts·D] (com.microsoft MultiHeadAttention). */
  readonly bias?: { readonly value: Value; readonly part?: number };
}

/** Where the block's merged-heads output is read, and in which arrangement. */
export interface OutputTarget {
  /** The value whose readers get the fused op's output instead. */
  readonly value: Value;
  /** Roles of each axis of `value` (the last is [H, d]); B is absent when it has size 1. */
  readonly axes: readonly (readonly Role[])[];
  readonly shape: readonly Dim[];
  readonly elemType: number | undefined;
}

/** The attention a block computes. */
export type AttentionKind = 'softmax' | 'hydra' | 'linear-angular';

/** What every attention rule's pattern produces; the shared rewrite consumes it. */
export interface AttentionMatch {
  /** What the matched block computes; default 'softmax'. */
  readonly kind?: AttentionKind;
  readonly style: AttentionStyle;
  readonly anchor: Node;
  readonly q: OperandView;
  readonly k: OperandView;
  readonly v: OperandView;
  readonly heads: number;
  readonly headDim: number;
  readonly tokens: Dim;
  readonly keyTokens: Dim;
  readonly batch: Dim;
  readonly scale: AttentionScale;
  /** Element type the fused op runs in (that of v's source: the model's dtype). */
  readonly elemType: number | undefined;
  readonly output: OutputTarget;
  /** Nodes whose results only the block may read (from the scores to the merged output). */
  readonly interior: readonly Node[];
  readonly notes: string[];
  /**
   * For ops that project inside (com.microsoft Attention): the packed projection x·W (+ b) the rewrite
   * computes first; q, k, v are then parts 0, 1, 2 of it (their views' `value` is replaced by it).
   */
  readonly projection?: { readonly input: Value; readonly weight: Value; readonly bias?: Value };
  /** Set by the pattern when the structure is attention but has parts with no linear equivalent (checked, then rejected). */
  readonly blocker?: { readonly reason: string; readonly node: Node };
}

/** Options of {@link convertAttention}. */
export interface ConvertAttentionOptions {
  /** The kernel to put in place of softmax attention: a registered kernel's name (custom-ops/kernels: 'hydra', 'linear-angular', …). */
  readonly attention: string;
  /** Which blocks (indices of {@link findAttentionBlocks}); default 'all'. */
  readonly blocks?: 'all' | readonly number[];
  /** eps of the fused op's normalisations (default: the op's, 1e-6). */
  readonly eps?: number;
  /** Passes run on the converted copy before it is sorted and validated (default CLEANUP_PASSES of graph-rewrite/passes/pass.ts). */
  readonly cleanup?: readonly Pass[];
  /** LinearAngularAttention's mode (default 'reference'). */
  readonly linearAngularMode?: 'reference' | 'kernel_normalized';
}
