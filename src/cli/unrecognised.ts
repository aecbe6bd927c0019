/**
 * Softmax nodes that `vitlin convert` leaves in the model unrecognised: a conversion must never look
 * complete while attention it could not read is still there. They are always listed with the matcher's
 * reasons; when nothing at all was converted, converting fails on them unless --allow-partial accepts
 * the result (a model whose attention was converted may still end in a classifier's Softmax). The
 * pipeline finds them (`ConvertOutcome.unrecognised`) in its analysis of the result.
 */
import type { UnmatchedAnchor } from '../../graph-rewrite/attention/index.js';
import { VitlinError } from '../../graph-rewrite/errors.js';

/** Converting stopped: nothing matched while attention-like nodes were not recognised; nothing was written. */
export class UnrecognisedAttentionError extends VitlinError {
  constructor(readonly unmatched: readonly UnmatchedAnchor[]) {
    const what = `${unmatched.length} Softmax / attention node${unmatched.length === 1 ? ' was' : 's were'} not recognised as attention and no block was converted`;
    super('REWRITE', `${what}; nothing written (--allow-partial writes the model with them left as they are): ${unmatched.map((u) => u.reason).join('; ')}`);
  }
}
