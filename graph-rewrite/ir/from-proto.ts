/**
 * Decoded ModelProto → IR. Lossless by contract: `modelToProto(modelFromProto(p))` deep-equals `p`.
 * Names are resolved to Value objects scope by scope (a subgraph sees its enclosing graphs); a name
 * that nothing defines becomes a dangling Value, kept as it came and reported by `validateGraph`.
 * The IR takes ownership of the proto's parts (tensor bytes stay zero-copy views): do not mutate
 * the proto afterwards.
 */

import { GraphValidationError } from '../errors.js';
import type {
  AttributeProto,
  FunctionProto,
  GraphProto,
  ModelProto,
  NodeProto,
  SparseTensorProto,
  TensorProto,
  ValueInfoProto,
} from '../serde/onnx-schema.js';
import { attrKindOfCode, rememberAttrProto, type Attr, type AttrKind } from './attributes.js';
import { Function } from './function.js';
import { Graph } from './graph.js';
import { Model } from './model.js';
import { Node } from './node.js';
import { metadataFromProto, opsetsFromProto, unknownFieldsOf } from './proto-utils.js';
import { SparseTensor, Tensor } from './tensor.js';
import { typeFromProto } from './types.js';
import { loadedListing } from './value-info.js';
import { Value } from './value.js';

/** Names visible in one graph: its own definitions, then the enclosing graphs'. */
class Scope {
  readonly #names = new Map<string, Value>();
  constructor(readonly parent: Scope | undefined) {}

  lookup(name: string): Value | undefined {
    for (let scope: Scope | undefined = this; scope !== undefined; scope = scope.parent) {
      const value = scope.#names.get(name);
      if (value !== undefined) return value;
    }
    return undefined;
  }

  local(name: string): Value | undefined {
    return this.#names.get(name);
  }

  /** The first definition wins; later ones (invalid: produced twice) stay distinct Values. */
  define(name: string, value: Value): void {
    if (name !== '' && !this.#names.has(name)) this.#names.set(name, value);
  }
}

/** The parts of a GraphProto or a FunctionProto body (functions list plain names). */
interface BodyParts {
  readonly inputs: readonly (ValueInfoProto | string)[];
  readonly outputs: readonly (ValueInfoProto | string)[];
  readonly valueInfo: readonly ValueInfoProto[];
  readonly initializers: readonly TensorProto[];
  readonly sparseInitializers: readonly SparseTensorProto[];
  readonly nodes: readonly NodeProto[];
}

class Loader {
  /** Values whose annotations were already taken from a listing (the first listing is primary). */
  readonly #annotated = new WeakSet<Value>();

  model(proto: ModelProto): Model {
    const model = new Model();
    model.irVersion = proto.ir_version === undefined ? undefined : Number(proto.ir_version);
    opsetsFromProto(proto.opset_import, model.opsetImports);
    model.producerName = proto.producer_name;
    model.producerVersion = proto.producer_version;
    model.domain = proto.domain;
    model.modelVersion = proto.model_version;
    model.docString = proto.doc_string;
    metadataFromProto(proto.metadata_props, model.metadataProps);
    if (proto.graph !== undefined) model.graph = this.graph(proto.graph, undefined);
    else model._graphAbsentInProto = true;
    model.functions = proto.functions.map((f) => this.function(f));
    model.trainingInfo = proto.training_info;
    model.configuration = proto.configuration;
    model.unknownFields = unknownFieldsOf(proto);
    return model;
  }

  graph(proto: GraphProto, outer: Scope | undefined): Graph {
    const graph = new Graph();
    graph.name = proto.name;
    graph.docString = proto.doc_string;
    metadataFromProto(proto.metadata_props, graph.metadataProps);
    graph.quantizationAnnotations = proto.quantization_annotation;
    graph.unknownFields = unknownFieldsOf(proto);
    this.#body(graph, {
      inputs: proto.input,
      outputs: proto.output,
      valueInfo: proto.value_info,
      initializers: proto.initializer,
      sparseInitializers: proto.sparse_initializer,
      nodes: proto.node,
    }, new Scope(outer));
    return graph;
  }

  function(proto: FunctionProto): Function {
    const body = new Graph();
    this.#body(body, {
      inputs: proto.input,
      outputs: proto.output,
      valueInfo: proto.value_info,
      initializers: [],
      sparseInitializers: [],
      nodes: proto.node,
    }, new Scope(undefined));
    const fn = new Function({ domain: '', name: '', attributeNames: proto.attribute }, body);
    fn.domain = proto.domain;
    fn.name = proto.name;
    fn.overload = proto.overload;
    fn.docString = proto.doc_string;
    fn.attributeDefaults = proto.attribute_proto.map((a) => this.#attribute(a, new Scope(undefined)));
    opsetsFromProto(proto.opset_import, fn.opsetImports);
    metadataFromProto(proto.metadata_props, fn.metadataProps);
    fn.unknownFields = unknownFieldsOf(proto);
    return fn;
  }

  #body(graph: Graph, parts: BodyParts, scope: Scope): void {
    const dangling = (name: string): Value => {
      const value = new Value(name);
      value._setDanglingIn(graph);
      scope.define(name, value);
      return value;
    };
    const resolve = (name: string): Value => scope.lookup(name) ?? dangling(name);

    for (const input of parts.inputs) {
      const name = typeof input === 'string' ? input : input.name ?? '';
      const value = scope.local(name) ?? new Value(name);
      scope.define(name, value);
      graph._loadInput(value, typeof input === 'string' ? undefined : this.#annotate(value, input));
    }
    for (const tensor of parts.initializers) {
      this.#initializer(graph, scope, tensor.name ?? '', Tensor.fromProto(tensor), undefined);
    }
    for (const sparse of parts.sparseInitializers) {
      this.#initializer(graph, scope, sparse.values?.name ?? '', undefined, SparseTensor.fromProto(sparse));
    }
    // Pass 1: every node output exists before any input is resolved (nodes need not be sorted).
    const nodes = parts.nodes.map((proto) => {
      const node = this.#node(proto);
      node.outputs.forEach((output) => scope.define(output.name!, output));
      return node;
    });
    for (const output of parts.outputs) {
      const value = resolve(typeof output === 'string' ? output : output.name ?? '');
      graph._loadOutput(value, typeof output === 'string' ? undefined : this.#annotate(value, output));
    }
    for (const info of parts.valueInfo) {
      const value = resolve(info.name ?? '');
      graph._loadValueInfo(value, this.#annotate(value, info));
    }
    // Pass 2: inputs and attributes (subgraphs see this graph's names through `scope`).
    parts.nodes.forEach((proto, i) => {
      const node = nodes[i]!;
      node._initInputs(proto.input.map((name) => (name === '' ? undefined : resolve(name))));
      for (const attribute of proto.attribute) node._appendAttribute(this.#attribute(attribute, scope));
      graph._loadNode(node);
    });
  }

  #initializer(graph: Graph, scope: Scope, name: string, tensor: Tensor | undefined, sparse: SparseTensor | undefined): void {
    const existing = scope.local(name);
    if (existing?.isInitializer()) throw new GraphValidationError(`${graph.label} defines initializer '${name}' twice`);
    // IR < 4 style: an initializer also listed as a graph input is the same value (an overridable default).
    const value = existing?.isGraphInput() ? existing : new Value(name);
    scope.define(name, value);
    graph._loadInitializer(value, tensor, sparse);
  }

  #node(proto: NodeProto): Node {
    const node = new Node({
      domain: proto.domain ?? '',
      opType: proto.op_type ?? '',
      name: proto.name,
      overload: proto.overload,
      docString: proto.doc_string,
      outputs: proto.output,
    });
    if (proto.domain === undefined || proto.op_type === undefined) {
      node._absentInProto = { domain: proto.domain === undefined, opType: proto.op_type === undefined };
    }
    metadataFromProto(proto.metadata_props, node.metadataProps);
    node.deviceConfigurations = proto.device_configurations;
    node.unknownFields = unknownFieldsOf(proto);
    return node;
  }

  /** Takes a value's annotations from its first listing; returns what must be kept of this listing. */
  #annotate(value: Value, info: ValueInfoProto): ReturnType<typeof loadedListing> {
    if (!this.#annotated.has(value)) {
      this.#annotated.add(value);
      value.type = info.type === undefined ? undefined : typeFromProto(info.type);
      value.docString = info.doc_string;
      metadataFromProto(info.metadata_props, value.metadataProps);
      value.unknownFields = unknownFieldsOf(info);
    }
    return loadedListing(value, info);
  }

  #attribute(proto: AttributeProto, scope: Scope): Attr {
    const name = proto.name ?? '';
    const kind = attrKindOfCode(proto.type) ?? inferAttrKind(proto);
    const common = { name, docString: proto.doc_string };
    let attr: Attr;
    if (proto.ref_attr_name !== undefined) {
      attr = { ...common, kind: 'ref', refAttrName: proto.ref_attr_name, refType: kind };
    } else {
      attr = this.#attributeValue(proto, kind, common, scope) ?? { ...common, kind: 'undefined' };
    }
    if (Array.isArray(attr.value)) Object.freeze(attr.value);
    Object.freeze(attr);
    rememberAttrProto(attr, proto);
    return attr;
  }

  #attributeValue(
    proto: AttributeProto,
    kind: AttrKind | undefined,
    common: { name: string; docString: string | undefined },
    scope: Scope,
  ): Attr | undefined {
    const subgraph = (g: GraphProto): Graph => this.graph(g, scope);
    switch (kind) {
      case 'float': return { ...common, kind, value: proto.f ?? 0 };
      case 'int': return { ...common, kind, value: proto.i ?? 0n };
      case 'string': return { ...common, kind, value: proto.s ?? new Uint8Array(0) };
      case 'tensor': return proto.t === undefined ? undefined : { ...common, kind, value: Tensor.fromProto(proto.t) };
      case 'graph': return proto.g === undefined ? undefined : { ...common, kind, value: subgraph(proto.g) };
      case 'sparse_tensor':
        return proto.sparse_tensor === undefined ? undefined : { ...common, kind, value: SparseTensor.fromProto(proto.sparse_tensor) };
      case 'type_proto': return proto.tp === undefined ? undefined : { ...common, kind, value: proto.tp };
      case 'floats': return { ...common, kind, value: [...proto.floats] };
      case 'ints': return { ...common, kind, value: [...proto.ints] };
      case 'strings': return { ...common, kind, value: [...proto.strings] };
      case 'tensors': return { ...common, kind, value: proto.tensors.map((t) => Tensor.fromProto(t)) };
      case 'graphs': return { ...common, kind, value: proto.graphs.map(subgraph) };
      case 'sparse_tensors': return { ...common, kind, value: proto.sparse_tensors.map((s) => SparseTensor.fromProto(s)) };
      case 'type_protos': return { ...common, kind, value: [...proto.type_protos] };
      case undefined: return undefined;
    }
  }
}

/** Pre-IR-2 attributes have no `type`: infer it from the field that is set. */
function inferAttrKind(proto: AttributeProto): AttrKind | undefined {
  if (proto.f !== undefined) return 'float';
  if (proto.i !== undefined) return 'int';
  if (proto.s !== undefined) return 'string';
  if (proto.t !== undefined) return 'tensor';
  if (proto.g !== undefined) return 'graph';
  if (proto.sparse_tensor !== undefined) return 'sparse_tensor';
  if (proto.tp !== undefined) return 'type_proto';
  if (proto.floats.length > 0) return 'floats';
  if (proto.ints.length > 0) return 'ints';
  if (proto.strings.length > 0) return 'strings';
  if (proto.tensors.length > 0) return 'tensors';
  if (proto.graphs.length > 0) return 'graphs';
  if (proto.sparse_tensors.length > 0) return 'sparse_tensors';
  if (proto.type_protos.length > 0) return 'type_protos';
  return undefined;
}

/** Reads a decoded model into the IR (see the module comment for the contract). */
export function modelFromProto(proto: ModelProto): Model {
  return new Loader().model(proto);
}

/** Reads one decoded graph (no enclosing scope) into the IR. */
export function graphFromProto(proto: GraphProto): Graph {
  return new Loader().graph(proto, undefined);
}
