/**
 * A rewrite rule: *pattern* + *check* + *rewrite*, after onnxscript's rewriter. The pattern matches
 * structure from an anchor node and returns what the rewrite needs; the check holds the semantic
 * conditions (a pattern that matches but fails its check is a *rejected* match: found, explained, not
 * rewritten); the rewrite edits the graph through a {@link RewriteContext}. Exporter variants are
 * alternatives inside one pattern ({@link MatchContext.firstOf}), not copies of a rule.
 */

import type { Node } from '../ir/node.js';
import type { MatchContext } from './match-context.js';
import type { RewriteContext } from './rewrite-context.js';

export interface RewriteRule<M, O = undefined> {
  /** Stable name, shown in traces: 'softmax-attention'. */
  readonly name: string;
  /** The nodes a match starts from. */
  readonly anchor: { readonly opType: string; readonly domain?: string };
  /** Matches structure from `anchor` (binding nodes on the context) or fails via `context.fail`. */
  match(context: MatchContext, anchor: Node): M;
  /** Semantic conditions on a structural match; fails via `context.fail` with the reason users read. */
  check?(context: MatchContext, match: M): void;
  /** Edits the graph: new nodes via the context, and `context.replace(old, new)` for the outputs. */
  rewrite(context: RewriteContext, match: M, options: O): void;
}

/** Whether `node` is an anchor of `rule`. */
export function isAnchorOf(rule: Pick<RewriteRule<unknown, never>, 'anchor'>, node: Node): boolean {
  return node.opType === rule.anchor.opType && node.domain === (rule.anchor.domain ?? '');
}
