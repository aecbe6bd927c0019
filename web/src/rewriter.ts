/**
 * The page's view of the conversion pipeline (graph-rewrite/plan, the same as the CLI's): the blocks of
 * a model as table rows — recognised blocks, and Softmax / attention ops no rule recognised, each with
 * its reason — and a conversion that fuses decomposed linear attention exactly and converts the chosen
 * softmax blocks.
 */
import { findAttentionBlocks, runConversion, type ConvertOutcome, type Model, type PipelineServices } from '../../src/web/index.js';

export interface BlockRow {
  /** The block's index for convertAttention; undefined for an op that is not a recognised block. */
  readonly index?: number;
  readonly style: string;
  readonly heads?: number;
  readonly headDim?: number;
  readonly tokens?: number | string;
  readonly convertible: boolean;
  readonly reason?: string;
}

export type AttentionKind = 'hydra' | 'linear-angular';

/** LinearAngularAttention's mode in the page: the library's default. */
export const CONVERT_MODE = 'reference';

export interface BlocksReport {
  readonly rows: BlockRow[];
  /** Recognised attention blocks (convertible or not). */
  readonly blocks: number;
  readonly convertible: number;
}

export function findBlocks(model: Model): BlocksReport {
  const { blocks, unmatched } = findAttentionBlocks(model);
  const rows: BlockRow[] = blocks.map((block) => ({
    index: block.index,
    style: block.style,
    heads: block.heads,
    headDim: block.headDim,
    ...(block.tokens === undefined ? {} : { tokens: block.tokens }),
    convertible: block.convertible,
    ...(block.reason === undefined ? {} : { reason: block.reason }),
  }));
  for (const anchor of unmatched) {
    rows.push({ style: `${anchor.opType} (not recognised)`, convertible: false, reason: anchor.reason });
  }
  return { rows, blocks: blocks.length, convertible: blocks.filter((b) => b.convertible).length };
}

/** What Convert is asked besides the op: the ticked blocks, or `--blocks auto` within a top-1 drop; refit or not. */
export interface ConvertOptions {
  readonly blocks: readonly number[];
  readonly auto?: { readonly maxTop1Drop: number };
  /** Refit with the calibrator in `services` (false: with auto, measure only). */
  readonly fit?: boolean;
  readonly services?: PipelineServices;
}

/**
 * A converted copy of `model` (the pipeline never edits its input): decomposed Hydra / linear-angular
 * blocks fused exactly, the softmax blocks `blocks` (numbers as the table shows them) — or with `auto`
 * those the greedy search keeps within the budget — converted to `attention`, calibrated when the
 * services carry a calibrator. The same request `vitlin convert` builds for the same options.
 * LinearAngularAttention in the library's default mode ('reference').
 */
export function convert(model: Model, attention: AttentionKind, options: ConvertOptions): Promise<ConvertOutcome> {
  return runConversion(model, {
    attention, selection: options.auto ? 'auto' : { kind: 'list', indices: options.blocks }, linearAngularMode: CONVERT_MODE,
    fuse: true, fit: options.fit ?? false, inlineFunctions: false, ...(options.auto ? { budget: { maxTop1Drop: options.auto.maxTop1Drop } } : {}),
  }, options.services);
}
