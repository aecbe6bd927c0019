/**
 * One-node ONNX models for the server tests and bench/serve.ts, written with the codec's own message
 * builder: an Identity hands its input back unchanged, so what the server did to a tensor on the way in
 * and out is visible bit for bit (and, in the benchmark, the cost of moving tensors alone).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { newMessage, type OnnxMessageTypes } from '../../graph-rewrite/serde/decode.js';
import { encodeModelProtoToBytes } from '../../graph-rewrite/serde/encode.js';
import { DataType, type MessageName, type ValueInfoProto } from '../../graph-rewrite/serde/onnx-schema.js';

export { DataType };

const make = <N extends MessageName>(name: N, fields: Partial<OnnxMessageTypes[N]>): OnnxMessageTypes[N] => Object.assign(newMessage(name), fields);

function valueInfo(name: string, dims: (number | string)[], elemType: number): ValueInfoProto {
  const dim = dims.map((d) => (typeof d === 'number' ? { dim_value: BigInt(d) } : { dim_param: d }));
  return make('ValueInfoProto', { name, type: make('TypeProto', { tensor_type: { elem_type: elemType, shape: make('TensorShapeProto', { dim }) } }) });
}

/** Writes `y = op(x)` with x and y of `elemType` and shape `dims` (strings are symbolic dims). */
export function writeOneNodeModel(path: string, options: { op?: string; input?: string; output?: string; dims: (number | string)[]; elemType?: number }): string {
  const { op = 'Identity', input = 'x', output = 'y', dims, elemType = DataType.FLOAT } = options;
  const graph = make('GraphProto', {
    name: `${op.toLowerCase()}_model`,
    node: [make('NodeProto', { op_type: op, input: [input], output: [output], name: op })],
    input: [valueInfo(input, dims, elemType)],
    output: [valueInfo(output, dims, elemType)],
  });
  const bytes = encodeModelProtoToBytes(make('ModelProto', { ir_version: 8n, opset_import: [{ domain: '', version: 17n }], producer_name: 'vitlin-tests', graph }));
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, bytes);
  return path;
}
