/**
 * Element access to a TensorProto's data, wherever it lives (raw_data or a typed repeated field),
 * for every fixed-width ONNX dtype. Internal to the IR: {@link Tensor} exposes the public API.
 */

import { GraphValidationError } from '../errors.js';
import type { TensorProto } from '../serde/onnx-schema.js';
import {
  DataType,
  dataTypeInfo,
  dataTypeName,
  floatBitsToNumber,
  HOST_IS_LITTLE_ENDIAN,
  isSubByte,
  unpackSubByte,
} from './dtypes.js';

/** Reads element i as a number, or (INT64/UINT64) as a bigint so no precision is lost. */
export type ElementReader =
  | { readonly kind: 'number'; readonly get: (i: number) => number }
  | { readonly kind: 'bigint'; readonly get: (i: number) => bigint };

/** Bytes the data of `count` elements takes in raw form (sub-byte types round up to whole bytes). */
export function packedByteLength(dataType: number, count: number): number {
  const bits = dataTypeInfo(dataType)?.bits ?? 0;
  return Math.ceil((count * bits) / 8);
}

function isSignedSubByte(dataType: number): boolean {
  return dataType === DataType.INT4 || dataType === DataType.INT2;
}

function rawReader(proto: TensorProto, raw: Uint8Array, count: number, label: string): ElementReader | undefined {
  const dataType = proto.data_type ?? 0;
  const expected = packedByteLength(dataType, count);
  if (raw.byteLength !== expected) {
    throw new GraphValidationError(
      `${label} (${dataTypeName(dataType)}, ${count} elements) needs ${expected} bytes of raw_data but has ${raw.byteLength}`,
    );
  }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const bits = dataTypeInfo(dataType)?.bits ?? 0;
  if (isSubByte(dataType)) {
    const signed = isSignedSubByte(dataType);
    const packed = (i: number): number => view.getUint8(i);
    if (dataType === DataType.FLOAT4E2M1) {
      return { kind: 'number', get: (i) => floatBitsToNumber(dataType, unpackSubByte(packed, i, bits, false))! };
    }
    return { kind: 'number', get: (i) => unpackSubByte(packed, i, bits, signed) };
  }
  switch (dataType) {
    case DataType.FLOAT: return { kind: 'number', get: (i) => view.getFloat32(i * 4, true) };
    case DataType.DOUBLE: return { kind: 'number', get: (i) => view.getFloat64(i * 8, true) };
    case DataType.INT8: return { kind: 'number', get: (i) => view.getInt8(i) };
    case DataType.UINT8: case DataType.BOOL: return { kind: 'number', get: (i) => view.getUint8(i) };
    case DataType.INT16: return { kind: 'number', get: (i) => view.getInt16(i * 2, true) };
    case DataType.UINT16: return { kind: 'number', get: (i) => view.getUint16(i * 2, true) };
    case DataType.INT32: return { kind: 'number', get: (i) => view.getInt32(i * 4, true) };
    case DataType.UINT32: return { kind: 'number', get: (i) => view.getUint32(i * 4, true) };
    case DataType.INT64: return { kind: 'bigint', get: (i) => view.getBigInt64(i * 8, true) };
    case DataType.UINT64: return { kind: 'bigint', get: (i) => view.getBigUint64(i * 8, true) };
    case DataType.FLOAT16: case DataType.BFLOAT16:
      return { kind: 'number', get: (i) => floatBitsToNumber(dataType, view.getUint16(i * 2, true))! };
    case DataType.FLOAT8E4M3FN: case DataType.FLOAT8E4M3FNUZ: case DataType.FLOAT8E5M2:
    case DataType.FLOAT8E5M2FNUZ: case DataType.FLOAT8E8M0:
      return { kind: 'number', get: (i) => floatBitsToNumber(dataType, view.getUint8(i))! };
    default:
      return undefined;
  }
}

function typedReader(proto: TensorProto, count: number, label: string): ElementReader | undefined {
  const dataType = proto.data_type ?? 0;
  const field = dataTypeInfo(dataType)?.field;
  if (field === undefined || field === 'string_data' || (dataTypeInfo(dataType)?.entriesPerElement ?? 1) !== 1) {
    return undefined;
  }
  const entries = proto[field];
  // Sub-byte types keep one packed byte per int32 entry.
  const expected = isSubByte(dataType) ? packedByteLength(dataType, count) : count;
  if (entries.length !== expected) {
    throw new GraphValidationError(
      `${label} (${dataTypeName(dataType)}, ${count} elements) needs ${expected} ${field} entries but has ${entries.length}`,
    );
  }
  if (field === 'int64_data' || field === 'uint64_data') {
    const big = entries as bigint[];
    if (dataType === DataType.INT64 || dataType === DataType.UINT64) return { kind: 'bigint', get: (i) => big[i]! };
    return { kind: 'number', get: (i) => Number(big[i]!) };
  }
  const numbers = entries as number[];
  if (isSubByte(dataType)) {
    const bits = dataTypeInfo(dataType)!.bits;
    const packed = (i: number): number => numbers[i]!;
    if (dataType === DataType.FLOAT4E2M1) {
      return { kind: 'number', get: (i) => floatBitsToNumber(dataType, unpackSubByte(packed, i, bits, false))! };
    }
    return { kind: 'number', get: (i) => unpackSubByte(packed, i, bits, isSignedSubByte(dataType)) };
  }
  if (floatBitsToNumber(dataType, 0) !== undefined) {
    const mask = dataTypeInfo(dataType)!.bits === 16 ? 0xffff : 0xff;
    return { kind: 'number', get: (i) => floatBitsToNumber(dataType, numbers[i]! & mask)! };
  }
  return { kind: 'number', get: (i) => numbers[i]! };
}

/**
 * An element reader for an in-memory tensor, or undefined when the dtype has no numeric elements
 * (STRING, COMPLEX*, UNDEFINED, unknown codes). Throws GraphValidationError when the data's length
 * does not match the dims.
 */
export function elementReader(proto: TensorProto, count: number, label: string): ElementReader | undefined {
  return proto.raw_data !== undefined
    ? rawReader(proto, proto.raw_data, count, label)
    : typedReader(proto, count, label);
}

/** Fast path: float32 raw_data copied straight into a Float32Array (no per-element decode). */
export function rawFloat32Copy(raw: Uint8Array, count: number): Float32Array | undefined {
  if (!HOST_IS_LITTLE_ENDIAN || raw.byteLength !== count * 4) return undefined;
  const copy = new Uint8Array(count * 4);
  copy.set(raw);
  return new Float32Array(copy.buffer);
}

/** Little-endian bytes of fixed-width elements, written with the given DataView setter. */
export function encodeLittleEndian(
  count: number,
  bytesPerElement: number,
  write: (view: DataView, offset: number, i: number) => void,
): Uint8Array {
  const bytes = new Uint8Array(count * bytesPerElement);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < count; i++) write(view, i * bytesPerElement, i);
  return bytes;
}
