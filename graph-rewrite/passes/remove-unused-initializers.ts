import type { Graph } from '../ir/graph.js';

/**
 * Removes the initializers (dense and sparse) of `graph` and its subgraphs that no node reads and
 * that are not graph outputs. Initializers that are also graph inputs (IR < 4 style, overridable)
 * are part of the model's interface and are kept. Returns the number removed.
 */
export function removeUnusedInitializers(graph: Graph): number {
  let removed = 0;
  for (const node of graph.nodes) for (const subgraph of node.subgraphs()) removed += removeUnusedInitializers(subgraph);
  for (const value of [...graph.initializers.values(), ...graph.sparseInitializers.values()]) {
    if (value.hasUses() || value.isGraphOutput() || value.isGraphInput()) continue;
    graph.removeInitializer(value);
    removed++;
  }
  return removed;
}
