/**
 * No silent change on save: what protobuf reads from odd but legal bytes, vitlin reads the same way, and a
 * re-save (codec alone, or through the IR) gives the other readers — protobufjs, onnxruntime — the same
 * model. Hand-built bytes (the independent writer in fixtures.ts), never our encoder's output.
 */
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { OnnxEncodeError } from '../../graph-rewrite/errors.js';
import { decodeModelProto } from '../../graph-rewrite/serde/decode.js';
import { encodeModelProtoToBytes } from '../../graph-rewrite/serde/encode.js';
import { loadModel, modelToBytes } from '../../src/index.js';
import {
  fixed32Field, lenField, make, matMulAddModel, runModel, stringField, tag, varint, varintField,
} from './fixtures.js';

const u32 = (bits: number): number[] => [...new Uint8Array(new Uint32Array([bits]).buffer)];
const u64 = (bits: bigint): number[] => [...new Uint8Array(new BigUint64Array([bits]).buffer)];

/** A dimension written as given: fields in wire order, e.g. dim_param then dim_value. */
const dim = (...fields: number[][]): number[] => lenField(1, fields.flat());
const tensorType = (elemType: number, dims: number[][]): number[] =>
  lenField(1, [...varintField(1, elemType), ...lenField(2, dims.flat())]); // TypeProto.tensor_type
const valueInfo = (name: string, type: number[]): number[] => [...stringField(1, name), ...lenField(2, type)];

type Fields = [number, number[]][];
/** Fields in field-number order (stable), as protobuf writers emit them. */
const ordered = (fields: Fields): number[] => [...fields].sort((x, y) => x[0] - y[0]).flatMap(([, bytes]) => bytes);
const field = (bytes: number[]): [number, number[]] => [Number(BigInt(bytes[0]!) >> 3n) || 16, bytes]; // tags here are 1 byte, or field 16+

/** Identity X → Y as bytes; `extra` goes into ModelProto, `graphExtra` into GraphProto, `nodeExtra` into the node. */
function identityModel(options: { inputDims?: number[][]; ir?: number; extra?: number[][]; graphExtra?: number[][]; nodeExtra?: number[][] } = {}): Uint8Array {
  const dims = options.inputDims ?? [dim(varintField(1, 3))];
  const node = ordered([
    [1, stringField(1, 'X')], [2, stringField(2, 'Y')], [4, stringField(4, 'Identity')], ...(options.nodeExtra ?? []).map(field),
  ]);
  const graph = ordered([
    [1, lenField(1, node)], [2, stringField(2, 'g')],
    [11, lenField(11, valueInfo('X', tensorType(1, dims)))], [12, lenField(12, valueInfo('Y', tensorType(1, dims)))],
    ...(options.graphExtra ?? []).map(field),
  ]);
  return new Uint8Array(ordered([
    [1, varintField(1, options.ir ?? 8)], [7, lenField(7, graph)], [8, lenField(8, varintField(2, 17))], ...(options.extra ?? []).map(field),
  ]));
}

/** Decodes with protobufjs (onnx-proto), an independent reader. */
const otherReader = (bytes: Uint8Array) => onnxProto.onnx.ModelProto.decode(bytes);

/** Re-saves both ways: the codec alone, and through the IR (loadModel → modelToBytes). */
async function resaved(bytes: Uint8Array): Promise<{ codec: Uint8Array; ir: Uint8Array; warnings: string[] }> {
  const warnings: string[] = [];
  const codec = encodeModelProtoToBytes(decodeModelProto(bytes, { onWarning: (m) => warnings.push(m) }));
  const ir = modelToBytes(await loadModel(bytes, { onWarning: () => {} }));
  return { codec, ir, warnings };
}

async function ortInputShape(bytes: Uint8Array): Promise<unknown> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    return (session.inputMetadata[0] as { shape?: unknown }).shape;
  } finally {
    await session.release();
  }
}

describe('oneofs: the member read last is the one kept, and the only one written', () => {
  it('TensorShapeProto.Dimension with dim_param then dim_value stays [3] for every reader after a re-save', async () => {
    const bytes = identityModel({ inputDims: [dim(stringField(2, 'N'), varintField(1, 3))] });
    expect(await ortInputShape(bytes)).toEqual([3]);
    expect(decodeModelProto(bytes).graph!.input[0]!.type!.tensor_type!.shape!.dim[0]).toEqual({ dim_value: 3n });
    const { codec, ir } = await resaved(bytes);
    for (const out of [codec, ir]) {
      expect(await ortInputShape(out)).toEqual([3]);
      const seen = otherReader(out).graph!.input![0]!.type!.tensorType!.shape!.dim![0]!;
      expect((seen as { value?: string }).value).toBe('dimValue');
      expect(Number(seen.dimValue)).toBe(3);
    }
  });

  it('dim_value then dim_param stays the name', async () => {
    const bytes = identityModel({ inputDims: [dim(varintField(1, 3), stringField(2, 'N'))] });
    expect(await ortInputShape(bytes)).toEqual(['N']);
    const { codec, ir } = await resaved(bytes);
    for (const out of [codec, ir]) expect(await ortInputShape(out)).toEqual(['N']);
  });

  it('TypeProto: a sequence_type after a tensor_type replaces it', async () => {
    const sequenceOfFloat = lenField(4, lenField(1, tensorType(1, []))); // TypeProto.sequence_type.elem_type
    const bytes = identityModel({ graphExtra: [lenField(13, valueInfo('Z', [...tensorType(7, [dim(varintField(1, 2))]), ...sequenceOfFloat]))] });
    const type = decodeModelProto(bytes).graph!.value_info[0]!.type!;
    expect(type.tensor_type).toBeUndefined();
    expect(type.sequence_type?.elem_type?.tensor_type?.elem_type).toBe(1);
    const { codec, ir } = await resaved(bytes);
    for (const out of [codec, ir]) {
      const seen = otherReader(out).graph!.valueInfo![0]!.type!;
      expect((seen as { value?: string }).value).toBe('sequenceType');
      expect(seen.tensorType).toBeNull();
    }
  });

  it('AttributeProto is no oneof: f and i both set are both kept, byte for byte', async () => {
    const attribute = [...stringField(1, 'alpha'), ...fixed32Field(2, 0.5), ...varintField(3, 7), ...varintField(20, 1)];
    const bytes = identityModel({ nodeExtra: [lenField(5, attribute)] });
    const { codec, ir } = await resaved(bytes);
    expect(codec).toStrictEqual(bytes);
    expect(ir).toStrictEqual(bytes);
  });

  it('the encoder refuses a message with two members of a oneof set, naming both', () => {
    const model = matMulAddModel();
    model.graph!.input[0]!.type!.tensor_type!.shape!.dim[0] = { dim_value: 3n, dim_param: 'N' };
    expect(() => encodeModelProtoToBytes(model)).toThrow(OnnxEncodeError);
    expect(() => encodeModelProtoToBytes(model)).toThrow(
      "cannot encode ModelProto.graph.input[0].type.tensor_type.shape.dim[0]: it has both 'dim_value' and 'dim_param' set, members of the oneof 'value'");
    model.graph!.input[0]!.type = make('TypeProto', { tensor_type: { elem_type: 1 }, sequence_type: {} });
    expect(() => encodeModelProtoToBytes(model)).toThrow("both 'tensor_type' and 'sequence_type'");
  });
});

describe('NaN bits survive a re-save', () => {
  const SNAN32 = 0x7f800001;
  const PAYLOAD32 = 0xffc00abc; // negative quiet NaN with a payload
  const SNAN64 = 0x7ff0000000000001n;
  // TensorProto with packed float_data, unpacked float_data, packed double_data; an attribute f.
  const floats = [...tag(4, 2), ...varint(12), ...u32(SNAN32), ...u32(PAYLOAD32), ...u32(0x3f800000)];
  const unpacked = [...tag(4, 5), ...u32(SNAN32)];
  const doubles = [...tag(10, 2), ...varint(16), ...u64(SNAN64), ...u64(0x7ff8000000000000n)];
  const tensor = (name: string, dataType: number, count: number, data: number[][]) =>
    lenField(5, ordered([[1, varintField(1, count)], [2, varintField(2, dataType)], [8, stringField(8, name)], ...data.map(field)]));
  const attribute = [...stringField(1, 'alpha'), ...tag(2, 5), ...u32(SNAN32), ...varintField(20, 1)];
  const bytes = identityModel({
    graphExtra: [tensor('F', 1, 4, [floats, unpacked]), tensor('D', 11, 2, [doubles])],
    nodeExtra: [lenField(5, attribute)],
  });

  it('float_data, double_data and float attributes keep signalling NaNs and payloads, codec and IR alike', async () => {
    const { codec, ir } = await resaved(bytes);
    // The unpacked float_data element comes back packed with the others: the same values, bits included.
    const packedTogether = identityModel({
      graphExtra: [
        tensor('F', 1, 4, [[...tag(4, 2), ...varint(16), ...u32(SNAN32), ...u32(PAYLOAD32), ...u32(0x3f800000), ...u32(SNAN32)]]),
        tensor('D', 11, 2, [doubles]),
      ],
      nodeExtra: [lenField(5, attribute)],
    });
    expect(codec).toStrictEqual(packedTogether);
    expect(ir).toStrictEqual(packedTogether);
  });

  it('a NaN the caller replaced is written as the caller\'s value', () => {
    const model = decodeModelProto(bytes);
    model.graph!.initializer[0]!.float_data[0] = 2;
    const again = decodeModelProto(encodeModelProtoToBytes(model));
    expect(again.graph!.initializer[0]!.float_data[0]).toBe(2);
    expect(again.graph!.initializer[0]!.$nanBits).toEqual({ 'float_data.1': PAYLOAD32, 'float_data.3': SNAN32 });
  });
});

describe('what protobuf and onnxruntime accept is read, kept and warned about', () => {
  const latin1 = [0x63, 0x61, 0x66, 0xe9, 0x20, 0xff, 0x41]; // "café" in Latin-1, a stray 0xFF, "A"

  it('a Latin-1 doc_string and node name load with a warning and re-save byte for byte', async () => {
    const bytes = identityModel({ extra: [lenField(6, latin1)], nodeExtra: [lenField(3, [0x6e, 0xe9])] });
    expect(await ortInputShape(bytes)).toEqual([3]); // onnxruntime loads it
    const { codec, ir, warnings } = await resaved(bytes);
    expect(codec).toStrictEqual(bytes);
    expect(ir).toStrictEqual(bytes);
    expect(warnings).toEqual(['<bytes>: 2 string fields not valid UTF-8, kept byte for byte (first ModelProto.doc_string at byte 4)']);
    const model = decodeModelProto(bytes);
    expect(model.doc_string).toBe('caf\udce9 \udcffA'); // readable where it can be; the bad bytes as U+DC80+byte
  });

  it('valid UTF-8 next to invalid bytes (a 3-byte sequence cut short, an encoded surrogate, an overlong) round-trips', () => {
    for (const text of [[0xe2, 0x82, 0x41], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xf0, 0x9f, 0x98, 0x80, 0xf0, 0x9f]]) {
      const bytes = identityModel({ extra: [lenField(6, text)] });
      expect(encodeModelProtoToBytes(decodeModelProto(bytes, { onWarning: () => {} }))).toStrictEqual(bytes);
    }
  });

  it('a known field with an unexpected wire type is kept as an unknown field, in place', async () => {
    // producer_name (a string) as a varint; GraphProto.name as fixed32; NodeProto.input as a varint.
    const bytes = identityModel({ extra: [varintField(2, 5)], graphExtra: [fixed32Field(2, 1)], nodeExtra: [varintField(1, 9)] });
    expect(await ortInputShape(bytes)).toEqual([3]);
    const { codec, ir, warnings } = await resaved(bytes);
    expect(codec).toStrictEqual(bytes);
    expect(ir).toStrictEqual(bytes);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^<bytes>: 3 known fields with an unexpected wire type, kept as unknown fields \(first ModelProto\.producer_name at byte 2: wire type 0 \(varint\), expected length-delimited\)$/);
    const model = decodeModelProto(bytes, { onWarning: () => {} });
    expect(model.producer_name).toBeUndefined();
    expect(model.$unknown).toEqual([new Uint8Array(varintField(2, 5))]);
  });

  it.each([1, 2, 13, 14])('IR version %i loads (with a warning before IR 3) and re-saves byte for byte', async (ir) => {
    const bytes = identityModel({ ir });
    const { codec, ir: throughIr, warnings } = await resaved(bytes);
    expect(codec).toStrictEqual(bytes);
    expect(throughIr).toStrictEqual(bytes);
    expect(warnings).toEqual(ir < 3 ? [`<bytes>: ONNX IR version ${ir} is a pre-release version (read as it is; onnxruntime runs it too)`] : []);
    if (ir === 14) return; // onnxruntime 1.30 runs up to IR 13
    const x = new ort.Tensor('float32', Float32Array.from([1, 2, 3]), [3]);
    expect(Array.from((await runModel(throughIr, { X: x })).Y!.data as Float32Array)).toEqual([1, 2, 3]);
  });
});
