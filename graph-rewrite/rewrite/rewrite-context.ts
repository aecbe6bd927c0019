/**
 * What a rule's rewrite edits the graph with. New nodes are collected (named after the block, fresh
 * names guaranteed) and inserted together before the first reader of a replaced value; replacements
 * are applied after the insertion. Shapes of new values are recorded so later steps can read them.
 * It is the node tape of custom-ops over a model's graph (constants become initializers), so rewrites
 * use the same opset-aware helpers (`unsqueeze`, `reduce`, …) as function bodies.
 */

import type { NodeTape } from '../../custom-ops/index.js';
import type { Attr } from '../ir/attributes.js';
import type { Graph } from '../ir/graph.js';
import type { Model } from '../ir/model.js';
import { DataType } from '../ir/dtypes.js';
import { Node } from '../ir/node.js';
import { Tensor } from '../ir/tensor.js';
import type { Value } from '../ir/value.js';
import { recordInferred, type TensorInfo } from '../analysis/shape-inference.js';
import type { Dim } from '../analysis/dims.js';

export interface NewNodeOptions {
  readonly domain?: string;
  readonly attributes?: readonly Attr[];
  /** Types of the outputs, recorded on them (`Value.inferred`). */
  readonly outputTypes?: readonly TensorInfo[];
  readonly outputCount?: number;
  readonly overload?: string;
  /** Name hint (the prefix is added); default the op type. */
  readonly name?: string;
}

export class RewriteContext implements NodeTape<Value> {
  readonly #created: Node[] = [];
  readonly #replacements: [Value, Value][] = [];

  /** `prefix` starts the names of new nodes and values, e.g. '/blocks.0/attn/'. */
  constructor(readonly model: Model, readonly prefix: string) {}

  get graph(): Graph {
    return this.model.graph;
  }

  /** The model's default-domain (ONNX) opset: new nodes are written for it. */
  get opset(): number {
    return this.model.opsetImports.get('') ?? this.model.opsetImports.get('ai.onnx') ?? 0;
  }

  /** The nodes created so far, in creation (= dependency) order. */
  get created(): readonly Node[] {
    return this.#created;
  }

  /** The `[old, new]` value replacements to apply. */
  get replacements(): readonly (readonly [Value, Value])[] {
    return this.#replacements;
  }

  /** Creates a node reading `inputs`; returns its outputs. */
  node(opType: string, inputs: readonly (Value | undefined)[], options: NewNodeOptions = {}): Value[] {
    const allocator = this.graph.nameAllocator;
    const hint = `${this.prefix}${options.name ?? opType}`;
    const count = options.outputCount ?? 1;
    const node = new Node({
      opType,
      domain: options.domain ?? '',
      inputs,
      attributes: options.attributes ?? [],
      name: allocator.freshNodeName(hint),
      outputs: Array.from({ length: count }, (_, i) => allocator.freshValueName(`${hint}_output_${i}`)),
      ...(options.overload === undefined ? {} : { overload: options.overload }),
    });
    this.#created.push(node);
    node.outputs.forEach((output, i) => {
      const info = options.outputTypes?.[i];
      if (info !== undefined) recordInferred(output, info);
    });
    return [...node.outputs];
  }

  /** A single-output node. */
  op(opType: string, inputs: readonly (Value | undefined)[], options: NewNodeOptions = {}): Value {
    return this.node(opType, inputs, { ...options, outputCount: 1 })[0]!;
  }

  /** A new int64 initializer (shape vectors, axes, slice bounds). */
  int64(values: readonly number[], hint: string, dims: readonly number[] = [values.length]): Value {
    return this.initializer(Tensor.fromInt64Array(values, dims), hint);
  }

  /** A new float32 initializer; `dims` [] for a scalar. */
  float32(values: readonly number[], dims: readonly number[], hint: string): Value {
    return this.initializer(Tensor.fromFloat32Array(values, dims), hint);
  }

  /** A new initializer holding `tensor`, under a fresh name. */
  initializer(tensor: Tensor, hint: string): Value {
    const name = this.graph.nameAllocator.freshValueName(`${this.prefix}${hint}`);
    const value = this.graph.addInitializer(tensor, name);
    recordInferred(value, { elemType: tensor.dataType, shape: tensor.dims }, tensor.elementCount <= 64 && tensor.dataType === DataType.INT64 ? tensor.toNumberArray() : undefined);
    return value;
  }

  /** The value's shape as shape inference (or an earlier step of this rewrite) found it. */
  shapeOf(value: Value | undefined): readonly Dim[] | undefined {
    return value?.inferred?.shape;
  }

  /** The value's element type (a `DataType` code), when known. */
  elemTypeOf(value: Value | undefined): number | undefined {
    return value?.inferred?.elemType;
  }

  /** Records what the rewrite knows about a value it made (see `recordInferred`). */
  record(value: Value, info: TensorInfo): void {
    recordInferred(value, info);
  }

  /** Every reader of `old` (and its place among graph outputs) will read `replacement` instead. */
  replace(old: Value, replacement: Value): void {
    this.#replacements.push([old, replacement]);
  }
}
