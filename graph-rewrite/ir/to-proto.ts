/**
 * IR → decoded-message shape (ModelProto etc.), ready for the wire encoder. Parts read from a model
 * and left unchanged are written exactly as they were read; tensor bytes are shared, not copied
 * (treat the result as read-only, like the IR it came from).
 */

import type {
  AttributeProto,
  FunctionProto,
  GraphProto,
  ModelProto,
  NodeProto,
} from '../serde/onnx-schema.js';
import { ATTR_KIND_CODES, originalAttrProto, type Attr } from './attributes.js';
import type { Function } from './function.js';
import type { Graph } from './graph.js';
import type { Model } from './model.js';
import type { Node } from './node.js';
import { cloneProto, makeMessage, metadataToProto, opsetsToProto } from './proto-utils.js';
import { valueInfoEntryToProto } from './value-info.js';

function unknown(fields: Uint8Array[] | undefined): Uint8Array[] | undefined {
  return fields === undefined ? undefined : [...fields];
}

/** Writes a model (see the module comment). */
export function modelToProto(model: Model): ModelProto {
  const graph = model.graph;
  const graphIsEmpty = graph.nodes.length === 0 && graph.inputs.length === 0 && graph.outputs.length === 0
    && graph.initializers.size === 0 && graph.sparseInitializers.size === 0;
  return makeMessage<ModelProto>('ModelProto', {
    ir_version: model.irVersion === undefined ? undefined : BigInt(model.irVersion),
    opset_import: opsetsToProto(model.opsetImports),
    producer_name: model.producerName,
    producer_version: model.producerVersion,
    domain: model.domain,
    model_version: model.modelVersion,
    doc_string: model.docString,
    graph: model._graphAbsentInProto && graphIsEmpty ? undefined : graphToProto(graph),
    metadata_props: metadataToProto(model.metadataProps),
    training_info: cloneProto(model.trainingInfo),
    functions: model.functions.map(functionToProto),
    configuration: cloneProto(model.configuration),
    $unknown: unknown(model.unknownFields),
  });
}

/** Writes one graph (subgraphs included). */
export function graphToProto(graph: Graph): GraphProto {
  const { inputs, outputs, valueInfo } = graph._entries();
  const { dense, sparse } = graph._initializerValues();
  return makeMessage<GraphProto>('GraphProto', {
    node: graph.nodes.map(nodeToProto),
    name: graph.name,
    initializer: dense.map((value) => {
      const tensor = value.constValue!;
      return tensor.toProto(value.name === (tensor.name ?? '') ? undefined : value.name);
    }),
    sparse_initializer: sparse.map((value) => {
      const tensor = value.sparseConstValue!;
      return tensor.toProto(value.name === (tensor.name ?? '') ? undefined : value.name);
    }),
    doc_string: graph.docString,
    input: inputs.map(valueInfoEntryToProto),
    output: outputs.map(valueInfoEntryToProto),
    // Annotations of values that no longer exist (their producer was removed) are dropped.
    value_info: valueInfo.filter((entry) => entry.value._isDefined()).map(valueInfoEntryToProto),
    quantization_annotation: cloneProto(graph.quantizationAnnotations),
    metadata_props: metadataToProto(graph.metadataProps),
    $unknown: unknown(graph.unknownFields),
  });
}

/** Writes a model-local function. */
export function functionToProto(fn: Function): FunctionProto {
  const { valueInfo } = fn.body._entries();
  return makeMessage<FunctionProto>('FunctionProto', {
    name: fn.name,
    input: fn.inputs.map((value) => value.name ?? ''),
    output: fn.outputs.map((value) => value.name ?? ''),
    attribute: [...fn.attributeNames],
    attribute_proto: fn.attributeDefaults.map(attributeToProto),
    node: fn.nodes.map(nodeToProto),
    doc_string: fn.docString,
    opset_import: opsetsToProto(fn.opsetImports),
    domain: fn.domain,
    overload: fn.overload,
    value_info: valueInfo.filter((entry) => entry.value._isDefined()).map(valueInfoEntryToProto),
    metadata_props: metadataToProto(fn.metadataProps),
    $unknown: unknown(fn.unknownFields),
  });
}

export function nodeToProto(node: Node): NodeProto {
  const absent = node._absentInProto;
  return makeMessage<NodeProto>('NodeProto', {
    input: node.inputs.map((value) => (value === undefined ? '' : value.name ?? '')),
    output: node.outputs.map((value) => value.name ?? ''),
    name: node.name,
    op_type: absent?.opType === true && node.opType === '' ? undefined : node.opType,
    domain: absent?.domain === true && node.domain === '' ? undefined : node.domain,
    overload: node.overload,
    attribute: node.attributes.map(attributeToProto),
    doc_string: node.docString,
    metadata_props: metadataToProto(node.metadataProps),
    device_configurations: cloneProto(node.deviceConfigurations),
    $unknown: unknown(node.unknownFields),
  });
}

export function attributeToProto(attr: Attr): AttributeProto {
  const original = originalAttrProto(attr);
  if (original !== undefined) {
    // As read, except subgraphs, which may have been edited in place.
    const copy: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(original)) {
      if (key === 'g' && attr.kind === 'graph') copy[key] = graphToProto(attr.value);
      else if (key === 'graphs' && attr.kind === 'graphs') copy[key] = attr.value.map(graphToProto);
      else copy[key] = cloneProto(value);
    }
    return copy as unknown as AttributeProto;
  }
  const common = { name: attr.name, doc_string: attr.docString };
  switch (attr.kind) {
    case 'ref':
      return makeMessage<AttributeProto>('AttributeProto', {
        ...common,
        ref_attr_name: attr.refAttrName,
        type: attr.refType === undefined ? undefined : ATTR_KIND_CODES[attr.refType],
      });
    case 'undefined':
      return makeMessage<AttributeProto>('AttributeProto', common);
    default:
      return makeMessage<AttributeProto>('AttributeProto', { ...common, type: ATTR_KIND_CODES[attr.kind], ...attributeValueField(attr) });
  }
}

function attributeValueField(attr: Exclude<Attr, { kind: 'ref' | 'undefined' }>): Partial<AttributeProto> {
  switch (attr.kind) {
    case 'float': return { f: attr.value };
    case 'int': return { i: attr.value };
    case 'string': return { s: attr.value };
    case 'tensor': return { t: attr.value.toProto() };
    case 'graph': return { g: graphToProto(attr.value) };
    case 'sparse_tensor': return { sparse_tensor: attr.value.toProto() };
    case 'type_proto': return { tp: cloneProto(attr.value) };
    case 'floats': return { floats: [...attr.value] };
    case 'ints': return { ints: [...attr.value] };
    case 'strings': return { strings: [...attr.value] };
    case 'tensors': return { tensors: attr.value.map((t) => t.toProto()) };
    case 'graphs': return { graphs: attr.value.map(graphToProto) };
    case 'sparse_tensors': return { sparse_tensors: attr.value.map((t) => t.toProto()) };
    case 'type_protos': return { type_protos: attr.value.map((t) => cloneProto(t)) };
  }
}
