/**
 * Nodes: one operator application. A node's input uses are registered on the input values while the
 * node is in a graph, so `value.uses()` is always exact; edit inputs only with
 * {@link Node.replaceInput} / {@link Node.appendInput}.
 */

import { InvalidArgumentError, IrEditError } from '../errors.js';
import type { NodeDeviceConfigurationProto } from '../serde/onnx-schema.js';
import { decodeUtf8, subgraphsOfAttr, type Attr } from './attributes.js';
import type { Graph } from './graph.js';
import { Value } from './value.js';

/** What a new node is made of. */
export interface NodeInit {
  /** Operator domain: '' (default ONNX), 'com.microsoft', 'vitlin', … Default ''. */
  readonly domain?: string;
  readonly opType: string;
  /** Inputs in order; `undefined` = an omitted optional input (written as ''). */
  readonly inputs?: readonly (Value | undefined)[];
  readonly attributes?: readonly Attr[];
  /**
   * The outputs: a count (values get fresh names when the node joins a graph), or names
   * (`undefined` entries get fresh names too; '' = an unused optional output). Default 1.
   */
  readonly outputs?: number | readonly (string | undefined)[];
  readonly name?: string;
  readonly overload?: string;
  readonly docString?: string;
}

export class Node {
  /** Operator domain ('' = default ONNX domain). */
  domain: string;
  opType: string;
  /** Node name; undefined when the node has none. */
  name: string | undefined;
  overload: string | undefined;
  docString: string | undefined;
  readonly metadataProps = new Map<string, string>();
  /** `device_configurations` (multi-device sharding), kept as read. */
  deviceConfigurations: NodeDeviceConfigurationProto[] = [];
  /** Raw bytes of the NodeProto's unknown fields. */
  unknownFields: Uint8Array[] | undefined;
  /** @internal Which of domain / op_type were absent (not merely '') in the proto read. */
  _absentInProto: { domain: boolean; opType: boolean } | undefined;

  readonly #inputs: (Value | undefined)[];
  readonly #outputs: Value[];
  readonly #attributes: Attr[] = [];
  #graph: Graph | undefined;

  constructor(init: NodeInit) {
    if (init === null || typeof init !== 'object') throw new InvalidArgumentError(`'init' must be an object`);
    if (typeof init.opType !== 'string') throw new InvalidArgumentError(`'opType' must be a string`);
    this.domain = init.domain ?? '';
    this.opType = init.opType;
    this.name = init.name;
    this.overload = init.overload;
    this.docString = init.docString;
    const inputs = init.inputs ?? [];
    inputs.forEach((input, i) => {
      if (input !== undefined && !(input instanceof Value)) {
        throw new InvalidArgumentError(`'inputs'[${i}] of new ${init.opType} node must be a Value or undefined`);
      }
    });
    this.#inputs = [...inputs];
    const outputs = init.outputs ?? 1;
    if (typeof outputs === 'number' ? !Number.isInteger(outputs) || outputs < 0 : !Array.isArray(outputs)) {
      throw new InvalidArgumentError(`'outputs' must be a non-negative integer or a list of names, got ${String(outputs)}`);
    }
    const names = typeof outputs === 'number' ? new Array<string | undefined>(outputs).fill(undefined) : outputs;
    this.#outputs = names.map((name, i) => {
      const value = new Value(name);
      value._setProducer(this, i);
      return value;
    });
    for (const attr of init.attributes ?? []) this._appendAttribute(attr);
  }

  /** `node 'MatMul_3'`, or `unnamed MatMul node` — how messages name this node. */
  get label(): string {
    return this.name ? `node '${this.name}'` : `unnamed ${this.opType} node`;
  }

  get inputs(): readonly (Value | undefined)[] {
    return this.#inputs;
  }

  get outputs(): readonly Value[] {
    return this.#outputs;
  }

  get attributes(): readonly Attr[] {
    return this.#attributes;
  }

  /** The graph this node is in, or undefined when it is not in one (new, or removed). */
  get graph(): Graph | undefined {
    return this.#graph;
  }

  /** Replaces input `index` (undefined = omit an optional input), keeping uses consistent. */
  replaceInput(index: number, value: Value | undefined): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.#inputs.length) {
      throw new InvalidArgumentError(`input index ${index} is out of range for ${this.label} with ${this.#inputs.length} inputs`);
    }
    if (value !== undefined && !(value instanceof Value)) throw new InvalidArgumentError(`'value' must be a Value or undefined`);
    const old = this.#inputs[index];
    if (old === value) return;
    if (this.#graph !== undefined) {
      old?._removeUse(this, index);
      value?._addUse(this, index);
    }
    this.#inputs[index] = value;
    this.#graph?._noteEdit();
  }

  /** Adds an input at the end (e.g. a trailing optional input). */
  appendInput(value: Value | undefined): void {
    if (value !== undefined && !(value instanceof Value)) throw new InvalidArgumentError(`'value' must be a Value or undefined`);
    this.#inputs.push(value);
    if (this.#graph !== undefined) value?._addUse(this, this.#inputs.length - 1);
    this.#graph?._noteEdit();
  }

  /** The first attribute named `name`. */
  attribute(name: string): Attr | undefined {
    return this.#attributes.find((attr) => attr.name === name);
  }

  /** Sets an attribute: replaces the one of the same name in place, or appends it. */
  setAttribute(attr: Attr): void {
    this.#graph?._noteEdit();
    const at = this.#attributes.findIndex((a) => a.name === attr.name);
    if (at < 0) {
      this._appendAttribute(attr);
      return;
    }
    this.#claimSubgraphs(attr);
    const kept = subgraphsOfAttr(attr);
    for (const graph of subgraphsOfAttr(this.#attributes[at]!)) {
      if (!kept.includes(graph)) graph._setParentNode(undefined);
    }
    this.#attributes[at] = attr;
  }

  /** Removes every attribute named `name`; returns whether there was one. */
  removeAttribute(name: string): boolean {
    const kept = this.#attributes.filter((attr) => attr.name !== name);
    if (kept.length === this.#attributes.length) return false;
    this.#graph?._noteEdit();
    for (const attr of this.#attributes) {
      if (attr.name === name) for (const graph of subgraphsOfAttr(attr)) graph._setParentNode(undefined);
    }
    this.#attributes.splice(0, this.#attributes.length, ...kept);
    return true;
  }

  #attr<K extends Attr['kind']>(name: string, kinds: readonly K[]): Extract<Attr, { kind: K }> | undefined {
    const attr = this.attribute(name);
    if (attr === undefined) return undefined;
    if (!(kinds as readonly string[]).includes(attr.kind)) {
      throw new InvalidArgumentError(`attribute '${name}' of ${this.label} is ${attr.kind}, expected ${kinds.join(' or ')}`);
    }
    return attr as Extract<Attr, { kind: K }>;
  }

  #missing(name: string): never {
    throw new InvalidArgumentError(`${this.label} has no attribute '${name}'`);
  }

  /** An INT attribute as a number (throws if absent without fallback, or not a safe integer). */
  getInt(name: string, fallback?: number): number {
    const attr = this.#attr(name, ['int']);
    if (attr === undefined) return fallback ?? this.#missing(name);
    return toSafeNumber(attr.value, `attribute '${name}' of ${this.label}`);
  }

  /** An INTS attribute as numbers. */
  getInts(name: string, fallback?: readonly number[]): number[] {
    const attr = this.#attr(name, ['ints']);
    if (attr === undefined) return fallback === undefined ? this.#missing(name) : [...fallback];
    return attr.value.map((v, i) => toSafeNumber(v, `attribute '${name}'[${i}] of ${this.label}`));
  }

  getFloat(name: string, fallback?: number): number {
    const attr = this.#attr(name, ['float']);
    return attr === undefined ? fallback ?? this.#missing(name) : attr.value;
  }

  getFloats(name: string, fallback?: readonly number[]): number[] {
    const attr = this.#attr(name, ['floats']);
    if (attr === undefined) return fallback === undefined ? this.#missing(name) : [...fallback];
    return [...attr.value];
  }

  /** A STRING attribute decoded as UTF-8. */
  getString(name: string, fallback?: string): string {
    const attr = this.#attr(name, ['string']);
    return attr === undefined ? fallback ?? this.#missing(name) : decodeUtf8(attr.value);
  }

  /** The subgraphs held by this node's GRAPH / GRAPHS attributes, in attribute order. */
  subgraphs(): Graph[] {
    return this.#attributes.flatMap((attr) => [...subgraphsOfAttr(attr)]);
  }

  toString(): string {
    return this.label;
  }

  #claimSubgraphs(attr: Attr): void {
    for (const graph of subgraphsOfAttr(attr)) {
      const owner = graph.parentNode;
      if (owner !== undefined && owner !== this) {
        throw new IrEditError(`${graph.label} is already an attribute of ${owner.label}; it cannot also belong to ${this.label}`);
      }
    }
    for (const graph of subgraphsOfAttr(attr)) graph._setParentNode(this);
    if (subgraphsOfAttr(attr).length > 0) this.#graph?.nameAllocator.invalidate();
  }

  /** @internal Appends without replacing (models may repeat an attribute name; order is kept). */
  _appendAttribute(attr: Attr): void {
    if (attr === null || typeof attr !== 'object' || typeof attr.kind !== 'string') {
      throw new InvalidArgumentError(`attribute of ${this.label} must be made with the Attr factories`);
    }
    this.#claimSubgraphs(attr);
    this.#attributes.push(attr);
  }

  /** @internal Sets the inputs of a node that is not in a graph (model loading). */
  _initInputs(inputs: readonly (Value | undefined)[]): void {
    if (this.#graph !== undefined) throw new IrEditError(`${this.label} is in a graph; use replaceInput`);
    this.#inputs.splice(0, this.#inputs.length, ...inputs);
  }

  /** @internal Called by Graph when the node joins it: registers input uses. */
  _attach(graph: Graph): void {
    this.#graph = graph;
    this.#inputs.forEach((value, i) => value?._addUse(this, i));
  }

  /** @internal Called by Graph when the node leaves it: unregisters input uses. */
  _detach(): void {
    this.#inputs.forEach((value, i) => value?._removeUse(this, i));
    this.#graph = undefined;
  }

  /** @internal In a graph whose chain of parent nodes reaches a root graph (uses of dead nodes are ignored). */
  _isLive(): boolean {
    return this.#graph !== undefined && this.#graph._isLive();
  }
}

function toSafeNumber(value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new InvalidArgumentError(`${what} (${value}) is not a safe integer; read the bigint from node.attribute()`);
  }
  return Number(value);
}
