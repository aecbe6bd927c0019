/**
 * Bad input to loadModel / saveModel / modelToBytes: each gives a typed error whose message names the
 * file (or the argument) and says what is wrong.
 */
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ExternalDataError, InvalidArgumentError, Model, OnnxDecodeError, VitlinError, VitlinIoError, loadModel, modelToBytes,
  saveModel,
} from '../../src/index.js';

const FIXTURE = join(import.meta.dirname, '..', '..', 'models', 'tv_vit_mha.onnx');
// The 8-byte PNG signature and the start of an IHDR chunk.
const PNG = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0]);

let tmp: string;
let withExternal: string; // a model saved with a side file
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'vitlin-api-errors-'));
  await writeFile(join(tmp, 'image.png'), PNG);
  await writeFile(join(tmp, 'empty.onnx'), new Uint8Array(0));
  await mkdir(join(tmp, 'folder.onnx'));
  withExternal = join(tmp, 'ext', 'model.onnx');
  await mkdir(join(tmp, 'ext'));
  await saveModel(await loadModel(FIXTURE), withExternal, { externalData: true });
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

type Source = () => string | Uint8Array | Promise<string | Uint8Array>;

describe('loadModel: bad input', () => {
  it.each<[string, Source, abstract new (...args: never[]) => VitlinError, RegExp]>([
    ['a missing file', () => join(tmp, 'missing.onnx'), VitlinIoError, /cannot read .*missing\.onnx: no such file/],
    ['a directory', () => join(tmp, 'folder.onnx'), VitlinIoError, /cannot read .*folder\.onnx: it is a directory/],
    ['a PNG', () => join(tmp, 'image.png'), OnnxDecodeError, /^image\.png: not an ONNX model .*first bytes 89 50 4e 47/],
    ['an empty file', () => join(tmp, 'empty.onnx'), OnnxDecodeError, /^empty\.onnx: not an ONNX model \(empty file\)/],
    ['empty bytes', () => new Uint8Array(0), OnnxDecodeError, /^<bytes>: not an ONNX model \(empty file\)/],
    ['PNG bytes', () => PNG, OnnxDecodeError, /^<bytes>: not an ONNX model/],
    ['truncated bytes', async () => (await readFile(FIXTURE)).subarray(0, 5000), OnnxDecodeError, /^<bytes>: truncated at byte 5000/],
    ['bytes with external references', async () => new Uint8Array(await readFile(withExternal)), ExternalDataError,
      /^<bytes>: tensor '.+' \(and \d+ more tensors\) stores its data in the external file "model\.onnx\.data", but the model was given as bytes/],
  ])('%s', async (_, source, errorClass, message) => {
    const error = await loadModel(await source()).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(errorClass);
    expect((error as Error).message).toMatch(message);
  });

  it('a model whose side file is missing: ExternalDataError naming the tensor and the side file', async () => {
    const folder = join(tmp, 'lost');
    await mkdir(folder);
    const path = join(folder, 'model.onnx');
    await writeFile(path, await readFile(withExternal)); // the model without its model.onnx.data
    const error = await loadModel(path).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(ExternalDataError);
    expect((error as Error).message).toMatch(/^model\.onnx: tensor '.+' at graph\.initializer\[\d+\]: external data "model\.onnx\.data" .*missing: no file .*model\.onnx\.data/);
  });

  it.each<[string, unknown, unknown, RegExp]>([
    ['a number', 42, undefined, /^'source' must be a file path or a Uint8Array, got number 42$/],
    ['an empty path', '', undefined, /^'source' must be a file path or a Uint8Array, got an empty string$/],
    ['an ArrayBuffer', new ArrayBuffer(4), undefined, /^'source' must be a file path or a Uint8Array, got an object \(ArrayBuffer\)$/],
    ['null options', FIXTURE, null, /^'options' must be an object, got null$/],
    ['a string loadExternalData', FIXTURE, { loadExternalData: 'yes' }, /^'options\.loadExternalData' must be a boolean, got "yes"$/],
  ])('argument: %s', async (_, source, options, message) => {
    const error = await loadModel(source as string, options as undefined).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toMatch(message);
  });
});

describe('saveModel / modelToBytes: bad input', () => {
  it.each<[string, unknown, unknown, unknown, RegExp]>([
    ['not a Model', { graph: {} }, 'x.onnx', undefined, /^'model' must be a Model .*got an object \(Object\)$/],
    ['a number path', 'model', 7, undefined, /^'path' must be a non-empty file path, got number 7$/],
    ['an empty path', 'model', '', undefined, /^'path' must be a non-empty file path/],
    ['a string externalData', 'model', 'x.onnx', { externalData: 'yes' }, /^'options\.externalData' must be a boolean or/],
    ['a negative sizeThreshold', 'model', 'x.onnx', { externalData: { sizeThreshold: -1 } }, /^'options\.externalData\.sizeThreshold' must be a non-negative number/],
    ['an empty location', 'model', 'x.onnx', { externalData: { location: '' } }, /^'options\.externalData\.location' must be a non-empty file name/],
  ])('argument: %s', async (_, model, path, options, message) => {
    const actual = model === 'model' ? new Model() : model;
    const target = typeof path === 'string' && path !== '' ? join(tmp, path) : path; // never the working folder
    const error = await saveModel(actual as Model, target as string, options as undefined)
      .then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toMatch(message);
  });

  it('a folder that does not exist: VitlinIoError naming the path, nothing written', async () => {
    const path = join(tmp, 'no', 'such', 'model.onnx');
    const error = await saveModel(await loadModel(FIXTURE), path).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(VitlinIoError);
    expect((error as Error).message).toBe(`cannot write ${path}: no such directory`);
  });

  it('an external data location outside the folder: ExternalDataError, nothing written', async () => {
    const folder = join(tmp, 'escape');
    await mkdir(folder);
    const path = join(folder, 'model.onnx');
    const error = await saveModel(await loadModel(FIXTURE), path, { externalData: { location: '../weights.bin' } })
      .then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(ExternalDataError);
    expect((error as Error).message).toMatch(/model\.onnx.*"\.\.\/weights\.bin" escapes the model's folder/);
    expect(await readdir(folder)).toEqual([]);
  });

  it('modelToBytes: not a Model', () => {
    expect(() => modelToBytes('model.onnx' as unknown as Model)).toThrow(InvalidArgumentError);
    expect(() => modelToBytes('model.onnx' as unknown as Model)).toThrow(/^'model' must be a Model/);
  });
});
