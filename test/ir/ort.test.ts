/**
 * End to end with the real codec and onnxruntime-node: decode → rewrite with the IR → encode → run,
 * checking outputs numerically; and the IR's dtype decoders against ORT's Cast on every bit pattern.
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, test } from 'vitest';
import { Attr, Graph, Model, Node, Tensor, modelFromProto, modelToProto } from '../../graph-rewrite/ir/index.js';
import { removeDeadNodes, removeUnusedInitializers, topologicalSort, validateGraph } from '../../graph-rewrite/passes/index.js';
import { decodeModelProto } from '../../graph-rewrite/serde/decode.js';
import { encodeModelProtoToBytes } from '../../graph-rewrite/serde/encode.js';
import { DataType, type ModelProto } from '../../graph-rewrite/serde/onnx-schema.js';
import { floatTensor, graphAttr, make, model, node, vi } from './helpers.js';

const X = [-2, -0.5, 0, 1.5, 3, -7];
const C = [10, 20, 30, 40, 50, 60];

/** X → Relu → Add(C) → Y, as the bytes an exporter would write. */
function reluAddBytes(): Uint8Array {
  return encodeModelProtoToBytes(model(make('GraphProto', {
    name: 'relu_add',
    node: [node('Relu', ['X'], ['r']), node('Add', ['r', 'C'], ['Y'])],
    initializer: [floatTensor('C', [6], C)],
    input: [vi('X', [6])],
    output: [vi('Y', [6])],
    value_info: [vi('r', [6])],
  })));
}

async function run(bytes: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<Record<string, number[]>> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const outputs = await session.run(feeds);
    return Object.fromEntries(Object.entries(outputs).map(([name, t]) => [name, Array.from(t.data as Float32Array)]));
  } finally {
    await session.release();
  }
}

const xFeed = (): Record<string, ort.Tensor> => ({ X: new ort.Tensor('float32', Float32Array.from(X), [6]) });
const save = (proto: ModelProto | Model): Uint8Array =>
  encodeModelProtoToBytes(proto instanceof Model ? modelToProto(proto) : proto);

describe('rewrite with the IR, run with onnxruntime', () => {
  test('Relu → Abs via insert + replaceAllUsesWith + removeNodes, then topologicalSort / removeDeadNodes', async () => {
    const bytes = reluAddBytes();
    expect((await run(bytes, xFeed())).Y).toEqual(X.map((x, i) => Math.max(x, 0) + C[i]!));

    const m = modelFromProto(decodeModelProto(bytes, { source: 'relu_add.onnx' }));
    const graph = m.graph;
    const [relu, add] = graph.nodes as [Node, Node];
    const abs = new Node({ opType: 'Abs', inputs: [relu.inputs[0]], name: 'abs' });
    graph.insertAfter(add, abs); // deliberately after its consumer: topologicalSort must fix the order
    relu.outputs[0]!.replaceAllUsesWith(abs.outputs[0]!);
    graph.removeNodes(relu);
    graph.append(new Node({ opType: 'Neg', inputs: [graph.inputs[0]], name: 'dead' }));
    graph.addInitializer(Tensor.fromFloat32Array([1], [1]), 'unused');
    topologicalSort(graph);
    expect(removeDeadNodes(graph)).toBe(1);
    expect(removeUnusedInitializers(graph)).toBe(1);
    validateGraph(graph);
    expect(graph.nodes.map((n) => n.opType)).toEqual(['Abs', 'Add']);

    const rewritten = save(m);
    // The stale annotation of the removed value 'r' is gone; nothing was invented for the new one.
    expect(decodeModelProto(rewritten).graph!.value_info).toEqual([]);
    expect((await run(rewritten, xFeed())).Y).toEqual(X.map((x, i) => Math.abs(x) + C[i]!));
  });

  test('replacing the node that produces a graph output keeps the output name ORT fetches', async () => {
    const m = modelFromProto(decodeModelProto(reluAddBytes()));
    const add = m.graph.nodes[1]!;
    const sub = new Node({ opType: 'Sub', inputs: add.inputs, name: 'sub' });
    m.graph.insertAfter(add, sub);
    add.outputs[0]!.replaceAllUsesWith(sub.outputs[0]!);
    m.graph.removeNodes(add);
    validateGraph(m.graph);
    expect((await run(save(m), xFeed())).Y).toEqual(X.map((x, i) => Math.max(x, 0) - C[i]!));
  });

  test('an edit inside an If branch that reads enclosing values', async () => {
    const branch = (name: string, op: string) => make('GraphProto', {
      name, node: [node(op, ['shifted'], [`${name}_out`])], output: [vi(`${name}_out`, [6])],
    });
    const proto = model(make('GraphProto', {
      name: 'if_model',
      node: [
        node('Add', ['X', 'C'], ['shifted']),
        node('If', ['cond'], ['Y'], { attribute: [graphAttr('then_branch', branch('then', 'Abs')), graphAttr('else_branch', branch('else', 'Neg'))] }),
      ],
      initializer: [floatTensor('C', [6], C.map((c) => -c))],
      input: [vi('X', [6]), vi('cond', [], DataType.BOOL)],
      output: [vi('Y', [6])],
    }));
    const m = modelFromProto(decodeModelProto(save(proto)));
    const thenBranch = m.graph.nodes[1]!.subgraphs()[0]!;
    const abs = thenBranch.nodes[0]!;
    const sqrt = new Node({ opType: 'Sqrt', inputs: [abs.outputs[0]], name: 'sqrt' });
    thenBranch.insertAfter(abs, sqrt);
    thenBranch.replaceOutput(0, sqrt.outputs[0]!);
    validateGraph(m.graph);
    const shifted = X.map((x, i) => x - C[i]!);
    const feeds = (cond: boolean) => ({ ...xFeed(), cond: new ort.Tensor('bool', [cond], []) });
    const expectClose = (actual: number[], expected: number[]) => actual.forEach((a, i) => expect(a).toBeCloseTo(expected[i]!, 5));
    expectClose((await run(save(m), feeds(true))).Y!, shifted.map((s) => Math.sqrt(Math.abs(s))));
    expectClose((await run(save(m), feeds(false))).Y!, shifted.map((s) => -s));
  });
});

/** Every bit pattern of a ≤16-bit dtype, in raw_data layout (sub-byte types: two per byte). */
function allPatterns(bits: number): { raw: Uint8Array; count: number } {
  const count = 2 ** bits;
  if (bits === 16) return { raw: new Uint8Array(Uint16Array.from({ length: count }, (_, i) => i).buffer), count };
  if (bits === 8) return { raw: Uint8Array.from({ length: count }, (_, i) => i), count };
  return { raw: Uint8Array.from({ length: count / 2 }, (_, i) => (2 * i) | ((2 * i + 1) << 4)), count };
}

describe('dtype decoding agrees with onnxruntime Cast on every bit pattern', () => {
  test.each<[string, number, number, number]>([
    ['FLOAT16', DataType.FLOAT16, 16, 21],
    ['BFLOAT16', DataType.BFLOAT16, 16, 21],
    ['FLOAT8E4M3FN', DataType.FLOAT8E4M3FN, 8, 21],
    ['FLOAT8E4M3FNUZ', DataType.FLOAT8E4M3FNUZ, 8, 21],
    ['FLOAT8E5M2', DataType.FLOAT8E5M2, 8, 21],
    ['FLOAT8E5M2FNUZ', DataType.FLOAT8E5M2FNUZ, 8, 21],
    ['FLOAT8E8M0', DataType.FLOAT8E8M0, 8, 24],
    ['INT4', DataType.INT4, 4, 21],
    ['UINT4', DataType.UINT4, 4, 21],
  ])('%s', async (_, dataType, bits, opset) => {
    const { raw, count } = allPatterns(bits);
    const tensor = Tensor.fromRawData(dataType, [count], raw);
    const graph = new Graph({ name: 'cast' });
    const cast = new Node({ opType: 'Cast', inputs: [graph.addInitializer(tensor, 'T')], attributes: [Attr.int('to', DataType.FLOAT)], outputs: ['Y'] });
    graph.append(cast);
    graph.addOutput(cast.outputs[0]!);
    const expected = (await run(save(new Model({ graph, irVersion: 10, opsetImports: [['', opset]] })), {})).Y!;
    const actual = Array.from(tensor.toFloat32Array());
    const mismatches = actual.flatMap((value, i) => {
      const same = Number.isNaN(value) ? Number.isNaN(expected[i]!) : Object.is(value, expected[i]);
      return same ? [] : [`pattern 0x${i.toString(16)}: vitlin ${value}, onnxruntime ${expected[i]}`];
    });
    expect(mismatches).toEqual([]);
  });
});
