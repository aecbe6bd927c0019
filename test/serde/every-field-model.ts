/**
 * A (semantically meaningless) ModelProto that sets every field of every message in ONNX_SCHEMA,
 * with edge values: int64/uint64 extremes, negative int32 (10-byte varints), -0/NaN/∞ floats,
 * non-ASCII and BOM-prefixed strings, fp16/bf16/float8/int4 raw_data, and unknown fields.
 * roundtrip.test.ts checks that it really covers the whole table.
 */
import { AttributeType, DataLocation, DataType, type GraphProto, type ModelProto, type TensorProto, type TypeProto } from '../../graph-rewrite/serde/onnx-schema.js';
import { bytesOf, kv, lenField, make, stringField, tensorType, valueInfo, varintField } from './fixtures.js';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

function rawTensor(name: string, dataType: number, dims: bigint[], raw: Uint8Array): TensorProto {
  return make('TensorProto', { name, data_type: dataType, dims, raw_data: raw });
}

export function everyTensor(): TensorProto[] {
  return [
    rawTensor('fp16', DataType.FLOAT16, [2n], bytesOf(0x00, 0x3c, 0x00, 0xc0)), // 1.0, -2.0
    rawTensor('bf16', DataType.BFLOAT16, [2n], bytesOf(0x80, 0x3f, 0x80, 0x7f)), // 1.0, +inf
    rawTensor('f8', DataType.FLOAT8E4M3FN, [3n], bytesOf(0x38, 0x7f, 0xff)), // 1.0, NaN, -NaN
    rawTensor('i4', DataType.INT4, [3n], bytesOf(0x7f, 0x08)), // int4 packs two per byte: 3 values → 2 bytes
    rawTensor('empty', DataType.FLOAT, [0n], new Uint8Array(0)), // present but empty
    make('TensorProto', {
      name: 'typed', data_type: DataType.FLOAT, dims: [INT64_MAX, INT64_MIN, 0n, -1n],
      float_data: [1.5, -0, Infinity, -Infinity, NaN, 3.4028234663852886e38],
      int32_data: [0, -1, 2147483647, -2147483648],
      int64_data: [INT64_MIN, -1n, 0n, INT64_MAX],
      double_data: [Math.PI, -0, Number.MIN_VALUE, NaN],
      uint64_data: [0n, UINT64_MAX, 2n ** 32n],
      string_data: [bytesOf(0xff, 0xfe), new TextEncoder().encode('名前')],
      segment: { begin: 0n, end: 4n },
      doc_string: '\uFEFFstarts with a BOM, ends with emoji 😀',
      metadata_props: [kv('origin', 'hand-made')],
    }),
    make('TensorProto', {
      name: 'external', data_type: DataType.FLOAT, dims: [4n], data_location: DataLocation.EXTERNAL,
      external_data: [kv('location', 'w.bin'), kv('offset', '4096'), kv('length', '16'), kv('checksum', 'abc')],
    }),
  ];
}

function typeProtos(): TypeProto[] {
  const tensor = tensorType(DataType.FLOAT, [1, 'batch']);
  tensor.tensor_type!.shape!.dim[1]!.denotation = 'DATA_BATCH';
  return [
    Object.assign(tensor, { denotation: 'IMAGE' }),
    make('TypeProto', { sequence_type: { elem_type: tensorType(DataType.INT64, []) } }),
    make('TypeProto', { map_type: { key_type: DataType.STRING, value_type: tensorType(DataType.FLOAT, []) } }),
    make('TypeProto', { optional_type: { elem_type: tensorType(DataType.BOOL, [3]) } }),
    make('TypeProto', { sparse_tensor_type: { elem_type: DataType.FLOAT, shape: make('TensorShapeProto', { dim: [{ dim_value: 8n }] }) } }),
    // TypeProto.opaque_type (field 7, ONNX-ML only before IR 14); a field from a future ONNX survives as $unknown.
    make('TypeProto', { opaque_type: { domain: 'ai.onnx.ml', name: 'Blob' }, $unknown: [new Uint8Array(lenField(70, stringField(1, 'future')))] }),
  ];
}

function sparse(name: string): ReturnType<typeof make<'SparseTensorProto'>> {
  return make('SparseTensorProto', {
    values: make('TensorProto', { name, data_type: DataType.FLOAT, dims: [2n], float_data: [1, 2] }),
    indices: make('TensorProto', { name: `${name}_idx`, data_type: DataType.INT64, dims: [2n], int64_data: [1n, 5n] }),
    dims: [8n],
  });
}

function branch(name: string): GraphProto {
  return make('GraphProto', {
    name,
    node: [make('NodeProto', { op_type: 'Identity', input: ['x'], output: [`${name}_out`] })],
    output: [valueInfo(`${name}_out`, DataType.FLOAT, [1])],
  });
}

export function everyFieldModel(): ModelProto {
  const attributes = [
    make('AttributeProto', { name: 'f', type: AttributeType.FLOAT, f: -0.5, doc_string: 'a float' }),
    make('AttributeProto', { name: 'i', type: AttributeType.INT, i: INT64_MIN }),
    make('AttributeProto', { name: 's', type: AttributeType.STRING, s: bytesOf(0x80, 0x00, 0x41) }), // bytes: not UTF-8 checked
    make('AttributeProto', { name: 't', type: AttributeType.TENSOR, t: everyTensor()[0] }),
    make('AttributeProto', { name: 'then_branch', type: AttributeType.GRAPH, g: branch('then') }),
    make('AttributeProto', { name: 'sp', type: AttributeType.SPARSE_TENSOR, sparse_tensor: sparse('sp') }),
    make('AttributeProto', { name: 'tp', type: AttributeType.TYPE_PROTO, tp: tensorType(DataType.FLOAT16, [2]) }),
    make('AttributeProto', { name: 'floats', type: AttributeType.FLOATS, floats: [0.25, -0, Infinity] }),
    make('AttributeProto', { name: 'ints', type: AttributeType.INTS, ints: [-1n, 0n, INT64_MAX] }),
    make('AttributeProto', { name: 'strings', type: AttributeType.STRINGS, strings: [bytesOf(), bytesOf(0x61)] }),
    make('AttributeProto', { name: 'tensors', type: AttributeType.TENSORS, tensors: everyTensor().slice(1, 3) }),
    make('AttributeProto', { name: 'graphs', type: AttributeType.GRAPHS, graphs: [branch('g0'), branch('g1')] }),
    make('AttributeProto', { name: 'sps', type: AttributeType.SPARSE_TENSORS, sparse_tensors: [sparse('a'), sparse('b')] }),
    make('AttributeProto', { name: 'tps', type: AttributeType.TYPE_PROTOS, type_protos: typeProtos() }),
    make('AttributeProto', { name: 'ref', ref_attr_name: 'alpha', type: AttributeType.FLOAT }),
  ];
  const sharding = make('ShardingSpecProto', {
    tensor_name: 'W', device: [0n, 1n, -1n],
    index_to_device_group_map: [make('IntIntListEntryProto', { key: 0n, value: [0n, 1n] })],
    sharded_dim: [make('ShardedDimProto', {
      axis: -1n,
      simple_sharding: [
        make('SimpleShardedDimProto', { dim_value: 1024n, num_shards: 2n }),
        make('SimpleShardedDimProto', { dim_param: 'seq', num_shards: 4n }),
      ],
    })],
  });
  const mainNode = make('NodeProto', {
    input: ['x', ''], output: ['y'], name: 'everything', op_type: 'Custom', domain: 'com.vitlin', overload: 'v2',
    attribute: attributes, doc_string: 'all attribute kinds',
    metadata_props: [kv('pass', 'fuse-attention')],
    device_configurations: [make('NodeDeviceConfigurationProto', { configuration_id: 'cfg', sharding_spec: [sharding], pipeline_stage: -1 })],
    $unknown: [new Uint8Array(varintField(99, 5))],
  });
  const graph = make('GraphProto', {
    node: [mainNode, make('NodeProto', { op_type: 'If', input: ['c'], output: ['z'], attribute: [
      make('AttributeProto', { name: 'then_branch', type: AttributeType.GRAPH, g: branch('then') }),
      make('AttributeProto', { name: 'else_branch', type: AttributeType.GRAPH, g: branch('else') }),
    ] })],
    name: 'main',
    initializer: everyTensor(),
    sparse_initializer: [sparse('sparse_init')],
    doc_string: '',
    input: [make('ValueInfoProto', { name: 'x', type: typeProtos()[0], doc_string: 'input', metadata_props: [kv('unit', 'px')] })],
    output: [valueInfo('y', DataType.FLOAT, ['batch', 1000])],
    value_info: typeProtos().map((type, i) => make('ValueInfoProto', { name: `v${i}`, type })),
    quantization_annotation: [make('TensorAnnotation', { tensor_name: 'y', quant_parameter_tensor_names: [kv('SCALE_TENSOR', 'y_scale')] })],
    metadata_props: [kv('graph', 'meta')],
  });
  const fn = make('FunctionProto', {
    name: 'MyGelu', input: ['X'], output: ['Y'], attribute: ['approximate'],
    attribute_proto: [make('AttributeProto', { name: 'alpha', type: AttributeType.FLOAT, f: 1.75 })],
    node: [make('NodeProto', { op_type: 'Sigmoid', input: ['X'], output: ['S'] }), make('NodeProto', { op_type: 'Mul', input: ['X', 'S'], output: ['Y'] })],
    doc_string: 'x·σ(αx)', opset_import: [{ domain: '', version: 21n }], domain: 'com.vitlin', overload: 'fast',
    value_info: [valueInfo('S', DataType.FLOAT, ['n'])], metadata_props: [kv('k', 'v')],
  });
  return make('ModelProto', {
    ir_version: 11n,
    opset_import: [{ domain: '', version: 21n }, { domain: 'com.vitlin', version: 1n }],
    producer_name: 'vitlin', producer_version: '0.1.0', domain: 'ai.vitlin', model_version: 0n, doc_string: 'every field',
    graph,
    metadata_props: [kv('license', 'Apache-2.0'), kv('', '')],
    training_info: [make('TrainingInfoProto', {
      initialization: branch('init'), algorithm: branch('step'),
      initialization_binding: [kv('W', 'init_out')], update_binding: [kv('W', 'step_out')],
    })],
    functions: [fn],
    configuration: [make('DeviceConfigurationProto', { name: 'cfg', num_devices: 2, device: ['cuda:0', 'cuda:1'] })],
    $unknown: [new Uint8Array(stringField(1000, 'from a newer ONNX'))],
  });
}
