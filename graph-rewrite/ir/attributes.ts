/**
 * Node attributes: an immutable, typed union (`attr.kind` narrows `attr.value`), built with the
 * {@link Attr} factories. An attribute read from a model remembers its AttributeProto so it saves
 * exactly as it came (type field, doc string, unknown fields), with its subgraphs re-serialized.
 */

import { InvalidArgumentError } from '../errors.js';
import { AttributeType, type AttributeProto, type TypeProto } from '../serde/onnx-schema.js';
import type { Graph } from './graph.js';
import type { SparseTensor, Tensor } from './tensor.js';

/** Attribute kinds, named after `AttributeProto.AttributeType` in lower case. */
export type AttrKind =
  | 'float' | 'int' | 'string' | 'tensor' | 'graph' | 'sparse_tensor' | 'type_proto'
  | 'floats' | 'ints' | 'strings' | 'tensors' | 'graphs' | 'sparse_tensors' | 'type_protos';

interface AttrCommon {
  readonly name: string;
  readonly docString?: string | undefined;
}

/** A typed attribute. INT/INTS are bigints (int64 values such as INT64_MAX must survive). */
export type Attr = AttrCommon & (
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'int'; readonly value: bigint }
  | { readonly kind: 'string'; readonly value: Uint8Array }
  | { readonly kind: 'tensor'; readonly value: Tensor }
  | { readonly kind: 'graph'; readonly value: Graph }
  | { readonly kind: 'sparse_tensor'; readonly value: SparseTensor }
  | { readonly kind: 'type_proto'; readonly value: TypeProto }
  | { readonly kind: 'floats'; readonly value: readonly number[] }
  | { readonly kind: 'ints'; readonly value: readonly bigint[] }
  | { readonly kind: 'strings'; readonly value: readonly Uint8Array[] }
  | { readonly kind: 'tensors'; readonly value: readonly Tensor[] }
  | { readonly kind: 'graphs'; readonly value: readonly Graph[] }
  | { readonly kind: 'sparse_tensors'; readonly value: readonly SparseTensor[] }
  | { readonly kind: 'type_protos'; readonly value: readonly TypeProto[] }
  /** In a function body: takes the caller's attribute `refAttrName` (of type `refType`). */
  | { readonly kind: 'ref'; readonly refAttrName: string; readonly refType: AttrKind | undefined; readonly value?: undefined }
  /** An attribute with neither a type nor a value (pre-IR-2 models). */
  | { readonly kind: 'undefined'; readonly value?: undefined }
);

export const ATTR_KIND_CODES: Readonly<Record<AttrKind, number>> = {
  float: AttributeType.FLOAT, int: AttributeType.INT, string: AttributeType.STRING, tensor: AttributeType.TENSOR,
  graph: AttributeType.GRAPH, sparse_tensor: AttributeType.SPARSE_TENSOR, type_proto: AttributeType.TYPE_PROTO,
  floats: AttributeType.FLOATS, ints: AttributeType.INTS, strings: AttributeType.STRINGS,
  tensors: AttributeType.TENSORS, graphs: AttributeType.GRAPHS, sparse_tensors: AttributeType.SPARSE_TENSORS,
  type_protos: AttributeType.TYPE_PROTOS,
};

const KINDS_BY_CODE = new Map<number, AttrKind>(
  Object.entries(ATTR_KIND_CODES).map(([kind, code]) => [code, kind as AttrKind]),
);

/** The kind for an `AttributeProto.type` code (undefined for UNDEFINED or unknown codes). */
export function attrKindOfCode(code: number | undefined): AttrKind | undefined {
  return code === undefined ? undefined : KINDS_BY_CODE.get(code);
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

function make<A extends Attr>(attr: A): A {
  if (typeof attr.name !== 'string' || attr.name === '') {
    throw new InvalidArgumentError(`attribute 'name' must be a non-empty string, got ${JSON.stringify(attr.name)}`);
  }
  if (Array.isArray(attr.value)) Object.freeze(attr.value);
  return Object.freeze(attr);
}

function toBigInt(value: number | bigint, what: string): bigint {
  if (typeof value === 'bigint') return BigInt.asIntN(64, value);
  if (!Number.isSafeInteger(value)) throw new InvalidArgumentError(`${what} must be an integer, got ${value}`);
  return BigInt(value);
}

function toBytes(value: string | Uint8Array): Uint8Array {
  return typeof value === 'string' ? utf8Encoder.encode(value) : value;
}

/** Factories for attributes (the value is validated and frozen). */
export const Attr = {
  float: (name: string, value: number): Attr => make({ name, kind: 'float', value }),
  int: (name: string, value: number | bigint): Attr => make({ name, kind: 'int', value: toBigInt(value, `attribute '${name}'`) }),
  /** A STRING attribute; a JS string is stored as UTF-8. */
  string: (name: string, value: string | Uint8Array): Attr => make({ name, kind: 'string', value: toBytes(value) }),
  tensor: (name: string, value: Tensor): Attr => make({ name, kind: 'tensor', value }),
  graph: (name: string, value: Graph): Attr => make({ name, kind: 'graph', value }),
  sparseTensor: (name: string, value: SparseTensor): Attr => make({ name, kind: 'sparse_tensor', value }),
  typeProto: (name: string, value: TypeProto): Attr => make({ name, kind: 'type_proto', value }),
  floats: (name: string, value: readonly number[]): Attr => make({ name, kind: 'floats', value: [...value] }),
  ints: (name: string, value: readonly (number | bigint)[]): Attr =>
    make({ name, kind: 'ints', value: value.map((v, i) => toBigInt(v, `attribute '${name}'[${i}]`)) }),
  strings: (name: string, value: readonly (string | Uint8Array)[]): Attr =>
    make({ name, kind: 'strings', value: value.map(toBytes) }),
  tensors: (name: string, value: readonly Tensor[]): Attr => make({ name, kind: 'tensors', value: [...value] }),
  graphs: (name: string, value: readonly Graph[]): Attr => make({ name, kind: 'graphs', value: [...value] }),
  sparseTensors: (name: string, value: readonly SparseTensor[]): Attr => make({ name, kind: 'sparse_tensors', value: [...value] }),
  typeProtos: (name: string, value: readonly TypeProto[]): Attr => make({ name, kind: 'type_protos', value: [...value] }),
  /** A function-body attribute bound to the calling node's attribute `refAttrName`. */
  ref: (name: string, refAttrName: string, refType: AttrKind): Attr => make({ name, kind: 'ref', refAttrName, refType }),
} as const;

/** The subgraphs an attribute holds (GRAPH / GRAPHS), in order. */
export function subgraphsOfAttr(attr: Attr): readonly Graph[] {
  if (attr.kind === 'graph') return [attr.value];
  if (attr.kind === 'graphs') return attr.value;
  return [];
}

/** Decodes a STRING attribute value (UTF-8). */
export function decodeUtf8(bytes: Uint8Array): string {
  return utf8Decoder.decode(bytes);
}

// Original protos of attributes read from a model (see from-proto / to-proto).
const originalAttrProtos = new WeakMap<Attr, AttributeProto>();

/** @internal Records the proto an attribute was read from. */
export function rememberAttrProto(attr: Attr, proto: AttributeProto): void {
  originalAttrProtos.set(attr, proto);
}

/** @internal The proto an attribute was read from, if any. */
export function originalAttrProto(attr: Attr): AttributeProto | undefined {
  return originalAttrProtos.get(attr);
}
