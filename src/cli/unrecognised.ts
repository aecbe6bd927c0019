/**
 * Softmax nodes that `vitlin convert` leaves in the model unrecognised: a conversion must never look
 * complete while attention it could not read is still there. They are listed with the matcher's
 * reasons; converting fails on them unless --allow-partial accepts the partial result.
 */
import { findAttentionBlocks, type UnmatchedAnchor } from '../../graph-rewrite/attention/index.js';
import { VitlinError } from '../../graph-rewrite/errors.js';
import type { Model } from '../../graph-rewrite/ir/model.js';

/** Anchors (Softmax, fused attention ops) of `model` that no attention rule recognised. */
export function unrecognisedAttention(model: Model): UnmatchedAnchor[] {
  return findAttentionBlocks(model).unmatched;
}

/** Converting stopped because attention nodes were not recognised; nothing was written. */
export class UnrecognisedAttentionError extends VitlinError {
  constructor(readonly unmatched: readonly UnmatchedAnchor[], converted: number) {
    const what = `${unmatched.length} ${unmatched.length === 1 ? 'node that looks like attention was' : 'nodes that look like attention were'} not recognised`;
    const done = converted === 0 ? 'no block was converted' : `only ${converted} block${converted === 1 ? ' was' : 's were'} converted`;
    super('REWRITE', `${what}, so ${done}; nothing written (--allow-partial writes the model with them left as they are): ${unmatched.map((u) => u.reason).join('; ')}`);
  }
}
