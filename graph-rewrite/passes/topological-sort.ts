import { GraphValidationError } from '../errors.js';
import type { Graph } from '../ir/graph.js';
import type { Node } from '../ir/node.js';
import { describeCycle, stableTopologicalOrder } from './dependencies.js';

/**
 * Sorts the nodes of `graph` (and of every subgraph) so each node comes after the producers of the
 * values it reads. Stable: an order that is already valid is kept, and otherwise nodes move only
 * as far as their dependencies require. Throws GraphValidationError naming the nodes of a cycle;
 * then nothing is reordered.
 */
export function topologicalSort(graph: Graph): void {
  const plans: [Graph, Node[]][] = [];
  const plan = (g: Graph): void => {
    const result = stableTopologicalOrder(g);
    if (result.cycle !== undefined) throw new GraphValidationError(`${g.label} has a cycle: ${describeCycle(result.cycle)}`);
    plans.push([g, result.order]);
    for (const node of g.nodes) node.subgraphs().forEach(plan);
  };
  plan(graph);
  for (const [g, order] of plans) g.setNodeOrder(order);
}
