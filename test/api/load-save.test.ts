/**
 * loadModel → saveModel → reload on every fixture model, through the IR: the saved file decodes to the
 * same ModelProto as the original, field by field, and onnxruntime gives bit-identical outputs from the
 * original and the saved file (also when saved with external data).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeModelProto } from '../../graph-rewrite/serde/decode.js';
import type { ModelProto } from '../../graph-rewrite/serde/onnx-schema.js';
import { Model, Tensor, loadModel, modelToBytes, saveModel } from '../../src/index.js';
import { randomFeeds } from '../../src/runtime/random-feeds.js';

const MODELS_DIR = join(import.meta.dirname, '..', '..', 'models');
const manifest = JSON.parse(readFileSync(join(MODELS_DIR, 'manifest.json'), 'utf8')) as { models: { file: string }[] };
// The manifest's models, plus any other .onnx file in models/ (a new fixture is covered before it is listed).
const MODEL_FILES = [...new Set([
  ...manifest.models.map((m) => m.file),
  ...readdirSync(MODELS_DIR).filter((f) => f.endsWith('.onnx')),
])].sort();

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'vitlin-api-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function decodeFile(path: string): Promise<ModelProto> {
  return decodeModelProto(new Uint8Array(await readFile(path)), { source: path });
}

/** Runs both files on the same seeded random input; outputs must match bit for bit. */
async function expectSameOutputs(originalPath: string, savedPath: string): Promise<void> {
  const original = await ort.InferenceSession.create(originalPath);
  const saved = await ort.InferenceSession.create(savedPath);
  try {
    const feeds = randomFeeds(original.inputMetadata, { seed: 20240611, dims: { batch: 2, sequence: 8 } });
    const expected = await original.run(feeds);
    const actual = await saved.run(feeds);
    expect(Object.keys(actual)).toEqual(Object.keys(expected));
    for (const [name, tensor] of Object.entries(expected)) {
      expect(actual[name]!.type).toBe(tensor.type);
      expect(actual[name]!.dims).toEqual(tensor.dims);
      expect(bits(actual[name]!)).toStrictEqual(bits(tensor));
    }
  } finally {
    await original.release();
    await saved.release();
  }
}

function bits(tensor: ort.Tensor): Buffer {
  const data = tensor.data as ArrayBufferView;
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

describe('fixture models', () => {
  it('models/manifest.json lists files that exist', () => {
    expect(manifest.models.length).toBeGreaterThan(0);
    for (const { file } of manifest.models) expect(existsSync(join(MODELS_DIR, file)), file).toBe(true);
  });

  describe.each(MODEL_FILES)('%s', (file) => {
    const originalPath = join(MODELS_DIR, file);

    it('loadModel → saveModel → loadModel: the same ModelProto field by field, bit-identical outputs', async () => {
      const model = await loadModel(originalPath);
      expect(model).toBeInstanceOf(Model);
      const savedPath = join(tmp, `plain-${file}`);
      await saveModel(model, savedPath);

      const original = await decodeFile(originalPath);
      expect(await decodeFile(savedPath)).toStrictEqual(original);
      // Reloading the saved file and serializing again changes nothing either.
      const reloaded = await loadModel(savedPath);
      expect(decodeModelProto(modelToBytes(reloaded))).toStrictEqual(original);
      // Bytes in, bytes out: the same as through the file.
      const fromBytes = await loadModel(new Uint8Array(await readFile(originalPath)));
      expect(Buffer.from(modelToBytes(fromBytes)).equals(await readFile(savedPath))).toBe(true);

      await expectSameOutputs(originalPath, savedPath);
    });

    it('saveModel with { externalData: true }: a side file, and the same model and outputs on reload', async () => {
      const model = await loadModel(originalPath);
      const folder = await mkdtemp(join(tmp, 'ext-'));
      const savedPath = join(folder, file);
      await saveModel(model, savedPath, { externalData: true });

      const sideFile = `${savedPath}.data`;
      expect((await stat(sideFile)).size).toBeGreaterThan(0);
      const onDisk = await decodeFile(savedPath);
      expect(onDisk.graph!.initializer.some((t) => t.external_data.some((e) => e.key === 'location' && e.value === `${file}.data`))).toBe(true);
      expect((await stat(savedPath)).size).toBeLessThan((await stat(originalPath)).size);

      // Loaded with its side file, it is the original model again.
      const reloaded = await loadModel(savedPath);
      expect(decodeModelProto(modelToBytes(reloaded))).toStrictEqual(await decodeFile(originalPath));

      await expectSameOutputs(originalPath, savedPath);
    });
  });
});

describe('external data references', () => {
  it('loadExternalData: false keeps the references; saved back next to the side file, the model still runs', async () => {
    const file = MODEL_FILES[0]!;
    const folder = await mkdtemp(join(tmp, 'refs-'));
    const external = join(folder, 'model.onnx');
    await saveModel(await loadModel(join(MODELS_DIR, file)), external, { externalData: { location: 'weights.bin', sizeThreshold: 4096 } });

    const model = await loadModel(external, { loadExternalData: false });
    const storages = [...model.graph.initializers.values()].map((v) => (v.constValue as Tensor | undefined)?.storage);
    expect(storages).toContain('external');
    const copy = join(folder, 'copy.onnx'); // same folder: the references still resolve
    await saveModel(model, copy);
    expect(Buffer.from(modelToBytes(model)).equals(await readFile(external))).toBe(true);
    await expectSameOutputs(join(MODELS_DIR, file), copy);
  });

  it('bytes of a model with external references load with loadExternalData: false', async () => {
    const folder = await mkdtemp(join(tmp, 'bytes-'));
    const external = join(folder, 'model.onnx');
    await saveModel(await loadModel(join(MODELS_DIR, MODEL_FILES[0]!)), external, { externalData: true });
    const model = await loadModel(new Uint8Array(await readFile(external)), { loadExternalData: false });
    expect(Buffer.from(modelToBytes(model)).equals(await readFile(external))).toBe(true);
  });
});
