/**
 * Seeded randomness for test inputs (random-feeds.ts, eval/inputs.ts) and the shape a symbolic input
 * takes. No Node built-ins and no runtime: eval runs in the browser too.
 */
import { InvalidArgumentError } from '../../graph-rewrite/errors.js';

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
