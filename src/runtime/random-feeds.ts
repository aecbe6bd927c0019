/**
 * Deterministic random inputs for a session, from its input metadata: used by quick verification,
 * benchmarks and tests. Symbolic dims take values from `dims` (default 1, e.g. batch).
 */
import type ort from 'onnxruntime-node';
import { onnxruntime } from './ort.js';
import { InvalidArgumentError } from '../../graph-rewrite/errors.js';
import { float32ToFloat16Bits } from './float16.js';
import type { Feeds } from './session.js';
import { gaussian, resolveInputShape, seededRandom, type RandomFeedOptions } from './random.js';

export * from './random.js';

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
