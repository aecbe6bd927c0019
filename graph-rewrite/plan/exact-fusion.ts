/**
 * Exact fusion (what `--no-fuse` turns off): decomposed Hydra / linear-angular attention — exported from
 * models trained with it, including Castling-ViT's training form with its zero-gated softmax branch —
 * becomes the fused `ai.vitlin` op computing exactly the same thing (graph-rewrite/fusions). It is
 * the planner's first step (analyseSites), for convert, the demo, the server and the web app alike.
 */
import { fuseExactAttention, type ExactFusionKind, type FuseExactAttentionResult } from '../fusions/index.js';
import type { Model } from '../ir/model.js';

export interface ExactFusionResult {
  /** The model with decomposed blocks fused (an identical copy when nothing was fused). */
  readonly model: Model;
  /** What was fused: one entry per block. */
  readonly fused: readonly { readonly index: number; readonly kind: ExactFusionKind; readonly anchor: string; readonly opType: string; readonly droppedBranches?: readonly string[] }[];
  /** Decomposed blocks that cannot be fused exactly, and why. */
  readonly skipped: readonly { readonly index: number; readonly reason: string }[];
  /** False in builds without exact fusion rules. */
  readonly available: boolean;
}

/** The report's view of a fusion result. */
export function toFusionResult(result: FuseExactAttentionResult): ExactFusionResult {
  return {
    model: result.model,
    fused: result.fused.map((b) => ({ index: b.index, kind: b.kind, anchor: b.anchor, opType: b.opType, ...(b.droppedBranches ? { droppedBranches: b.droppedBranches } : {}) })),
    skipped: result.skipped.map((s) => ({ index: s.block.index, reason: s.reason })),
    available: true,
  };
}

/** Fuses every decomposed linear-attention block of `model` exactly; never modifies `model`. */
export function fuseExactly(model: Model): ExactFusionResult {
  return toFusionResult(fuseExactAttention(model));
}
