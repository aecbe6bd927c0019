/**
 * The node tape over a function body: builds the IR `Function` a custom-ops `FunctionSpec` describes,
 * directly (no FunctionProto encoded and decoded on the way). Body values are named after the tape's
 * hints (`key_norm`, `key_norm_2`, … never shadowing a formal input or output), constants are
 * Constant nodes (a body has no initializers), and each node is named `<function>/<its output>` so
 * onnxruntime profiles of the inlined body name its steps.
 */

import { functionBodyNodeName, type FunctionSpec, type NodeTape, type TapeNodeOptions } from '../../custom-ops/index.js';
import { DataType, type TensorProto } from '../serde/onnx-schema.js';
import { Attr } from '../ir/attributes.js';
import { Function } from '../ir/function.js';
import { Node } from '../ir/node.js';
import { makeMessage } from '../ir/proto-utils.js';
import { Tensor } from '../ir/tensor.js';
import { Value } from '../ir/value.js';

class FunctionBodyTape implements NodeTape<Value> {
  readonly nodes: Node[] = [];
  readonly #used: Set<string>;

  constructor(readonly opset: number, reservedNames: readonly string[]) {
    this.#used = new Set(reservedNames);
  }

  op(opType: string, inputs: readonly (Value | undefined)[], options: TapeNodeOptions = {}): Value {
    return this.#append(opType, inputs, options.attributes ?? [], this.#unique(options.name ?? opType), options.domain);
  }

  int64(values: readonly number[], hint: string): Value {
    return this.#constant({ dims: [BigInt(values.length)], data_type: DataType.INT64, int64_data: values.map((v) => BigInt(v)) }, hint);
  }

  float32(values: readonly number[], dims: readonly number[], hint: string): Value {
    return this.#constant({ dims: dims.map((dim) => BigInt(dim)), data_type: DataType.FLOAT, float_data: [...values] }, hint);
  }

  /** Typed fields (not raw_data), as small constants in ONNX functions are usually written. */
  #constant(fields: Partial<TensorProto>, hint: string): Value {
    const tensor = Tensor.fromProto(makeMessage<TensorProto>('TensorProto', fields));
    return this.#append('Constant', [], [Attr.tensor('value', tensor)], this.#unique(hint), undefined);
  }

  #append(opType: string, inputs: readonly (Value | undefined)[], attributes: readonly Attr[], output: string, domain: string | undefined): Value {
    const node = new Node({ opType, domain: domain ?? '', inputs, attributes, outputs: [output] });
    // A default-domain body node leaves `domain` out of its NodeProto.
    if (domain === undefined) node._absentInProto = { domain: true, opType: false };
    this.nodes.push(node);
    return node.outputs[0]!;
  }

  /** `hint`, or `hint_2`, `hint_3`, … */
  #unique(hint: string): string {
    let name = hint;
    for (let suffix = 2; this.#used.has(name); suffix++) name = `${hint}_${suffix}`;
    this.#used.add(name);
    return name;
  }
}

/** The IR function `spec` describes, its body written for `spec.opset`. */
export function buildFunction(spec: FunctionSpec): Function {
  const tape = new FunctionBodyTape(spec.opset, [...spec.inputs, ...spec.outputs]);
  const inputs = spec.inputs.map((name) => new Value(name));
  const outputs = spec.body(tape, inputs);
  outputs.forEach((value, i) => {
    value.name = spec.outputs[i]!;
  });
  for (const node of tape.nodes) node.name = functionBodyNodeName(spec.name, node.outputs[0]!.name!);
  const fn = new Function({
    domain: spec.domain,
    name: spec.name,
    ...(spec.overload === undefined ? {} : { overload: spec.overload }),
    inputs,
    attributeDefaults: spec.attributeDefaults,
    opsetImports: [['', spec.opset]],
    ...(spec.docString === undefined ? {} : { docString: spec.docString }),
  });
  fn.body.append(tape.nodes);
  for (const output of outputs) fn.body.addOutput(output);
  for (const [key, value] of spec.metadata) fn.metadataProps.set(key, value);
  return fn;
}
