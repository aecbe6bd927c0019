import type { Graph } from '../ir/graph.js';
import type { Value } from '../ir/value.js';

/**
 * Gives every value and node of `graph`'s tree (subgraphs included) a unique, non-empty name:
 * unnamed values and nodes get fresh names, and later definitions of a repeated name are renamed.
 * The root graph's inputs and outputs keep their names (they are the model's interface), and
 * `''` node outputs (unused optional outputs) stay as they are. Returns the number of renames.
 */
export function uniqueNames(graph: Graph): number {
  const allocator = graph.nameAllocator;
  const interfaceValues = new Set<Value>([...graph.inputs, ...graph.outputs]);
  const taken = new Set<string>();
  for (const value of interfaceValues) if (value.name) taken.add(value.name);
  const visited = new Set<Value>();
  let renames = 0;

  const visitValue = (value: Value, hint: string): void => {
    if (visited.has(value)) return;
    visited.add(value);
    if (interfaceValues.has(value) && value.name) return;
    if (value.name === '' && value.producer() !== undefined) return;
    if (value.name !== undefined && value.name !== '' && !taken.has(value.name)) {
      taken.add(value.name);
      return;
    }
    value.name = allocator.freshValueName(value.name || hint);
    taken.add(value.name);
    renames++;
  };

  const nodeNames = new Set<string>();
  const visitGraph = (g: Graph): void => {
    for (const value of g.inputs) visitValue(value, 'input');
    for (const value of [...g.initializers.values(), ...g.sparseInitializers.values()]) visitValue(value, 'const');
    for (const node of g.nodes) {
      if (!node.name || nodeNames.has(node.name)) {
        node.name = allocator.freshNodeName(node.name || node.opType || 'node');
        renames++;
      }
      nodeNames.add(node.name);
      node.outputs.forEach((output, i) => visitValue(output, `${node.opType}_out${i === 0 ? '' : i}`));
      node.subgraphs().forEach(visitGraph);
    }
  };
  visitGraph(graph);
  return renames;
}
