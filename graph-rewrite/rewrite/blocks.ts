/**
 * What converting softmax attention and exact fusion share around the engine: choosing blocks by
 * index, committing one block's rewrite with failures named after the block, and finishing the
 * rewritten copy (sorted, validated).
 */

import { InvalidArgumentError, RewriteError, VitlinError } from '../errors.js';
import type { Model } from '../ir/model.js';
import { topologicalSort } from '../passes/topological-sort.js';
import { commitRewrite, type RuleMatch } from './engine.js';
import { describeNode } from './match-context.js';
import type { RewriteContext } from './rewrite-context.js';
import { validateRewrittenModel } from './validate.js';

/**
 * The selected block indices, sorted and unique ('all' or undefined: every block), or an
 * InvalidArgumentError naming those out of range and the valid range; `noun` names the blocks
 * (`'attention block'`).
 */
export function selectedBlockIndices(selection: 'all' | readonly number[] | undefined, count: number, noun: string): number[] {
  if (selection === undefined || selection === 'all') return Array.from({ length: count }, (_, i) => i);
  const outside = selection.filter((index) => index < 0 || index >= count);
  if (outside.length > 0) {
    const valid = count === 0 ? 'it has none' : count === 1 ? 'the only valid index is 0' : `valid indices 0–${count - 1}`;
    throw new InvalidArgumentError(
      `'options.blocks' has ${outside.length === 1 ? 'index' : 'indices'} ${outside.join(', ')} out of range: the model has ${count} ${noun}${count === 1 ? '' : 's'} (${valid})`,
    );
  }
  return [...new Set(selection)].sort((a, b) => a - b);
}

/**
 * {@link commitRewrite} for block `index`; a failure other than a RewriteError (a bug in a rewrite)
 * becomes a RewriteError naming the block: `${doing} block ${index} (${anchor}) failed: …`.
 */
export function commitBlockRewrite<M, O>(model: Model, match: RuleMatch<M, O>, options: O, index: number, doing: string): RewriteContext {
  try {
    return commitRewrite(model, match, options);
  } catch (error) {
    if (error instanceof RewriteError) throw error;
    const detail = error instanceof Error ? error.message : String(error);
    throw new RewriteError(`${doing} block ${index} (${describeNode(match.anchor)}) failed: ${detail}`, { cause: error });
  }
}

/** Sorts the rewritten model topologically (a cycle is a RewriteError: `the ${what} model has a cycle`) and validates it. */
export function finishRewrittenModel(model: Model, what: string): void {
  try {
    topologicalSort(model.graph);
  } catch (error) {
    if (!(error instanceof VitlinError)) throw error;
    throw new RewriteError(`the ${what} model has a cycle: ${error.message}`, { cause: error });
  }
  validateRewrittenModel(model);
}
