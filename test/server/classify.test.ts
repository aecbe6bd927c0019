/**
 * POST /v1/models/{name}/classify on real PNG and JPEG files made from the bundled Fashion-MNIST sample,
 * served from a folder holding a Hugging Face style model folder and a plain .onnx beside it. The model is
 * a trained one from the manifest when there is one, else the 3×32×32 dynamic-batch fixture (the sample
 * padded to 32×32 and made RGB). Every answer is checked against the model run directly in onnxruntime on
 * a tensor this test builds itself.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode as encodePng } from 'fast-png';
import { decode as decodeJpeg, encode as encodeJpeg } from 'jpeg-js';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resizeImage } from '../../src/data/images.js';
import { parseSampleFile } from '../../src/data/sample-file.js';
import { argmaxRows } from '../../src/runtime/compare.js';
import { directRun, maxAbsDiff, MODELS, post, request, serve, type TestServer } from './helpers.js';

interface ManifestModel { name: string; file: string; trained?: unknown; inputs: { shape: Array<number | string> }[] }
const manifest = JSON.parse(readFileSync(join(MODELS, 'manifest.json'), 'utf8')) as { sample: { file: string }; models: ManifestModel[] };
const trained = manifest.models.find((m) => m.trained && m.inputs[0]?.shape.length === 4);
const subject = trained
  ? { file: join(MODELS, trained.file), channels: 1, size: 28, mean: 0.286, std: 0.353, trained: true }
  : { file: join(MODELS, 'hf_vit_op17_dyn.onnx'), channels: 3, size: 32, mean: 0.5, std: 0.25, trained: false };

const sampleBytes = readFileSync(join(MODELS, manifest.sample.file));
const sample = parseSampleFile(sampleBytes);
const { classes, pixelOffset } = sample.header;
const COUNT = 12;

/** Image i of the sample at the subject's size (zero-padded when larger), as grey bytes. */
function grey(i: number): Uint8Array {
  const source = sampleBytes.subarray(pixelOffset + i * 784, pixelOffset + (i + 1) * 784);
  const pad = (subject.size - 28) / 2;
  const out = new Uint8Array(subject.size * subject.size);
  for (let y = 0; y < 28; y++) out.set(source.subarray(y * 28, y * 28 + 28), (y + pad) * subject.size + pad);
  return out;
}
/** Grey bytes → the subject's channels, interleaved. */
const channelsOf = (g: Uint8Array) => (subject.channels === 1 ? g : Uint8Array.from({ length: g.length * 3 }, (_, k) => g[Math.floor(k / 3)]!));
/** HWC bytes → the normalised NCHW tensor, built here independently of src/data/images.ts. */
function tensor(hwc: Uint8Array, size: number, mean: number, std: number): ort.Tensor {
  const c = subject.channels;
  const data = new Float32Array(c * size * size);
  for (let ch = 0; ch < c; ch++) for (let p = 0; p < size * size; p++) data[ch * size * size + p] = (hwc[p * c + ch]! / 255 - mean) / std;
  return new ort.Tensor('float32', data, [1, c, size, size]);
}
async function directLogits(input: ort.Tensor): Promise<number[]> {
  const outputs = await directRun(subject.file, { pixel_values: input });
  return Array.from(outputs.logits!.data as Float32Array);
}

const root = mkdtempSync(join(tmpdir(), 'vitlin-serve-'));
let server: TestServer;
beforeAll(async () => {
  const hf = join(root, 'fmnist-vit');
  mkdirSync(join(hf, 'onnx'), { recursive: true });
  copyFileSync(subject.file, join(hf, 'onnx', 'model.onnx'));
  copyFileSync(subject.file, join(root, 'plain.onnx'));
  writeFileSync(join(hf, 'config.json'), JSON.stringify({ id2label: Object.fromEntries(classes.map((c, i) => [String(i), c])), image_size: subject.size, num_channels: subject.channels }));
  writeFileSync(join(hf, 'preprocessor_config.json'), JSON.stringify({
    do_resize: true, size: { height: subject.size, width: subject.size }, resample: 2, do_rescale: true, rescale_factor: 1 / 255,
    do_normalize: true, image_mean: Array(subject.channels).fill(subject.mean), image_std: Array(subject.channels).fill(subject.std),
  }));
  server = await serve([root]);
});
afterAll(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

const classify = (model: string, image: Uint8Array, k?: number) =>
  post(`${server.url}/v1/models/${model}/classify${k === undefined ? '' : `?k=${k}`}`, image, { 'Content-Type': 'application/octet-stream' });

describe('classify', () => {
  it('serves the HF folder and the plain model side by side', async () => {
    expect(server.models).toEqual(['fmnist-vit', 'plain']);
    expect((await request(`${server.url}/v2/models/fmnist-vit/ready`)).body).toEqual({ name: 'fmnist-vit', ready: true });
  });

  it('labels PNGs with id2label; top-k logits and softmax scores match onnxruntime', async () => {
    let agree = 0;
    let correct = 0;
    for (let i = 0; i < COUNT; i++) {
      const pixels = channelsOf(grey(i));
      const png = encodePng({ width: subject.size, height: subject.size, data: pixels, channels: subject.channels });
      const response = await classify('fmnist-vit', png, 3);
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ model_name: 'fmnist-vit', model_version: '1' });
      const logits = await directLogits(tensor(pixels, subject.size, subject.mean, subject.std));
      const top = [...logits.keys()].sort((a, b) => logits[b]! - logits[a]!).slice(0, 3);
      const total = logits.reduce((sum, v) => sum + Math.exp(v - Math.max(...logits)), 0);
      const predictions = response.body.predictions as { index: number; label: string; score: number; logit: number }[];
      expect(predictions.map((p) => p.index)).toEqual(top);
      for (const p of predictions) {
        expect(p.label).toBe(classes[p.index]);
        expect(p.logit).toBeCloseTo(logits[p.index]!, 4);
        expect(p.score).toBeCloseTo(Math.exp(logits[p.index]! - Math.max(...logits)) / total, 5);
      }
      agree += Number(predictions[0]!.index === argmaxRows(logits, logits.length)[0]);
      correct += Number(predictions[0]!.label === classes[sample.labels[i]!]);
    }
    expect(agree).toBe(COUNT);
    // A trained model must also be right about the clothes most of the time.
    if (subject.trained) expect(correct / COUNT).toBeGreaterThanOrEqual(0.6);
  });

  it('classifies JPEGs like onnxruntime does on the decoded pixels', async () => {
    for (let i = 0; i < 4; i++) {
      const g = grey(i);
      const rgba = Uint8Array.from({ length: g.length * 4 }, (_, k) => (k % 4 === 3 ? 255 : g[Math.floor(k / 4)]!));
      const jpeg = encodeJpeg({ width: subject.size, height: subject.size, data: rgba }, 90).data;
      const decoded = decodeJpeg(jpeg, { useTArray: true, formatAsRGBA: false }).data;
      // Grey models get PIL's luma of the decoded RGB; RGB models the decoded RGB.
      const pixels = subject.channels === 3 ? decoded
        : Uint8Array.from({ length: g.length }, (_, p) => (decoded[p * 3]! * 19595 + decoded[p * 3 + 1]! * 38470 + decoded[p * 3 + 2]! * 7471 + 0x8000) >> 16);
      const response = await classify('fmnist-vit', jpeg, 10);
      expect(response.status).toBe(200);
      const logits = await directLogits(tensor(pixels, subject.size, subject.mean, subject.std));
      const served = (response.body.predictions as { index: number; logit: number }[]).sort((a, b) => a.index - b.index).map((p) => p.logit);
      expect(maxAbsDiff(served, logits)).toBeLessThan(1e-4);
    }
  });

  it('resizes to the configured size (bilinear, as PIL) before classifying', async () => {
    const g = channelsOf(grey(0));
    const big = 2 * subject.size;
    const doubled = new Uint8Array(big * big * subject.channels);
    for (let y = 0; y < big; y++) for (let x = 0; x < big; x++) for (let c = 0; c < subject.channels; c++) {
      doubled[(y * big + x) * subject.channels + c] = g[(Math.floor(y / 2) * subject.size + Math.floor(x / 2)) * subject.channels + c]!;
    }
    const response = await classify('fmnist-vit', encodePng({ width: big, height: big, data: doubled, channels: subject.channels }), 1);
    const resized = resizeImage({ width: big, height: big, channels: subject.channels as 1 | 3, data: doubled }, subject.size, subject.size);
    const logits = await directLogits(tensor(resized.data, subject.size, subject.mean, subject.std));
    expect(response.body.predictions[0].index).toBe(argmaxRows(logits, logits.length)[0]);
    expect(response.body.predictions[0].logit).toBeCloseTo(Math.max(...logits), 4);
  });

  it('uses LABEL_i and ViT defaults (mean = std = 0.5) for a model without an HF folder', async () => {
    const pixels = channelsOf(grey(1));
    const response = await classify('plain', encodePng({ width: subject.size, height: subject.size, data: pixels, channels: subject.channels }));
    expect(response.status).toBe(200);
    expect(response.body.predictions).toHaveLength(5);
    const logits = await directLogits(tensor(pixels, subject.size, 0.5, 0.5));
    const best = argmaxRows(logits, logits.length)[0]!;
    expect(response.body.predictions[0]).toMatchObject({ index: best, label: `LABEL_${best}` });
    expect(response.body.predictions[0].logit).toBeCloseTo(logits[best]!, 4);
  });
});
