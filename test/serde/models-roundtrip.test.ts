/**
 * Round trip of every fixture model in models/ (exported by PyTorch and others): encode(decode(file))
 * is the file byte for byte, and ORT gives bit-identical outputs from the file and from our bytes.
 */
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { decodeModelProto } from '../../graph-rewrite/serde/decode.js';
import { encodeModelProtoToBytes } from '../../graph-rewrite/serde/encode.js';
import { DataType, type ModelProto } from '../../graph-rewrite/serde/onnx-schema.js';
import { readModelFile } from '../../src/io/model-file.js';
import { seededRandom } from '../../src/runtime/random-feeds.js';
import { runModel, tensorBits } from './fixtures.js';

const MODELS_DIR = join(import.meta.dirname, '..', '..', 'models');

function findModels(folder: string): string[] {
  if (!existsSync(folder)) return [];
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : findModels(path);
    return entry.isFile() && entry.name.endsWith('.onnx') ? [path] : [];
  }).sort();
}

/** Random feeds for the graph's inputs (initializers excluded); symbolic dims get 2. */
function randomFeeds(model: ModelProto, seed: number): Record<string, ort.Tensor> {
  const random = seededRandom(seed);
  const initializers = new Set(model.graph!.initializer.map((t) => t.name));
  const feeds: Record<string, ort.Tensor> = {};
  for (const input of model.graph!.input) {
    if (initializers.has(input.name)) continue;
    const tensorType = input.type?.tensor_type;
    const dims = tensorType?.shape?.dim.map((d) => (d.dim_value !== undefined ? Number(d.dim_value) : 2)) ?? [];
    const size = dims.reduce((a, b) => a * b, 1);
    switch (tensorType?.elem_type) {
      case DataType.FLOAT: feeds[input.name!] = new ort.Tensor('float32', Float32Array.from({ length: size }, () => random() * 2 - 1), dims); break;
      case DataType.FLOAT16: // finite halves in ±[2^-5, 1): random sign, exponent 10..14, mantissa
        feeds[input.name!] = new ort.Tensor('float16', Uint16Array.from({ length: size },
          () => ((random() < 0.5 ? 1 : 0) << 15) | ((10 + Math.floor(random() * 5)) << 10) | Math.floor(random() * 1024)), dims);
        break;
      case DataType.INT64: // small non-negative: valid token ids and attention masks alike
        feeds[input.name!] = new ort.Tensor('int64', BigInt64Array.from({ length: size }, () => BigInt(Math.floor(random() * 2))), dims);
        break;
      case DataType.INT32: feeds[input.name!] = new ort.Tensor('int32', Int32Array.from({ length: size }, () => Math.floor(random() * 2)), dims); break;
      case DataType.BOOL: feeds[input.name!] = new ort.Tensor('bool', Uint8Array.from({ length: size }, () => (random() < 0.5 ? 1 : 0)), dims); break;
      default: throw new Error(`input '${input.name}' has element type ${tensorType?.elem_type}, which this test cannot feed yet`);
    }
  }
  return feeds;
}

const models = findModels(MODELS_DIR);

describe('fixture models in models/', () => {
  if (models.length === 0) {
    // The fixtures are committed: finding none is a failure, not a skip.
    it('finds the committed fixture models', () => expect(models).not.toEqual([]));
    return;
  }

  it.each(models.map((path) => [relative(MODELS_DIR, path), path] as const))('%s', async (name, path) => {
    const fileBytes = new Uint8Array(await readFile(path));
    const decoded = decodeModelProto(fileBytes, { source: name });
    const reencoded = encodeModelProtoToBytes(decoded);
    expect(Buffer.from(reencoded).equals(fileBytes)).toBe(true); // onnx writers are canonical: identical bytes
    expect(isDeepStrictEqual(decodeModelProto(reencoded), decoded)).toBe(true);

    const resolved = await readModelFile(path); // external data inlined, if any
    const feeds = randomFeeds(resolved, 1234);
    const fromFile = await runModel(path, feeds);
    const fromOurBytes = await runModel(encodeModelProtoToBytes(resolved), feeds);
    expect(Object.keys(fromOurBytes)).toEqual(Object.keys(fromFile));
    for (const output of Object.keys(fromFile)) {
      expect(fromOurBytes[output]!.dims).toEqual(fromFile[output]!.dims);
      expect(tensorBits(fromOurBytes[output]!)).toStrictEqual(tensorBits(fromFile[output]!));
    }
  });
});
