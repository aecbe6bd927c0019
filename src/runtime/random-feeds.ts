/**
 * Deterministic random inputs for a session, from its input metadata: used by quick verification,
 * benchmarks and tests. Symbolic dims take values from `dims` (default 1, e.g. batch).
 */
import type ort from 'onnxruntime-node';
import { onnxruntime } from './ort.js';
import { InvalidArgumentError } from '../../graph-rewrite/errors.js';
import { float32ToFloat16Bits } from './float16.js';
import type { Feeds } from './session.js';

/** mulberry32: tiny, fast, good enough for test inputs; the same seed gives the same tensors everywhere. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples (Box–Muller) from a uniform source. */
export function gaussian(random: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

export interface RandomFeedOptions {
  readonly seed?: number;
  /** Values for symbolic dims by name (e.g. { batch: 2 }); unnamed or unknown dims default to `defaultDim`. */
  readonly dims?: Readonly<Record<string, number>>;
  readonly defaultDim?: number;
}

export function resolveInputShape(name: string, shape: ReadonlyArray<number | string>, options: RandomFeedOptions): number[] {
  return shape.map((dim, axis) => {
    if (typeof dim === 'number' && dim >= 0) return dim;
    const value = typeof dim === 'string' ? options.dims?.[dim] : undefined;
    const resolved = value ?? options.defaultDim ?? 1;
    if (!Number.isInteger(resolved) || resolved < 1) {
      throw new InvalidArgumentError(`'dims' for input '${name}' axis ${axis} (${String(dim)}) must be a positive integer, got ${resolved}`);
    }
    return resolved;
  });
}

/** Random tensors matching `inputs`: floats ~ N(0, 1), integers in [0, 10), booleans false. */
export function randomFeeds(inputs: readonly ort.InferenceSession.ValueMetadata[], options: RandomFeedOptions = {}): Feeds {
  const next = gaussian(seededRandom(options.seed ?? 0));
  const feeds: Feeds = {};
  for (const input of inputs) {
    if (!input.isTensor) throw new InvalidArgumentError(`input '${input.name}' is not a tensor; random feeds cover tensors only`);
    const dims = resolveInputShape(input.name, input.shape, options);
    const size = dims.reduce((a, b) => a * b, 1);
    switch (input.type) {
      case 'float32':
        feeds[input.name] = new (onnxruntime().Tensor)('float32', Float32Array.from({ length: size }, next), dims);
        break;
      case 'float16':
        feeds[input.name] = new (onnxruntime().Tensor)('float16', Uint16Array.from({ length: size }, () => float32ToFloat16Bits(next())), dims);
        break;
      case 'int64':
        feeds[input.name] = new (onnxruntime().Tensor)('int64', BigInt64Array.from({ length: size }, () => BigInt(Math.floor(Math.abs(next()) * 3) % 10)), dims);
        break;
      case 'int32':
        feeds[input.name] = new (onnxruntime().Tensor)('int32', Int32Array.from({ length: size }, () => Math.floor(Math.abs(next()) * 3) % 10), dims);
        break;
      case 'bool':
        feeds[input.name] = new (onnxruntime().Tensor)('bool', new Uint8Array(size), dims);
        break;
      default:
        throw new InvalidArgumentError(`input '${input.name}' has type ${input.type}; random feeds support float32, float16, int64, int32, bool`);
    }
  }
  return feeds;
}
