/**
 * Graphs: ordered nodes plus the graph's interface (inputs, outputs), initializers and value_info
 * annotations. Subgraphs (If/Loop/Scan attributes) are Graphs whose nodes may read values of the
 * enclosing graphs. Every edit goes through methods that keep producers and uses consistent, and
 * each edit is all-or-nothing: it checks everything before it changes anything.
 */

import { InvalidArgumentError, IrEditError } from '../errors.js';
import type { TensorAnnotation, ValueInfoProto } from '../serde/onnx-schema.js';
import { NameAllocator } from './name-allocator.js';
import { Node } from './node.js';
import type { SparseTensor, Tensor } from './tensor.js';
import { Value } from './value.js';

/** @internal One listing of a value among a graph's inputs, outputs or value_info. */
export interface ValueInfoEntry {
  value: Value;
  /**
   * The listing as read, kept when writing it from the value would differ (e.g. the same value is
   * listed twice with different doc strings); used while the value's own info is unchanged.
   */
  readonly loaded?: { readonly original: ValueInfoProto; readonly generatedAtLoad: ValueInfoProto };
}

export interface GraphInit {
  readonly name?: string;
  readonly docString?: string;
  readonly inputs?: readonly Value[];
  readonly outputs?: readonly Value[];
}

function toList(nodes: Node | Iterable<Node>, argument: string): Node[] {
  const list = nodes instanceof Node ? [nodes] : [...nodes];
  list.forEach((node, i) => {
    if (!(node instanceof Node)) throw new InvalidArgumentError(`'${argument}'[${i}] must be a Node`);
  });
  return list;
}

/** Whether `node` sits (at any depth) inside a subgraph of a node in `set`. */
function isNestedIn(graph: Graph | undefined, set: ReadonlySet<Node>): boolean {
  for (let parent = graph?.parentNode; parent !== undefined; parent = parent.graph?.parentNode) {
    if (set.has(parent)) return true;
  }
  return false;
}

export class Graph {
  name: string | undefined;
  docString: string | undefined;
  readonly metadataProps = new Map<string, string>();
  /** `quantization_annotation`, kept as read (names refer to values by name). */
  quantizationAnnotations: TensorAnnotation[] = [];
  /** Raw bytes of the GraphProto's unknown fields. */
  unknownFields: Uint8Array[] | undefined;

  readonly #nodes: Node[] = [];
  #nodesView: readonly Node[] | undefined;
  readonly #inputs: ValueInfoEntry[] = [];
  readonly #outputs: ValueInfoEntry[] = [];
  readonly #valueInfo: ValueInfoEntry[] = [];
  readonly #initializers: Value[] = [];
  readonly #sparseInitializers: Value[] = [];
  #initializerMap: Map<string, Value> | undefined;
  #sparseInitializerMap: Map<string, Value> | undefined;
  #parentNode: Node | undefined;
  #orphaned = false;
  #allocator: NameAllocator | undefined;
  #edits = 0;
  /** @internal The edit count when shape inference last ran here (analysis/shape-inference.ts: `shapesCurrent`). */
  _inferredAt: number | undefined;

  constructor(init: GraphInit = {}) {
    this.name = init.name;
    this.docString = init.docString;
    for (const input of init.inputs ?? []) this.addInput(input);
    for (const output of init.outputs ?? []) this.addOutput(output);
  }

  /** `graph 'main'` or `unnamed graph`. */
  get label(): string {
    return this.name ? `graph '${this.name}'` : 'unnamed graph';
  }

  /** The nodes in order (a snapshot: safe to iterate while editing). */
  get nodes(): readonly Node[] {
    return (this.#nodesView ??= Object.freeze([...this.#nodes]));
  }

  get inputs(): readonly Value[] {
    return this.#inputs.map((entry) => entry.value);
  }

  get outputs(): readonly Value[] {
    return this.#outputs.map((entry) => entry.value);
  }

  /** Values annotated in `value_info` (in order), leaving out those no longer defined. */
  get valueInfo(): readonly Value[] {
    return this.#valueInfo.filter((entry) => entry.value._isDefined()).map((entry) => entry.value);
  }

  /** Dense initializers by name, in file order. */
  get initializers(): ReadonlyMap<string, Value> {
    return (this.#initializerMap ??= new Map(this.#initializers.map((value) => [value.name ?? '', value])));
  }

  get sparseInitializers(): ReadonlyMap<string, Value> {
    return (this.#sparseInitializerMap ??= new Map(this.#sparseInitializers.map((value) => [value.name ?? '', value])));
  }

  /** The node whose attribute holds this graph, for a subgraph. */
  get parentNode(): Node | undefined {
    return this.#parentNode;
  }

  /** The enclosing graph, for a subgraph. */
  get parentGraph(): Graph | undefined {
    return this.#parentNode?.graph;
  }

  /** The fresh-name source shared by this graph's whole tree (root graph and subgraphs). */
  get nameAllocator(): NameAllocator {
    let root: Graph = this;
    while (root.parentGraph !== undefined) root = root.parentGraph;
    return (root.#allocator ??= new NameAllocator(root));
  }

  /** Every node of this graph and, depth-first after each node, of its subgraphs. */
  *allNodes(): Generator<Node> {
    for (const node of this.nodes) {
      yield node;
      for (const subgraph of node.subgraphs()) yield* subgraph.allNodes();
    }
  }

  insertBefore(anchor: Node, nodes: Node | Iterable<Node>): void {
    this.#insert(this.#indexOfAnchor(anchor), toList(nodes, 'nodes'));
  }

  insertAfter(anchor: Node, nodes: Node | Iterable<Node>): void {
    this.#insert(this.#indexOfAnchor(anchor) + 1, toList(nodes, 'nodes'));
  }

  append(nodes: Node | Iterable<Node>): void {
    this.#insert(this.#nodes.length, toList(nodes, 'nodes'));
  }

  /**
   * Removes nodes. Refuses (IrEditError, nothing changed) when an output of a node in `nodes` is
   * still used by a node outside the set or is a graph output. Removed nodes keep their inputs and
   * outputs but no longer count as uses; they may be inserted again.
   */
  removeNodes(nodes: Node | Iterable<Node>): void {
    const set = new Set(toList(nodes, 'nodes'));
    for (const node of set) {
      if (node.graph !== this) throw new IrEditError(`cannot remove ${node.label}: it is not in ${this.label}`);
    }
    for (const node of set) {
      node.outputs.forEach((output, i) => {
        for (const use of output.uses()) {
          if (!set.has(use.node) && !isNestedIn(use.node.graph, set)) {
            throw new IrEditError(
              `cannot remove ${node.label}: its output ${i} ${output.label} is still used by ${use.node.label} (input ${use.index})`,
            );
          }
        }
        for (const graph of output.outputOfGraphs()) {
          if (!isNestedIn(graph, set)) {
            throw new IrEditError(`cannot remove ${node.label}: its output ${i} ${output.label} is an output of ${graph.label}`);
          }
        }
      });
    }
    for (const node of set) node._detach();
    const kept = this.#nodes.filter((node) => !set.has(node));
    this.#nodes.splice(0, this.#nodes.length, ...kept);
    this.#nodesView = undefined;
    this.#edits++;
  }

  /** Reorders the nodes; `order` must hold exactly this graph's nodes (topologicalSort uses it). */
  setNodeOrder(order: readonly Node[]): void {
    const set = new Set(order);
    if (set.size !== order.length || order.length !== this.#nodes.length || order.some((node) => node.graph !== this)) {
      throw new IrEditError(`setNodeOrder: the order must list each of the ${this.#nodes.length} nodes of ${this.label} exactly once`);
    }
    this.#nodes.splice(0, this.#nodes.length, ...order);
    this.#nodesView = undefined;
  }

  /** Adds a graph input (a new value, or an initializer of this graph to make it overridable). */
  addInput(value: Value): void {
    this.#checkNewValue(value, 'addInput', true);
    if (value.isGraphInput()) throw new IrEditError(`${value.label} is already a graph input`);
    this.#ensureNamed(value, 'input');
    value._setInputOf(this);
    this.#inputs.push({ value });
    this.#edits++;
  }

  /** Removes a graph input; refuses while nodes use it, unless it is also an initializer here. */
  removeInput(value: Value): void {
    const at = this.#inputs.findIndex((entry) => entry.value === value);
    if (at < 0) throw new IrEditError(`${value.label} is not an input of ${this.label}`);
    if (!value.isInitializer()) this.#refuseIfUsed(value, 'remove input');
    this.#inputs.splice(at, 1);
    value._setInputOf(undefined);
    this.#edits++;
  }

  addOutput(value: Value): void {
    if (!(value instanceof Value)) throw new InvalidArgumentError(`'value' must be a Value`);
    this.#ensureNamed(value, 'output');
    value._addOutputOf(this);
    this.#outputs.push({ value });
  }

  replaceOutput(index: number, value: Value): void {
    if (!(value instanceof Value)) throw new InvalidArgumentError(`'value' must be a Value`);
    const entry = this.#outputs[index];
    if (entry === undefined) throw new InvalidArgumentError(`output index ${index} is out of range for ${this.label} with ${this.#outputs.length} outputs`);
    this.#ensureNamed(value, 'output');
    entry.value._removeOutputOf(this);
    value._addOutputOf(this);
    this.#outputs[index] = { value };
  }

  removeOutput(index: number): void {
    const entry = this.#outputs[index];
    if (entry === undefined) throw new InvalidArgumentError(`output index ${index} is out of range for ${this.label} with ${this.#outputs.length} outputs`);
    entry.value._removeOutputOf(this);
    this.#outputs.splice(index, 1);
  }

  /**
   * Adds a dense initializer and returns its value. The name defaults to the tensor's name, or a
   * fresh one; a name already used by an initializer of this graph is refused.
   */
  addInitializer(tensor: Tensor, name?: string): Value {
    const chosen = name ?? tensor.name ?? this.nameAllocator.freshValueName('const');
    if (this.initializers.has(chosen)) throw new IrEditError(`${this.label} already has an initializer named '${chosen}'`);
    const value = new Value(chosen);
    this.nameAllocator.noteValueName(chosen);
    value._setInitializer(this, tensor);
    this.#initializers.push(value);
    this.#initializerMap = undefined;
    this.#edits++;
    return value;
  }

  /** Removes a (dense or sparse) initializer; refuses while it is used or a graph output (unless it is also a graph input). */
  removeInitializer(value: Value): void {
    const list = value.sparseConstValue !== undefined ? this.#sparseInitializers : this.#initializers;
    const at = list.indexOf(value);
    if (at < 0) throw new IrEditError(`${value.label} is not an initializer of ${this.label}`);
    if (!value.isGraphInput()) this.#refuseIfUsed(value, 'remove initializer');
    list.splice(at, 1);
    value._setInitializer(undefined, undefined);
    this.#initializerMap = this.#sparseInitializerMap = undefined;
    this.#edits++;
  }

  /** Lists a value in `value_info` (saved with its type); no-op if already listed. */
  addValueInfo(value: Value): void {
    if (!(value instanceof Value)) throw new InvalidArgumentError(`'value' must be a Value`);
    if (!this.#valueInfo.some((entry) => entry.value === value)) this.#valueInfo.push({ value });
  }

  removeValueInfo(value: Value): void {
    const kept = this.#valueInfo.filter((entry) => entry.value !== value);
    this.#valueInfo.splice(0, this.#valueInfo.length, ...kept);
  }

  toString(): string {
    return this.label;
  }

  /** @internal Counts edits that can change what shape inference finds (nodes, their inputs and attributes, inputs, initializers). */
  get _edits(): number {
    return this.#edits;
  }

  /** @internal */
  _noteEdit(): void {
    this.#edits++;
  }

  #indexOfAnchor(anchor: Node): number {
    if (!(anchor instanceof Node)) throw new InvalidArgumentError(`'anchor' must be a Node`);
    if (anchor.graph !== this) throw new IrEditError(`anchor ${anchor.label} is not in ${this.label}`);
    return this.#nodes.indexOf(anchor);
  }

  #insert(at: number, nodes: Node[]): void {
    const seen = new Set<Node>();
    for (const node of nodes) {
      if (node.graph !== undefined) throw new IrEditError(`cannot insert ${node.label}: it is already in ${node.graph.label}`);
      if (seen.has(node)) throw new IrEditError(`cannot insert ${node.label}: it is listed twice`);
      seen.add(node);
      for (let graph: Graph | undefined = this; graph !== undefined; graph = graph.parentGraph) {
        if (node.subgraphs().includes(graph)) throw new IrEditError(`cannot insert ${node.label} into its own subgraph ${graph.label}`);
      }
    }
    this.#nodes.splice(at, 0, ...nodes);
    this.#nodesView = undefined;
    this.#edits++;
    const allocator = this.nameAllocator;
    for (const node of nodes) {
      node._attach(this);
      allocator.noteNodeName(node.name);
      node.outputs.forEach((output, i) => {
        if (output.name === undefined) output.name = allocator.freshValueName(`${node.opType}_out${i === 0 ? '' : i}`);
        else allocator.noteValueName(output.name);
      });
      if (node.subgraphs().length > 0) allocator.invalidate();
    }
  }

  #checkNewValue(value: Value, operation: string, allowOwnInitializer: boolean): void {
    if (!(value instanceof Value)) throw new InvalidArgumentError(`'value' of ${operation} must be a Value`);
    if (value.producer() !== undefined) throw new IrEditError(`${operation}: ${value.label} is the output of ${value.producer()!.label}`);
    if (value.isInitializer() && !(allowOwnInitializer && value.graph === this)) {
      throw new IrEditError(`${operation}: ${value.label} is an initializer of ${value.graph?.label ?? 'another graph'}`);
    }
  }

  #ensureNamed(value: Value, hint: string): void {
    if (value.name === undefined) value.name = this.nameAllocator.freshValueName(hint);
    else this.nameAllocator.noteValueName(value.name);
  }

  #refuseIfUsed(value: Value, operation: string): void {
    const use = value.uses()[0];
    if (use !== undefined) throw new IrEditError(`cannot ${operation} ${value.label}: it is still used by ${use.node.label} (input ${use.index})`);
    const graph = value.outputOfGraphs()[0];
    if (graph !== undefined) throw new IrEditError(`cannot ${operation} ${value.label}: it is an output of ${graph.label}`);
  }

  /** @internal Whether the graph is a root or hangs (through parent nodes) from one. */
  _isLive(): boolean {
    return this.#parentNode === undefined ? !this.#orphaned : this.#parentNode._isLive();
  }

  /** @internal Called by Node when a graph attribute is set or dropped. */
  _setParentNode(node: Node | undefined): void {
    this.#orphaned = node === undefined && this.#parentNode !== undefined;
    this.#parentNode = node;
  }

  /** @internal */
  _valueRenamed(value: Value): void {
    this.#initializerMap = this.#sparseInitializerMap = undefined;
    this.nameAllocator.noteValueName(value.name);
  }

  /** @internal Swaps `old` for `replacement` among the outputs (Value.replaceAllUsesWith). */
  _replaceOutputValue(old: Value, replacement: Value): void {
    this.#outputs.forEach((entry, i) => {
      if (entry.value !== old) return;
      old._removeOutputOf(this);
      replacement._addOutputOf(this);
      this.#outputs[i] = { value: replacement };
    });
  }

  // ---- model loading (from-proto) and saving (to-proto) ----

  /** @internal */
  _loadInput(value: Value, loaded: ValueInfoEntry['loaded']): void {
    if (!value.isGraphInput()) value._setInputOf(this);
    this.#inputs.push({ value, loaded });
  }

  /** @internal */
  _loadOutput(value: Value, loaded: ValueInfoEntry['loaded']): void {
    value._addOutputOf(this);
    this.#outputs.push({ value, loaded });
  }

  /** @internal */
  _loadValueInfo(value: Value, loaded: ValueInfoEntry['loaded']): void {
    this.#valueInfo.push({ value, loaded });
  }

  /** @internal */
  _loadInitializer(value: Value, tensor: Tensor | undefined, sparse?: SparseTensor): void {
    value._setInitializer(this, tensor, sparse);
    (sparse === undefined ? this.#initializers : this.#sparseInitializers).push(value);
  }

  /** @internal Appends a loaded node as it is (names untouched). */
  _loadNode(node: Node): void {
    this.#nodes.push(node);
    this.#nodesView = undefined;
    node._attach(this);
  }

  /** @internal */
  _entries(): { inputs: readonly ValueInfoEntry[]; outputs: readonly ValueInfoEntry[]; valueInfo: readonly ValueInfoEntry[] } {
    return { inputs: this.#inputs, outputs: this.#outputs, valueInfo: this.#valueInfo };
  }

  /** @internal Initializer values in file order. */
  _initializerValues(): { dense: readonly Value[]; sparse: readonly Value[] } {
    return { dense: this.#initializers, sparse: this.#sparseInitializers };
  }
}
