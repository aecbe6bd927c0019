/**
 * Calibration / verification inputs from NumPy files: a `.npy` array, or a `.npz` archive, in the
 * model's input layout ([N, …the input's dims]), float16/32/64; labels from a `.npy` of ints (or a
 * `labels` / `y` member of the `.npz`). Every mismatch is an error naming the file and what was expected.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { InvalidArgumentError, VitlinIoError } from '../../graph-rewrite/errors.js';
import type { InputSet } from '../eval/inputs.js';
import { float32ToFloat16Bits } from '../runtime/float16.js';
import { NpyFormatError, npyToFloat32, npyToLabels, parseNpy, type NpyArray } from './npy.js';
import { parseNpz } from './npz.js';

const IMAGE_KEYS = ['pixel_values', 'images', 'x', 'inputs', 'input', 'data'];
const LABEL_KEYS = ['labels', 'label', 'y', 'targets'];

export interface TensorFileOptions {
  /** The model's input shape (dims may be symbolic) and name. */
  readonly inputShape: ReadonlyArray<number | string>;
  readonly inputName: string;
  readonly labelsFile?: string;
  readonly limit?: number;
}

function read(path: string, what: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new VitlinIoError(`${path}: cannot read the ${what}: ${(cause as Error).message}`, { cause });
  }
}

/** Whether `path` names a NumPy file this module reads. */
export function isTensorFile(path: string): boolean {
  return /\.(npy|npz)$/i.test(path);
}

/** The images (and labels, if the archive has them) of a .npy / .npz file. */
function arraysOf(path: string, inputName: string): { images: NpyArray; labels?: NpyArray; where: string } {
  const bytes = read(path, 'inputs');
  if (/\.npy$/i.test(path)) return { images: parseNpy(bytes, path), where: path };
  const members = parseNpz(bytes, path);
  const keys = [...members.keys()];
  const imageKey = keys.length === 1 ? keys[0]! : [inputName, ...IMAGE_KEYS].find((k) => members.has(k));
  if (!imageKey) throw new NpyFormatError(`${path}: holds ${keys.map((k) => `'${k}'`).join(', ')}; expected one array, or one named '${inputName}' or ${IMAGE_KEYS.map((k) => `'${k}'`).join(' / ')}`);
  const labelKey = LABEL_KEYS.find((k) => members.has(k) && k !== imageKey);
  return { images: members.get(imageKey)!, ...(labelKey ? { labels: members.get(labelKey)! } : {}), where: `${path}:${imageKey}` };
}

/** Reads a NumPy inputs file for a model input (see the file comment). */
export function tensorFileInputs(path: string, options: TensorFileOptions): InputSet {
  const { images, labels: included, where } = arraysOf(path, options.inputName);
  const expected = options.inputShape.slice(1);
  const itemShape = images.shape.slice(1);
  const describeExpected = `[N, ${expected.map((d) => (typeof d === 'number' && d >= 0 ? d : '?')).join(', ')}]`;
  if (images.shape.length !== options.inputShape.length || expected.some((d, i) => typeof d === 'number' && d >= 0 && d !== itemShape[i])) {
    throw new InvalidArgumentError(`${where}: shape (${images.shape.join(', ')}); input '${options.inputName}' expects ${describeExpected}`);
  }
  const all = images.shape[0]!;
  if (all === 0) throw new InvalidArgumentError(`${where}: holds no items (shape (${images.shape.join(', ')}))`);
  const count = Math.min(all, options.limit ?? Infinity);
  const data = npyToFloat32(images, where);
  let labels: Int32Array | undefined;
  if (options.labelsFile) {
    if (!/\.npy$/i.test(options.labelsFile)) throw new InvalidArgumentError(`--labels: '${options.labelsFile}': with NumPy inputs, labels come from a .npy array of ints`);
    labels = npyToLabels(parseNpy(read(options.labelsFile, 'labels'), options.labelsFile), options.labelsFile);
  } else if (included) {
    labels = npyToLabels(included, `${path} (labels)`);
  }
  if (labels && labels.length !== all) throw new InvalidArgumentError(`${options.labelsFile ?? path}: ${labels.length} labels for ${all} inputs in ${where}`);
  const perItem = itemShape.reduce((a, b) => a * b, 1);
  return {
    description: `${basename(path)} (${count} input${count === 1 ? '' : 's'})`,
    count,
    ...(labels ? { labels: labels.subarray(0, count) } : {}),
    feeds(inputs, start, size) {
      const input = inputs.find((i) => i.name === options.inputName) ?? inputs[0];
      if (!input?.isTensor || inputs.length !== 1) throw new InvalidArgumentError(`${where}: NumPy inputs feed a model with one tensor input, this one has ${inputs.length}`);
      const values = data.subarray(start * perItem, (start + size) * perItem);
      const dims = [size, ...itemShape];
      if (input.type === 'float32') return { [input.name]: { type: 'float32', dims, data: values } };
      if (input.type === 'float16') return { [input.name]: { type: 'float16', dims, data: Uint16Array.from(values, float32ToFloat16Bits) } };
      throw new InvalidArgumentError(`${where}: input '${input.name}' has type ${input.type}; NumPy inputs feed float32 or float16 inputs`);
    },
  };
}
