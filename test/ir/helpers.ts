/**
 * Helpers for the IR tests: hand-built protos (made with the codec's `newMessage`, not with the IR's
 * own builders, so a bug in the IR cannot hide in the expected value), and an independent checker of
 * use-def consistency.
 */
import { expect } from 'vitest';
import type { Graph } from '../../graph-rewrite/ir/graph.js';
import type { Node } from '../../graph-rewrite/ir/node.js';
import type { Value } from '../../graph-rewrite/ir/value.js';
import { newMessage, type OnnxMessageTypes } from '../../graph-rewrite/serde/decode.js';
import {
  AttributeType, DataType, type AttributeProto, type GraphProto, type MessageName, type ModelProto, type NodeProto,
  type StringStringEntryProto, type TensorProto, type TypeProto, type ValueInfoProto,
} from '../../graph-rewrite/serde/onnx-schema.js';

/** A message with repeated fields defaulted to [], the given fields set (absent ones stay absent). */
export function make<N extends MessageName>(name: N, fields: Partial<OnnxMessageTypes[N]>): OnnxMessageTypes[N] {
  // The decoder never writes an `undefined` key: an absent field is a missing key.
  const defined = Object.entries(fields).filter(([, value]) => value !== undefined);
  return Object.assign(newMessage(name), Object.fromEntries(defined));
}

export const kv = (key: string, value: string): StringStringEntryProto => ({ key, value });
export const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);
export const f32Bytes = (values: number[]): Uint8Array => new Uint8Array(new Float32Array(values).buffer);
function varint(value: number): number[] {
  const out: number[] = [];
  for (; value >= 0x80; value = Math.floor(value / 128)) out.push((value % 128) | 0x80);
  out.push(value);
  return out;
}

/** One varint field with a number no ONNX message uses (1000 + k), value k: what a newer ONNX could add. */
export const unknownField = (k: number): Uint8Array => bytes(...varint((1000 + k) * 8), ...varint(k));

export function tensorTypeProto(elemType: number, dims: (number | string | undefined)[] | undefined): TypeProto {
  return make('TypeProto', {
    tensor_type: {
      elem_type: elemType,
      ...(dims === undefined ? {} : {
        shape: make('TensorShapeProto', {
          dim: dims.map((d) => (typeof d === 'number' ? { dim_value: BigInt(d) } : d === undefined ? {} : { dim_param: d })),
        }),
      }),
    },
  });
}

export const vi = (name: string, dims: (number | string | undefined)[] | undefined = [2], elemType: number = DataType.FLOAT): ValueInfoProto =>
  make('ValueInfoProto', { name, type: tensorTypeProto(elemType, dims) });

export const node = (opType: string, input: string[], output: string[], fields: Partial<NodeProto> = {}): NodeProto =>
  make('NodeProto', { op_type: opType, input, output, name: `${opType}_${output[0] ?? ''}`, ...fields });

export const floatTensor = (name: string | undefined, dims: number[], values: number[]): TensorProto =>
  make('TensorProto', { ...(name === undefined ? {} : { name }), data_type: DataType.FLOAT, dims: dims.map(BigInt), raw_data: f32Bytes(values) });

export const intAttr = (name: string, value: bigint): AttributeProto => make('AttributeProto', { name, type: AttributeType.INT, i: value });
export const graphAttr = (name: string, g: GraphProto): AttributeProto => make('AttributeProto', { name, type: AttributeType.GRAPH, g });

export function model(graph: GraphProto, fields: Partial<ModelProto> = {}): ModelProto {
  return make('ModelProto', {
    ir_version: 8n, opset_import: [{ domain: '', version: 17n }], producer_name: 'vitlin-ir-test', graph, ...fields,
  });
}

/**
 * Asserts that producers, uses and graph-output flags agree with the node lists, for the graph and
 * every subgraph, checking each relation from both sides.
 */
export function expectUseDefConsistent(graph: Graph): void {
  const liveNodes = new Set<Node>(graph.allNodes());
  const values = new Set<Value>();
  for (const node of liveNodes) {
    node.outputs.forEach((output, i) => {
      expect(output.producer(), `producer of ${output.label}`).toBe(node);
      expect(output.outputIndex(), `output index of ${output.label}`).toBe(i);
      values.add(output);
    });
    node.inputs.forEach((input, i) => {
      if (input === undefined) return;
      values.add(input);
      const matching = input.uses().filter((use) => use.node === node && use.index === i);
      expect(matching.length, `${node.label} input ${i} is registered once among the uses of ${input.label}`).toBe(1);
    });
  }
  const outputCounts = new Map<Value, number>();
  const visitGraph = (g: Graph): void => {
    for (const value of [...g.inputs, ...g.initializers.values()]) values.add(value);
    for (const value of g.outputs) {
      values.add(value);
      outputCounts.set(value, (outputCounts.get(value) ?? 0) + 1);
    }
    for (const n of g.nodes) n.subgraphs().forEach(visitGraph);
  };
  visitGraph(graph);
  for (const value of values) {
    for (const use of value.uses()) {
      expect(liveNodes.has(use.node), `use of ${value.label} by ${use.node.label} is by a node in the graph`).toBe(true);
      expect(use.node.inputs[use.index], `${use.node.label} input ${use.index} is ${value.label}`).toBe(value);
    }
    expect(value.isGraphOutput(), `isGraphOutput of ${value.label}`).toBe(outputCounts.has(value));
  }
}

/** `name` of each node, for order assertions. */
export const names = (nodes: readonly Node[]): (string | undefined)[] => nodes.map((n) => n.name);
