/**
 * One-node ONNX models written for the server tests (with the codec's own message builder, as the IR tests
 * do): an Identity hands its input back unchanged, so what the server did to a tensor on the way in and
 * out is visible bit for bit.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { encodeModelProtoToBytes } from '../../graph-rewrite/serde/encode.js';
import { DataType } from '../../graph-rewrite/serde/onnx-schema.js';
import { make, model, node, vi } from '../ir/helpers.js';

export { DataType };

/** Writes `y = op(x)` with x and y of `elemType` and shape `dims` (strings are symbolic dims). */
export function writeOneNodeModel(path: string, options: { op?: string; input?: string; output?: string; dims: (number | string)[]; elemType?: number }): string {
  const { op = 'Identity', input = 'x', output = 'y', dims, elemType = DataType.FLOAT } = options;
  const bytes = encodeModelProtoToBytes(model(make('GraphProto', {
    name: `${op.toLowerCase()}_model`,
    node: [node(op, [input], [output])],
    input: [vi(input, dims, elemType)],
    output: [vi(output, dims, elemType)],
  })));
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, bytes);
  return path;
}
