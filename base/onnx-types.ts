/**
 * The TypeScript shape of each decoded ONNX message (see onnx-schema.ts for the conventions), the enums
 * the codec names (AttributeType, DataType, DataLocation), and the map from message name to its type.
 */
import type { MessageName } from './onnx-schema.js';

/**
 * Raw bytes of fields the schema does not know, and the bits of NaNs a JS number cannot hold (see
 * exact-values.ts), kept so that a round trip loses nothing.
 */
export interface WithUnknown {
  $unknown?: Uint8Array[];
  $nanBits?: Record<string, number | bigint>;
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
  opaque_type?: { domain?: string; name?: string } & WithUnknown;
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

/** TS type of each decoded message, by its name in the table. */
export interface OnnxMessageTypes {
  ModelProto: ModelProto;
  GraphProto: GraphProto;
  NodeProto: NodeProto;
  AttributeProto: AttributeProto;
  ValueInfoProto: ValueInfoProto;
  TensorProto: TensorProto;
  'TensorProto.Segment': NonNullable<TensorProto['segment']>;
  SparseTensorProto: SparseTensorProto;
  TensorShapeProto: TensorShapeProto;
  'TensorShapeProto.Dimension': TensorShapeDimensionProto;
  TypeProto: TypeProto;
  'TypeProto.Tensor': NonNullable<TypeProto['tensor_type']>;
  'TypeProto.Sequence': NonNullable<TypeProto['sequence_type']>;
  'TypeProto.Map': NonNullable<TypeProto['map_type']>;
  'TypeProto.Optional': NonNullable<TypeProto['optional_type']>;
  'TypeProto.SparseTensor': NonNullable<TypeProto['sparse_tensor_type']>;
  'TypeProto.Opaque': NonNullable<TypeProto['opaque_type']>;
  OperatorSetIdProto: OperatorSetIdProto;
  FunctionProto: FunctionProto;
  StringStringEntryProto: StringStringEntryProto;
  TensorAnnotation: TensorAnnotation;
  TrainingInfoProto: TrainingInfoProto;
  DeviceConfigurationProto: DeviceConfigurationProto;
  NodeDeviceConfigurationProto: NodeDeviceConfigurationProto;
  ShardingSpecProto: ShardingSpecProto;
  ShardedDimProto: ShardingSpecProto['sharded_dim'][number];
  SimpleShardedDimProto: ShardingSpecProto['sharded_dim'][number]['simple_sharding'][number];
  IntIntListEntryProto: ShardingSpecProto['index_to_device_group_map'][number];
}
// Compile-time check that every message of the table has a type above.
type MissingTypes = Exclude<MessageName, keyof OnnxMessageTypes>;
const allMessagesTyped: MissingTypes extends never ? true : never = true;
void allMessagesTyped;
