/**
 * Open Inference Protocol tensors ↔ vitlin tensors (src/runtime/backend.ts): the protocol's datatype strings, its JSON tensor
 * data (flat or nested, row-major) in requests, and flat data in responses.
 */
import { createTensor, type Tensor } from '../runtime/backend.js';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../runtime/float16.js';
import { badRequest } from './errors.js';

/** The protocol's "Tensor Data Types", keyed by onnxruntime's type names. */
const OIP_OF_ORT: Readonly<Record<string, string>> = {
  bool: 'BOOL', uint8: 'UINT8', uint16: 'UINT16', uint32: 'UINT32', uint64: 'UINT64',
  int8: 'INT8', int16: 'INT16', int32: 'INT32', int64: 'INT64',
  float16: 'FP16', float32: 'FP32', float64: 'FP64', string: 'BYTES',
};
export const OIP_DATATYPES: readonly string[] = Object.values(OIP_OF_ORT);

/** The protocol datatype of an onnxruntime type (`float32` → `FP32`); unknown types pass through upper-cased. */
export function oipDatatype(ortType: string): string {
  return OIP_OF_ORT[ortType] ?? ortType.toUpperCase();
}

/** Metadata shapes: symbolic or unknown dims are -1, as the protocol specifies. */
export function oipShape(shape: ReadonlyArray<number | string>): number[] {
  return shape.map((dim) => (typeof dim === 'number' && dim >= 0 ? dim : -1));
}

/** Integer ranges of the fixed-width integer types (int64 and uint64 limited to what JSON numbers hold exactly). */
const INT_RANGE: Readonly<Record<string, [number, number]>> = {
  int8: [-128, 127], uint8: [0, 255], int16: [-32768, 32767], uint16: [0, 65535],
  int32: [-(2 ** 31), 2 ** 31 - 1], uint32: [0, 2 ** 32 - 1],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER], uint64: [0, Number.MAX_SAFE_INTEGER],
};

/**
 * Flattens nested JSON arrays (row-major) into `out`. Nested data must match `shape` level by level, so a
 * ragged or mis-shaped nesting is refused instead of silently reinterpreted.
 */
function flattenNested(value: unknown, shape: readonly number[], axis: number, out: unknown[], where: string, path: string): void {
  if (axis === shape.length) {
    if (Array.isArray(value)) throw badRequest(`${where}.data${path} is nested deeper than the shape's rank ${shape.length}`);
    out.push(value);
    return;
  }
  if (!Array.isArray(value) || value.length !== shape[axis]) {
    throw badRequest(`${where}.data${path} must be an array of ${shape[axis]} (shape [${shape.join(', ')}] axis ${axis}), got ${Array.isArray(value) ? `${value.length} elements` : JSON.stringify(value)}`);
  }
  value.forEach((item, i) => flattenNested(item, shape, axis + 1, out, where, `${path}[${i}]`));
}

/**
 * Builds a tensor from a request input's JSON `data`, checking the element count against
 * `shape` and every element against `ortType`; `where` names the input in errors (`inputs[0] 'x'`).
 */
export function tensorFromJson(ortType: string, shape: readonly number[], data: unknown, where: string): Tensor {
  if (!Array.isArray(data)) throw badRequest(`${where}.data must be an array (flat or nested, row-major), got ${typeof data}`);
  const nested = data.length > 0 && Array.isArray(data[0]);
  const values: unknown[] = nested ? [] : data;
  if (nested) flattenNested(data, shape, 0, values, where, '');
  const expected = shape.reduce((a, b) => a * b, 1);
  if (values.length !== expected) {
    throw badRequest(`${where}.data has ${values.length} elements, shape [${shape.join(', ')}] needs ${expected}`);
  }
  const bad = (index: number, what: string) => badRequest(`${where}.data[${index}] must be ${what}, got ${JSON.stringify(values[index]) ?? String(values[index])}`);
  const dims = [...shape];
  switch (ortType) {
    case 'float32':
    case 'float64':
    case 'float16': {
      const numbers = new Float64Array(values.length);
      values.forEach((v, i) => {
        if (typeof v !== 'number') throw bad(i, 'a number');
        numbers[i] = v;
      });
      if (ortType === 'float32') return createTensor('float32', Float32Array.from(numbers), dims);
      if (ortType === 'float64') return createTensor('float64', numbers, dims);
      return createTensor('float16', Uint16Array.from(numbers, float32ToFloat16Bits), dims);
    }
    case 'bool': {
      const bytes = new Uint8Array(values.length);
      values.forEach((v, i) => {
        if (typeof v !== 'boolean') throw bad(i, 'true or false');
        bytes[i] = v ? 1 : 0;
      });
      return createTensor('bool', bytes, dims);
    }
    case 'string': {
      values.forEach((v, i) => {
        // onnxruntime keeps strings as C strings: a NUL would silently cut the element short.
        if (typeof v !== 'string' || v.includes('\0')) throw bad(i, 'a string without NUL characters');
      });
      return createTensor('string', values as string[], dims);
    }
    default: {
      const range = INT_RANGE[ortType];
      if (!range) throw badRequest(`${where}: the model's input type ${ortType} is not supported over JSON`);
      const [min, max] = range;
      values.forEach((v, i) => {
        if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw bad(i, `an integer in [${min}, ${max}]`);
      });
      const numbers = values as number[];
      switch (ortType) {
        case 'int64': return createTensor('int64', BigInt64Array.from(numbers, BigInt), dims);
        case 'uint64': return createTensor('uint64', BigUint64Array.from(numbers, BigInt), dims);
        case 'int32': return createTensor('int32', Int32Array.from(numbers), dims);
        case 'uint32': return createTensor('uint32', Uint32Array.from(numbers), dims);
        case 'int16': return createTensor('int16', Int16Array.from(numbers), dims);
        case 'uint16': return createTensor('uint16', Uint16Array.from(numbers), dims);
        case 'int8': return createTensor('int8', Int8Array.from(numbers), dims);
        default: return createTensor('uint8', Uint8Array.from(numbers), dims);
      }
    }
  }
}

/** Flat JSON values of a tensor: float16 decoded to numbers, 64-bit integers as numbers (exact up to 2^53), bool as booleans. */
export function tensorToJson(tensor: Tensor): unknown[] {
  const data = tensor.data;
  switch (tensor.type) {
    case 'float16': return Array.from(data as Uint16Array, float16BitsToFloat32);
    case 'int64':
    case 'uint64': return Array.from(data as BigInt64Array, Number);
    case 'bool': return Array.from(data as Uint8Array, (v) => v !== 0);
    case 'string': return [...(data as string[])];
    default: return Array.from(data as Float32Array);
  }
}
