/**
 * Small helpers for the nodes and initializers calibration adds to a model: ordinary ONNX ops appended
 * to the graph (the caller sorts it topologically afterwards) and constants in the dtype of the value
 * they combine with.
 */
import { Attr } from '../../graph-rewrite/ir/attributes.js';
import { DataType } from '../../graph-rewrite/ir/dtypes.js';
import type { Graph } from '../../graph-rewrite/ir/graph.js';
import { Node } from '../../graph-rewrite/ir/node.js';
import { Tensor } from '../../graph-rewrite/ir/tensor.js';
import type { Value } from '../../graph-rewrite/ir/value.js';
import { float32ToFloat16Bits } from '../runtime/float16.js';

export class GraphEditor {
  constructor(readonly graph: Graph, readonly opset: number, readonly prefix: string) {}

  /** Appends one node and returns its (single) output. */
  op(opType: string, inputs: readonly (Value | undefined)[], attributes: readonly Attr[] = [], hint = opType): Value {
    const node = new Node({ opType, inputs, attributes, outputs: 1, name: this.graph.nameAllocator.freshNodeName(`${this.prefix}/${hint}`) });
    this.graph.append(node);
    return node.outputs[0]!;
  }

  ints(values: readonly number[], hint: string): Value {
    return this.graph.addInitializer(Tensor.fromInt64Array(values, [values.length]), this.graph.nameAllocator.freshValueName(`${this.prefix}/${hint}`));
  }

  /** A float initializer in `dataType` (FLOAT or FLOAT16). */
  floats(values: ArrayLike<number>, dims: readonly number[], hint: string, dataType: number = DataType.FLOAT): Value {
    return this.graph.addInitializer(floatTensor(values, dims, dataType), this.graph.nameAllocator.freshValueName(`${this.prefix}/${hint}`));
  }

  /** ReduceMean over `axes`, keeping them (axes an attribute before opset 18, an input from 18). */
  reduceMean(input: Value, axes: readonly number[], hint: string): Value {
    return this.opset >= 18
      ? this.op('ReduceMean', [input, this.ints(axes, `${hint}_axes`)], [Attr.int('keepdims', 1)], hint)
      : this.op('ReduceMean', [input], [Attr.ints('axes', axes), Attr.int('keepdims', 1)], hint);
  }

  transpose(input: Value, perm: readonly number[], hint: string): Value {
    return this.op('Transpose', [input], [Attr.ints('perm', perm)], hint);
  }

  reshape(input: Value, shape: readonly number[], hint: string): Value {
    return this.op('Reshape', [input, this.ints(shape, `${hint}_shape`)], [], hint);
  }
}

/** A float tensor of `dataType` (FLOAT or FLOAT16) from float values. */
export function floatTensor(values: ArrayLike<number>, dims: readonly number[], dataType: number): Tensor {
  if (dataType === DataType.FLOAT16) {
    const bits = Uint16Array.from(Array.from(values, (v) => float32ToFloat16Bits(v)));
    return Tensor.fromRawData(DataType.FLOAT16, dims, new Uint8Array(bits.buffer));
  }
  return Tensor.fromFloat32Array(Float32Array.from(values), dims);
}
