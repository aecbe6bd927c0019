import { describe, expect, it } from 'vitest';
import { decodeMessage, decodeModelProto } from '../../graph-rewrite/serde/decode.js';
import {
  ZERO_COPY_MIN_BYTES, concatChunks, encodeMessage, encodeModelProto, encodeModelProtoToBytes,
} from '../../graph-rewrite/serde/encode.js';
import { DataType, ONNX_SCHEMA, type MessageName } from '../../graph-rewrite/serde/onnx-schema.js';
import { everyFieldModel } from './every-field-model.js';
import {
  bytesOf, f32Bytes, fixed32Field, fixed64Field, lenField, make, model, stringField, tag, varint, varintField,
} from './fixtures.js';

/** Every (message, field) pair set to a non-empty value somewhere in the tree. */
function fieldsSet(name: MessageName, msg: Record<string, unknown>, seen = new Set<string>()): Set<string> {
  for (const spec of Object.values(ONNX_SCHEMA[name])) {
    const value = msg[spec.name];
    if (value === undefined || (Array.isArray(value) && value.length === 0)) continue;
    seen.add(`${name}.${spec.name}`);
    if (spec.message === undefined) continue;
    for (const child of Array.isArray(value) ? value : [value]) fieldsSet(spec.message, child as Record<string, unknown>, seen);
  }
  return seen;
}

describe('round trip of every message and field', () => {
  const original = everyFieldModel();
  const bytes = encodeModelProtoToBytes(original);

  it('the fixture sets every field of every message in the table', () => {
    const all = Object.entries(ONNX_SCHEMA).flatMap(([name, schema]) => Object.values(schema).map((f) => `${name}.${f.name}`));
    const missing = all.filter((field) => !fieldsSet('ModelProto', original as never).has(field));
    expect(missing).toEqual([]);
  });

  it('decode(encode(x)) deep-equals x', () => {
    expect(decodeModelProto(bytes)).toStrictEqual(original);
  });

  it('encode(decode(bytes)) reproduces the bytes exactly', () => {
    expect(encodeModelProtoToBytes(decodeModelProto(bytes))).toStrictEqual(bytes);
  });

  it('keeps unknown fields as raw bytes where they were', () => {
    const decoded = decodeModelProto(bytes);
    expect(decoded.$unknown).toStrictEqual([new Uint8Array(stringField(1000, 'from a newer ONNX'))]);
    expect(decoded.graph!.node[0]!.$unknown).toStrictEqual([new Uint8Array(varintField(99, 5))]);
  });

  it('every message round-trips alone through encodeMessage/decodeMessage', () => {
    const tensor = original.graph!.initializer[5]!;
    expect(decodeMessage('TensorProto', encodeMessage('TensorProto', tensor))).toStrictEqual(tensor);
    const fn = original.functions[0]!;
    expect(decodeMessage('FunctionProto', encodeMessage('FunctionProto', fn))).toStrictEqual(fn);
  });
});

describe('wire format details', () => {
  it.each([
    // [description, message, object, exact bytes]
    ['dims unpacked, float_data packed (as onnx.proto declares)', 'TensorProto' as const,
      make('TensorProto', { dims: [2n, 3n], float_data: [1] }), [...varintField(1, 2), ...varintField(1, 3), ...lenField(4, f32Bytes([1]))]],
    ['negative int32 as a 10-byte varint', 'TensorProto' as const,
      make('TensorProto', { data_type: -1 }), [...tag(2, 0), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]],
    ['int64 minimum', 'OperatorSetIdProto' as const, { version: -(2n ** 63n) }, varintField(2, -(2n ** 63n))],
    ['uint64 maximum packed', 'TensorProto' as const, make('TensorProto', { uint64_data: [2n ** 64n - 1n] }), lenField(11, varint(2n ** 64n - 1n))],
    ['attribute ints unpacked', 'AttributeProto' as const, make('AttributeProto', { ints: [1n, -1n] }), [...varintField(8, 1), ...varintField(8, -1)]],
    ['present-but-empty string and bytes are written', 'TensorProto' as const,
      make('TensorProto', { name: '', raw_data: new Uint8Array(0) }), [...lenField(8, []), ...lenField(9, [])]],
    ['UTF-8 with a leading BOM kept', 'StringStringEntryProto' as const, { key: '\uFEFFé😀' }, stringField(1, '\uFEFFé😀')],
    ['fields in field-number order', 'ModelProto' as const, make('ModelProto', { opset_import: [{ version: 17n }], ir_version: 8n }),
      [...varintField(1, 8), ...lenField(8, varintField(2, 17))]],
  ])('%s', (_, name, obj, expected) => {
    const encoded = encodeMessage(name, obj as never);
    expect(Array.from(encoded)).toEqual(expected);
    expect(decodeMessage(name, encoded)).toStrictEqual(obj);
  });

  it.each([
    ['TensorProto.dims', 'TensorProto' as const, 1, [5n, 7n], 'int64'],
    ['TensorProto.float_data', 'TensorProto' as const, 4, [0.5, -2], 'float'],
    ['TensorProto.double_data', 'TensorProto' as const, 10, [0.1, -0], 'double'],
    ['TensorProto.int32_data', 'TensorProto' as const, 5, [-3, 300], 'int32'],
    ['AttributeProto.ints', 'AttributeProto' as const, 8, [-1n, 2n ** 40n], 'int64'],
    ['AttributeProto.floats', 'AttributeProto' as const, 7, [1.25], 'float'],
  ])('%s decodes the same packed and unpacked', (_, name, field, values, kind) => {
    const one = (v: number | bigint): number[] => (kind === 'float' ? fixed32Field(field, v as number).slice(tag(field, 5).length)
      : kind === 'double' ? fixed64Field(field, v as number).slice(tag(field, 1).length) : varint(v));
    const wire = kind === 'float' ? 5 : kind === 'double' ? 1 : 0;
    const unpacked = values.flatMap((v) => [...tag(field, wire), ...one(v)]);
    const packed = lenField(field, values.flatMap(one));
    const fieldName = ONNX_SCHEMA[name][field]!.name;
    for (const bytes of [unpacked, packed, [...packed, ...unpacked]]) {
      const decoded = decodeMessage(name, new Uint8Array(bytes)) as unknown as Record<string, unknown>;
      expect(decoded[fieldName]).toEqual(bytes.length > packed.length && bytes.length > unpacked.length ? [...values, ...values] : values);
    }
  });

  it('a repeated singular message merges and a repeated singular scalar keeps the last (protobuf rules)', () => {
    const bytes = new Uint8Array([
      ...varintField(1, 7), ...varintField(1, 8),
      ...lenField(7, stringField(2, 'first')), ...lenField(7, stringField(10, 'doc')),
    ]);
    const decoded = decodeModelProto(bytes);
    expect(decoded.ir_version).toBe(8n);
    expect(decoded.graph).toMatchObject({ name: 'first', doc_string: 'doc' });
  });

  it('unknown fields of every wire type survive re-encoding byte for byte, in field-number order', () => {
    const group = [...tag(40, 3), ...varintField(1, 1), ...tag(2, 3), ...tag(2, 4), ...tag(40, 4)];
    const graph = [...stringField(2, 'g'), ...fixed32Field(3, 1.5), ...fixed64Field(4, 2.5), ...stringField(10, 'doc'), ...lenField(17, [1, 2, 3])];
    const bytes = new Uint8Array([
      ...varintField(1, 9), ...lenField(7, graph), ...group, ...varintField(41, 2n ** 63n), ...lenField(1000, [0xff]),
    ]);
    const decoded = decodeModelProto(bytes);
    expect(decoded.$unknown).toHaveLength(3);
    expect(decoded.graph!.$unknown).toHaveLength(3);
    expect(decoded.graph!.name).toBe('g');
    expect(encodeModelProtoToBytes(decoded)).toStrictEqual(bytes);
  });

  it('unknown fields out of field-number order keep their order (emitted last) and round-trip', () => {
    const bytes = new Uint8Array([...varintField(1, 9), ...varintField(60, 1), ...lenField(7, []), ...varintField(50, 2)]);
    const decoded = decodeModelProto(bytes);
    expect(decoded.$unknown).toStrictEqual([new Uint8Array(varintField(60, 1)), new Uint8Array(varintField(50, 2))]);
    const reencoded = encodeModelProtoToBytes(decoded);
    expect(Array.from(reencoded)).toEqual([...varintField(1, 9), ...lenField(7, []), ...varintField(60, 1), ...varintField(50, 2)]);
    expect(decodeModelProto(reencoded)).toStrictEqual(decoded);
  });

  it('bytes fields are zero-copy views, and large ones are emitted as their own chunk', () => {
    const raw = new Uint8Array(ZERO_COPY_MIN_BYTES * 4).map((_, i) => i % 251);
    const m = model(make('GraphProto', {
      name: 'g', initializer: [make('TensorProto', { name: 'w', data_type: DataType.UINT8, dims: [BigInt(raw.length)], raw_data: raw })],
    }));
    const chunks = encodeModelProto(m);
    expect(chunks.some((chunk) => chunk === raw)).toBe(true);
    const bytes = concatChunks(chunks);
    const decoded = decodeModelProto(bytes);
    const view = decoded.graph!.initializer[0]!.raw_data!;
    expect(view.buffer).toBe(bytes.buffer);
    expect(Buffer.from(view.buffer, view.byteOffset, view.byteLength).equals(raw)).toBe(true);
  });

  it('a Buffer input decodes to plain Uint8Array views', () => {
    const bytes = Buffer.from(encodeModelProtoToBytes(model(make('GraphProto', {
      initializer: [make('TensorProto', { name: 'b', raw_data: bytesOf(1, 2) })],
    }))));
    const raw = decodeModelProto(bytes).graph!.initializer[0]!.raw_data!;
    expect(Object.getPrototypeOf(raw)).toBe(Uint8Array.prototype);
  });
});
