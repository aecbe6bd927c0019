/**
 * ONNX tensor element types: names, storage widths, and bit-exact decoders for the small float
 * formats (float16, bfloat16, float8 variants, float4, e8m0) that JavaScript has no typed array for.
 */

import { DataType } from '../serde/onnx-schema.js';

export { DataType };

/** Numeric code of an ONNX element type (`TensorProto.DataType`). */
export type DataTypeCode = number;

/** The typed repeated field of TensorProto that holds a dtype's elements when raw_data is not used. */
export type TypedDataField = 'float_data' | 'int32_data' | 'int64_data' | 'double_data' | 'uint64_data' | 'string_data';

export interface DataTypeInfo {
  readonly name: string;
  /** Bits one element takes in raw_data (0 for STRING and UNDEFINED, which have no fixed width). */
  readonly bits: number;
  /** Where the elements live when they are not in raw_data. */
  readonly field: TypedDataField | undefined;
  /** Field entries per element: 2 for complex numbers (real, imaginary). */
  readonly entriesPerElement: number;
}

const info = (name: string, bits: number, field: TypedDataField | undefined, entriesPerElement = 1): DataTypeInfo =>
  ({ name, bits, field, entriesPerElement });

const DATA_TYPE_INFO: ReadonlyMap<number, DataTypeInfo> = new Map([
  [DataType.UNDEFINED, info('UNDEFINED', 0, undefined)],
  [DataType.FLOAT, info('FLOAT', 32, 'float_data')],
  [DataType.UINT8, info('UINT8', 8, 'int32_data')],
  [DataType.INT8, info('INT8', 8, 'int32_data')],
  [DataType.UINT16, info('UINT16', 16, 'int32_data')],
  [DataType.INT16, info('INT16', 16, 'int32_data')],
  [DataType.INT32, info('INT32', 32, 'int32_data')],
  [DataType.INT64, info('INT64', 64, 'int64_data')],
  [DataType.STRING, info('STRING', 0, 'string_data')],
  [DataType.BOOL, info('BOOL', 8, 'int32_data')],
  [DataType.FLOAT16, info('FLOAT16', 16, 'int32_data')],
  [DataType.DOUBLE, info('DOUBLE', 64, 'double_data')],
  [DataType.UINT32, info('UINT32', 32, 'uint64_data')],
  [DataType.UINT64, info('UINT64', 64, 'uint64_data')],
  [DataType.COMPLEX64, info('COMPLEX64', 64, 'float_data', 2)],
  [DataType.COMPLEX128, info('COMPLEX128', 128, 'double_data', 2)],
  [DataType.BFLOAT16, info('BFLOAT16', 16, 'int32_data')],
  [DataType.FLOAT8E4M3FN, info('FLOAT8E4M3FN', 8, 'int32_data')],
  [DataType.FLOAT8E4M3FNUZ, info('FLOAT8E4M3FNUZ', 8, 'int32_data')],
  [DataType.FLOAT8E5M2, info('FLOAT8E5M2', 8, 'int32_data')],
  [DataType.FLOAT8E5M2FNUZ, info('FLOAT8E5M2FNUZ', 8, 'int32_data')],
  [DataType.UINT4, info('UINT4', 4, 'int32_data')],
  [DataType.INT4, info('INT4', 4, 'int32_data')],
  [DataType.FLOAT4E2M1, info('FLOAT4E2M1', 4, 'int32_data')],
  [DataType.FLOAT8E8M0, info('FLOAT8E8M0', 8, 'int32_data')],
  [DataType.UINT2, info('UINT2', 2, 'int32_data')],
  [DataType.INT2, info('INT2', 2, 'int32_data')],
]);

/** Facts about an element type, or undefined for a code this version does not know. */
export function dataTypeInfo(dataType: DataTypeCode): DataTypeInfo | undefined {
  return DATA_TYPE_INFO.get(dataType);
}

/** `FLOAT16`, `INT4`, … or `DataType(99)` for an unknown code: for error messages. */
export function dataTypeName(dataType: DataTypeCode | undefined): string {
  if (dataType === undefined) return 'UNDEFINED';
  return DATA_TYPE_INFO.get(dataType)?.name ?? `DataType(${dataType})`;
}

/** Sub-byte types pack several elements in a byte, first element in the least significant bits. */
export function isSubByte(dataType: DataTypeCode): boolean {
  const bits = DATA_TYPE_INFO.get(dataType)?.bits ?? 0;
  return bits > 0 && bits < 8;
}

export function isIntegerType(dataType: DataTypeCode): boolean {
  switch (dataType) {
    case DataType.UINT8: case DataType.INT8: case DataType.UINT16: case DataType.INT16:
    case DataType.INT32: case DataType.INT64: case DataType.UINT32: case DataType.UINT64:
    case DataType.BOOL: case DataType.UINT4: case DataType.INT4: case DataType.UINT2: case DataType.INT2:
      return true;
    default:
      return false;
  }
}

// Scratch buffers for bit-casting 32-bit patterns to float32.
const scratchU32 = new Uint32Array(1);
const scratchF32 = new Float32Array(scratchU32.buffer);

/** IEEE 754 binary16 bit pattern → number. */
export function float16BitsToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** bfloat16 bit pattern (the upper half of a float32) → number. */
export function bfloat16BitsToNumber(bits: number): number {
  scratchU32[0] = (bits & 0xffff) << 16;
  return scratchF32[0]!;
}

interface MiniFloatFormat {
  readonly exponentBits: number;
  readonly mantissaBits: number;
  readonly bias: number;
  /** How NaN and infinity are encoded (the formats differ exactly here). */
  readonly special: 'ieee' | 'fn' | 'fnuz' | 'none';
}

function miniFloatToNumber(bits: number, format: MiniFloatFormat): number {
  const { exponentBits, mantissaBits, bias, special } = format;
  const signBit = 1 << (exponentBits + mantissaBits);
  const exponentMax = (1 << exponentBits) - 1;
  const mantissaMax = (1 << mantissaBits) - 1;
  if (special === 'fnuz' && bits === signBit) return NaN; // "negative zero" is NaN in the uz formats
  const sign = bits & signBit ? -1 : 1;
  const exponent = (bits >> mantissaBits) & exponentMax;
  const mantissa = bits & mantissaMax;
  if (special === 'ieee' && exponent === exponentMax) return mantissa === 0 ? sign * Infinity : NaN;
  if (special === 'fn' && exponent === exponentMax && mantissa === mantissaMax) return NaN;
  if (exponent === 0) return sign * mantissa * 2 ** (1 - bias - mantissaBits);
  return sign * (1 + mantissa / (1 << mantissaBits)) * 2 ** (exponent - bias);
}

const MINI_FLOATS: ReadonlyMap<number, MiniFloatFormat> = new Map([
  [DataType.FLOAT8E4M3FN, { exponentBits: 4, mantissaBits: 3, bias: 7, special: 'fn' }],
  [DataType.FLOAT8E4M3FNUZ, { exponentBits: 4, mantissaBits: 3, bias: 8, special: 'fnuz' }],
  [DataType.FLOAT8E5M2, { exponentBits: 5, mantissaBits: 2, bias: 15, special: 'ieee' }],
  [DataType.FLOAT8E5M2FNUZ, { exponentBits: 5, mantissaBits: 2, bias: 16, special: 'fnuz' }],
  [DataType.FLOAT4E2M1, { exponentBits: 2, mantissaBits: 1, bias: 1, special: 'none' }],
] satisfies [number, MiniFloatFormat][]);

/**
 * Decodes one element's bit pattern of a float type stored as an integer pattern (FLOAT16,
 * BFLOAT16, FLOAT8*, FLOAT4E2M1, FLOAT8E8M0). Returns undefined for any other dtype.
 */
export function floatBitsToNumber(dataType: DataTypeCode, bits: number): number | undefined {
  if (dataType === DataType.FLOAT16) return float16BitsToNumber(bits);
  if (dataType === DataType.BFLOAT16) return bfloat16BitsToNumber(bits);
  if (dataType === DataType.FLOAT8E8M0) return bits === 0xff ? NaN : 2 ** (bits - 127);
  const format = MINI_FLOATS.get(dataType);
  return format === undefined ? undefined : miniFloatToNumber(bits, format);
}

/** Reads sub-byte element `index` (of `bits` width, signed or not) from packed bytes. */
export function unpackSubByte(packed: (i: number) => number, index: number, bits: number, signed: boolean): number {
  const perByte = 8 / bits;
  const byte = packed(Math.floor(index / perByte)) & 0xff;
  const shift = (index % perByte) * bits;
  const raw = (byte >> shift) & ((1 << bits) - 1);
  return signed && raw >= 1 << (bits - 1) ? raw - (1 << bits) : raw;
}

/** Whether this machine stores numbers little-endian, as ONNX raw_data does. */
export const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
