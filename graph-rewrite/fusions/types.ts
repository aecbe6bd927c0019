/**
 * What the exact-fusion rules find and produce. An exact fusion replaces attention that a model
 * already computes in decomposed form (Hydra, linear-angular, Castling's training form) with the fused
 * `ai.vitlin` op computing the same thing — unlike `convertAttention`, which changes what a softmax
 * block computes.
 */

import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import type { Role } from '../analysis/head-layout.js';
import type { AttentionMatch } from '../attention/types.js';

/**
 * `hydra`: decomposed Hydra attention → HydraAttention. `linear-angular`: decomposed linear-angular
 * attention (Castling-ViT's reference-code or kernel-normalised form) → LinearAngularAttention. `castling-switch`: the same
 * with Castling's auxiliary softmax branch, gated by the constant 0, dropped ("switched off").
 */
export type ExactFusionKind = 'hydra' | 'linear-angular' | 'castling-switch';

/** Which linear-angular form a block computes: the released code's, or the paper's kernel-normalised ratio. */
export type LinearAngularForm = 'reference' | 'kernel-normalized';

/**
 * How a matched x̂ = x / ‖x‖₂ guards against a zero norm: not at all, with a clamp max(‖x‖, eps)
 * (F.normalize: Clip(min = eps), or Max), or by adding eps to the norm (‖x‖ + eps).
 */
export type EpsForm =
  | { readonly kind: 'none' }
  | { readonly kind: 'clamp'; readonly value: number; readonly node: Node }
  | { readonly kind: 'add'; readonly value: number; readonly node: Node };

/** One matched L2 normalisation x̂ = x / ‖x‖₂ (with the nodes of every exporter form bound). */
export interface L2Normalization {
  /** What the pattern calls it in messages: 'q̂', 'k̂', 'x̂'. */
  readonly what: string;
  /** x. */
  readonly input: Value;
  /** x̂. */
  readonly output: Value;
  /** The node computing x̂ (a Div, or a Mul by the reciprocal norm). */
  readonly node: Node;
  /** The reduction axes as written, normalised to non-negative (undefined: all axes). */
  readonly axes: readonly number[] | undefined;
  readonly keepDims: boolean;
  /** Rank of x, when known. */
  readonly rank: number | undefined;
  readonly eps: EpsForm;
  /** The norm's form, for messages: 'ReduceL2', 'Sqrt(ReduceSum(x·x))', … */
  readonly form: string;
  /** False when the norm is expanded to a shape not known to be x's (the Div could then broadcast x). */
  readonly expandsToInput: boolean;
}

/** Castling's auxiliary softmax branch, added to the linear-angular output multiplied by a gate. */
export interface GatedSoftmaxBranch {
  /** The Mul by the gate (on softmax(…)·v, or on the softmax weights). */
  readonly gateNode: Node;
  /** The value every element of the constant gate holds (a scalar, or e.g. a per-head tensor of zeros); undefined when it is not a constant or its elements differ. */
  readonly gate: number | undefined;
  readonly gateValue: Value;
  /** The branch's Softmax. */
  readonly softmax: Node;
  /** The Add of the gated branch to the attention output, and that output (what remains when the branch is dropped). */
  readonly sum: Node;
  readonly main: Value;
  /** What the sum adds: the gated branch, possibly rearranged after the gate. */
  readonly term: Value;
  /** Data movement between the gate and the sum (the branch's heads merged after gating), and the MatMul with v when the gate is on the weights. */
  readonly rearrangement: readonly Node[];
  /** Whether the branch is added after the heads are merged. */
  readonly afterMerge: boolean;
}

/** What both exact-fusion rules hand to their check and rewrite: an AttentionMatch plus what exactness needs. */
export interface ExactAttentionMatch extends AttentionMatch {
  readonly exactKind: ExactFusionKind;
  /** Linear-angular blocks: which form (the fused op's mode). */
  readonly linearAngularForm?: LinearAngularForm;
  /** The normalisations (q̂, k̂ and, for linear-angular, x̂), checked for axes and eps. */
  readonly normalizations: readonly L2Normalization[];
  /** Other conditions the check verifies: each holds, or fails with the reason users read. */
  readonly conditions: readonly ExactCondition[];
  /**
   * Set when the block adds other terms to its per-head output x̂ before merging the heads (Castling's
   * depthwise conv on v): the fused output is then brought back to x̂'s layout and replaces x̂, so
   * those sums and the merge stay the model's own nodes. Unset: the fused output replaces `output`.
   */
  readonly perHeadOutput?: PerHeadOutput;
  /** Auxiliary softmax branches on the way (Castling's training form): dropped when their gate is 0. */
  readonly gatedBranches: readonly GatedSoftmaxBranch[];
}

/** x̂, the per-head output the fused op's output replaces (see {@link ExactAttentionMatch.perHeadOutput}). */
export interface PerHeadOutput {
  readonly value: Value;
  /** The roles of x̂'s axes, e.g. [[B], [H], [N], [d]]. */
  readonly axes: readonly (readonly Role[])[];
}

/** A condition of exactness found by a pattern: checked, and reported when it does not hold. */
export interface ExactCondition {
  readonly holds: boolean;
  readonly reason: string;
  readonly node?: Node;
}

/** One block an exact-fusion rule recognised (whether or not it can be fused). */
export interface ExactFusionBlock {
  /** Position among the model's exact-fusion blocks in graph order (0-based): what `blocks` selects. */
  readonly index: number;
  readonly kind: ExactFusionKind;
  /** Linear-angular blocks: 'reference' or 'kernel-normalized'. */
  readonly form?: LinearAngularForm;
  /** Hydra: as many heads as features (heads = D, headDim = 1). */
  readonly heads: number;
  readonly headDim: number;
  /** The node the block was found from. */
  readonly anchor: string;
  /** Names of the nodes computing the block (from the normalisations to its output), which the fused op replaces. */
  readonly nodes: readonly string[];
  readonly fusable: boolean;
  /** Why the block cannot be fused exactly (absent when it can). */
  readonly reason?: string;
  /** The eps the fused op gets (see fuseExactAttention), when fusable. */
  readonly eps?: number;
  /** Castling: the auxiliary softmax branches the fusion drops (their Softmax nodes). */
  readonly droppedBranches?: readonly string[];
}

/** A block that was fused: what it was, and the `ai.vitlin` node now computing it. */
export interface FusedBlock extends ExactFusionBlock {
  /** Name of the new fused node. */
  readonly fusedNode: string;
  readonly opType: 'HydraAttention' | 'LinearAngularAttention';
  /** Names of every node the fusion removed: the block's, and what only they read (a dropped softmax branch, shape computations). */
  readonly removedNodes: readonly string[];
}

export interface FuseExactAttentionOptions {
  /** Which blocks (indices of {@link findExactFusions}); default 'all'. */
  readonly blocks?: 'all' | readonly number[];
}

export interface FuseExactAttentionResult {
  /** The fused copy (the input model is not modified); identical to the input when nothing was fused. */
  readonly model: Model;
  readonly fused: FusedBlock[];
  /** Selected blocks that were left as they are, and why. */
  readonly skipped: { readonly block: ExactFusionBlock; readonly reason: string }[];
}

export interface ExactFusionsReport {
  /** Every decomposed Hydra / linear-angular block found, fusable or not, in graph order. */
  readonly blocks: ExactFusionBlock[];
}
