import type { Graph } from '../ir/graph.js';
import type { Node } from '../ir/node.js';
import { allInputsOf } from './dependencies.js';

/**
 * Removes the nodes whose outputs reach no output of `graph` (ONNX inference ops have no side
 * effects). Subgraphs of the remaining nodes are cleaned first, so values only their dead nodes
 * read do not keep outer nodes alive. Returns the number of nodes removed, subgraphs included.
 */
export function removeDeadNodes(graph: Graph): number {
  let removed = 0;
  for (const node of graph.nodes) for (const subgraph of node.subgraphs()) removed += removeDeadNodes(subgraph);
  const live = new Set<Node>();
  const pending = [...graph.outputs];
  while (pending.length > 0) {
    const producer = pending.pop()!.producer();
    if (producer === undefined || producer.graph !== graph || live.has(producer)) continue;
    live.add(producer);
    pending.push(...allInputsOf(producer));
  }
  const dead = graph.nodes.filter((node) => !live.has(node));
  graph.removeNodes(dead);
  return removed + dead.length;
}
