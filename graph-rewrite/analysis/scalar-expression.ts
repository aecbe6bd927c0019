/**
 * Numbers computed by small scalar expressions: torch's TorchScript exporter writes SDPA's scale as
 * `Sqrt(Cast(1 / Sqrt(Cast(Shape(q)[-1]))))` rather than a constant. Such an expression over constants
 * and folded shape values is a number as much as a constant is; evaluated in float32, as onnxruntime would.
 */

import type { Dim } from './dims.js';
import { constantScalarOf } from './constants.js';
import { isIntegerType } from '../ir/dtypes.js';
import type { Value } from '../ir/value.js';

const UNARY: Readonly<Record<string, (x: number) => number>> = {
  Identity: (x) => x,
  Sqrt: Math.sqrt,
  Reciprocal: (x) => 1 / x,
  Neg: (x) => -x,
};
const BINARY: Readonly<Record<string, (a: number, b: number) => number>> = {
  Add: (a, b) => a + b,
  Sub: (a, b) => a - b,
  Mul: (a, b) => a * b,
  Div: (a, b) => a / b,
  Pow: (a, b) => a ** b,
};

/**
 * The number a one-element value holds when it is a constant, a folded shape value (`intValues`), or
 * Identity / Cast / Sqrt / Reciprocal / Neg / Add / Sub / Mul / Div / Pow of such numbers; otherwise undefined.
 */
export function evaluateScalar(value: Value | undefined, intValues: (value: Value) => readonly Dim[] | undefined, depth = 16): number | undefined {
  if (value === undefined || depth === 0) return undefined;
  const constant = constantScalarOf(value);
  if (constant !== undefined) return constant;
  const folded = intValues(value);
  if (folded !== undefined) return folded.length === 1 && typeof folded[0] === 'number' ? folded[0] : undefined;
  const node = value.producer();
  if (node === undefined || node.domain !== '') return undefined;
  const operand = (i: number) => evaluateScalar(node.inputs[i], intValues, depth - 1);
  if (node.opType === 'Cast') {
    const x = operand(0);
    const to = node.getInt('to', 0);
    return x === undefined ? undefined : isIntegerType(to) ? Math.trunc(x) : Math.fround(x);
  }
  const unary = UNARY[node.opType];
  if (unary !== undefined) {
    const x = operand(0);
    return x === undefined ? undefined : Math.fround(unary(x));
  }
  const binary = BINARY[node.opType];
  if (binary !== undefined) {
    const [a, b] = [operand(0), operand(1)];
    return a === undefined || b === undefined ? undefined : Math.fround(binary(a, b));
  }
  return undefined;
}
