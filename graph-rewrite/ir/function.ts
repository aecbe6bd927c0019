/**
 * Model-local functions (FunctionProto): a named, graph-like body — inputs, outputs, nodes and
 * value_info live in {@link Function.body}, a Graph that has no initializers. Attributes of body
 * nodes may reference the caller's attributes (`Attr.ref`).
 */

import type { Attr } from './attributes.js';
import { Graph } from './graph.js';
import type { Node } from './node.js';
import type { Value } from './value.js';

export interface FunctionInit {
  readonly domain: string;
  readonly name: string;
  readonly overload?: string;
  readonly inputs?: readonly Value[];
  readonly outputs?: readonly Value[];
  /** Names of the attributes the function accepts without a default. */
  readonly attributeNames?: readonly string[];
  /** Attributes the function accepts, with their default values. */
  readonly attributeDefaults?: readonly Attr[];
  readonly opsetImports?: Iterable<readonly [string, number]>;
  readonly docString?: string;
}

export class Function {
  /** Undefined only for a malformed FunctionProto read as it came. */
  name: string | undefined;
  domain: string | undefined;
  overload: string | undefined;
  docString: string | undefined;
  /** Inputs, outputs, nodes and value_info of the function. */
  readonly body: Graph;
  /** `attribute`: attribute names without defaults. */
  attributeNames: string[];
  /** `attribute_proto`: attributes with defaults. */
  attributeDefaults: Attr[];
  /** Opsets the body uses: domain → version, in order. */
  readonly opsetImports: Map<string, number>;
  readonly metadataProps = new Map<string, string>();
  unknownFields: Uint8Array[] | undefined;

  constructor(init: FunctionInit, body?: Graph) {
    this.domain = init.domain;
    this.name = init.name;
    this.overload = init.overload;
    this.docString = init.docString;
    this.body = body ?? new Graph({ inputs: init.inputs ?? [], outputs: init.outputs ?? [] });
    this.attributeNames = [...(init.attributeNames ?? [])];
    this.attributeDefaults = [...(init.attributeDefaults ?? [])];
    this.opsetImports = new Map(init.opsetImports ?? []);
  }

  /** `domain::name` (plus `:overload`), the key a node's (domain, op_type, overload) resolves to. */
  get identifier(): string {
    return `${this.domain ?? ''}::${this.name ?? ''}${this.overload ? `:${this.overload}` : ''}`;
  }

  get inputs(): readonly Value[] {
    return this.body.inputs;
  }

  get outputs(): readonly Value[] {
    return this.body.outputs;
  }

  get nodes(): readonly Node[] {
    return this.body.nodes;
  }

  toString(): string {
    return `function '${this.identifier}'`;
  }
}
