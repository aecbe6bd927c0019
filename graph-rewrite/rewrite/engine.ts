/**
 * The engine: tries rules at their anchors in graph order (recording every attempt in a tracer), and
 * commits a rule's rewrite — inserting its nodes, redirecting readers, and removing what became dead.
 */

import type { Graph } from '../ir/graph.js';
import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import { ensureShapes } from '../analysis/shape-inference.js';
import { MatchContext, MatchFailure } from './match-context.js';
import { RewriteContext } from './rewrite-context.js';
import { isAnchorOf, type RewriteRule } from './rule.js';
import { MatchTracer } from './tracer.js';

/** A structural match of a rule at an anchor. */
export interface RuleMatch<M, O = never> {
  readonly rule: RewriteRule<M, O>;
  readonly anchor: Node;
  readonly value: M;
  /** The nodes the pattern bound, with their roles. */
  readonly nodes: ReadonlyMap<Node, string>;
  /** Set when the rule's check failed: the match is reported but not rewritten. */
  readonly rejection?: { readonly reason: string; readonly node?: Node };
}

export interface MatchRulesResult<M, O> {
  /** Matches in anchor (graph) order: accepted and rejected ones. */
  readonly matches: RuleMatch<M, O>[];
  /** Anchors of some rule that no rule matched, in graph order. */
  readonly unmatched: Node[];
  readonly tracer: MatchTracer;
}

/**
 * Tries every rule at every anchor of `graph`, in graph order. At each anchor the first accepted
 * match wins; if none is accepted, the first rejected one is kept (so it can be reported). Anchors
 * inside an earlier match are not tried again. Rules read the facts shape inference wrote on the
 * values (`Value.inferred`); the graph is inferred first unless its facts are current.
 */
export function matchRules<M, O>(
  graph: Graph,
  rules: readonly RewriteRule<M, O>[],
  options: { opsets?: ReadonlyMap<string, number>; tracer?: MatchTracer } = {},
): MatchRulesResult<M, O> {
  const opsets = options.opsets ?? new Map<string, number>();
  ensureShapes(graph);
  const tracer = options.tracer ?? new MatchTracer();
  const matches: RuleMatch<M, O>[] = [];
  const unmatched: Node[] = [];
  const claimed = new Set<Node>();
  for (const anchor of graph.nodes) {
    const applicable = rules.filter((rule) => isAnchorOf(rule, anchor));
    if (applicable.length === 0 || claimed.has(anchor)) continue;
    let rejected: RuleMatch<M, O> | undefined;
    let accepted: RuleMatch<M, O> | undefined;
    for (const rule of applicable) {
      const result = attempt(graph, opsets, tracer, rule, anchor);
      if (result === undefined) continue;
      if (result.rejection === undefined) {
        accepted = result;
        break;
      }
      rejected ??= result;
    }
    const chosen = accepted ?? rejected;
    if (chosen === undefined) {
      unmatched.push(anchor);
      continue;
    }
    matches.push(chosen);
    for (const node of chosen.nodes.keys()) claimed.add(node);
  }
  return { matches, unmatched, tracer };
}

function attempt<M, O>(
  graph: Graph,
  opsets: ReadonlyMap<string, number>,
  tracer: MatchTracer,
  rule: RewriteRule<M, O>,
  anchor: Node,
): RuleMatch<M, O> | undefined {
  const context = new MatchContext(graph, opsets, rule.name, anchor);
  let value: M;
  try {
    value = rule.match(context, anchor);
  } catch (error) {
    if (!(error instanceof MatchFailure)) throw error;
    tracer.recordFailure(rule.name, anchor, 'failed', error);
    return undefined;
  }
  try {
    rule.check?.(context, value);
  } catch (error) {
    if (!(error instanceof MatchFailure)) throw error;
    tracer.recordFailure(rule.name, anchor, 'rejected', error);
    const rejection = { reason: error.reason, ...(error.node ? { node: error.node } : {}) };
    return { rule, anchor, value, nodes: new Map(context.bound), rejection };
  }
  tracer.record({ rule: rule.name, anchor, outcome: 'matched', progress: context.progress });
  return { rule, anchor, value, nodes: new Map(context.bound) };
}

/** `'/blocks.0/attn/'` for an anchor named `'/blocks.0/attn/Softmax'`: new nodes are named after the block. */
export function namePrefixOf(anchor: Node): string {
  const name = anchor.name ?? '';
  const slash = name.lastIndexOf('/');
  return slash >= 0 ? name.slice(0, slash + 1) : name === '' ? 'vitlin/' : `${name}/`;
}

/**
 * Runs `match`'s rewrite on `model` (whose graph it was matched in) and commits it: the new nodes go
 * before the first reader of a replaced value, readers are redirected, and the nodes and initializers
 * that no longer feed anything are removed (only those the match reached, never unrelated dead code).
 */
export function commitRewrite<M, O>(model: Model, match: RuleMatch<M, O>, options: O): RewriteContext {
  const context = new RewriteContext(model, namePrefixOf(match.anchor));
  match.rule.rewrite(context, match.value, options);
  const graph = model.graph;
  const order = new Map(graph.nodes.map((node, i) => [node, i]));
  const readers = context.replacements.flatMap(([old]) => old.uses().map((use) => use.node));
  const first = readers.sort((a, b) => order.get(a)! - order.get(b)!)[0];
  if (first !== undefined) graph.insertBefore(first, context.created);
  else graph.append(context.created);
  for (const [old, replacement] of context.replacements) old.replaceAllUsesWith(replacement);
  removeDeadNodesFrom(graph, match.nodes.keys());
  return context;
}

/**
 * Removes the nodes among `seeds`, and up their producers, whose outputs nothing reads any more (and
 * that are no graph output), then the initializers only they read. Returns what was removed.
 */
export function removeDeadNodesFrom(graph: Graph, seeds: Iterable<Node>): { nodes: number; initializers: number } {
  const pending = [...seeds];
  const orphans = new Set<Value>();
  let nodes = 0;
  while (pending.length > 0) {
    const node = pending.pop()!;
    if (node.graph !== graph || node.outputs.some((output) => output.hasUses() || output.isGraphOutput())) continue;
    graph.removeNodes(node);
    nodes++;
    for (const input of node.inputs) {
      if (input === undefined) continue;
      orphans.add(input);
      const producer = input.producer();
      if (producer?.graph === graph) pending.push(producer);
    }
  }
  let initializers = 0;
  for (const value of orphans) {
    if (!value.isInitializer() || value.graph !== graph || value.hasUses() || value.isGraphOutput() || value.isGraphInput()) continue;
    graph.removeInitializer(value);
    initializers++;
  }
  return { nodes, initializers };
}
