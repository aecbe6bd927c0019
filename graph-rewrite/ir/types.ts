/**
 * Types of values: tensors (element type + shape) in an ergonomic, immutable form; sequences, maps
 * and optionals are kept as their TypeProto. Type objects are frozen: to change a value's type,
 * assign a new one (e.g. `value.type = tensorType(DataType.FLOAT, [1, 'N', 768])`).
 */

import type { TensorShapeProto, TypeProto } from '../serde/onnx-schema.js';
import { cloneProto, makeMessage } from './proto-utils.js';

/** One dimension: a fixed size, a symbolic name (`dim_param`), or unknown (neither set). */
export type Dim = number | string | undefined;

/** A dense tensor type. `shape` undefined = unknown rank; `[]` = scalar. */
export interface TensorType {
  readonly kind: 'tensor';
  /** `DataType` code (0 = UNDEFINED when the proto left it unset). */
  readonly elemType: number;
  readonly shape: readonly Dim[] | undefined;
}

/** A sparse tensor type (same fields as {@link TensorType}). */
export interface SparseTensorType {
  readonly kind: 'sparse_tensor';
  readonly elemType: number;
  readonly shape: readonly Dim[] | undefined;
}

/** Any other type (sequence, map, optional, or an empty TypeProto), kept as its proto. */
export interface OtherType {
  readonly kind: 'other';
  readonly proto: TypeProto;
}

export type ValueType = TensorType | SparseTensorType | OtherType;

/** Original TypeProto of each type object read from a model, reused on save (lossless). */
const originalProtos = new WeakMap<ValueType, TypeProto>();

/** Creates a frozen dense tensor type. */
export function tensorType(elemType: number, shape?: readonly Dim[]): TensorType {
  return Object.freeze({ kind: 'tensor', elemType, shape: shape === undefined ? undefined : Object.freeze([...shape]) });
}

/** Creates a frozen sparse tensor type. */
export function sparseTensorType(elemType: number, shape?: readonly Dim[]): SparseTensorType {
  return Object.freeze({
    kind: 'sparse_tensor',
    elemType,
    shape: shape === undefined ? undefined : Object.freeze([...shape]),
  });
}

function shapeFromProto(shape: TensorShapeProto | undefined): Dim[] | undefined {
  if (shape === undefined) return undefined;
  return shape.dim.map((dim) => {
    if (dim.dim_value !== undefined) return Number(dim.dim_value);
    if (dim.dim_param !== undefined) return dim.dim_param;
    return undefined;
  });
}

function shapeToProto(shape: readonly Dim[] | undefined): TensorShapeProto | undefined {
  if (shape === undefined) return undefined;
  return makeMessage<TensorShapeProto>('TensorShapeProto', {
    dim: shape.map((dim) =>
      makeMessage('TensorShapeProto.Dimension', {
        dim_value: typeof dim === 'number' ? BigInt(dim) : undefined,
        dim_param: typeof dim === 'string' ? dim : undefined,
      })),
  });
}

/** Reads a TypeProto; the result remembers the proto so an unchanged type saves byte-identical. */
export function typeFromProto(proto: TypeProto): ValueType {
  let type: ValueType;
  if (proto.tensor_type !== undefined) {
    type = tensorType(proto.tensor_type.elem_type ?? 0, shapeFromProto(proto.tensor_type.shape));
  } else if (proto.sparse_tensor_type !== undefined) {
    type = sparseTensorType(proto.sparse_tensor_type.elem_type ?? 0, shapeFromProto(proto.sparse_tensor_type.shape));
  } else {
    type = Object.freeze({ kind: 'other', proto });
  }
  originalProtos.set(type, proto);
  return type;
}

/** Writes a type as a TypeProto (the original proto if this type object was read from one). */
export function typeToProto(type: ValueType): TypeProto {
  const original = originalProtos.get(type);
  if (original !== undefined) return cloneProto(original);
  switch (type.kind) {
    case 'tensor':
      return makeMessage<TypeProto>('TypeProto', {
        tensor_type: makeMessage('TypeProto.Tensor', { elem_type: type.elemType, shape: shapeToProto(type.shape) }),
      });
    case 'sparse_tensor':
      return makeMessage<TypeProto>('TypeProto', {
        sparse_tensor_type: makeMessage('TypeProto.SparseTensor', {
          elem_type: type.elemType,
          shape: shapeToProto(type.shape),
        }),
      });
    case 'other':
      return cloneProto(type.proto);
  }
}

/** `float32[1,'N',768]`-style text for messages. */
export function formatType(type: ValueType | undefined): string {
  if (type === undefined) return '?';
  if (type.kind === 'other') return 'non-tensor';
  const shape = type.shape === undefined ? '?' : `[${type.shape.map((d) => (d === undefined ? '?' : String(d))).join(',')}]`;
  return `${type.kind === 'sparse_tensor' ? 'sparse ' : ''}dtype ${type.elemType} ${shape}`;
}
