import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExternalDataError, InvalidArgumentError, VitlinIoError } from '../../graph-rewrite/errors.js';
import { encodeModelProtoToBytes } from '../../graph-rewrite/serde/encode.js';
import { externalizeTensors, validateExternalLocation } from '../../graph-rewrite/serde/external-data.js';
import { DataLocation, DataType, type ModelProto } from '../../graph-rewrite/serde/onnx-schema.js';
import { readModelFile, writeModelFile } from '../../src/io/model-file.js';
import {
  floatTensor, kv, make, matMulAddModel, model, node, runModel, subgraphModel, tensorBits, valueInfo,
} from './fixtures.js';

/** Y = (X·W1 + B)·W2 with W1 [48,32] (6144 bytes), W2 [32,16] (2048 bytes), B [32] (128 bytes: stays inline). */
function twoLayerModel(): ModelProto {
  const values = (n: number, seed: number): number[] => Array.from({ length: n }, (_, i) => ((i * seed) % 17) / 16 - 0.5);
  return model(make('GraphProto', {
    name: 'two_layers',
    node: [node('MatMul', ['X', 'W1'], ['H']), node('Add', ['H', 'B'], ['HB']), node('MatMul', ['HB', 'W2'], ['Y'])],
    initializer: [floatTensor('W1', [48, 32], values(48 * 32, 7)), floatTensor('B', [32], values(32, 3)), floatTensor('W2', [32, 16], values(32 * 16, 5))],
    input: [valueInfo('X', DataType.FLOAT, ['batch', 48])],
    output: [valueInfo('Y', DataType.FLOAT, ['batch', 16])],
  }));
}

const feedsFor = (): Record<string, ort.Tensor> => ({
  X: new ort.Tensor('float32', Float32Array.from({ length: 2 * 48 }, (_, i) => Math.sin(i)), [2, 48]),
});

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vitlin-serde-external-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function freshFolder(name: string): Promise<string> {
  const folder = join(dir, name);
  await mkdir(folder);
  return folder;
}

describe('external data', () => {
  it('writes large initializers to an aligned side file, reads them back, and ORT agrees', async () => {
    const folder = await freshFolder('two-layers');
    const path = join(folder, 'model.onnx');
    const original = twoLayerModel();
    const written = await writeModelFile(path, original, { externalData: true });

    expect(written).toEqual({ modelPath: path, externalDataPath: join(folder, 'model.onnx.data') });
    expect(original).toStrictEqual(twoLayerModel()); // the caller's model is untouched
    expect((await readdir(folder)).sort()).toEqual(['model.onnx', 'model.onnx.data']);
    expect((await stat(written.externalDataPath!)).size).toBe(8192 + 2048);

    const references = await readModelFile(path, { loadExternalData: false });
    const [w1, b, w2] = references.graph!.initializer;
    expect(w1).toMatchObject({ data_location: DataLocation.EXTERNAL, external_data: [kv('location', 'model.onnx.data'), kv('offset', '0'), kv('length', '6144')] });
    expect(w1!.raw_data).toBeUndefined();
    expect(w2!.external_data).toEqual([kv('location', 'model.onnx.data'), kv('offset', '8192'), kv('length', '2048')]); // 6144 → 8192
    expect(b).toStrictEqual(original.graph!.initializer[1]); // under the 1024-byte threshold: inline

    const reread = await readModelFile(path);
    expect(reread).toStrictEqual(original);

    const fromMemory = await runModel(encodeModelProtoToBytes(original), feedsFor());
    const fromPath = await runModel(path, feedsFor()); // ORT resolves the side file itself
    const fromReread = await runModel(encodeModelProtoToBytes(reread), feedsFor());
    expect(tensorBits(fromPath.Y!)).toStrictEqual(tensorBits(fromMemory.Y!));
    expect(tensorBits(fromReread.Y!)).toStrictEqual(tensorBits(fromMemory.Y!));
  });

  it('externalizes subgraph initializers too, with a custom location and threshold', async () => {
    const folder = await freshFolder('subgraphs');
    const path = join(folder, 'if.onnx');
    await writeModelFile(path, subgraphModel(), { externalData: { location: 'weights.bin', sizeThreshold: 0 } });
    const references = await readModelFile(path, { loadExternalData: false });
    const thenBranch = references.graph!.node[4]!.attribute[0]!.g!;
    expect(thenBranch.initializer[0]!.external_data).toEqual([kv('location', 'weights.bin'), kv('offset', '0'), kv('length', '4')]);
    expect(references.graph!.node[0]!.attribute[0]!.t!.raw_data).toBeDefined(); // attribute tensors stay inline, as in onnx

    const feeds = (): Record<string, ort.Tensor> => ({
      X: new ort.Tensor('float32', Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]), C: new ort.Tensor('bool', Uint8Array.from([1]), []),
    });
    const expected = await runModel(encodeModelProtoToBytes(subgraphModel()), feeds());
    expect(tensorBits((await runModel(path, feeds())).Y!)).toStrictEqual(tensorBits(expected.Y!));
    expect(await readModelFile(path)).toStrictEqual(subgraphModel());
  });

  it('externalizeTensors shares the untouched parts and hands raw_data through without copying', () => {
    const original = twoLayerModel();
    const { model: out, data, dataLength } = externalizeTensors(original, { location: 'w.bin' });
    expect(dataLength).toBe(8192 + 2048);
    expect(data[0]).toBe(original.graph!.initializer[0]!.raw_data); // zero copy
    expect(data[2]).toBe(original.graph!.initializer[2]!.raw_data);
    expect(out.graph!.node).toBe(original.graph!.node); // unchanged subtrees are shared, not copied
    expect(out.graph!.initializer[1]).toBe(original.graph!.initializer[1]);
  });

  it('bad options name the argument', () => {
    expect(() => externalizeTensors(twoLayerModel(), { location: 'w.bin', sizeThreshold: -1 }))
      .toThrow(new InvalidArgumentError("'options.sizeThreshold' must be a non-negative number, got -1"));
    expect(() => externalizeTensors(twoLayerModel(), { location: 'w.bin', alignment: 0 }))
      .toThrow(new InvalidArgumentError("'options.alignment' must be a positive integer, got 0"));
    expect(() => externalizeTensors(twoLayerModel(), { location: '../w.bin' })).toThrow(ExternalDataError);
  });

  it.each([
    ['w.bin', 'w.bin'], ['./sub/./w.bin', 'sub/w.bin'], ['sub//w.bin', 'sub/w.bin'], ['a/../w.bin', 'w.bin'], ['sub\\w.bin', 'sub/w.bin'],
  ])('location %j is accepted as %j', (location, normalized) => {
    expect(validateExternalLocation(location)).toBe(normalized);
  });

  it.each([['../x'], ['a/../../x'], ['/etc/passwd'], ['C:/x'], ['\\\\host\\share'], ['..'], ['.'], ['a\0'], ['']])(
    'location %j is refused', (location) => {
      expect(() => validateExternalLocation(location)).toThrow(ExternalDataError);
    });

  describe('locations that escape the model folder are refused when reading', () => {
    const externalW = (location: string): ModelProto => {
      const m = matMulAddModel();
      const w = m.graph!.initializer[0]!;
      w.external_data = [kv('location', location), kv('length', '48')];
      w.data_location = DataLocation.EXTERNAL;
      delete w.raw_data;
      return m;
    };

    it('through `..`', async () => {
      const folder = await freshFolder('dotdot');
      await writeFile(join(dir, 'outside.bin'), new Uint8Array(48));
      await writeModelFile(join(folder, 'model.onnx'), externalW('../outside.bin'));
      await expect(readModelFile(join(folder, 'model.onnx'))).rejects.toThrow(
        /model\.onnx: tensor 'W' at graph\.initializer\[0\]: external data location "\.\.\/outside\.bin" escapes the model's folder/);
    });

    it('through a symbolic link, while a link to a file inside the folder is fine', async () => {
      const folder = await freshFolder('symlinks');
      await writeFile(join(dir, 'secret.bin'), new Uint8Array(48));
      await symlink(join(dir, 'secret.bin'), join(folder, 'escape.bin'));
      await writeModelFile(join(folder, 'escape.onnx'), externalW('escape.bin'));
      const error = await readModelFile(join(folder, 'escape.onnx')).catch((e: Error) => e);
      expect(error).toBeInstanceOf(ExternalDataError);
      expect((error as Error).message).toMatch(/tensor 'W' .*"escape\.bin".*escapes the model's folder through a symbolic link/);

      await writeFile(join(folder, 'real.bin'), new Uint8Array(new Float32Array(12).fill(0.5).buffer));
      await symlink('real.bin', join(folder, 'alias.bin'));
      await writeModelFile(join(folder, 'alias.onnx'), externalW('alias.bin'));
      const read = await readModelFile(join(folder, 'alias.onnx'));
      expect(Array.from(new Float32Array(read.graph!.initializer[0]!.raw_data!.slice().buffer))).toEqual(Array(12).fill(0.5));
    });
  });
});

describe('atomic writes', () => {
  const leftovers = async (folder: string): Promise<string[]> => (await readdir(folder)).filter((f) => f.endsWith('.tmp'));

  it('replaces an existing model and leaves no temp file', async () => {
    const folder = await freshFolder('replace');
    const path = join(folder, 'model.onnx');
    await writeFile(path, 'old contents');
    await writeModelFile(path, matMulAddModel());
    expect(new Uint8Array(await readFile(path))).toStrictEqual(encodeModelProtoToBytes(matMulAddModel()));
    expect(await readdir(folder)).toEqual(['model.onnx']);
  });

  it('a path whose parent is a file → VitlinIoError naming the path, nothing written', async () => {
    const folder = await freshFolder('parent-is-file');
    await writeFile(join(folder, 'plain'), 'x');
    const path = join(folder, 'plain', 'model.onnx');
    await expect(writeModelFile(path, matMulAddModel())).rejects.toThrow(
      new VitlinIoError(`cannot write ${path}: a parent of the path is not a directory`));
    expect(await readdir(folder)).toEqual(['plain']);
  });

  it('a missing folder → VitlinIoError "no such directory"', async () => {
    const path = join(dir, 'does-not-exist', 'model.onnx');
    await expect(writeModelFile(path, matMulAddModel())).rejects.toThrow(`cannot write ${path}: no such directory`);
  });

  it.each([[false], [true]])('a failure after the temp file is written removes it (external data: %s)', async (externalData) => {
    const folder = await freshFolder(`target-is-dir-${externalData}`);
    const path = join(folder, 'model.onnx');
    await mkdir(path); // rename onto a directory fails only at the very end
    const error = await writeModelFile(path, twoLayerModel(), { externalData }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(VitlinIoError);
    expect((error as Error).message).toBe(`cannot write ${path}: it is a directory`);
    expect(await leftovers(folder)).toEqual([]);
    expect(await readdir(folder)).toEqual(['model.onnx']); // the directory; no side file either
  });

  it('refuses to overwrite a side file that unresolved external tensors still point into', async () => {
    const folder = await freshFolder('still-referenced');
    const path = join(folder, 'model.onnx');
    await writeModelFile(path, twoLayerModel(), { externalData: true });
    const references = await readModelFile(path, { loadExternalData: false });
    await expect(writeModelFile(path, references, { externalData: true })).rejects.toThrow(
      /tensor 'W1' still refers to "model\.onnx\.data", which would be overwritten/);
    expect(await readModelFile(path)).toStrictEqual(twoLayerModel()); // the files on disk are intact
  });
});
