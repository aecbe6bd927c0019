/**
 * Reading constant tensors: initializers and `Constant` nodes (every `value*` attribute form).
 * Folded values (shape subgraphs) come from shape inference: {@link ShapeInfo.intValues}.
 */

import { DataType, isIntegerType } from '../ir/dtypes.js';
import type { Node } from '../ir/node.js';
import { Tensor } from '../ir/tensor.js';
import type { Value } from '../ir/value.js';

/** The tensor a `Constant` node produces, or undefined for forms vitlin does not read (sparse, strings). */
export function constantNodeTensor(node: Node): Tensor | undefined {
  if (node.opType !== 'Constant' || node.domain !== '') return undefined;
  const attr = node.attributes[0];
  if (attr === undefined) return undefined;
  switch (attr.name) {
    case 'value':
      return attr.kind === 'tensor' ? attr.value : undefined;
    case 'value_float':
      return attr.kind === 'float' ? Tensor.fromFloat32Array([attr.value], []) : undefined;
    case 'value_floats':
      return attr.kind === 'floats' ? Tensor.fromFloat32Array(attr.value, [attr.value.length]) : undefined;
    case 'value_int':
      return attr.kind === 'int' ? Tensor.fromInt64Array([attr.value], []) : undefined;
    case 'value_ints':
      return attr.kind === 'ints' ? Tensor.fromInt64Array(attr.value, [attr.value.length]) : undefined;
    default:
      return undefined;
  }
}

/** The constant tensor behind a value: a dense initializer (not overridable as a graph input) or a Constant node's output. */
export function constantTensorOf(value: Value | undefined): Tensor | undefined {
  if (value === undefined) return undefined;
  if (value.constValue !== undefined) return value.isGraphInput() ? undefined : value.constValue;
  const producer = value.producer();
  return producer === undefined ? undefined : constantNodeTensor(producer);
}

/** Whether a constant's data can be read in memory (not external, numeric). */
function isReadable(tensor: Tensor): boolean {
  return tensor.storage !== 'external' && tensor.dataType !== DataType.STRING;
}

/** A constant holding exactly one number (any rank: [], [1], [1,1]…), as a number. */
export function constantScalarOf(value: Value | undefined): number | undefined {
  const tensor = constantTensorOf(value);
  if (tensor === undefined || tensor.elementCount !== 1 || !isReadable(tensor)) return undefined;
  return tensor.toFloat32Array()[0];
}

/**
 * The elements of a small integer constant (≤ `limit` elements), as numbers. int64 values beyond the
 * safe-integer range (Slice's INT64_MAX "to the end") are clamped to ±Number.MAX_SAFE_INTEGER.
 */
export function constantIntsOf(value: Value | undefined, limit = 1024): number[] | undefined {
  const tensor = constantTensorOf(value);
  if (tensor === undefined || !isIntegerType(tensor.dataType) || tensor.elementCount > limit || !isReadable(tensor)) return undefined;
  return integerTensorToNumbers(tensor);
}

/** An integer tensor's elements as numbers, clamped to the safe-integer range. */
export function integerTensorToNumbers(tensor: Tensor): number[] {
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  return Array.from(tensor.toBigInt64Array(), (v) => Number(v > max ? max : v < -max ? -max : v));
}
