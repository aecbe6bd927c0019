/**
 * Hand-built ONNX protos for the serde tests, and a tiny independent protobuf writer (so tests that
 * check exact bytes do not depend on the encoder under test).
 */
import * as ort from 'onnxruntime-node';
import { newMessage, type OnnxMessageTypes } from '../../graph-rewrite/serde/decode.js';
import {
  AttributeType, DataType, type AttributeProto, type GraphProto, type MessageName, type ModelProto, type NodeProto,
  type StringStringEntryProto, type TensorProto, type TypeProto, type ValueInfoProto,
} from '../../graph-rewrite/serde/onnx-schema.js';

/** A message with its repeated fields defaulted to [], the rest given. */
export function make<N extends MessageName>(name: N, fields: Partial<OnnxMessageTypes[N]>): OnnxMessageTypes[N] {
  return Object.assign(newMessage(name), fields);
}

export const kv = (key: string, value: string): StringStringEntryProto => ({ key, value });
export const bytesOf = (...values: number[]): Uint8Array => new Uint8Array(values);
export const f32Bytes = (values: number[]): Uint8Array => new Uint8Array(new Float32Array(values).buffer);

export function tensorType(elemType: number, dims: (number | string)[]): TypeProto {
  return make('TypeProto', {
    tensor_type: {
      elem_type: elemType,
      shape: make('TensorShapeProto', {
        dim: dims.map((d) => (typeof d === 'number' ? { dim_value: BigInt(d) } : { dim_param: d })),
      }),
    },
  });
}

export const valueInfo = (name: string, elemType: number, dims: (number | string)[]): ValueInfoProto =>
  make('ValueInfoProto', { name, type: tensorType(elemType, dims) });

export const node = (opType: string, input: string[], output: string[], attribute: AttributeProto[] = []): NodeProto =>
  make('NodeProto', { op_type: opType, input, output, attribute, name: `${opType}_${output[0]}` });

export const floatTensor = (name: string, dims: number[], values: number[]): TensorProto =>
  make('TensorProto', { name, data_type: DataType.FLOAT, dims: dims.map(BigInt), raw_data: f32Bytes(values) });

export function model(graph: GraphProto, opset = 17n, irVersion = 8n): ModelProto {
  return make('ModelProto', {
    ir_version: irVersion, opset_import: [{ domain: '', version: opset }], producer_name: 'vitlin-test', graph,
  });
}

/** Y = X·W + B with X [2,3], W [3,4] (raw_data), B [4] (packed float_data): exact in float32. */
export function matMulAddModel(): ModelProto {
  const w = Array.from({ length: 12 }, (_, i) => (i - 5) * 0.25);
  const b = [0.5, -1, 2, 0];
  return model(make('GraphProto', {
    name: 'matmul_add',
    node: [node('MatMul', ['X', 'W'], ['XW']), node('Add', ['XW', 'B'], ['Y'])],
    initializer: [floatTensor('W', [3, 4], w), make('TensorProto', { name: 'B', data_type: DataType.FLOAT, dims: [4n], float_data: b })],
    input: [valueInfo('X', DataType.FLOAT, ['batch', 3])],
    output: [valueInfo('Y', DataType.FLOAT, ['batch', 4])],
  }));
}

/** Reference result of matMulAddModel in float64 (every value is exact in float32). */
export function matMulAddReference(x: number[], rows: number): number[] {
  const w = Array.from({ length: 12 }, (_, i) => (i - 5) * 0.25);
  const b = [0.5, -1, 2, 0];
  const y: number[] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < 4; c++) {
      let sum = b[c]!;
      for (let k = 0; k < 3; k++) sum += x[r * 3 + k]! * w[k * 4 + c]!;
      y.push(sum);
    }
  }
  return y;
}

const attr = (fields: Partial<AttributeProto>): AttributeProto => make('AttributeProto', fields);

/**
 * A model using more of ONNX than MatMul: a Constant attribute tensor, an ints attribute (Transpose),
 * a float attribute (LeakyRelu), and an If whose branches are subgraphs with their own initializers.
 * Input X [2,3] float, C bool scalar; output Y.
 */
export function subgraphModel(): ModelProto {
  const branch = (name: string, scale: number): GraphProto => make('GraphProto', {
    name,
    node: [node('Mul', ['T', `${name}_scale`], [`${name}_out`])],
    initializer: [floatTensor(`${name}_scale`, [], [scale])],
    output: [valueInfo(`${name}_out`, DataType.FLOAT, [3, 2])],
  });
  return model(make('GraphProto', {
    name: 'subgraphs',
    node: [
      node('Constant', [], ['K'], [attr({ name: 'value', type: AttributeType.TENSOR, t: floatTensor('K', [2, 3], [1, -2, 3, -4, 5, -6]) })]),
      node('Add', ['X', 'K'], ['S']),
      node('LeakyRelu', ['S'], ['L'], [attr({ name: 'alpha', type: AttributeType.FLOAT, f: 0.125 })]),
      node('Transpose', ['L'], ['T'], [attr({ name: 'perm', type: AttributeType.INTS, ints: [1n, 0n] })]),
      node('If', ['C'], ['Y'], [
        attr({ name: 'then_branch', type: AttributeType.GRAPH, g: branch('then', 2) }),
        attr({ name: 'else_branch', type: AttributeType.GRAPH, g: branch('else', -0.5) }),
      ]),
    ],
    input: [valueInfo('X', DataType.FLOAT, [2, 3]), valueInfo('C', DataType.BOOL, [])],
    output: [valueInfo('Y', DataType.FLOAT, [3, 2])],
  }));
}

export async function runModel(
  modelSource: string | Uint8Array, feeds: Record<string, ort.Tensor>,
): Promise<Record<string, ort.Tensor>> {
  const session = typeof modelSource === 'string'
    ? await ort.InferenceSession.create(modelSource)
    : await ort.InferenceSession.create(modelSource);
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

/** The raw bytes of an ORT tensor's data, for bit-exact comparisons (NaN payloads and -0 included). */
export function tensorBits(tensor: ort.Tensor): Uint8Array {
  const data = tensor.data as ArrayBufferView;
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

// ---- a minimal independent protobuf writer for hand-crafted bytes ----

export function varint(value: number | bigint): number[] {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

export const tag = (field: number, wire: number): number[] => varint(field * 8 + wire);
export const varintField = (field: number, value: number | bigint): number[] => [...tag(field, 0), ...varint(value)];
export const lenField = (field: number, payload: ArrayLike<number>): number[] =>
  [...tag(field, 2), ...varint(payload.length), ...Array.from(payload)];
export const stringField = (field: number, text: string): number[] => lenField(field, new TextEncoder().encode(text));
export const fixed32Field = (field: number, value: number): number[] =>
  [...tag(field, 5), ...new Uint8Array(new Float32Array([value]).buffer)];
export const fixed64Field = (field: number, value: number): number[] =>
  [...tag(field, 1), ...new Uint8Array(new Float64Array([value]).buffer)];
