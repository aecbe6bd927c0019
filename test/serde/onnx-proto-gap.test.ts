/**
 * Why vitlin has its own codec: the `onnx-proto` package (ONNX 1.10 schema via protobufjs) silently
 * drops every field newer than IR 8 and every unknown field when a model passes through it.
 */
import onnxProto from 'onnx-proto';
import { expect, it } from 'vitest';
import { decodeModelProto } from '../../graph-rewrite/serde/decode.js';
import { encodeModelProtoToBytes } from '../../graph-rewrite/serde/encode.js';
import { ONNX_SCHEMA, type MessageName } from '../../graph-rewrite/serde/onnx-schema.js';
import { everyFieldModel } from './every-field-model.js';

/** `Message.field` for every field set somewhere in the tree, plus `Message.$unknown`; and which messages occur. */
function inventory(name: MessageName, msg: Record<string, unknown>, out = { fields: new Set<string>(), messages: new Set<string>() }) {
  out.messages.add(name);
  if (msg.$unknown !== undefined) out.fields.add(`${name}.$unknown`);
  for (const spec of Object.values(ONNX_SCHEMA[name])) {
    const value = msg[spec.name];
    if (value === undefined || (Array.isArray(value) && value.length === 0)) continue;
    out.fields.add(`${name}.${spec.name}`);
    if (spec.message !== undefined) {
      for (const child of Array.isArray(value) ? value : [value]) inventory(spec.message, child as Record<string, unknown>, out);
    }
  }
  return out;
}

it('onnx-proto loses IR 9-11 fields and unknown fields that our codec keeps', () => {
  const bytes = encodeModelProtoToBytes(everyFieldModel());
  const { onnx } = onnxProto;
  const throughOnnxProto = onnx.ModelProto.encode(onnx.ModelProto.decode(bytes)).finish();

  const before = inventory('ModelProto', decodeModelProto(bytes) as never);
  const after = inventory('ModelProto', decodeModelProto(throughOnnxProto) as never);
  // Fields dropped from messages that themselves survived (their sub-fields vanish with them).
  const dropped = [...before.fields].filter((f) => !after.fields.has(f) && after.messages.has(f.split('.').slice(0, -1).join('.')));
  expect(dropped.sort()).toEqual([
    'FunctionProto.attribute_proto', 'FunctionProto.metadata_props', 'FunctionProto.overload', 'FunctionProto.value_info',
    'GraphProto.metadata_props',
    'ModelProto.$unknown', 'ModelProto.configuration',
    'NodeProto.$unknown', 'NodeProto.device_configurations', 'NodeProto.metadata_props', 'NodeProto.overload',
    'TensorProto.metadata_props',
    'TypeProto.$unknown', 'TypeProto.opaque_type', // ONNX-ML only in ONNX 1.10
    'ValueInfoProto.metadata_props',
  ]);
  // Our codec, on the same bytes, loses nothing.
  expect(encodeModelProtoToBytes(decodeModelProto(bytes))).toStrictEqual(bytes);
});
