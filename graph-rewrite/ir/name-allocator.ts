/**
 * Fresh names for values and nodes. ONNX requires value names to be unique across a graph and all
 * its subgraphs, so one allocator serves a root graph and everything nested in it.
 */

import type { Graph } from './graph.js';

export class NameAllocator {
  readonly #root: Graph;
  #valueNames: Set<string> | undefined;
  #nodeNames: Set<string> | undefined;
  readonly #counters = new Map<string, number>();

  /** @internal Use `graph.nameAllocator`. */
  constructor(root: Graph) {
    this.#root = root;
  }

  /** A value name not used anywhere in the root graph's tree: `hint`, else `hint_1`, `hint_2`, … */
  freshValueName(hint = 'v'): string {
    return this.#fresh(this.#scan().values, hint, 'value:');
  }

  /** A node name not used anywhere in the root graph's tree. */
  freshNodeName(hint = 'node'): string {
    return this.#fresh(this.#scan().nodes, hint, 'node:');
  }

  /** Whether a value name is taken in the root graph's tree. */
  hasValueName(name: string): boolean {
    return this.#scan().values.has(name);
  }

  /** @internal Records a name given outside the allocator (a rename, an inserted node's output). */
  noteValueName(name: string | undefined): void {
    if (name !== undefined && name !== '') this.#valueNames?.add(name);
  }

  /** @internal */
  noteNodeName(name: string | undefined): void {
    if (name !== undefined && name !== '') this.#nodeNames?.add(name);
  }

  /** @internal Forget the scanned names (a subgraph was attached): rescan on next use. */
  invalidate(): void {
    this.#valueNames = undefined;
    this.#nodeNames = undefined;
  }

  #fresh(used: Set<string>, hint: string, namespace: string): string {
    const base = hint === '' ? 'v' : hint;
    let name = base;
    if (used.has(name)) {
      let counter = this.#counters.get(namespace + base) ?? 1;
      do name = `${base}_${counter++}`; while (used.has(name));
      this.#counters.set(namespace + base, counter);
    }
    used.add(name);
    return name;
  }

  #scan(): { values: Set<string>; nodes: Set<string> } {
    if (this.#valueNames === undefined || this.#nodeNames === undefined) {
      const values = new Set<string>();
      const nodes = new Set<string>();
      const visit = (graph: Graph): void => {
        for (const value of [...graph.inputs, ...graph.outputs, ...graph.valueInfo, ...graph.initializers.values(),
          ...graph.sparseInitializers.values()]) {
          if (value.name) values.add(value.name);
        }
        for (const node of graph.nodes) {
          if (node.name) nodes.add(node.name);
          for (const output of node.outputs) if (output.name) values.add(output.name);
          for (const input of node.inputs) if (input?.name) values.add(input.name);
          node.subgraphs().forEach(visit);
        }
      };
      visit(this.#root);
      this.#valueNames = values;
      this.#nodeNames = nodes;
    }
    return { values: this.#valueNames, nodes: this.#nodeNames };
  }
}
