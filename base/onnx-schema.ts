/**
 * The ONNX protobuf schema (onnx.proto, proto2, IR version 11/12 as of ONNX 1.19), as a table the
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
 */

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
  'TensorShapeProto.Dimension': { 1: i64('dim_value'), 2: str('dim_param'), 3: str('denotation') },
  TypeProto: {
    1: msg('tensor_type', 'TypeProto.Tensor'),
    4: msg('sequence_type', 'TypeProto.Sequence'),
    5: msg('map_type', 'TypeProto.Map'),
    9: msg('optional_type', 'TypeProto.Optional'),
    8: msg('sparse_tensor_type', 'TypeProto.SparseTensor'),
    6: str('denotation'),
  },
  'TypeProto.Tensor': { 1: i32('elem_type'), 2: msg('shape', 'TensorShapeProto') },
  'TypeProto.Sequence': { 1: msg('elem_type', 'TypeProto') },
  'TypeProto.Map': { 1: i32('key_type'), 2: msg('value_type', 'TypeProto') },
  'TypeProto.Optional': { 1: msg('elem_type', 'TypeProto') },
  'TypeProto.SparseTensor': { 1: i32('elem_type'), 2: msg('shape', 'TensorShapeProto') },
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
  SimpleShardedDimProto: { 1: i64('dim_value'), 2: str('dim_param'), 3: i64('num_shards') },
  IntIntListEntryProto: { 1: i64('key'), 2: repeatedOf('value', 'int64') },
};

/** Raw bytes of fields the schema does not know, kept so that a round trip loses nothing. */
export interface WithUnknown {
  $unknown?: Uint8Array[];
}

export interface StringStringEntryProto extends WithUnknown { key?: string; value?: string }
export interface OperatorSetIdProto extends WithUnknown { domain?: string; version?: bigint }

export interface ModelProto extends WithUnknown {
  ir_version?: bigint;
  opset_import: OperatorSetIdProto[];
  producer_name?: string;
  producer_version?: string;
  domain?: string;
  model_version?: bigint;
  doc_string?: string;
  graph?: GraphProto;
  metadata_props: StringStringEntryProto[];
  training_info: TrainingInfoProto[];
  functions: FunctionProto[];
  configuration: DeviceConfigurationProto[];
}

export interface GraphProto extends WithUnknown {
  node: NodeProto[];
  name?: string;
  initializer: TensorProto[];
  sparse_initializer: SparseTensorProto[];
  doc_string?: string;
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  value_info: ValueInfoProto[];
  quantization_annotation: TensorAnnotation[];
  metadata_props: StringStringEntryProto[];
}

export interface NodeProto extends WithUnknown {
  input: string[];
  output: string[];
  name?: string;
  op_type?: string;
  domain?: string;
  overload?: string;
  attribute: AttributeProto[];
  doc_string?: string;
  metadata_props: StringStringEntryProto[];
  device_configurations: NodeDeviceConfigurationProto[];
}

/** AttributeProto.AttributeType. */
export const AttributeType = {
  UNDEFINED: 0, FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8,
  TENSORS: 9, GRAPHS: 10, SPARSE_TENSOR: 11, SPARSE_TENSORS: 12, TYPE_PROTO: 13, TYPE_PROTOS: 14,
} as const;

export interface AttributeProto extends WithUnknown {
  name?: string;
  ref_attr_name?: string;
  doc_string?: string;
  type?: number;
  f?: number;
  i?: bigint;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  sparse_tensor?: SparseTensorProto;
  tp?: TypeProto;
  floats: number[];
  ints: bigint[];
  strings: Uint8Array[];
  tensors: TensorProto[];
  graphs: GraphProto[];
  sparse_tensors: SparseTensorProto[];
  type_protos: TypeProto[];
}

export interface ValueInfoProto extends WithUnknown {
  name?: string;
  type?: TypeProto;
  doc_string?: string;
  metadata_props: StringStringEntryProto[];
}

/** TensorProto.DataType. */
export const DataType = {
  UNDEFINED: 0, FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8,
  BOOL: 9, FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT64: 13, COMPLEX64: 14, COMPLEX128: 15,
  BFLOAT16: 16, FLOAT8E4M3FN: 17, FLOAT8E4M3FNUZ: 18, FLOAT8E5M2: 19, FLOAT8E5M2FNUZ: 20,
  UINT4: 21, INT4: 22, FLOAT4E2M1: 23, FLOAT8E8M0: 24, UINT2: 25, INT2: 26,
} as const;

/** TensorProto.DataLocation. */
export const DataLocation = { DEFAULT: 0, EXTERNAL: 1 } as const;

export interface TensorProto extends WithUnknown {
  dims: bigint[];
  data_type?: number;
  segment?: { begin?: bigint; end?: bigint } & WithUnknown;
  float_data: number[];
  int32_data: number[];
  string_data: Uint8Array[];
  int64_data: bigint[];
  name?: string;
  doc_string?: string;
  raw_data?: Uint8Array;
  external_data: StringStringEntryProto[];
  data_location?: number;
  double_data: number[];
  uint64_data: bigint[];
  metadata_props: StringStringEntryProto[];
}

export interface SparseTensorProto extends WithUnknown {
  values?: TensorProto;
  indices?: TensorProto;
  dims: bigint[];
}

export interface TensorShapeDimensionProto extends WithUnknown {
  dim_value?: bigint;
  dim_param?: string;
  denotation?: string;
}
export interface TensorShapeProto extends WithUnknown { dim: TensorShapeDimensionProto[] }

export interface TypeProto extends WithUnknown {
  tensor_type?: { elem_type?: number; shape?: TensorShapeProto } & WithUnknown;
  sequence_type?: { elem_type?: TypeProto } & WithUnknown;
  map_type?: { key_type?: number; value_type?: TypeProto } & WithUnknown;
  optional_type?: { elem_type?: TypeProto } & WithUnknown;
  sparse_tensor_type?: { elem_type?: number; shape?: TensorShapeProto } & WithUnknown;
  denotation?: string;
}

export interface FunctionProto extends WithUnknown {
  name?: string;
  input: string[];
  output: string[];
  attribute: string[];
  attribute_proto: AttributeProto[];
  node: NodeProto[];
  doc_string?: string;
  opset_import: OperatorSetIdProto[];
  domain?: string;
  overload?: string;
  value_info: ValueInfoProto[];
  metadata_props: StringStringEntryProto[];
}

export interface TensorAnnotation extends WithUnknown {
  tensor_name?: string;
  quant_parameter_tensor_names: StringStringEntryProto[];
}

export interface TrainingInfoProto extends WithUnknown {
  initialization?: GraphProto;
  algorithm?: GraphProto;
  initialization_binding: StringStringEntryProto[];
  update_binding: StringStringEntryProto[];
}

export interface DeviceConfigurationProto extends WithUnknown {
  name?: string;
  num_devices?: number;
  device: string[];
}

export interface NodeDeviceConfigurationProto extends WithUnknown {
  configuration_id?: string;
  sharding_spec: ShardingSpecProto[];
  pipeline_stage?: number;
}

export interface ShardingSpecProto extends WithUnknown {
  tensor_name?: string;
  device: bigint[];
  index_to_device_group_map: ({ key?: bigint; value: bigint[] } & WithUnknown)[];
  sharded_dim: ({
    axis?: bigint;
    simple_sharding: ({ dim_value?: bigint; dim_param?: string; num_shards?: bigint } & WithUnknown)[];
  } & WithUnknown)[];
}
