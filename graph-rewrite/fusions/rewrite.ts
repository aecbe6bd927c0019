/**
 * The rewrite of the exact-fusion rules: the attention module's shared rewrite (emitFusedAttention —
 * q, k, v as [B, N, D], the fused node with its function body, the output arranged as the block's)
 * with the op and eps the check proved exact.
 *
 * A block with side terms (Castling's depthwise conv on v, added to x̂ before the heads are merged)
 * keeps those sums and the merge as the model's own nodes: the fused [B, N, D] output is brought back
 * to x̂'s per-head layout and replaces x̂, and each gated softmax branch's sum is replaced by what it
 * added the branch to. (onnxruntime's transpose optimiser cancels the un-merge against the merge.)
 */

import { Value } from '../ir/value.js';
import { RewriteError } from '../errors.js';
import { reshape, transpose } from '../../custom-ops/index.js';
import type { RewriteContext } from '../rewrite/rewrite-context.js';
import { emitFusedAttention, type FusedAttentionOptions } from '../attention/emit.js';
import type { Role } from '../analysis/head-layout.js';
import { fusedEps } from './exactness.js';
import type { ExactAttentionMatch, PerHeadOutput } from './types.js';

/** The axis order of the fused output once reshaped to [B, N, H, d]. */
const FUSED_ROLES: readonly Role[] = ['B', 'N', 'H', 'd'];

function fusedOptions(match: ExactAttentionMatch): FusedAttentionOptions {
  const eps = fusedEps(match.normalizations);
  if ('reason' in eps) throw new RewriteError(`${match.anchor.label}: ${eps.reason}`); // the check rejects this first
  return match.exactKind === 'hydra'
    ? { attention: 'hydra', eps: eps.eps }
    : { attention: 'linear-angular', eps: eps.eps, linearAngularMode: 'reference' };
}

/**
 * Whether the fused output can be brought to `axes` by a Reshape to [B, N, H, d] and a Transpose:
 * every axis one role, all four present. The linear-angular check requires it for side terms.
 */
export function canUnmerge(axes: readonly (readonly Role[])[]): boolean {
  const order = axes.flat();
  return axes.every((group) => group.length === 1) && order.length === 4 && FUSED_ROLES.every((role) => order.includes(role));
}

/** [B, N, H·d] → x̂'s layout: Reshape to [B, N, H, d] (0 copies B and N), then Transpose. */
function unmerge(context: RewriteContext, match: ExactAttentionMatch, fused: Value, target: PerHeadOutput): Value {
  const split = reshape(context, fused, [0, 0, match.heads, match.headDim], 'split_heads');
  const perm = target.axes.flat().map((role) => FUSED_ROLES.indexOf(role));
  return transpose(context, split, perm, 'to_per_head_layout');
}

/** Emits the fused op for `match` and redirects the readers of the block's output to it. */
export function rewriteExactAttention(context: RewriteContext, match: ExactAttentionMatch, _options: unknown): void {
  const options = fusedOptions(match);
  const perHead = match.perHeadOutput;
  if (perHead === undefined) {
    emitFusedAttention(context, match, options);
    return;
  }
  // The shared rewrite redirects the readers of its target to the fused output; here that output is
  // un-merged first, so the target is a fresh value nothing reads, and the result replaces x̂.
  const stand = new Value();
  const merged = { value: stand, axes: [['B'], ['N'], ['H', 'd']] as Role[][], shape: [match.batch, match.tokens, match.heads * match.headDim], elemType: match.output.elemType };
  emitFusedAttention(context, { ...match, output: merged }, options);
  const fused = context.replacements.find(([old]) => old === stand)?.[1];
  if (fused === undefined) throw new RewriteError(`${match.anchor.label}: the fused op's output was not produced`);
  const replacement = unmerge(context, match, fused, perHead);
  context.replace(perHead.value, replacement);
  // A dropped sum's readers get what it added the branch to — resolved through earlier drops.
  const carried = new Map<Value, Value>([[perHead.value, replacement]]);
  for (const branch of match.gatedBranches) {
    const main = carried.get(branch.main) ?? branch.main;
    carried.set(branch.sum.outputs[0]!, main);
    context.replace(branch.sum.outputs[0]!, main);
  }
}
