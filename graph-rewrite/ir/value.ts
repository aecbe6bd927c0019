/**
 * Values: the edges of the graph. A value is produced by exactly one node output, or is a graph
 * input, an initializer, or (only in a model read as it came) a dangling reference nothing defines.
 * Its uses — `(node, input index)` pairs — are maintained by the edit operations on Node and Graph,
 * never by hand.
 */

import { InvalidArgumentError, IrEditError } from '../errors.js';
import type { Graph } from './graph.js';
import type { Node } from './node.js';
import type { SparseTensor, Tensor } from './tensor.js';
import type { Dim, ValueType } from './types.js';

/** One use of a value: `node.inputs[index] === value`. */
export interface Use {
  readonly node: Node;
  readonly index: number;
}

/** Options of {@link Value.replaceAllUsesWith}. */
export interface ReplaceAllUsesOptions {
  /** Nodes whose inputs keep this value (typically the new node that consumes it). */
  readonly except?: Iterable<Node>;
  /**
   * When this value is an output of its graph and the replacement is an intermediate value, the
   * replacement takes over this value's name (and type, if it has none) so the graph's interface
   * — the output names ORT fetches — stays the same; this value gets a fresh name. Default true.
   */
  readonly preserveOutputNames?: boolean;
}

/**
 * What shape inference (`analysis/shape-inference.ts`) found about a value: element type (a DataType
 * code), shape with canonical symbolic dims, and the contents of a small integer tensor when folded.
 */
export interface InferredType {
  readonly elemType: number | undefined;
  /** undefined = unknown rank. */
  readonly shape: readonly Dim[] | undefined;
  readonly intValues?: readonly Dim[] | undefined;
}

export interface ValueOptions {
  readonly type?: ValueType;
  readonly docString?: string;
}

export class Value {
  #name: string | undefined;
  /** Element type and shape, when known (from value_info / graph input / output annotations or a rewrite). */
  type: ValueType | undefined;
  /**
   * What the last shape inference of the value's graph found, or what the rewrite that created the
   * value declared. Never written to the model (`type` is the annotation, saved as read); cleared by
   * `clearInferredTypes` (every `inferShapes` starts with it), so it is never older than the last
   * inference of the graph — edits made after it are the editor's to record (`recordInferred`). The
   * graph counts its edits, so `ensureShapes` knows when the facts are no longer current; `Model.clone`
   * carries them.
   */
  inferred: InferredType | undefined;
  docString: string | undefined;
  /** `metadata_props` of the value's ValueInfoProto. */
  readonly metadataProps = new Map<string, string>();
  /** Raw bytes of unknown fields of the value's ValueInfoProto (kept for a lossless round trip). */
  unknownFields: Uint8Array[] | undefined;

  #producer: Node | undefined;
  #outputIndex: number | undefined;
  #inputOf: Graph | undefined;
  #initializerOf: Graph | undefined;
  #danglingIn: Graph | undefined;
  #constValue: Tensor | undefined;
  #sparseConstValue: SparseTensor | undefined;
  readonly #uses: Use[] = [];
  readonly #outputOf: Graph[] = [];

  /**
   * A new, unattached value. `name` undefined = not named yet: a fresh name is given when the value
   * joins a graph (as a node output, input or initializer). `''` is ONNX's "absent optional output".
   */
  constructor(name?: string, options: ValueOptions = {}) {
    if (name !== undefined && typeof name !== 'string') throw new InvalidArgumentError(`'name' must be a string, got ${typeof name}`);
    this.#name = name;
    this.type = options.type;
    this.docString = options.docString;
  }

  get name(): string | undefined {
    return this.#name;
  }

  /** Renames the value; every reference follows (references are objects, not names). */
  set name(name: string) {
    if (typeof name !== 'string') throw new InvalidArgumentError(`'name' must be a string, got ${typeof name}`);
    this.#name = name;
    this.graph?._valueRenamed(this);
  }

  /** `value 'x'`: how messages name this value. */
  get label(): string {
    return this.#name === undefined ? 'unnamed value' : `value '${this.#name}'`;
  }

  /** The node whose output this is, if any (kept even after the node is removed). */
  producer(): Node | undefined {
    return this.#producer;
  }

  /** Index of this value among its producer's outputs. */
  outputIndex(): number | undefined {
    return this.#outputIndex;
  }

  /**
   * The graph that defines this value: its producer's graph, or the graph it is an input,
   * initializer or dangling reference of. Undefined once its producer is removed.
   */
  get graph(): Graph | undefined {
    if (this.#producer !== undefined) return this.#producer.graph;
    return this.#inputOf ?? this.#initializerOf ?? this.#danglingIn;
  }

  /** Uses by nodes that are in a graph (nodes inside removed nodes' subgraphs do not count). */
  uses(): Use[] {
    return this.#uses.filter((use) => use.node._isLive());
  }

  /** Whether some node reads this value. */
  hasUses(): boolean {
    return this.#uses.some((use) => use.node._isLive());
  }

  isGraphInput(): boolean {
    return this.#inputOf !== undefined;
  }

  /** Whether the value is listed among the outputs of a graph (its own, or a subgraph's). */
  isGraphOutput(): boolean {
    return this.#outputOf.some((graph) => graph._isLive());
  }

  /** The graphs listing this value as an output. */
  outputOfGraphs(): Graph[] {
    return [...new Set(this.#outputOf.filter((graph) => graph._isLive()))];
  }

  /** Whether the value is a (dense or sparse) initializer. */
  isInitializer(): boolean {
    return this.#initializerOf !== undefined;
  }

  /** The initializer's data, for a dense initializer. */
  get constValue(): Tensor | undefined {
    return this.#constValue;
  }

  /** Replaces an initializer's data (the name stays the value's name). */
  set constValue(tensor: Tensor) {
    if (this.#constValue === undefined) throw new IrEditError(`cannot set constValue of ${this.label}: it is not a dense initializer`);
    this.#constValue = tensor;
    this.#initializerOf?._noteEdit();
  }

  /** The initializer's data, for a sparse initializer. */
  get sparseConstValue(): SparseTensor | undefined {
    return this.#sparseConstValue;
  }

  /**
   * Makes every use of this value use `other` instead, and puts `other` in place of this value
   * among graph outputs. See {@link ReplaceAllUsesOptions} for the name handling.
   */
  replaceAllUsesWith(other: Value, options: ReplaceAllUsesOptions = {}): void {
    if (!(other instanceof Value)) throw new InvalidArgumentError(`'other' must be a Value`);
    if (other === this) return;
    const except = new Set(options.except ?? []);
    for (const use of this.uses()) {
      if (!except.has(use.node)) use.node.replaceInput(use.index, other);
    }
    const outputGraphs = this.outputOfGraphs();
    if (outputGraphs.length === 0) return;
    const ownGraph = this.graph;
    const takeName = (options.preserveOutputNames ?? true) && ownGraph !== undefined && outputGraphs.includes(ownGraph)
      && this.#name !== undefined && other.producer() !== undefined && !other.isGraphOutput();
    for (const graph of outputGraphs) graph._replaceOutputValue(this, other);
    if (takeName) {
      const name = this.#name!;
      this.name = ownGraph.nameAllocator.freshValueName(`${name}_replaced`);
      other.name = name;
      other.type ??= this.type;
    }
  }

  /** @internal */
  _setProducer(node: Node, index: number): void {
    this.#producer = node;
    this.#outputIndex = index;
  }

  /** @internal */
  _addUse(node: Node, index: number): void {
    this.#uses.push({ node, index });
  }

  /** @internal */
  _removeUse(node: Node, index: number): void {
    const at = this.#uses.findIndex((use) => use.node === node && use.index === index);
    if (at >= 0) this.#uses.splice(at, 1);
  }

  /** @internal */
  _addOutputOf(graph: Graph): void {
    this.#outputOf.push(graph);
  }

  /** @internal */
  _removeOutputOf(graph: Graph): void {
    const at = this.#outputOf.indexOf(graph);
    if (at >= 0) this.#outputOf.splice(at, 1);
  }

  /** @internal */
  _setInputOf(graph: Graph | undefined): void {
    this.#inputOf = graph;
  }

  /** @internal */
  _setInitializer(graph: Graph | undefined, tensor: Tensor | undefined, sparse?: SparseTensor): void {
    this.#initializerOf = graph;
    this.#constValue = tensor;
    this.#sparseConstValue = sparse;
  }

  /** @internal A name a loaded model reads but nothing defines; kept so the model round-trips. */
  _setDanglingIn(graph: Graph): void {
    this.#danglingIn = graph;
  }

  /** @internal Whether the value is still defined by something in a graph (for value_info on save). */
  _isDefined(): boolean {
    if (this.#producer !== undefined) return this.#producer._isLive();
    return this.graph !== undefined;
  }

  /** @internal Whether the value is a dangling reference (read, defined nowhere). */
  _isDangling(): boolean {
    return this.#producer === undefined && this.#inputOf === undefined && this.#initializerOf === undefined;
  }

  toString(): string {
    return this.label;
  }
}
