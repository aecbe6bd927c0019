/**
 * NumPy inputs: .npy / .npz files written by NumPy itself (models/scripts/npy_fixtures.py; the
 * calibration sample by models/scripts/train_fmnist6.py) read to the same values, and every file that
 * is not what is expected gets one typed error naming the file and what was expected. Class-subfolder
 * image folders are labelled by folder name.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encode } from 'fast-png';
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../graph-rewrite/errors.js';
import { NpyFormatError, npyToFloat32, npyToLabels, parseNpy } from '../../src/data/npy.js';
import { parseNpz } from '../../src/data/npz.js';
import { tensorFileInputs } from '../../src/data/tensor-file.js';
import { imageFolderInputs } from '../../src/data/image-folder.js';
import { fidelityOf, runModel } from '../../src/eval/fidelity.js';
import { nodeBackend } from '../../src/runtime/node-backend.js';
import { tempFolder } from '../cli/helpers.js';

const DIR = join(import.meta.dirname, 'npy');
const MODELS = join(import.meta.dirname, '..', '..', 'models');
const file = (name: string) => join(DIR, name);
const bytes = (name: string) => readFileSync(file(name));
const expected = Array.from({ length: 12 }, (_, i) => (i - 5) / 4);
const tmp = tempFolder();
afterAll(() => tmp.cleanup());

describe('.npy', () => {
  it.each(['f4.npy', 'f8-big-endian.npy', 'f2.npy', 'v2.npy'])('%s reads to the values NumPy wrote', (name) => {
    const array = parseNpy(bytes(name), name);
    expect(array.shape).toEqual([2, 1, 2, 3]);
    expect(Array.from(npyToFloat32(array, name))).toEqual(expected);
  });

  it.each(['labels-i8.npy', 'labels-u1.npy'])('%s reads as labels', (name) => {
    expect(Array.from(npyToLabels(parseNpy(bytes(name), name), name))).toEqual([3, 7]);
  });

  it.each([
    ['fortran.npy', (b: Uint8Array) => b, /fortran.npy: .*Fortran order/],
    ['strings.npy', (b: Uint8Array) => b, /strings.npy: .*dtype '<U1'; expected a numeric dtype/],
    ['f4.npy', (b: Uint8Array) => b.subarray(0, b.length - 4), /f4.npy: .*needs 48 data bytes, the file has 44/],
    ['f4.npy', (b: Uint8Array) => Uint8Array.from(b, (x, i) => (i === 0 ? 0 : x)), /f4.npy: not a readable .npy array \(no \\x93NUMPY magic/],
  ] as const)('%s (altered) is refused with a reason', (name, alter, message) => {
    expect(() => parseNpy(alter(bytes(name)), name)).toThrow(NpyFormatError);
    expect(() => parseNpy(alter(bytes(name)), name)).toThrow(message);
  });

  it('refuses float labels and integer images, naming the file', () => {
    expect(() => npyToLabels(parseNpy(bytes('f4.npy'), 'f4.npy'), 'f4.npy')).toThrow(/f4.npy: dtype '<f4'; expected integer class labels/);
    expect(() => npyToFloat32(parseNpy(bytes('labels-i8.npy'), 'l.npy'), 'l.npy')).toThrow(/l.npy: dtype '<i8'; expected a float array/);
  });
});

describe('.npz', () => {
  it('reads stored and deflated archives', () => {
    const stored = parseNpz(bytes('stored.npz'), 'stored.npz');
    expect([...stored.keys()].sort()).toEqual(['labels', 'pixel_values']);
    expect(Array.from(npyToFloat32(stored.get('pixel_values')!, 's'))).toEqual(expected);
    const deflated = parseNpz(bytes('deflated.npz'), 'deflated.npz');
    expect(Array.from(npyToFloat32(deflated.get('arr_0')!, 'd'))).toEqual(expected);
  });

  it.each([
    ['bzip2.npz', (b: Uint8Array) => b, /bzip2.npz: .*compression method 12/],
    ['deflated.npz', (b: Uint8Array) => b.subarray(0, 100), /deflated.npz: not a readable .npz archive \(no zip end-of-central-directory/],
    ['stored.npz', (b: Uint8Array) => Uint8Array.from(b, (x, i) => (i === 200 ? x ^ 0xff : x)), /stored.npz: .*corrupt|stored.npz:.*npy/],
  ] as const)('%s (altered) is refused with a reason', (name, alter, message) => {
    expect(() => parseNpz(alter(bytes(name)), name)).toThrow(NpyFormatError);
    expect(() => parseNpz(alter(bytes(name)), name)).toThrow(message);
  });
});

describe('NumPy inputs for a model', () => {
  const model = join(MODELS, 'fmnist_softmax.onnx');
  const calibration = join(MODELS, 'data', 'fashion-mnist-train-2000.npz');

  it('the committed calibration sample (np.savez_compressed, Zip64) feeds the model it was made for', async () => {
    const session = await nodeBackend.createSession(model);
    try {
      const input = session.inputs[0]! as unknown as { name: string; shape: readonly (number | string)[] };
      const inputs = tensorFileInputs(calibration, { inputShape: input.shape, inputName: input.name, limit: 200 });
      expect(inputs.count).toBe(200);
      expect(inputs.labels).toHaveLength(200);
      const run = await runModel(session, inputs);
      // The training split's images: the trained model (≈ 83 % on the test sample) gets most right.
      expect(fidelityOf(run, run, inputs.labels).accuracy!.original).toBeGreaterThan(0.75);
      // Labels from a separate .npy give the same set.
      const separate = tensorFileInputs(calibration, { inputShape: input.shape, inputName: input.name, limit: 200, labelsFile: join(MODELS, 'data', 'fashion-mnist-train-2000-labels.npy') });
      expect(Array.from(separate.labels!)).toEqual(Array.from(inputs.labels!));
    } finally {
      await session.release();
    }
  });

  it.each([
    ['f4.npy', {}, /f4.npy: shape \(2, 1, 2, 3\); input 'pixel_values' expects \[N, 1, 28, 28\]/],
    ['two-arrays.npz', {}, /two-arrays.npz: holds 'a', 'b'; expected one array, or one named 'pixel_values'/],
    ['labels-i8.npy', {}, /shape \(2\); input 'pixel_values' expects/],
  ] as const)('%s is refused for a 28×28 model', (name, extra, message) => {
    expect(() => tensorFileInputs(file(name), { inputShape: ['batch', 1, 28, 28], inputName: 'pixel_values', ...extra })).toThrow(InvalidArgumentError);
    expect(() => tensorFileInputs(file(name), { inputShape: ['batch', 1, 28, 28], inputName: 'pixel_values', ...extra })).toThrow(message);
  });

  it('refuses labels of the wrong count or kind, naming the labels file', () => {
    const shape = ['batch', 1, 2, 3];
    expect(() => tensorFileInputs(file('f4.npy'), { inputShape: shape, inputName: 'x', labelsFile: file('labels-3.npy') })).toThrow(/labels-3.npy: 3 labels for 2 inputs/);
    expect(() => tensorFileInputs(file('f4.npy'), { inputShape: shape, inputName: 'x', labelsFile: file('f2.npy') })).toThrow(/f2.npy: dtype '<f2'; expected integer class labels/);
    expect(() => tensorFileInputs(file('nope.npy'), { inputShape: shape, inputName: 'x' })).toThrow(/nope.npy: cannot read the inputs/);
  });
});

describe('image folders with one subfolder per class', () => {
  const png = (value: number) => encode({ width: 28, height: 28, data: new Uint8Array(28 * 28).fill(value), channels: 1, depth: 8 });
  const make = (root: string, classes: readonly string[], perClass: number) => {
    for (const [c, name] of classes.entries()) {
      mkdirSync(join(root, name), { recursive: true });
      for (let i = 0; i < perClass; i++) writeFileSync(join(root, name, `img${i}.png`), png(c * 20 + i));
    }
  };

  it('labels by folder name, matched to id2label; interleaves classes so a prefix covers them all', () => {
    const root = join(tmp.path, 'by-class');
    make(root, ['Trouser', 'coat', 'T-shirt top'], 2);
    const hf = { folder: tmp.path, labels: ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat'] } as never;
    const inputs = imageFolderInputs(root, { inputShape: ['batch', 1, 28, 28], modelName: 'm', hf });
    expect(inputs.count).toBe(6);
    // Folders in sorted order ('T-shirt top', 'Trouser', 'coat'), matched ignoring case and punctuation.
    expect(Array.from(inputs.labels!)).toEqual([0, 1, 4, 0, 1, 4]);
    expect(inputs.classes![4]).toBe('Coat');
  });

  it('numbers classes in sorted order without id2label, and names a folder that matches no label', () => {
    const root = join(tmp.path, 'plain');
    make(root, ['b', 'a'], 1);
    expect(Array.from(imageFolderInputs(root, { inputShape: ['batch', 1, 28, 28], modelName: 'm' }).labels!)).toEqual([0, 1]);
    const hf = { folder: tmp.path, labels: ['x', 'y'] } as never;
    expect(() => imageFolderInputs(root, { inputShape: ['batch', 1, 28, 28], modelName: 'm', hf })).toThrow(/plain\/a: class folder 'a' matches no label of the model's id2label \(x, y\)/);
  });
});
