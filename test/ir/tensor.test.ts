/** Tensor data access: dtype conversions against known bit patterns, constructors, typed errors. */
import { describe, expect, test } from 'vitest';
import { ExternalDataError, GraphValidationError, InvalidArgumentError } from '../../graph-rewrite/errors.js';
import { Tensor } from '../../graph-rewrite/ir/index.js';
import { DataLocation, DataType, type TensorProto } from '../../graph-rewrite/serde/onnx-schema.js';
import { bytes, kv, make } from './helpers.js';

const u16le = (...patterns: number[]): Uint8Array => new Uint8Array(new Uint16Array(patterns).buffer);
const tensor = (dataType: number, count: number, fields: Partial<TensorProto>): Tensor =>
  Tensor.fromProto(make('TensorProto', { name: 't', data_type: dataType, dims: [BigInt(count)], ...fields }));

/** [dtype, bit patterns, expected values] — read both from raw_data and from int32_data. */
const KNOWN_PATTERNS: [string, number, number[], number[]][] = [
  ['FLOAT16', DataType.FLOAT16, [0x3c00, 0xc000, 0x7bff, 0x0001, 0x0400, 0x8000, 0x7c00, 0xfc00, 0x3555],
    [1, -2, 65504, 2 ** -24, 2 ** -14, -0, Infinity, -Infinity, 0.333251953125]],
  ['BFLOAT16', DataType.BFLOAT16, [0x3f80, 0xc040, 0x7f80, 0xff80, 0x0001, 0x4049, 0x8000],
    [1, -3, Infinity, -Infinity, 2 ** -133, 3.140625, -0]],
  ['FLOAT8E4M3FN', DataType.FLOAT8E4M3FN, [0x38, 0x7e, 0x01, 0xb8, 0x08, 0x80], [1, 448, 2 ** -9, -1, 2 ** -6, -0]],
  ['FLOAT8E4M3FNUZ', DataType.FLOAT8E4M3FNUZ, [0x40, 0x7f, 0x01, 0xc0], [1, 240, 2 ** -10, -1]],
  ['FLOAT8E5M2', DataType.FLOAT8E5M2, [0x3c, 0x7b, 0x7c, 0xfc, 0x01], [1, 57344, Infinity, -Infinity, 2 ** -16]],
  ['FLOAT8E5M2FNUZ', DataType.FLOAT8E5M2FNUZ, [0x40, 0x7f, 0x01], [1, 57344, 2 ** -17]],
  ['FLOAT8E8M0', DataType.FLOAT8E8M0, [127, 128, 0, 254], [1, 2, 2 ** -127, 2 ** 127]],
];

const NAN_PATTERNS: [string, number, number[]][] = [
  ['FLOAT16', DataType.FLOAT16, [0x7e00, 0xfc01]],
  ['BFLOAT16', DataType.BFLOAT16, [0x7fc0]],
  ['FLOAT8E4M3FN', DataType.FLOAT8E4M3FN, [0x7f, 0xff]],
  ['FLOAT8E4M3FNUZ', DataType.FLOAT8E4M3FNUZ, [0x80]],
  ['FLOAT8E5M2', DataType.FLOAT8E5M2, [0x7d, 0xff]],
  ['FLOAT8E5M2FNUZ', DataType.FLOAT8E5M2FNUZ, [0x80]],
  ['FLOAT8E8M0', DataType.FLOAT8E8M0, [0xff]],
];

describe('toFloat32Array', () => {
  test.each(KNOWN_PATTERNS)('%s from raw_data and from int32_data', (_, dataType, patterns, expected) => {
    const raw = dataType === DataType.FLOAT16 || dataType === DataType.BFLOAT16 ? u16le(...patterns) : Uint8Array.from(patterns);
    expect(tensor(dataType, patterns.length, { raw_data: raw }).toFloat32Array()).toEqual(Float32Array.from(expected));
    expect(tensor(dataType, patterns.length, { int32_data: patterns }).toFloat32Array()).toEqual(Float32Array.from(expected));
  });

  test.each(NAN_PATTERNS)('%s NaN patterns', (_, dataType, patterns) => {
    const values = tensor(dataType, patterns.length, { int32_data: patterns }).toFloat32Array();
    expect([...values].every(Number.isNaN)).toBe(true);
  });

  test('FLOAT4E2M1: every nibble, packed two per byte, low nibble first', () => {
    const packed = Uint8Array.from({ length: 8 }, (_, i) => (2 * i) | ((2 * i + 1) << 4));
    expect(tensor(DataType.FLOAT4E2M1, 16, { raw_data: packed }).toFloat32Array()).toEqual(
      Float32Array.from([0, 0.5, 1, 1.5, 2, 3, 4, 6, -0, -0.5, -1, -1.5, -2, -3, -4, -6]));
  });

  test.each<[string, number, Partial<TensorProto>, number, number[]]>([
    ['INT4 raw (odd count: the last byte is half used)', DataType.INT4, { raw_data: bytes(0x7f, 0x08) }, 3, [-1, 7, -8]],
    ['UINT4 raw', DataType.UINT4, { raw_data: bytes(0x7f, 0x08) }, 3, [15, 7, 8]],
    ['INT4 int32_data (one packed byte per entry)', DataType.INT4, { int32_data: [0x7f, 0x08] }, 4, [-1, 7, -8, 0]],
    ['INT2 raw', DataType.INT2, { raw_data: bytes(0b11_10_01_00) }, 4, [0, 1, -2, -1]],
    ['DOUBLE', DataType.DOUBLE, { double_data: [0.1, -2.5] }, 2, [Math.fround(0.1), -2.5]],
    ['INT64 raw', DataType.INT64, { raw_data: new Uint8Array(new BigInt64Array([-3n, 2n ** 40n]).buffer) }, 2, [-3, 2 ** 40]],
    ['UINT32 uint64_data', DataType.UINT32, { uint64_data: [4294967295n] }, 1, [4294967296]],
    ['INT8 int32_data', DataType.INT8, { int32_data: [-128, 127] }, 2, [-128, 127]],
    ['BOOL raw', DataType.BOOL, { raw_data: bytes(1, 0, 1) }, 3, [1, 0, 1]],
    ['FLOAT float_data', DataType.FLOAT, { float_data: [1.5, -0] }, 2, [1.5, -0]],
  ])('%s', (_, dataType, fields, count, expected) => {
    expect(tensor(dataType, count, fields).toFloat32Array()).toEqual(Float32Array.from(expected));
  });

  test('float raw_data at an unaligned offset (a view into a model buffer) reads correctly', () => {
    const buffer = new Uint8Array(9);
    new DataView(buffer.buffer).setFloat32(1, 3.25, true);
    new DataView(buffer.buffer).setFloat32(5, -1, true);
    const values = tensor(DataType.FLOAT, 2, { raw_data: buffer.subarray(1) }).toFloat32Array();
    expect(values).toEqual(new Float32Array([3.25, -1]));
    values[0] = 0; // a fresh copy: the model's bytes are untouched
    expect(buffer[4]).not.toBe(0);
  });

  test.each<[string, Tensor, unknown]>([
    ['STRING', tensor(DataType.STRING, 1, { string_data: [bytes(1)] }), new InvalidArgumentError("tensor 't' has dtype STRING, which toFloat32Array cannot convert")],
    ['COMPLEX64', tensor(DataType.COMPLEX64, 1, { float_data: [1, 2] }), new InvalidArgumentError("tensor 't' has dtype COMPLEX64, which toFloat32Array cannot convert")],
    ['external data', tensor(DataType.FLOAT, 4, { data_location: DataLocation.EXTERNAL, external_data: [kv('location', 'w.bin')] }),
      new ExternalDataError("tensor 't' stores its data externally ('w.bin'); load the external data before toFloat32Array")],
    ['raw_data of the wrong length', tensor(DataType.FLOAT, 3, { raw_data: new Uint8Array(8) }),
      new GraphValidationError("tensor 't' (FLOAT, 3 elements) needs 12 bytes of raw_data but has 8")],
    ['too few typed entries', tensor(DataType.FLOAT16, 3, { int32_data: [0] }),
      new GraphValidationError("tensor 't' (FLOAT16, 3 elements) needs 3 int32_data entries but has 1")],
  ])('%s throws a typed error', (_, t, error) => {
    expect(() => t.toFloat32Array()).toThrow(error as Error);
    expect(() => t.toFloat32Array()).toThrow((error as Error).constructor as typeof Error);
  });
});

describe('integer access', () => {
  test('toBigInt64Array keeps int64 extremes; toNumberArray refuses unsafe ones', () => {
    const extremes = tensor(DataType.INT64, 3, { int64_data: [-(2n ** 63n), 2n ** 63n - 1n, 5n] });
    expect(extremes.toBigInt64Array()).toEqual(new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 5n]));
    expect(() => extremes.toNumberArray()).toThrow("tensor 't' element 0 (-9223372036854775808) is not a safe integer; use toBigInt64Array");
    expect(tensor(DataType.UINT64, 1, { uint64_data: [2n ** 64n - 1n] }).toBigInt64Array()).toEqual(new BigInt64Array([-1n]));
  });

  test('shape constants from int64 and int32, raw or typed', () => {
    expect(Tensor.fromInt64Array([1, -1, 768], [3]).toNumberArray()).toEqual([1, -1, 768]);
    expect(tensor(DataType.INT32, 2, { int32_data: [0, -2] }).toNumberArray()).toEqual([0, -2]);
    expect(tensor(DataType.INT32, 2, { int32_data: [0, -2] }).toBigInt64Array()).toEqual(new BigInt64Array([0n, -2n]));
    expect(() => tensor(DataType.FLOAT, 1, { float_data: [1] }).toBigInt64Array())
      .toThrow("tensor 't' has dtype FLOAT, which toBigInt64Array cannot convert (integers only)");
  });
});

describe('constructors and metadata', () => {
  test('fromFloat32Array writes little-endian raw_data with dims and name', () => {
    const t = Tensor.fromFloat32Array([1, -2, 0.5, 3], [2, 2], { name: 'w', docString: 'weights' });
    expect([t.name, t.dataType, t.dims, t.storage, t.byteLength, t.elementCount, t.docString]).toEqual(['w', DataType.FLOAT, [2, 2], 'raw', 16, 4, 'weights']);
    expect(t.rawData).toEqual(bytes(0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0, 0, 0, 0, 0x3f, 0, 0, 0x40, 0x40));
    expect(t.toProto()).toStrictEqual(make('TensorProto', { name: 'w', doc_string: 'weights', data_type: DataType.FLOAT, dims: [2n, 2n], raw_data: t.rawData! }));
  });

  test('a scalar has dims [] and one element', () => {
    const t = Tensor.fromInt64Array([42n], []);
    expect([t.dims, t.elementCount, t.byteLength, t.toNumberArray()]).toEqual([[], 1, 8, [42]]);
  });

  test.each<[string, () => unknown, string]>([
    ['dims that do not match the data', () => Tensor.fromFloat32Array([1, 2, 3], [2, 2]), "'dims' [2,2] describe 4 FLOAT elements (16 bytes) but the data has 12 bytes"],
    ['negative dims', () => Tensor.fromFloat32Array([], [-1]), "'dims' must be an array of non-negative integers, got [-1]"],
    ['a non-integer int64', () => Tensor.fromInt64Array([1.5], [1]), "'data'[0] must be an integer, got 1.5"],
    ['raw data for STRING', () => Tensor.fromRawData(DataType.STRING, [1], bytes(0)), "'dataType' STRING has no fixed-width raw form"],
  ])('refuses %s', (_, make, message) => {
    expect(make).toThrow(new InvalidArgumentError(message));
  });

  test('byteLength of sub-byte, string and external tensors; withName keeps the data', () => {
    expect(Tensor.fromRawData(DataType.INT4, [3], bytes(0x7f, 0x08)).byteLength).toBe(2);
    expect(tensor(DataType.STRING, 2, { string_data: [bytes(1, 2), bytes(3)] }).byteLength).toBe(3);
    const external = tensor(DataType.FLOAT, 4, {
      data_location: DataLocation.EXTERNAL, external_data: [kv('location', 'w.bin'), kv('offset', '64'), kv('length', '16')],
    });
    expect([external.storage, external.byteLength, external.externalData]).toEqual(['external', 16, { location: 'w.bin', offset: 64, length: 16, checksum: undefined }]);
    const fp16 = tensor(DataType.FLOAT16, 1, { raw_data: u16le(0x3c00), metadata_props: [kv('k', 'v')] });
    const renamed = fp16.withName('other');
    expect([renamed.name, renamed.rawData, [...renamed.metadataProps]]).toEqual(['other', fp16.rawData, [['k', 'v']]]);
    expect(fp16.name).toBe('t');
  });
});
