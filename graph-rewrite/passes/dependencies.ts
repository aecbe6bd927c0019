/**
 * Data dependencies between the nodes of one graph, including the implicit ones: a node with
 * subgraphs (If/Loop/Scan) depends on every enclosing-scope value its subgraphs read.
 */

import type { Graph } from '../ir/graph.js';
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';

/** Whether `value` is defined inside one of `node`'s subgraphs (at any depth). */
export function isDefinedWithin(value: Value, node: Node): boolean {
  for (let graph = value.graph; graph !== undefined; graph = graph.parentGraph) {
    if (graph.parentNode === node) return true;
  }
  return false;
}

/** Values that `node`'s subgraphs read (as node inputs or subgraph outputs) from enclosing scopes. */
export function outerScopeInputs(node: Node): Set<Value> {
  const captured = new Set<Value>();
  const visit = (graph: Graph): void => {
    for (const inner of graph.nodes) {
      for (const input of inner.inputs) if (input !== undefined && !isDefinedWithin(input, node)) captured.add(input);
      inner.subgraphs().forEach(visit);
    }
    for (const output of graph.outputs) if (!isDefinedWithin(output, node)) captured.add(output);
  };
  node.subgraphs().forEach(visit);
  return captured;
}

/** Every value `node` reads: its inputs, then what its subgraphs capture. */
export function allInputsOf(node: Node): Value[] {
  const inputs = node.inputs.filter((v): v is Value => v !== undefined);
  return node.subgraphs().length === 0 ? inputs : [...new Set([...inputs, ...outerScopeInputs(node)])];
}

/** A min-heap of node positions, so the sort picks the earliest ready node (stability). */
class PositionHeap {
  readonly #items: number[] = [];
  get size(): number {
    return this.#items.length;
  }
  push(item: number): void {
    const items = this.#items;
    items.push(item);
    for (let i = items.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (items[parent]! <= items[i]!) break;
      [items[parent], items[i]] = [items[i]!, items[parent]!];
      i = parent;
    }
  }
  pop(): number {
    const items = this.#items;
    const top = items[0]!;
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      for (let i = 0; ;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < items.length && items[left]! < items[smallest]!) smallest = left;
        if (right < items.length && items[right]! < items[smallest]!) smallest = right;
        if (smallest === i) break;
        [items[smallest], items[i]] = [items[i]!, items[smallest]!];
        i = smallest;
      }
    }
    return top;
  }
}

export type TopologicalOrder = { readonly order: Node[]; readonly cycle?: undefined } | { readonly order?: undefined; readonly cycle: Node[] };

/**
 * The graph's nodes in a dependency-respecting order that keeps the current order wherever it is
 * valid (Kahn's algorithm, always taking the earliest ready node), or a cycle (in data-flow order).
 */
export function stableTopologicalOrder(graph: Graph): TopologicalOrder {
  const nodes = graph.nodes;
  const position = new Map(nodes.map((node, i) => [node, i]));
  const successors: number[][] = nodes.map(() => []);
  const predecessors: Set<number>[] = nodes.map(() => new Set());
  nodes.forEach((node, i) => {
    for (const input of allInputsOf(node)) {
      const producer = input.producer();
      const from = producer === undefined ? undefined : position.get(producer);
      if (from === undefined || predecessors[i]!.has(from)) continue;
      predecessors[i]!.add(from);
      successors[from]!.push(i);
    }
  });
  const pending = predecessors.map((set) => set.size);
  const heap = new PositionHeap();
  pending.forEach((count, i) => count === 0 && heap.push(i));
  const order: Node[] = [];
  while (heap.size > 0) {
    const i = heap.pop();
    order.push(nodes[i]!);
    for (const next of successors[i]!) if (--pending[next]! === 0) heap.push(next);
  }
  if (order.length === nodes.length) return { order };
  // Every unsorted node waits on an unsorted predecessor: walking predecessors must revisit a node.
  let current = pending.findIndex((count) => count > 0);
  const seenAt = new Map<number, number>();
  const path: number[] = [];
  while (!seenAt.has(current)) {
    seenAt.set(current, path.length);
    path.push(current);
    current = [...predecessors[current]!].find((p) => pending[p]! > 0)!;
  }
  const loop = path.slice(seenAt.get(current)).reverse();
  // Start the report at the cycle's earliest node, so the message does not depend on the walk.
  const start = loop.indexOf(Math.min(...loop));
  return { cycle: [...loop.slice(start), ...loop.slice(0, start)].map((i) => nodes[i]!) };
}

/** `node 'A' → node 'B' → node 'A'`. */
export function describeCycle(cycle: readonly Node[]): string {
  return [...cycle, cycle[0]!].map((node) => node.label).join(' → ');
}
