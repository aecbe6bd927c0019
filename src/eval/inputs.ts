/**
 * Input sets that verify, bench, calibration and `--blocks auto` run models on: seeded random tensors,
 * the bundled labelled sample file, or preprocessed images. Each item is produced on demand for a
 * session's own input metadata, so two models with different batch axes see identical items.
 */
import { InvalidArgumentError } from '../../graph-rewrite/errors.js';
import type { LabelledSample } from '../data/sample-file.js';
import type { Feeds, Tensor, ValueInfo } from '../runtime/backend.js';
import { float32ToFloat16Bits } from '../runtime/float16.js';
import { gaussian, resolveInputShape, seededRandom } from '../runtime/random.js';
import type { IntegerInputMeaning } from './integer-inputs.js';

type Metadata = ValueInfo;

/** What an input set's images went through, said in reports. */
export interface InputPreprocessing {
  /** "resize 28×28 (bilinear), ×1/255, mean 0.286, std 0.353, 1 channel". */
  readonly description: string;
  /** Where the recipe came from: a config file, preprocessor_config.json, the sample file, or 'defaults'. */
  readonly source: string;
  /** Where the class names came from, when there are any. */
  readonly labelsSource?: string;
  /** True when the images were stored preprocessed (a sample file): `source` did it when it was made. */
  readonly applied?: boolean;
}

/** A set of model inputs, addressed by item index. */
export interface InputSet {
  /** How reports name it: "16 random inputs", "fashion-mnist-test-1000.bin (1000 images)". */
  readonly description: string;
  readonly count: number;
  /** Class labels per item, when known. */
  readonly labels?: ArrayLike<number>;
  /** Class names by label, when known. */
  readonly classes?: readonly string[];
  /** How images became tensors, for reports (image folders and sample files). */
  readonly preprocessing?: InputPreprocessing;
  /** Feeds holding items [start, start + size) stacked on the batch axis, for a session with these inputs. */
  feeds(inputs: readonly Metadata[], start: number, size: number): Feeds;
}

function tensorOf(type: string | undefined, values: Float32Array, dims: number[], name: string): Tensor {
  if (type === 'float32') return { type: 'float32', dims, data: values };
  if (type === 'float16') return { type: 'float16', dims, data: Uint16Array.from(values, float32ToFloat16Bits) };
  throw new InvalidArgumentError(`input '${name}' has type ${type}; image inputs must be float32 or float16`);
}

/** Tokens per item for text inputs (ids, masks) whose sequence axis is symbolic: enough for masks to mask. */
export const TEXT_SEQUENCE_LENGTH = 8;

/** One item's values of an integer input with a known meaning (see integer-inputs.ts). */
function meaningfulIntegers(meaning: IntegerInputMeaning, out: Float32Array, rowLength: number, random: () => number): void {
  if (meaning.kind === 'ids') {
    for (let j = 0; j < out.length; j++) out[j] = Math.floor(random() * meaning.below);
    return;
  }
  // A mask row keeps 1..rowLength leading tokens: never all masked (a softmax over nothing is NaN).
  for (let row = 0; row < out.length; row += rowLength) {
    const kept = 1 + Math.floor(random() * rowLength);
    for (let j = 0; j < rowLength; j++) out[row + j] = j < kept ? 1 : 0;
  }
}

/**
 * Seeded random inputs: item i is the same tensor whatever the batch size (each item has its own
 * seed), floats ~ N(0, 1), integer inputs small non-negative values, as runtime/randomFeeds does — or,
 * for integer inputs with a known `meanings` entry, valid ids and 0/1 masks over TEXT_SEQUENCE_LENGTH tokens.
 */
export function randomInputs(
  count: number, seed = 0, dims: Readonly<Record<string, number>> = {}, meanings: Readonly<Record<string, IntegerInputMeaning>> = {},
): InputSet {
  return {
    description: `${count} random input${count === 1 ? '' : 's'} (seed ${seed})`,
    count,
    feeds(inputs, start, size) {
      const feeds: Feeds = {};
      for (const input of inputs) {
        if (!input.isTensor) throw new InvalidArgumentError(`input '${input.name}' is not a tensor`);
        const meaning = Object.hasOwn(meanings, input.name) ? meanings[input.name] : undefined;
        const textDims = meaning === undefined ? dims
          : Object.fromEntries(input.shape.slice(1).filter((d) => typeof d === 'string').map((d) => [d, dims[d as string] ?? TEXT_SEQUENCE_LENGTH]));
        const shape = resolveInputShape(input.name, input.shape, { dims: { ...dims, ...textDims }, defaultDim: 1 });
        const perItem = shape.slice(1).reduce((a, b) => a * b, 1);
        const isInt = input.type === 'int64' || input.type === 'int32' || input.type === 'bool';
        const values = new Float32Array(perItem * size);
        for (let item = 0; item < size; item++) {
          const itemSeed = seed * 1_000_003 + start + item;
          const itemValues = values.subarray(item * perItem, (item + 1) * perItem);
          if (meaning !== undefined && isInt) {
            meaningfulIntegers(meaning, itemValues, shape.at(-1) ?? 1, seededRandom(itemSeed ^ 0x5bd1e995));
            continue;
          }
          const next = gaussian(seededRandom(itemSeed));
          for (let j = 0; j < perItem; j++) itemValues[j] = isInt ? Math.floor(Math.abs(next()) * 3) % 10 : next();
        }
        const batchDims = [size, ...shape.slice(1)];
        if (input.type === 'int64') feeds[input.name] = { type: 'int64', dims: batchDims, data: BigInt64Array.from(values, (v) => BigInt(v)) };
        else if (input.type === 'int32') feeds[input.name] = { type: 'int32', dims: batchDims, data: Int32Array.from(values) };
        else if (input.type === 'bool') feeds[input.name] = { type: 'bool', dims: batchDims, data: new Uint8Array(values.length) };
        else feeds[input.name] = tensorOf(input.type, values, batchDims, input.name);
      }
      return feeds;
    },
  };
}

/** Checks a model's single image input against the images' [C, H, W]; the message names both shapes. */
function checkImageInput(inputs: readonly Metadata[], imageDims: readonly number[], what: string): Metadata {
  const [input] = inputs;
  if (!input?.isTensor || inputs.length !== 1) {
    throw new InvalidArgumentError(`${what}: images need a model with one image input, this one has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')})`);
  }
  const expected = input.shape.slice(1);
  const fits = expected.length === imageDims.length && expected.every((d, i) => typeof d !== 'number' || d < 0 || d === imageDims[i]);
  if (!fits) {
    throw new InvalidArgumentError(`${what}: images are ${imageDims.join('×')}, but input '${input.name}' expects ${expected.map((d) => (typeof d === 'number' && d >= 0 ? d : '?')).join('×')}`);
  }
  return input;
}

/** Items of a stacked NCHW float32 image array (sample files, preprocessed image folders). */
export function imageArrayInputs(description: string, images: Float32Array, shape: readonly [number, number, number, number], labels?: ArrayLike<number>, classes?: readonly string[]): InputSet {
  const perImage = shape[1] * shape[2] * shape[3];
  return {
    description,
    count: shape[0],
    labels,
    classes,
    feeds(inputs, start, size) {
      const input = checkImageInput(inputs, shape.slice(1), description);
      const pixels = images.subarray(start * perImage, (start + size) * perImage);
      return { [input.name]: tensorOf(input.type, pixels, [size, shape[1], shape[2], shape[3]], input.name) };
    },
  };
}

/** The bundled labelled sample (or a slice of it: `[from, to)`). */
export function sampleInputs(sample: LabelledSample, name: string, from = 0, to = sample.shape[0]): InputSet {
  const [, c, h, w] = sample.shape;
  const per = c * h * w;
  const count = to - from;
  const { mean, std } = sample.header.normalization;
  const set = imageArrayInputs(`${name} (${count} image${count === 1 ? '' : 's'})`, sample.images.subarray(from * per, to * per),
    [count, c, h, w], sample.labels.subarray(from, to), sample.header.classes);
  const preprocessing = {
    description: `${h}×${w}, ×1/255, mean ${mean}, std ${std}, ${c} channel${c === 1 ? '' : 's'}`, source: name, applied: true, labelsSource: name,
  };
  return { ...set, preprocessing };
}

/** The batch size to run `inputs` with: the model's fixed batch, or `maxBatch` for a dynamic one. */
export function batchSizeFor(inputs: readonly Metadata[], maxBatch: number): number {
  const dim = inputs[0]?.isTensor ? inputs[0].shape[0] : undefined;
  return typeof dim === 'number' && dim > 0 ? dim : maxBatch;
}
