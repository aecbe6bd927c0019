/**
 * What both function bodies share on top of the node tape: the element-type plumbing (bodies compute
 * in float32 and cast float16 inputs and outputs).
 */
import { InvalidArgumentError } from '../../base/errors.js';
import { DataType } from '../../base/onnx-schema.js';
import { cast, type NodeTape } from './node-tape.js';

/** The ONNX data type of a vitlin element type. */
export function dataTypeOf(elemType: 'float' | 'float16'): number {
  if (elemType === 'float') return DataType.FLOAT;
  if (elemType === 'float16') return DataType.FLOAT16;
  throw new InvalidArgumentError(`'elemType' must be 'float' or 'float16', got ${String(elemType)}`);
}

/** The formal input `name` as float32: itself for float models, a Cast for float16 ones. */
export function asFloat<V>(tape: NodeTape<V>, input: V, name: string, elemType: 'float' | 'float16'): V {
  return dataTypeOf(elemType) === DataType.FLOAT ? input : cast(tape, input, DataType.FLOAT, `${name}_float`);
}

/**
 * The body's result in the op's element type: the float32 value itself, or a Cast of it to float16
 * (named after the formal output, which the function tape then gives it).
 */
export function asOutput<V>(tape: NodeTape<V>, result: V, output: string, elemType: 'float' | 'float16'): V {
  const dataType = dataTypeOf(elemType);
  return dataType === DataType.FLOAT ? result : cast(tape, result, dataType, `${output}_cast`);
}
