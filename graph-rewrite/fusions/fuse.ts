/**
 * Exact fusion: finding decomposed Hydra / linear-angular attention (and Castling's training form) in
 * a model, and replacing it with the fused `ai.vitlin` op that computes the same thing. Works on a
 * copy; the copy is validated before it is returned.
 */

import { InvalidArgumentError } from '../errors.js';
import type { Model } from '../ir/model.js';
import { commitBlockRewrite, finishRewrittenModel, selectedBlockIndices } from '../rewrite/blocks.js';
import { matchRules, type RuleMatch } from '../rewrite/engine.js';
import { describeNode } from '../rewrite/match-context.js';
import type { RewriteRule } from '../rewrite/rule.js';
import { fusedEps } from './exactness.js';
import { hydraAttentionRule } from './hydra.js';
import { linearAngularAttentionRule } from './linear-angular.js';
import type {
  ExactAttentionMatch, ExactFusionBlock, ExactFusionsReport, FuseExactAttentionOptions, FuseExactAttentionResult, FusedBlock,
} from './types.js';

/** The exact-fusion rules, tried in this order at each anchor. */
export const EXACT_FUSION_RULES: readonly RewriteRule<ExactAttentionMatch, unknown>[] = [hydraAttentionRule, linearAngularAttentionRule];

type ExactMatch = RuleMatch<ExactAttentionMatch, unknown>;

function nodeName(node: { name: string | undefined; opType: string }): string {
  return node.name ?? `<unnamed ${node.opType}>`;
}

function toBlock(match: ExactMatch, index: number): ExactFusionBlock {
  const found = match.value;
  const eps = fusedEps(found.normalizations);
  const rejection = match.rejection;
  return {
    index,
    kind: found.exactKind,
    ...(found.linearAngularForm === undefined ? {} : { form: found.linearAngularForm }),
    heads: found.heads,
    headDim: found.headDim,
    anchor: nodeName(match.anchor),
    nodes: found.interior.map(nodeName),
    fusable: rejection === undefined,
    ...(rejection === undefined ? {} : { reason: `${describeNode(match.anchor)}: ${rejection.reason}` }),
    ...(rejection === undefined && 'eps' in eps ? { eps: eps.eps } : {}),
    ...(found.gatedBranches.length === 0 ? {} : { droppedBranches: found.gatedBranches.map((branch) => nodeName(branch.softmax)) }),
  };
}

function analyse(model: Model): { matches: ExactMatch[]; blocks: ExactFusionBlock[] } {
  const { matches } = matchRules(model.graph, EXACT_FUSION_RULES, { opsets: model.opsetImports });
  return { matches, blocks: matches.map(toBlock) };
}

/**
 * Finds the decomposed Hydra and linear-angular attention blocks of `model` (read-only), in graph
 * order: kind, heads, head dim, nodes, and whether each can be fused exactly (if not, why).
 * Shape inference is shared with the other analyses of the model (see `shapesCurrent`).
 */
export function findExactFusions(model: Model): ExactFusionsReport {
  return { blocks: analyse(model).blocks };
}

function selectedIndices(selection: FuseExactAttentionOptions['blocks'], count: number): number[] {
  if (selection !== undefined && selection !== 'all' && !(Array.isArray(selection) && selection.every((index) => Number.isInteger(index)))) {
    throw new InvalidArgumentError(`'options.blocks' must be 'all' or an array of block indices (integers), got ${JSON.stringify(selection)}`);
  }
  return selectedBlockIndices(selection, count, 'exact-fusion block');
}

/**
 * Replaces decomposed attention that `model` computes exactly as a fused op with that op:
 * - Hydra (`q̂ ⊙ Σ_t k̂_t ⊙ v_t`, norms over the feature dim) → `ai.vitlin.HydraAttention`;
 * - linear-angular in Castling-ViT's reference form (per head `x = ½·v + (1/π)·q̂(k̂ᵀv)`, then
 *   x / ‖x‖) → `ai.vitlin.LinearAngularAttention` (mode 'reference'), or in the paper's
 *   kernel-normalised form (`(½·Σv + (1/π)·q̂(k̂ᵀv)) / (½N + (1/π)·q̂·Σk̂)`, mode 'kernel_normalized');
 *   a depthwise conv of v added to it (before or after the heads are merged) stays as ordinary nodes,
 *   added to the fused output;
 * - Castling's training form: the same, with the auxiliary softmax branch dropped when its gate is
 *   the constant 0 — a Mul by 0, a zero initializer, a tensor of zeros (kind 'castling-switch'; a
 *   nonzero gate is refused, naming its value).
 *
 * Returns a fused **copy**; `model` is not modified. `options.blocks` selects blocks by their index in
 * {@link findExactFusions} (out-of-range indices throw InvalidArgumentError). A block is fused only
 * when the check proves the op computes the same: same reduction axes, a ½ / 1/π weighting (in the
 * kernel-normalised form: the same weights in numerator and denominator, in that proportion), one
 * eps matching every normalisation's guard (F.normalize's clamp → that eps; no guard → 2⁻¹²⁶, equal
 * except on all-zero vectors, where the decomposed block gives NaN and the op 0). Other selected
 * blocks are listed in `skipped` with the reason. The result passes validateRewrittenModel — a
 * failure there is a bug and throws RewriteError naming the node.
 */
export function fuseExactAttention(model: Model, options: FuseExactAttentionOptions = {}): FuseExactAttentionResult {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`'options' must be an object like { blocks: 'all' }`);
  const copy = model.clone();
  const { matches, blocks } = analyse(copy);
  const fused: FusedBlock[] = [];
  const skipped: { block: ExactFusionBlock; reason: string }[] = [];
  for (const index of selectedIndices(options.blocks, blocks.length)) {
    const block = blocks[index]!;
    if (block.reason !== undefined) {
      skipped.push({ block, reason: block.reason });
      continue;
    }
    const before = copy.graph.nodes;
    const context = commitBlockRewrite(copy, matches[index]!, undefined, index, 'fusing');
    const node = context.created.find((created) => created.domain !== '')!;
    const removedNodes = before.filter((candidate) => candidate.graph !== copy.graph).map(nodeName);
    fused.push({ ...block, fusedNode: nodeName(node), opType: node.opType as FusedBlock['opType'], removedNodes });
  }
  if (fused.length === 0) return { model: copy, fused, skipped };
  finishRewrittenModel(copy, 'fused');
  return { model: copy, fused, skipped };
}
