/**
 * NumPy `.npy` arrays (format versions 1–3): the magic, a Python-literal header dict
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`, then the data in C order. Numeric
 * dtypes only (float16/32/64, signed and unsigned ints, bool), either byte order. Anything else gets a
 * {@link NpyFormatError} naming the source and what was expected.
 */
import { InvalidArgumentError } from '../../graph-rewrite/errors.js';

export class NpyFormatError extends InvalidArgumentError {}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export type NpyKind = 'f' | 'i' | 'u' | 'b';

export interface NpyArray {
  /** The dtype as NumPy writes it, e.g. '<f4'. */
  readonly descr: string;
  readonly kind: NpyKind;
  /** Bytes per element. */
  readonly itemSize: number;
  readonly shape: readonly number[];
  /** The element count (product of the shape). */
  readonly size: number;
  /** Element i as a number (int64 beyond 2^53 loses precision). */
  get(i: number): number;
}

function fail(source: string, why: string): never {
  throw new NpyFormatError(`${source}: not a readable .npy array (${why})`);
}

/** Reads the header's value for `key` (a Python literal) as a string. */
function headerField(header: string, key: string, source: string): string {
  const match = new RegExp(`['"]${key}['"]\\s*:\\s*('[^']*'|"[^"]*"|True|False|\\([^)]*\\))`).exec(header);
  if (!match) fail(source, `the header has no '${key}': ${header.trim()}`);
  return match[1]!;
}

function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Parses `.npy` bytes; `source` names the file in errors. */
export function parseNpy(bytes: Uint8Array, source: string): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) fail(source, 'no \\x93NUMPY magic at the start');
  const major = bytes[6]!;
  if (major < 1 || major > 3) fail(source, `format version ${major}.${bytes[7]}; versions 1–3 are supported`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lengthBytes = major === 1 ? 2 : 4;
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = 8 + lengthBytes + headerLength;
  if (dataStart > bytes.length) fail(source, `the header (${headerLength} bytes) runs past the end of the file`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(8 + lengthBytes, dataStart));
  const descr = headerField(header, 'descr', source).slice(1, -1);
  if (headerField(header, 'fortran_order', source) === 'True') fail(source, `it is in Fortran order; save it in C order (np.ascontiguousarray)`);
  const shapeText = headerField(header, 'shape', source);
  const shape = shapeText.slice(1, -1).split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => {
    if (!/^\d+L?$/.test(s)) fail(source, `shape ${shapeText} is not a tuple of sizes`);
    return Number.parseInt(s, 10);
  });
  const match = /^([<>|=])([fiub])(\d+)$/.exec(descr);
  if (!match) fail(source, `dtype '${descr}'; expected a numeric dtype such as '<f4' or '<i8'`);
  const [, order, kind, sizeText] = match as unknown as [string, string, NpyKind, string];
  const itemSize = Number(sizeText);
  const allowed: Record<NpyKind, number[]> = { f: [2, 4, 8], i: [1, 2, 4, 8], u: [1, 2, 4, 8], b: [1] };
  if (!allowed[kind].includes(itemSize)) fail(source, `dtype '${descr}' is not supported`);
  const little = order !== '>';
  const size = shape.reduce((a, b) => a * b, 1);
  if (dataStart + size * itemSize > bytes.length) fail(source, `shape (${shape.join(', ')}) of ${descr} needs ${size * itemSize} data bytes, the file has ${bytes.length - dataStart}`);
  const at = (i: number) => dataStart + i * itemSize;
  const readers: Record<string, (i: number) => number> = {
    f2: (i) => halfToFloat(view.getUint16(at(i), little)),
    f4: (i) => view.getFloat32(at(i), little),
    f8: (i) => view.getFloat64(at(i), little),
    i1: (i) => view.getInt8(at(i)),
    i2: (i) => view.getInt16(at(i), little),
    i4: (i) => view.getInt32(at(i), little),
    i8: (i) => Number(view.getBigInt64(at(i), little)),
    u1: (i) => view.getUint8(at(i)),
    u2: (i) => view.getUint16(at(i), little),
    u4: (i) => view.getUint32(at(i), little),
    u8: (i) => Number(view.getBigUint64(at(i), little)),
    b1: (i) => view.getUint8(at(i)) ? 1 : 0,
  };
  return { descr, kind, itemSize, shape, size, get: readers[`${kind}${itemSize}`]! };
}

/** The elements as float32 (float arrays only: integers as images are a likely mistake, named). */
export function npyToFloat32(array: NpyArray, source: string): Float32Array {
  if (array.kind !== 'f') throw new NpyFormatError(`${source}: dtype '${array.descr}'; expected a float array (float16, float32 or float64) in the model's input layout`);
  if (array.descr === '<f4') {
    // The common case without a per-element call.
    const out = new Float32Array(array.size);
    for (let i = 0; i < array.size; i++) out[i] = array.get(i);
    return out;
  }
  return Float32Array.from({ length: array.size }, (_, i) => array.get(i));
}

/** Class labels: a 1-D integer array of non-negative values. */
export function npyToLabels(array: NpyArray, source: string): Int32Array {
  if (array.kind !== 'i' && array.kind !== 'u') throw new NpyFormatError(`${source}: dtype '${array.descr}'; expected integer class labels`);
  if (array.shape.length !== 1) throw new NpyFormatError(`${source}: shape (${array.shape.join(', ')}); expected a 1-D array of labels`);
  const out = new Int32Array(array.size);
  for (let i = 0; i < array.size; i++) {
    const v = array.get(i);
    if (v < 0 || v > 2 ** 31 - 1) throw new NpyFormatError(`${source}: label ${i} is ${v}; expected a class index ≥ 0`);
    out[i] = v;
  }
  return out;
}
