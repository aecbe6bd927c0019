/**
 * proto → IR → proto is lossless (`toStrictEqual`, field by field) on hand-built models covering the
 * awkward corners, and edits made through the IR show up in what is written.
 */
import { describe, expect, test } from 'vitest';
import { Attr, Node, Tensor, modelFromProto, modelToProto, tensorType, type Graph } from '../../graph-rewrite/ir/index.js';
import { findGraphProblems } from '../../graph-rewrite/passes/index.js';
import { decodeModelProto } from '../../graph-rewrite/serde/decode.js';
import { encodeModelProtoToBytes } from '../../graph-rewrite/serde/encode.js';
import { AttributeType, DataLocation, DataType, type GraphProto, type ModelProto } from '../../graph-rewrite/serde/onnx-schema.js';
import { everyFieldModel } from '../serde/every-field-model.js';
import {
  bytes, f32Bytes, floatTensor, graphAttr, intAttr, kv, make, model, node, tensorTypeProto, unknownField, vi,
} from './helpers.js';

const graphOf = (fields: Partial<GraphProto>): GraphProto => make('GraphProto', { name: 'main', ...fields });

function functionsModel(): ModelProto {
  const fn = make('FunctionProto', {
    name: 'ScaledRelu', domain: 'vitlin.test', overload: 'v2', doc_string: 'y = relu(x) * alpha',
    input: ['x'], output: ['y'], attribute: ['unused_attr'],
    attribute_proto: [make('AttributeProto', { name: 'alpha', type: AttributeType.FLOAT, f: 2 })],
    node: [
      node('Relu', ['x'], ['r'], { name: undefined }),
      node('Constant', [], ['a'], { attribute: [make('AttributeProto', { name: 'value_float', ref_attr_name: 'alpha', type: AttributeType.FLOAT })] }),
      node('Mul', ['r', 'a'], ['y']),
    ],
    opset_import: [{ domain: '', version: 18n }],
    value_info: [vi('r', ['N']), vi('x', ['N'])],
    metadata_props: [kv('fn', 'meta')],
  });
  return model(graphOf({
    node: [node('ScaledRelu', ['X'], ['Y'], { domain: 'vitlin.test', overload: 'v2', attribute: [make('AttributeProto', { name: 'alpha', type: AttributeType.FLOAT, f: 0.5 })] })],
    input: [vi('X')], output: [vi('Y')],
  }), { ir_version: 10n, opset_import: [{ domain: '', version: 18n }, { domain: 'vitlin.test', version: 1n }], functions: [fn] });
}

function subgraphModel(): ModelProto {
  const loopBody = make('GraphProto', {
    name: 'loop_body',
    input: [vi('i', [], DataType.INT64), vi('cond', [], DataType.BOOL), vi('acc')],
    node: [node('Add', ['acc', 'outer_bias'], ['acc_next']), node('Identity', ['cond'], ['cond_out'])],
    output: [vi('cond_out', [], DataType.BOOL), vi('acc_next')],
  });
  const thenBranch = make('GraphProto', {
    name: 'then',
    node: [node('Loop', ['trip', '', 'X'], ['looped'], { attribute: [graphAttr('body', loopBody)] })],
    output: [vi('looped')],
  });
  // A branch whose output is directly an enclosing value, listed with a different doc string.
  const elseBranch = make('GraphProto', { name: 'else', output: [make('ValueInfoProto', { name: 'outer_bias', doc_string: 'passthrough' })] });
  return model(graphOf({
    node: [
      node('Neg', ['X'], ['outer_bias']),
      node('If', ['C'], ['Y'], { attribute: [graphAttr('then_branch', thenBranch), graphAttr('else_branch', elseBranch)] }),
    ],
    input: [vi('X'), vi('C', [], DataType.BOOL), vi('trip', [], DataType.INT64)],
    output: [vi('Y')],
    value_info: [vi('outer_bias')],
  }));
}

function sparseModel(): ModelProto {
  const sparse = make('SparseTensorProto', {
    values: make('TensorProto', { name: 'S', data_type: DataType.FLOAT, dims: [2n], float_data: [1, 2] }),
    indices: make('TensorProto', { data_type: DataType.INT64, dims: [2n], int64_data: [0n, 3n] }),
    dims: [4n],
    $unknown: [unknownField(9)],
  });
  return model(graphOf({ node: [node('Add', ['X', 'S'], ['Y'])], sparse_initializer: [sparse], input: [vi('X', [4])], output: [vi('Y', [4])] }));
}

function dtypesModel(): ModelProto {
  const t = (name: string, dataType: number, dims: bigint[], fields: object) => make('TensorProto', { name, data_type: dataType, dims, ...fields });
  return model(graphOf({
    initializer: [
      t('fp16_raw', DataType.FLOAT16, [2n], { raw_data: bytes(0x00, 0x3c, 0x00, 0xc0) }),
      t('fp16_typed', DataType.FLOAT16, [2n], { int32_data: [0x3c00, 0xc000] }),
      t('bf16', DataType.BFLOAT16, [1n], { raw_data: bytes(0x80, 0x3f) }),
      t('int4', DataType.INT4, [3n], { raw_data: bytes(0x7f, 0x08) }),
      t('uint4_typed', DataType.UINT4, [3n], { int32_data: [0x7f, 0x08] }),
      t('f8', DataType.FLOAT8E4M3FN, [2n], { raw_data: bytes(0x38, 0x7f) }),
      t('f8e5m2', DataType.FLOAT8E5M2FNUZ, [1n], { int32_data: [0x40] }),
      t('f4', DataType.FLOAT4E2M1, [2n], { raw_data: bytes(0xf2) }),
      t('strings', DataType.STRING, [2n], { string_data: [bytes(0xff), new TextEncoder().encode('ok')] }),
      t('ext', DataType.FLOAT, [4n], { data_location: DataLocation.EXTERNAL, external_data: [kv('location', 'w.bin'), kv('offset', '0'), kv('length', '16')] }),
      t('segmented', DataType.INT64, [2n], { int64_data: [1n, -1n], segment: { begin: 0n, end: 2n }, doc_string: 'doc' }),
    ],
    node: [node('Cast', ['fp16_raw'], ['Y'], { attribute: [intAttr('to', 1n)] })],
    output: [vi('Y')],
  }));
}

function metadataModel(): ModelProto {
  const meta = (where: string) => [kv(`${where}.k`, 'v'), kv(`${where}.k2`, '')];
  return model(graphOf({
    node: [node('Relu', ['X'], ['r'], { metadata_props: meta('node'), doc_string: 'node doc' }), node('Identity', ['r'], ['Y'])],
    initializer: [make('TensorProto', { name: 'unused', data_type: DataType.FLOAT, dims: [], float_data: [1], metadata_props: meta('tensor') })],
    input: [make('ValueInfoProto', { name: 'X', type: tensorTypeProto(DataType.FLOAT, [2]), metadata_props: meta('input') })],
    output: [make('ValueInfoProto', { name: 'Y', type: tensorTypeProto(DataType.FLOAT, [2]), metadata_props: meta('output') })],
    value_info: [make('ValueInfoProto', { name: 'r', metadata_props: meta('value_info') })],
    metadata_props: meta('graph'),
    doc_string: 'graph doc',
  }), {
    ir_version: 10n, metadata_props: meta('model'), producer_version: '1.0', domain: 'ai.vitlin', model_version: 2n ** 63n - 1n, doc_string: '',
  });
}

function irV3Model(): ModelProto {
  return model(graphOf({
    node: [node('Gemm', ['X', 'W', 'B'], ['Y'])],
    initializer: [floatTensor('B', [2], [1, 2]), floatTensor('W', [2, 2], [1, 0, 0, 1])],
    input: [vi('X', [1, 2]), vi('W', [2, 2]), vi('B', [2])],
    output: [vi('Y', [1, 2])],
  }), { ir_version: 3n, opset_import: [{ domain: '', version: 8n }] });
}

function optionalIoModel(): ModelProto {
  return model(graphOf({
    node: [
      make('NodeProto', { op_type: 'Clip', input: ['X', '', 'max'], output: ['c'] }),               // no name, no domain
      make('NodeProto', { op_type: 'Dropout', input: ['c'], output: ['Y', ''], domain: '', name: '' }), // '' name and domain
      make('NodeProto', { op_type: 'LayerNormalization', input: ['X', 'max', ''], output: ['ln', '', 'inv'], domain: 'ai.onnx' }),
    ],
    initializer: [floatTensor('max', [], [6])],
    input: [vi('X')],
    output: [vi('Y')],
  }));
}

function attributesModel(): ModelProto {
  return model(graphOf({
    node: [node('Custom', ['X'], ['Y'], {
      domain: 'custom',
      attribute: [
        intAttr('b', 1n), make('AttributeProto', { name: 'a', type: AttributeType.FLOATS, floats: [0.5, -0, NaN] }), intAttr('b', 2n),
        make('AttributeProto', { name: 'untyped', i: 7n }),                     // pre-IR-2 style: no type field
        make('AttributeProto', { name: 'ints', type: AttributeType.INTS, ints: [2n ** 63n - 1n, -(2n ** 63n)] }),
        make('AttributeProto', { name: 's', type: AttributeType.STRING, s: bytes(0xff, 0x00), doc_string: 'bytes, not UTF-8' }),
        make('AttributeProto', { name: 't', type: AttributeType.TENSOR, t: floatTensor(undefined, [1], [3]) }),
        make('AttributeProto', { name: 'tp', type: AttributeType.TYPE_PROTO, tp: tensorTypeProto(DataType.FLOAT, undefined) }),
        make('AttributeProto', { name: 'empty_ints', type: AttributeType.INTS }),
        make('AttributeProto', { name: 'graphs', type: AttributeType.GRAPHS, graphs: [graphOf({ name: 'g0', output: [vi('X')] })] }),
      ],
    })],
    input: [vi('X')], output: [vi('Y')],
  }, ), { opset_import: [{ domain: '', version: 17n }, { domain: 'custom', version: 1n }] });
}

function unknownFieldsModel(): ModelProto {
  const u = unknownField;
  return model(graphOf({
    node: [node('Relu', ['X'], ['Y'], { $unknown: [u(40)], attribute: [make('AttributeProto', { name: 'x', type: AttributeType.INT, i: 0n, $unknown: [u(41)] })] })],
    initializer: [make('TensorProto', { name: 'w', data_type: DataType.FLOAT, dims: [], raw_data: f32Bytes([1]), $unknown: [u(42)] })],
    input: [make('ValueInfoProto', { name: 'X', type: { ...tensorTypeProto(DataType.FLOAT, [1]), $unknown: [u(43)] }, $unknown: [u(44)] })],
    output: [vi('Y', [1])],
    $unknown: [u(45), u(46)],
  }), {
    opset_import: [{ domain: '', version: 17n, $unknown: [u(47)] }],
    metadata_props: [{ key: 'k', value: 'v', $unknown: [u(48)] }],
    functions: [make('FunctionProto', { name: 'F', domain: 'd', input: ['a'], output: ['a'], $unknown: [u(49)] })],
    $unknown: [u(50)],
  });
}

function valueInfoModel(): ModelProto {
  return model(graphOf({
    node: [node('Relu', ['X'], ['b']), node('Neg', ['b'], ['a']), node('Abs', ['a'], ['c']), node('Sum', ['c', 'X'], ['Y'])],
    input: [make('ValueInfoProto', { name: 'X', doc_string: 'as input' })],  // no type
    // X is also a graph output, listed with another doc string; 'c' has no value_info at all.
    output: [vi('Y', ['N', undefined]), make('ValueInfoProto', { name: 'X', doc_string: 'as output' })],
    value_info: [
      vi('a', ['N']), vi('b', undefined),                                     // not in node order; b has unknown rank
      make('ValueInfoProto', { name: 'b', doc_string: 'listed twice' }),
      vi('ghost', [1]),                                                       // annotates a name nothing defines
      make('ValueInfoProto', { name: 'seq', type: make('TypeProto', { sequence_type: { elem_type: tensorTypeProto(DataType.FLOAT, []) } }) }),
      make('ValueInfoProto', {}),                                             // no name at all
    ],
  }));
}

function danglingModel(): ModelProto {
  return model(graphOf({ node: [node('MatMul', ['X', 'onnx::MatMul_7'], ['Y'], { name: 'MatMul_3' })], input: [vi('X')], output: [vi('Y'), vi('nowhere')] }));
}

function functionLibrary(): ModelProto {
  const lib = functionsModel();
  delete lib.graph;
  return lib;
}

const cases: [string, () => ModelProto][] = [
  ['functions (attribute refs and defaults, overload, value_info, metadata)', functionsModel],
  ['If / Loop subgraphs reading enclosing values, a branch output that is an enclosing value', subgraphModel],
  ['sparse initializers', sparseModel],
  ['fp16 / bf16 / int4 / uint4 / float8 / float4 / string / external / segmented tensors', dtypesModel],
  ['IR-10 metadata and doc strings everywhere, int64 extremes', metadataModel],
  ['IR 3: initializers also listed as graph inputs, in another order', irV3Model],
  ['empty optional inputs and outputs, nodes with no name or domain', optionalIoModel],
  ['repeated attribute names, untyped and unusual attributes', attributesModel],
  ['$unknown fields on every message kind the IR models', unknownFieldsModel],
  ['value_info order, values listed twice, annotations of undefined names', valueInfoModel],
  ['names nothing defines (kept as dangling values)', danglingModel],
  ['a function library without a graph', functionLibrary],
  ['the serde tests\' every-field model', everyFieldModel],
];

describe('proto → IR → proto', () => {
  test.each(cases)('%s', (_, build) => {
    const written = modelToProto(modelFromProto(build()));
    expect(written).toStrictEqual(build());
    // And what is written is encodable, and decodes to the same again.
    if (build().ir_version !== undefined) expect(decodeModelProto(encodeModelProtoToBytes(written))).toStrictEqual(build());
  });
});

describe('what the IR makes of the protos', () => {
  test('subgraph nodes use enclosing values; a branch can output one', () => {
    const graph = modelFromProto(subgraphModel()).graph;
    const outerBias = graph.nodes[0]!.outputs[0]!;
    const [thenBranch, elseBranch] = graph.nodes[1]!.subgraphs() as [Graph, Graph];
    const loopBody = thenBranch.nodes[0]!.subgraphs()[0]!;
    expect(outerBias.uses()).toEqual([{ node: loopBody.nodes[0], index: 1 }]);
    expect(elseBranch.outputs[0]).toBe(outerBias);
    expect(outerBias.isGraphOutput()).toBe(true);
    expect(thenBranch.nodes[0]!.inputs[2]).toBe(graph.inputs[0]);
    expect(findGraphProblems(graph)).toEqual([]);
  });

  test('an initializer listed as an input is one value', () => {
    const graph = modelFromProto(irV3Model()).graph;
    expect(graph.inputs[1]).toBe(graph.initializers.get('W'));
    expect(graph.inputs[1]!.isGraphInput() && graph.inputs[1]!.isInitializer()).toBe(true);
    expect([...graph.initializers.keys()]).toEqual(['B', 'W']);
  });

  test('omitted inputs are undefined; unused optional outputs are values named ""', () => {
    const [clip, dropout, ln] = modelFromProto(optionalIoModel()).graph.nodes as [Node, Node, Node];
    expect(clip.inputs[1]).toBeUndefined();
    expect([clip.name, clip.domain, dropout.name]).toEqual([undefined, '', '']);
    expect(dropout.outputs.map((v) => v.name)).toEqual(['Y', '']);
    expect(ln.domain).toBe('ai.onnx');
  });

  test('attributes are typed; a missing type is inferred', () => {
    const custom = modelFromProto(attributesModel()).graph.nodes[0]!;
    expect(custom.attributes.map((a) => `${a.name}:${a.kind}`)).toEqual([
      'b:int', 'a:floats', 'b:int', 'untyped:int', 'ints:ints', 's:string', 't:tensor', 'tp:type_proto', 'empty_ints:ints', 'graphs:graphs',
    ]);
    expect(custom.attribute('ints')!.value).toEqual([2n ** 63n - 1n, -(2n ** 63n)]);
    const fn = modelFromProto(functionsModel()).functions[0]!;
    expect(fn.nodes[1]!.attributes[0]).toMatchObject({ kind: 'ref', refAttrName: 'alpha', refType: 'float' });
    expect(fn.attributeDefaults[0]).toMatchObject({ name: 'alpha', kind: 'float', value: 2 });
  });

  test('a sparse initializer is a value nodes read', () => {
    const graph = modelFromProto(sparseModel()).graph;
    const s = graph.sparseInitializers.get('S')!;
    expect(graph.nodes[0]!.inputs[1]).toBe(s);
    expect(s.sparseConstValue!.values!.toFloat32Array()).toEqual(new Float32Array([1, 2]));
    expect(s.sparseConstValue!.indices!.toBigInt64Array()).toEqual(new BigInt64Array([0n, 3n]));
  });

  test('names nothing defines become dangling values that validation reports', () => {
    const graph = modelFromProto(danglingModel()).graph;
    expect(graph.nodes[0]!.inputs[1]!.name).toBe('onnx::MatMul_7');
    expect(findGraphProblems(graph)).toEqual([
      "node 'MatMul_3' input 1 'onnx::MatMul_7' is not produced by any node, graph input or initializer",
      "output 1 'nowhere' of graph 'main' is not produced by any node, graph input or initializer",
    ]);
  });
});

describe('edits are written back', () => {
  test('new types, names and metadata replace what was read', () => {
    const m = modelFromProto(valueInfoModel());
    const [relu, neg] = m.graph.nodes as [Node, Node];
    relu.outputs[0]!.name = 'b_renamed';
    neg.outputs[0]!.type = tensorType(DataType.FLOAT16, ['N', 4]);
    m.graph.inputs[0]!.docString = 'changed';
    m.metadataProps.set('new', '1');
    m.opsetImports.set('', 19);
    const out = modelToProto(m);
    expect(out.graph!.node[1]!.input).toEqual(['b_renamed']);
    expect(out.graph!.value_info.map((v) => v.name)).toEqual(['a', 'b_renamed', 'b_renamed', 'ghost', 'seq', undefined]);
    expect(out.graph!.value_info[0]!.type).toStrictEqual(tensorTypeProto(DataType.FLOAT16, ['N', 4]));
    // The listing of X as an output was different from its input listing; once X's doc changes, both follow X.
    expect([out.graph!.input[0]!.doc_string, out.graph!.output[1]!.doc_string]).toEqual(['changed', 'changed']);
    expect(out.metadata_props).toStrictEqual([kv('new', '1')]);
    expect(out.opset_import).toStrictEqual([{ domain: '', version: 19n }]);
  });

  test('edits inside a loaded subgraph are written, the rest of the attribute stays as read', () => {
    const proto = subgraphModel();
    proto.graph!.node[1]!.attribute[1]!.doc_string = 'else doc';
    const m = modelFromProto(proto);
    const elseBranch = m.graph.nodes[1]!.subgraphs()[1]!;
    const zero = elseBranch.addInitializer(Tensor.fromFloat32Array([0], [1]), 'zero');
    elseBranch.replaceOutput(0, zero);
    const attr = modelToProto(m).graph!.node[1]!.attribute[1]!;
    expect(attr.doc_string).toBe('else doc');
    expect(attr.g!.initializer.map((t) => t.name)).toEqual(['zero']);
    expect(attr.g!.output).toStrictEqual([make('ValueInfoProto', { name: 'zero' })]);
  });

  test('removed nodes lose their value_info; new values get none invented', () => {
    const m = modelFromProto(valueInfoModel());
    const [relu, neg, abs] = m.graph.nodes as [Node, Node, Node];
    const sigmoid = new Node({ opType: 'Sigmoid', inputs: [relu.outputs[0]], attributes: [Attr.float('alpha', 1)] });
    m.graph.insertAfter(neg, sigmoid);
    abs.replaceInput(0, sigmoid.outputs[0]);
    m.graph.removeNodes(neg);
    const out = modelToProto(m).graph!;
    expect(out.value_info.map((v) => v.name)).toEqual(['b', 'b', 'ghost', 'seq', undefined]);
    expect(out.node[1]).toStrictEqual(make('NodeProto', {
      op_type: 'Sigmoid', domain: '', input: ['b'], output: ['Sigmoid_out'],
      attribute: [make('AttributeProto', { name: 'alpha', type: AttributeType.FLOAT, f: 1 })],
    }));
  });

  test('renaming an initializer listed as an input renames both listings', () => {
    const m = modelFromProto(irV3Model());
    m.graph.initializers.get('W')!.name = 'weight';
    const out = modelToProto(m).graph!;
    expect(out.input.map((v) => v.name)).toEqual(['X', 'weight', 'B']);
    expect(out.initializer.map((t) => t.name)).toEqual(['B', 'weight']);
    expect(out.node[0]!.input).toEqual(['X', 'weight', 'B']);
  });
});
