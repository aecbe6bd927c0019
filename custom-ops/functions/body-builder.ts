/**
 * Accumulates the nodes of a function body for one default-domain opset, hiding the operators whose
 * signature changed across opsets 11–23 (where `axes` is an attribute or an input).
 */
import { InvalidArgumentError } from '../../base/errors.js';
import { DataType, type AttributeProto, type NodeProto } from '../../base/onnx-schema.js';
import { constantNode, floatTensor, int64Tensor, intAttribute, intsAttribute, makeNode } from './proto-builders.js';

/** Reductions the bodies use, with the first opset in which each takes `axes` as an input. */
const AXES_INPUT_SINCE: Readonly<Record<ReductionOp, number>> = {
  ReduceSum: 13,
  ReduceL2: 18,
  ReduceSumSquare: 18,
  ReduceMean: 18,
};

export type ReductionOp = 'ReduceSum' | 'ReduceL2' | 'ReduceSumSquare' | 'ReduceMean';

export class FunctionBodyBuilder {
  private readonly bodyNodes: NodeProto[] = [];
  private readonly usedNames: Set<string>;

  /** `reservedNames`: the function's formal inputs and outputs, which body values must not shadow. */
  constructor(
    readonly opset: number,
    reservedNames: readonly string[],
  ) {
    this.usedNames = new Set(reservedNames);
  }

  get nodes(): readonly NodeProto[] {
    return this.bodyNodes;
  }

  /** A value name not used yet: `hint`, or `hint_2`, `hint_3`, … */
  private uniqueName(hint: string): string {
    let name = hint;
    for (let suffix = 2; this.usedNames.has(name); suffix++) name = `${hint}_${suffix}`;
    this.usedNames.add(name);
    return name;
  }

  /**
   * Appends `opType(inputs)` and returns its output's name: `output` if given (a formal output of the
   * function, which must be written exactly once), otherwise a fresh name derived from `hint`.
   */
  add(
    opType: string,
    inputs: readonly string[],
    hint: string,
    attributes: readonly AttributeProto[] = [],
    output?: string,
  ): string {
    const outputName = output ?? this.uniqueName(hint);
    this.bodyNodes.push(makeNode(opType, inputs, [outputName], attributes));
    return outputName;
  }

  /** A float32 constant; `dims` [] for a scalar. */
  floatConstant(hint: string, values: readonly number[], dims: readonly number[] = []): string {
    const name = this.uniqueName(hint);
    this.bodyNodes.push(constantNode(name, floatTensor(values, dims)));
    return name;
  }

  /** An int64 constant vector (Reshape shapes, reduction axes). */
  int64Constant(hint: string, values: readonly number[]): string {
    const name = this.uniqueName(hint);
    this.bodyNodes.push(constantNode(name, int64Tensor(values, [values.length])));
    return name;
  }

  /** `reduction(input)` over `axes` with keepdims = 1, as an attribute or an input depending on the opset. */
  reduce(reduction: ReductionOp, input: string, axes: readonly number[], hint: string): string {
    const keepDims = intAttribute('keepdims', 1);
    if (this.opset >= AXES_INPUT_SINCE[reduction]) {
      const axesName = this.int64Constant(`${hint}_axes`, axes);
      return this.add(reduction, [input, axesName], hint, [keepDims]);
    }
    return this.add(reduction, [input], hint, [intsAttribute('axes', axes), keepDims]);
  }

  /**
   * max(‖x‖₂, eps) over `axis` (keepdims): the denominator of F.normalize. Clip(min = eps) rather
   * than Max, because onnxruntime-web's JSEP WebGPU backend has no Max kernel (it would run on CPU).
   */
  clampedNorm(input: string, axis: number, eps: string, hint: string): string {
    const norm = this.reduce('ReduceL2', input, [axis], `${hint}_l2`);
    return this.add('Clip', [norm, eps], hint);
  }

  reshape(input: string, shape: readonly number[], hint: string, output?: string): string {
    return this.add('Reshape', [input, this.int64Constant(`${hint}_shape`, shape)], hint, [], output);
  }

  transpose(input: string, permutation: readonly number[], hint: string): string {
    return this.add('Transpose', [input], hint, [intsAttribute('perm', permutation)]);
  }

  cast(input: string, dataType: number, hint: string, output?: string): string {
    return this.add('Cast', [input], hint, [intAttribute('to', dataType)], output);
  }
}

/** The ONNX data type of a vitlin element type. */
export function dataTypeOf(elemType: 'float' | 'float16'): number {
  if (elemType === 'float') return DataType.FLOAT;
  if (elemType === 'float16') return DataType.FLOAT16;
  throw new InvalidArgumentError(`'elemType' must be 'float' or 'float16', got ${String(elemType)}`);
}

/** `input` as float32: itself for float models, a Cast for float16 ones (bodies compute in float32). */
export function asFloat(builder: FunctionBodyBuilder, input: string, elemType: 'float' | 'float16'): string {
  return dataTypeOf(elemType) === DataType.FLOAT ? input : builder.cast(input, DataType.FLOAT, `${input}_float`);
}

/**
 * Emits the body's last op so that the formal output `output` gets the op's element type: the op
 * writes `output` directly for float models, or a float32 value that is then Cast to float16.
 */
export function emitOutput(
  builder: FunctionBodyBuilder,
  output: string,
  elemType: 'float' | 'float16',
  emitLastOp: (outputName: string | undefined) => string,
): void {
  const dataType = dataTypeOf(elemType);
  if (dataType === DataType.FLOAT) {
    emitLastOp(output);
    return;
  }
  builder.cast(emitLastOp(undefined), dataType, `${output}_cast`, output);
}
