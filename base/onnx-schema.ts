/**
 * The ONNX protobuf schema (onnx.proto, proto2, IR version 14 as of ONNX 1.23), as a table the
 * wire codec walks, plus the TypeScript shape of each decoded message.
 *
 * Why our own table: the `onnx-proto` package bundles the ONNX 1.10 schema, and protobufjs drops
 * fields it does not know — node/graph/value `metadata_props`, function `overload`,
 * `attribute_proto`, `value_info` and `metadata_props`, model `configuration`, node
 * `device_configurations`. Fields unknown even to this table are kept as raw bytes (`$unknown`).
 *
 * Conventions of the decoded objects (proto2 presence is kept):
 * - an optional scalar that was absent on the wire is `undefined`; present with its default value, it is set;
 * - int64/uint64 → `bigint`; int32/enum → `number`; float/double → `number`; bytes → `Uint8Array`
 *   (a zero-copy view into the decoded buffer); string → `string`;
 * - repeated fields are arrays, always present (possibly empty);
 * - `$unknown` holds the raw bytes (tag included) of every field this table does not know, in order.
 *
 * The TypeScript shapes of the decoded messages are in onnx-types.ts (re-exported here).
 */
export * from './onnx-types.js';

export type ScalarKind = 'string' | 'bytes' | 'int64' | 'uint64' | 'int32' | 'float' | 'double';

export interface FieldSpec {
  /** The field's name as the decoded object's property. */
  readonly name: string;
  readonly kind: ScalarKind | 'message';
  /** For kind 'message': the message's name in {@link ONNX_SCHEMA}. */
  readonly message?: MessageName;
  readonly repeated?: boolean;
  /** Encode repeated numeric fields packed (ONNX declares these [packed = true]). Decoding accepts both. */
  readonly packed?: boolean;
  /**
   * The oneof this field belongs to. protobuf keeps only the member read last: setting one clears the
   * others, so a decoded message never holds two (writing two would let the other readers see the wrong one).
   */
  readonly oneof?: string;
}

export type MessageName =
  | 'ModelProto'
  | 'GraphProto'
  | 'NodeProto'
  | 'AttributeProto'
  | 'ValueInfoProto'
  | 'TensorProto'
  | 'TensorProto.Segment'
  | 'SparseTensorProto'
  | 'TensorShapeProto'
  | 'TensorShapeProto.Dimension'
  | 'TypeProto'
  | 'TypeProto.Tensor'
  | 'TypeProto.Sequence'
  | 'TypeProto.Map'
  | 'TypeProto.Optional'
  | 'TypeProto.SparseTensor'
  | 'TypeProto.Opaque'
  | 'OperatorSetIdProto'
  | 'FunctionProto'
  | 'StringStringEntryProto'
  | 'TensorAnnotation'
  | 'TrainingInfoProto'
  | 'DeviceConfigurationProto'
  | 'NodeDeviceConfigurationProto'
  | 'ShardingSpecProto'
  | 'ShardedDimProto'
  | 'SimpleShardedDimProto'
  | 'IntIntListEntryProto';

/** Field number → spec, per message. */
export type MessageSchema = Readonly<Record<number, FieldSpec>>;

const str = (name: string): FieldSpec => ({ name, kind: 'string' });
const strs = (name: string): FieldSpec => ({ name, kind: 'string', repeated: true });
const msg = (name: string, message: MessageName): FieldSpec => ({ name, kind: 'message', message });
const msgs = (name: string, message: MessageName): FieldSpec => ({ name, kind: 'message', message, repeated: true });
const i64 = (name: string): FieldSpec => ({ name, kind: 'int64' });
const i32 = (name: string): FieldSpec => ({ name, kind: 'int32' });
/** Only TensorProto's *_data fields are declared [packed = true] in onnx.proto; other repeated numerics are unpacked. */
const packedOf = (name: string, kind: ScalarKind): FieldSpec => ({ name, kind, repeated: true, packed: true });
const repeatedOf = (name: string, kind: ScalarKind): FieldSpec => ({ name, kind, repeated: true });
const inOneof = (oneof: string, spec: FieldSpec): FieldSpec => ({ ...spec, oneof });

export const ONNX_SCHEMA: Readonly<Record<MessageName, MessageSchema>> = {
  ModelProto: {
    1: i64('ir_version'),
    8: msgs('opset_import', 'OperatorSetIdProto'),
    2: str('producer_name'),
    3: str('producer_version'),
    4: str('domain'),
    5: i64('model_version'),
    6: str('doc_string'),
    7: msg('graph', 'GraphProto'),
    14: msgs('metadata_props', 'StringStringEntryProto'),
    20: msgs('training_info', 'TrainingInfoProto'),
    25: msgs('functions', 'FunctionProto'),
    26: msgs('configuration', 'DeviceConfigurationProto'),
  },
  GraphProto: {
    1: msgs('node', 'NodeProto'),
    2: str('name'),
    5: msgs('initializer', 'TensorProto'),
    15: msgs('sparse_initializer', 'SparseTensorProto'),
    10: str('doc_string'),
    11: msgs('input', 'ValueInfoProto'),
    12: msgs('output', 'ValueInfoProto'),
    13: msgs('value_info', 'ValueInfoProto'),
    14: msgs('quantization_annotation', 'TensorAnnotation'),
    16: msgs('metadata_props', 'StringStringEntryProto'),
  },
  NodeProto: {
    1: strs('input'),
    2: strs('output'),
    3: str('name'),
    4: str('op_type'),
    7: str('domain'),
    8: str('overload'),
    5: msgs('attribute', 'AttributeProto'),
    6: str('doc_string'),
    9: msgs('metadata_props', 'StringStringEntryProto'),
    10: msgs('device_configurations', 'NodeDeviceConfigurationProto'),
  },
  AttributeProto: {
    1: str('name'),
    21: str('ref_attr_name'),
    13: str('doc_string'),
    20: i32('type'),
    2: { name: 'f', kind: 'float' },
    3: i64('i'),
    4: { name: 's', kind: 'bytes' },
    5: msg('t', 'TensorProto'),
    6: msg('g', 'GraphProto'),
    22: msg('sparse_tensor', 'SparseTensorProto'),
    14: msg('tp', 'TypeProto'),
    // Unpacked in onnx.proto (proto2 default): writing them packed would change the bytes of every exported model.
    7: repeatedOf('floats', 'float'),
    8: repeatedOf('ints', 'int64'),
    9: { name: 'strings', kind: 'bytes', repeated: true },
    10: msgs('tensors', 'TensorProto'),
    11: msgs('graphs', 'GraphProto'),
    23: msgs('sparse_tensors', 'SparseTensorProto'),
    15: msgs('type_protos', 'TypeProto'),
  },
  ValueInfoProto: {
    1: str('name'),
    2: msg('type', 'TypeProto'),
    3: str('doc_string'),
    4: msgs('metadata_props', 'StringStringEntryProto'),
  },
  TensorProto: {
    1: repeatedOf('dims', 'int64'),
    2: i32('data_type'),
    3: msg('segment', 'TensorProto.Segment'),
    4: packedOf('float_data', 'float'),
    5: packedOf('int32_data', 'int32'),
    6: { name: 'string_data', kind: 'bytes', repeated: true },
    7: packedOf('int64_data', 'int64'),
    8: str('name'),
    12: str('doc_string'),
    9: { name: 'raw_data', kind: 'bytes' },
    13: msgs('external_data', 'StringStringEntryProto'),
    14: i32('data_location'),
    10: packedOf('double_data', 'double'),
    11: packedOf('uint64_data', 'uint64'),
    16: msgs('metadata_props', 'StringStringEntryProto'),
  },
  'TensorProto.Segment': { 1: i64('begin'), 2: i64('end') },
  SparseTensorProto: {
    1: msg('values', 'TensorProto'),
    2: msg('indices', 'TensorProto'),
    3: repeatedOf('dims', 'int64'),
  },
  TensorShapeProto: { 1: msgs('dim', 'TensorShapeProto.Dimension') },
  'TensorShapeProto.Dimension': {
    1: inOneof('value', i64('dim_value')),
    2: inOneof('value', str('dim_param')),
    3: str('denotation'),
  },
  TypeProto: {
    1: inOneof('value', msg('tensor_type', 'TypeProto.Tensor')),
    4: inOneof('value', msg('sequence_type', 'TypeProto.Sequence')),
    5: inOneof('value', msg('map_type', 'TypeProto.Map')),
    9: inOneof('value', msg('optional_type', 'TypeProto.Optional')),
    8: inOneof('value', msg('sparse_tensor_type', 'TypeProto.SparseTensor')),
    7: inOneof('value', msg('opaque_type', 'TypeProto.Opaque')), // ONNX-ML only before IR 14
    6: str('denotation'),
  },
  'TypeProto.Tensor': { 1: i32('elem_type'), 2: msg('shape', 'TensorShapeProto') },
  'TypeProto.Sequence': { 1: msg('elem_type', 'TypeProto') },
  'TypeProto.Map': { 1: i32('key_type'), 2: msg('value_type', 'TypeProto') },
  'TypeProto.Optional': { 1: msg('elem_type', 'TypeProto') },
  'TypeProto.SparseTensor': { 1: i32('elem_type'), 2: msg('shape', 'TensorShapeProto') },
  'TypeProto.Opaque': { 1: str('domain'), 2: str('name') },
  OperatorSetIdProto: { 1: str('domain'), 2: i64('version') },
  FunctionProto: {
    1: str('name'),
    4: strs('input'),
    5: strs('output'),
    6: strs('attribute'),
    11: msgs('attribute_proto', 'AttributeProto'),
    7: msgs('node', 'NodeProto'),
    8: str('doc_string'),
    9: msgs('opset_import', 'OperatorSetIdProto'),
    10: str('domain'),
    13: str('overload'),
    12: msgs('value_info', 'ValueInfoProto'),
    14: msgs('metadata_props', 'StringStringEntryProto'),
  },
  StringStringEntryProto: { 1: str('key'), 2: str('value') },
  TensorAnnotation: { 1: str('tensor_name'), 2: msgs('quant_parameter_tensor_names', 'StringStringEntryProto') },
  TrainingInfoProto: {
    1: msg('initialization', 'GraphProto'),
    2: msg('algorithm', 'GraphProto'),
    3: msgs('initialization_binding', 'StringStringEntryProto'),
    4: msgs('update_binding', 'StringStringEntryProto'),
  },
  DeviceConfigurationProto: { 1: str('name'), 2: i32('num_devices'), 3: strs('device') },
  NodeDeviceConfigurationProto: {
    1: str('configuration_id'),
    2: msgs('sharding_spec', 'ShardingSpecProto'),
    3: i32('pipeline_stage'),
  },
  ShardingSpecProto: {
    1: str('tensor_name'),
    2: repeatedOf('device', 'int64'),
    3: msgs('index_to_device_group_map', 'IntIntListEntryProto'),
    4: msgs('sharded_dim', 'ShardedDimProto'),
  },
  ShardedDimProto: { 1: i64('axis'), 2: msgs('simple_sharding', 'SimpleShardedDimProto') },
  SimpleShardedDimProto: { 1: inOneof('dim', i64('dim_value')), 2: inOneof('dim', str('dim_param')), 3: i64('num_shards') },
  IntIntListEntryProto: { 1: i64('key'), 2: repeatedOf('value', 'int64') },
};
