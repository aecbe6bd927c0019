/**
 * The planner's one analysis of a model: every attention site — softmax blocks (decomposed or a fused
 * com.microsoft / ONNX Attention op) and decomposed Hydra / linear-angular / Castling blocks — found
 * once, each with a stable id and the number `inspect` shows on the model as given, plus the model
 * after exact fusion (the base every plan converts) and the FLOP facts a plan is priced with.
 */
import { findAttentionBlocks, type AttentionBlock, type AttentionBlocksReport } from '../attention/index.js';
import { findExactFusions, fuseExactAttention, type ExactFusionBlock } from '../fusions/index.js';
import { ensureShapes } from '../analysis/index.js';
import type { Model } from '../ir/model.js';
import { toFusionResult, type ExactFusionResult } from './exact-fusion.js';
import { attentionCores, concreteShapes, countFlops, modelAttentionCores, type AttentionCore, type FlopReport } from './flops.js';

/** One attention site of the model as given. */
export interface AttentionSite {
  /** Stable across analyses of the same model: the family and the anchor node's name (`softmax:/blocks.0/attn/Softmax`). */
  readonly id: string;
  /** 'softmax': a block a kernel can replace; 'decomposed': a linear-attention block exact fusion replaces. */
  readonly family: 'softmax' | 'decomposed';
  /** The number `inspect` shows (block index, or exact-fusion index for decomposed sites). */
  readonly number: number;
  /** A softmax site's block as found on the given model. */
  readonly block?: AttentionBlock;
  /** A decomposed site's exact-fusion block. */
  readonly decomposed?: ExactFusionBlock;
  /** A softmax site's index among the blocks of `base` (undefined when exact fusion replaced it, e.g. Castling's gated branch). */
  readonly baseIndex?: number;
}

export interface SiteAnalysis {
  readonly original: Model;
  readonly sites: readonly AttentionSite[];
  /** The softmax blocks of the model as given (numbers as `inspect` shows them) and the anchors no rule matched. */
  readonly given: AttentionBlocksReport;
  /** Exact fusion of the decomposed sites (a no-op result when fusion is off). */
  readonly fusion: ExactFusionResult;
  /** The model every plan converts: `original` after exact fusion. */
  readonly base: Model;
  /** The softmax blocks of `base` (the same objects as `given` when nothing was fused). */
  readonly baseBlocks: readonly AttentionBlock[];
  /** FLOPs of the model as given, of `base`, and the attention cores of `base` a plan is priced with. */
  readonly flops: { readonly before: FlopReport['current']; readonly base: FlopReport; readonly baseCores: readonly AttentionCore[] };
}

function siteId(family: string, anchor: string, number: number): string {
  return anchor ? `${family}:${anchor}` : `${family}#${number}`;
}

/**
 * Analyses `original` once (it is not modified); `fuse: false` leaves decomposed sites unfused. The
 * base is `original` itself when nothing is fused (plans convert copies of it).
 */
export function analyseSites(original: Model, options: { readonly fuse: boolean }): SiteAnalysis {
  // One shape inference of the model as given (none when its facts are current), shared by every
  // analysis of it: the facts stay on its values (Value.inferred).
  ensureShapes(original.graph);
  const given = findAttentionBlocks(original);
  const found = findExactFusions(original).blocks;
  // The model is copied and re-analysed only when something will be fused.
  const fused = options.fuse && found.some((b) => b.fusable) ? fuseExactAttention(original) : undefined;
  const fusion: ExactFusionResult = fused ? toFusionResult(fused) : {
    model: original, fused: [],
    skipped: options.fuse ? found.filter((b) => b.reason !== undefined).map((b) => ({ index: b.index, reason: b.reason! })) : [],
    available: true,
  };
  const decomposed = found;
  const base = fusion.model;
  // A fused base was edited, so its first analysis infers it; every clone of it (each plan's
  // conversion, each --blocks auto candidate) carries those facts and is not inferred again.
  const baseBlocks = fused && fused.fused.length ? findAttentionBlocks(base).blocks : given.blocks;
  const baseIndex = new Map(baseBlocks.map((b) => [b.anchor, b.index]));
  const sites: AttentionSite[] = [
    ...given.blocks.map((block) => ({
      id: siteId('softmax', block.anchor, block.index), family: 'softmax' as const, number: block.index, block,
      ...(baseIndex.has(block.anchor) ? { baseIndex: baseIndex.get(block.anchor)! } : {}),
    })),
    ...decomposed.map((block) => ({ id: siteId('decomposed', block.anchor, block.index), family: 'decomposed' as const, number: block.index, decomposed: block })),
  ];
  const facts = concreteShapes(base);
  const baseCores = attentionCores(base, baseBlocks, facts);
  const originalFacts = base === original ? facts : concreteShapes(original);
  const before = countFlops(original, modelAttentionCores(original, given, decomposed, originalFacts), originalFacts).current;
  return { original, sites, given, fusion, base, baseBlocks, flops: { before, base: countFlops(base, baseCores, facts), baseCores } };
}
