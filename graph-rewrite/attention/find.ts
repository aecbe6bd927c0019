/**
 * Finding the attention blocks of a model: every rule tried at every anchor (Softmax, the fused
 * attention ops), recognised blocks numbered in graph order, and an explanation for every anchor no
 * rule matched (the attempt that got furthest, and why it stopped).
 */

import { DataType, dataTypeName } from '../ir/dtypes.js';
import type { Model } from '../ir/model.js';
import { matchRules, type RuleMatch } from '../rewrite/engine.js';
import { describeNode } from '../rewrite/match-context.js';
import type { RewriteRule } from '../rewrite/rule.js';
import type { FusedAttentionOptions } from './emit.js';
import { msAttentionRule, msMultiHeadAttentionRule, onnxAttentionRule } from './fused-ops.js';
import { softmaxAttentionRule } from './softmax-attention.js';
import type { AttentionBlock, AttentionMatch } from './types.js';

export type AttentionRule = RewriteRule<AttentionMatch, FusedAttentionOptions>;

/**
 * The attention rules, tried in this order at each anchor. A new rule (e.g. an exact fusion of a
 * decomposed Hydra block) is one file exporting an AttentionRule, added here.
 */
export const ATTENTION_RULES: readonly AttentionRule[] = [softmaxAttentionRule, onnxAttentionRule, msMultiHeadAttentionRule, msAttentionRule];

/** An anchor (Softmax or fused attention op) that no rule matched. */
export interface UnmatchedAnchor {
  /** The node's name (or `<unnamed Softmax>`). */
  readonly node: string;
  readonly opType: string;
  /** The rule whose attempt got furthest. */
  readonly rule: string;
  /** Why that attempt stopped, prefixed with the node: `Softmax '/head/Softmax': the attention scores come from Gemm '/head/Gemm', not MatMul`. */
  readonly reason: string;
  /** The node where the attempt stopped, when it is not the anchor. */
  readonly stoppedAt?: string;
}

export interface AttentionBlocksReport {
  readonly blocks: AttentionBlock[];
  readonly unmatched: UnmatchedAnchor[];
}

/** @internal What find and convert share: the blocks with the matches behind them. */
export interface AttentionAnalysis extends AttentionBlocksReport {
  readonly matches: readonly RuleMatch<AttentionMatch, FusedAttentionOptions>[];
}

/** 'float32', 'float16', … as the manifest and onnxruntime name element types. */
export function elementTypeName(elemType: number | undefined): string {
  if (elemType === DataType.FLOAT) return 'float32';
  if (elemType === DataType.FLOAT16) return 'float16';
  if (elemType === DataType.DOUBLE) return 'float64';
  return dataTypeName(elemType).toLowerCase();
}

function toBlock(match: RuleMatch<AttentionMatch, FusedAttentionOptions>, index: number): AttentionBlock {
  const found = match.value;
  const rejection = match.rejection;
  return {
    index,
    style: found.style,
    kind: found.kind ?? 'softmax',
    heads: found.heads,
    headDim: found.headDim,
    embedDim: found.heads * found.headDim,
    tokens: found.tokens,
    keyTokens: found.keyTokens,
    batch: found.batch,
    scale: found.scale,
    dtype: elementTypeName(found.elemType),
    convertible: rejection === undefined,
    ...(rejection === undefined ? {} : { reason: `${describeNode(match.anchor)}: ${rejection.reason}` }),
    notes: [...found.notes],
    anchor: match.anchor.name ?? '',
    nodes: [...match.nodes.keys()].map((node) => node.name ?? `<unnamed ${node.opType}>`),
    rule: match.rule.name,
  };
}

/** @internal Runs the rules on `model`'s main graph (inferring its shapes unless they are current). */
export function analyseAttention(model: Model, rules: readonly AttentionRule[] = ATTENTION_RULES): AttentionAnalysis {
  const { matches, unmatched, tracer } = matchRules(model.graph, rules, { opsets: model.opsetImports });
  const report: UnmatchedAnchor[] = unmatched.map((anchor) => {
    const furthest = tracer.furthestFailure(anchor);
    return {
      node: anchor.name ?? `<unnamed ${anchor.opType}>`,
      opType: anchor.opType,
      rule: furthest?.rule ?? '',
      reason: tracer.explain(anchor) ?? `${describeNode(anchor)}: no rule matched`,
      ...(furthest?.node !== undefined && furthest.node !== anchor ? { stoppedAt: furthest.node.name ?? furthest.node.opType } : {}),
    };
  });
  return { blocks: matches.map(toBlock), unmatched: report, matches };
}

/**
 * Finds the attention blocks of `model` (read-only). Blocks are numbered in graph order; each says
 * its style, heads, head dim, tokens, scale, dtype and whether it can be converted (and if not,
 * why). `unmatched` explains every Softmax (and fused attention op) that is not part of a block.
 * Analyses of one model share its shape inference (the facts on its values stay current until it is edited).
 */
export function findAttentionBlocks(model: Model): AttentionBlocksReport {
  const { blocks, unmatched } = analyseAttention(model, ATTENTION_RULES);
  return { blocks, unmatched };
}
