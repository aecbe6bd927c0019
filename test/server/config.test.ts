/**
 * Per-model configuration from a repository model's vitlin.json: batching knobs (max_batch_size,
 * max_queue_delay_ms, preferred_batch_sizes), instance_count, labels (inline or a labels file) and image
 * preprocessing (mean, std, rescale, size, crop, layout), as GET /v2/models/{name}/config reports them and
 * as requests see them. Preprocessing is checked through Identity models, whose "logits" are the tensor the
 * server built, against values computed here by hand.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode as encodePng } from 'fast-png';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTensor, type Feeds } from '../../src/runtime/backend.js';
import { Batcher } from '../../src/server/batcher.js';
import { directRun, directVit, fixture, maxAbsDiff, post, request, serve, vitRequest, type TestServer } from './helpers.js';
import { DataType, writeOneNodeModel } from './tiny-models.js';

const DYNAMIC = fixture('hf_vit_op17_dyn');
const root = mkdtempSync(join(tmpdir(), 'vitlin-config-'));
const repo = join(root, 'repo');

/** `<repo>/<name>/1/model.onnx` (a copy of `source`, or a one-node model) and its vitlin.json. */
function writeModel(name: string, source: string | { dims: (number | string)[] }, config: unknown, files: Record<string, string> = {}): void {
  const folder = join(repo, name);
  mkdirSync(join(folder, '1'), { recursive: true });
  if (typeof source === 'string') copyFileSync(source, join(folder, '1', 'model.onnx'));
  else writeOneNodeModel(join(folder, '1', 'model.onnx'), { dims: source.dims, elemType: DataType.FLOAT });
  writeFileSync(join(folder, 'vitlin.json'), JSON.stringify(config));
  for (const [file, text] of Object.entries(files)) writeFileSync(join(folder, file), text);
}

const LABELS = ['tee', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'boot'];
const MEAN = [0.2, 0.3, 0.4];
const STD = [0.5, 0.6, 0.7];

let server: TestServer;
beforeAll(async () => {
  writeModel('preferred', DYNAMIC, { max_batch_size: 4, batching: { max_queue_delay_ms: 60_000, preferred_batch_sizes: [2] } });
  writeModel('capped', DYNAMIC, { max_batch_size: 2, batching: { max_queue_delay_ms: 60_000 } });
  writeModel('twins', DYNAMIC, { instance_count: 2, max_batch_size: 1 });
  writeModel('labelled', DYNAMIC, { labels: 'labels.txt', preprocess: { mean: MEAN, std: STD } }, { 'labels.txt': `${LABELS.join('\n')}\n` });
  writeModel('inline_labels', DYNAMIC, { labels: LABELS.map((l) => l.toUpperCase()) });
  writeModel('nchw_echo', { dims: [1, 3, 4, 4] }, { preprocess: { mean: MEAN, std: STD, rescale: 0.01 } });
  writeModel('nhwc_echo', { dims: [1, 4, 4, 3] }, { preprocess: { layout: 'NHWC', mean: MEAN, std: STD } });
  writeModel('crop_echo', { dims: [1, 1, 4, 4] }, { preprocess: { size: 6, crop: [4, 4], mean: 0.5, std: 0.25 } });
  writeModel('wrong_size', { dims: [1, 3, 4, 4] }, { preprocess: { size: 8 } });
  copyFileSync(DYNAMIC, join(repo, 'flat.onnx'));
  // A flat file's config sits beside it; an HF folder's inside it, and wins over its preprocessor_config.json.
  copyFileSync(DYNAMIC, join(repo, 'flat_cfg.onnx'));
  writeFileSync(join(repo, 'flat_cfg.vitlin.json'), JSON.stringify({ labels: Object.fromEntries(LABELS.map((l, i) => [String(i), l])), max_batch_size: 3, instance_count: 2 }));
  mkdirSync(join(repo, 'hf_cfg'));
  copyFileSync(DYNAMIC, join(repo, 'hf_cfg', 'model.onnx'));
  writeFileSync(join(repo, 'hf_cfg', 'preprocessor_config.json'), JSON.stringify({ image_mean: [0.9, 0.9, 0.9], image_std: [0.1, 0.1, 0.1] }));
  writeFileSync(join(repo, 'hf_cfg', 'vitlin.json'), JSON.stringify({ preprocess: { mean: MEAN, std: STD } }));
  server = await serve([repo], { maxBatch: 8, maxDelayMs: 2 });
});
afterAll(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

const url = (path: string) => `${server.url}${path}`;
const stats = async (name: string) => (await request(url(`/v2/models/${name}/stats`))).body.model_stats[0];
const classify = (name: string, png: Uint8Array, k: number) => post(url(`/v1/models/${name}/classify?k=${k}`), png, { 'Content-Type': 'image/png' });

/** A w×h PNG with channel c of pixel p = (37·p + 91·c + 5) mod 256, and those bytes (HWC). */
function testImage(width: number, height: number, channels: 1 | 3): { png: Uint8Array; pixels: Uint8Array } {
  const pixels = Uint8Array.from({ length: width * height * channels }, (_, i) => (37 * Math.floor(i / channels) + 91 * (i % channels) + 5) % 256);
  return { png: encodePng({ width, height, data: pixels, channels }), pixels };
}

/** The flat output of an Identity model, rebuilt from classify's predictions (index = flat position, logit = value). */
function echoed(predictions: { index: number; logit: number }[]): number[] {
  const out: number[] = [];
  for (const p of predictions) out[p.index] = p.logit;
  return out;
}

describe('batching knobs', () => {
  it('runs two waiting requests at once when 2 is a preferred batch size, instead of waiting 60 s for 4', async () => {
    const answers = await Promise.all([7, 8].map((seed) => post(url('/v2/models/preferred/infer'), vitRequest(seed))));
    for (const [i, answer] of answers.entries()) {
      expect(answer.status).toBe(200);
      expect(maxAbsDiff(answer.body.outputs[0].data, await directVit(DYNAMIC, 7 + i))).toBeLessThan(1e-4);
    }
    const stat = await stats('preferred');
    expect(stat.execution_count).toBe(1);
    expect(stat.batch_stats.map((b: { batch_size: number }) => b.batch_size)).toEqual([2]);
  });

  it('runs a batch as soon as max_batch_size rows wait', async () => {
    const answers = await Promise.all([9, 10].map((seed) => post(url('/v2/models/capped/infer'), vitRequest(seed))));
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    expect((await stats('capped')).batch_stats).toEqual([expect.objectContaining({ batch_size: 2 })]);
  });

  it('serves a model with two instances: every concurrent answer correct', async () => {
    const seeds = [11, 12, 13, 14];
    const answers = await Promise.all(seeds.map((seed) => post(url('/v2/models/twins/infer'), vitRequest(seed))));
    for (const [i, answer] of answers.entries()) {
      expect(maxAbsDiff(answer.body.outputs[0].data, await directVit(DYNAMIC, seeds[i]!))).toBeLessThan(1e-5);
    }
    expect((await stats('twins')).execution_count).toBe(4);
  });
});

describe('GET /v2/models/{name}/config', () => {
  it('reports a model\'s vitlin.json settings', async () => {
    const response = await request(url('/v2/models/preferred/config'));
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      name: 'preferred', version: '1', platform: 'onnxruntime_onnx', file: join(repo, 'preferred', 'vitlin.json'),
      max_batch_size: 4, batching: { max_queue_delay_ms: 60_000, preferred_batch_sizes: [2], max_queue_size: 256 },
      instance_count: 1, labels: null,
      inputs: [{ name: 'pixel_values', datatype: 'FP32', shape: [-1, 3, 32, 32] }],
    });
    expect((await request(url('/v2/models/twins/config'))).body).toMatchObject({ instance_count: 2, max_batch_size: 1 });
  });

  it('reports the server\'s settings, and default preprocessing, for a flat .onnx file', async () => {
    const { body } = await request(url('/v2/models/flat/config'));
    expect(body).toMatchObject({ max_batch_size: 8, batching: { max_queue_delay_ms: 2, preferred_batch_sizes: [] }, instance_count: 1 });
    expect(body).not.toHaveProperty('file');
    expect(body.preprocessing).toMatchObject({ layout: 'NCHW', source: 'defaults', defaulted: ['mean', 'std', 'rescale'], normalize: { mean: [0.5, 0.5, 0.5] } });
  });

  it('says why a config cannot give a model its preprocessing', async () => {
    const { body } = await request(url('/v2/models/wrong_size/config'));
    expect(body.preprocessing).toEqual({ error: expect.stringMatching(/'preprocess\.size' gives 8×8 images, the model takes 4×4/) });
  });

  it('warns in the log about every image model left with guessed preprocessing', () => {
    const warned = server.logs.filter((l) => l.msg === 'preprocessing' && l.level === 'warn').map((l) => l.model).sort();
    expect(warned).toEqual(['capped', 'flat', 'flat_cfg', 'inline_labels', 'preferred', 'twins', 'wrong_size']);
    expect(server.logs.find((l) => l.model === 'flat' && l.msg === 'preprocessing')!.error).toMatch(/classify uses the defaults \(mean = std = 0\.5/);
  });

  it('reads <name>.vitlin.json beside a flat .onnx file', async () => {
    const { body } = await request(url('/v2/models/flat_cfg/config'));
    expect(body).toMatchObject({ file: join(repo, 'flat_cfg.vitlin.json'), max_batch_size: 3, instance_count: 2, labels: LABELS });
    expect(body).not.toHaveProperty('version_policy');
  });

  it('reads vitlin.json in an HF folder, over its preprocessor_config.json', async () => {
    const { body } = await request(url('/v2/models/hf_cfg/config'));
    expect(body.preprocessing).toMatchObject({ source: join(repo, 'hf_cfg', 'vitlin.json'), normalize: { mean: MEAN, std: STD } });
  });

  it('reports the labels and the preprocessing from vitlin.json', async () => {
    const { body } = await request(url('/v2/models/labelled/config'));
    expect(body.labels).toEqual(LABELS);
    expect(body.preprocessing).toMatchObject({ layout: 'NCHW', channels: 3, resize: { height: 32, width: 32 }, normalize: { mean: MEAN, std: STD }, defaulted: ['rescale'] });
  });
});

describe('labels and preprocessing', () => {
  it('labels from a labels file and normalises with the config\'s mean and std', async () => {
    const { png, pixels } = testImage(32, 32, 3);
    const response = await classify('labelled', png, 10);
    expect(response.status).toBe(200);
    const input = new Float32Array(3 * 1024);
    for (let c = 0; c < 3; c++) for (let p = 0; p < 1024; p++) input[c * 1024 + p] = (pixels[p * 3 + c]! / 255 - MEAN[c]!) / STD[c]!;
    const logits = Array.from((await directRun(DYNAMIC, { pixel_values: new ort.Tensor('float32', input, [1, 3, 32, 32]) })).logits!.data as Float32Array);
    const predictions = response.body.predictions as { index: number; label: string; logit: number }[];
    expect(predictions.map((p) => p.label)).toEqual(predictions.map((p) => LABELS[p.index]));
    expect(maxAbsDiff(predictions.sort((a, b) => a.index - b.index).map((p) => p.logit), logits)).toBeLessThan(1e-4);
  });

  it('labels from an inline list', async () => {
    const response = await classify('inline_labels', testImage(32, 32, 3).png, 3);
    expect(response.body.predictions.every((p: { index: number; label: string }) => p.label === LABELS[p.index]!.toUpperCase())).toBe(true);
  });

  it.each([
    ['NCHW', 'nchw_echo', 0.01, (pixels: Uint8Array) => [0, 1, 2].flatMap((c) => Array.from({ length: 16 }, (_, p) => (pixels[p * 3 + c]! * 0.01 - MEAN[c]!) / STD[c]!))],
    ['NHWC', 'nhwc_echo', 1 / 255, (pixels: Uint8Array) => Array.from(pixels, (v, i) => (v / 255 - MEAN[i % 3]!) / STD[i % 3]!)],
  ])('lays an image out %s with the config\'s rescale, mean and std', async (_layout, name, _rescale, expected) => {
    const { png, pixels } = testImage(4, 4, 3);
    const response = await classify(name, png, 48);
    expect(response.status).toBe(200);
    expect(maxAbsDiff(echoed(response.body.predictions), expected(pixels))).toBeLessThan(1e-5);
  });

  it('centre-crops to the config\'s crop after resizing to its size', async () => {
    const { png, pixels } = testImage(6, 6, 1);
    const response = await classify('crop_echo', png, 16);
    const centre = Array.from({ length: 16 }, (_, i) => (pixels[(1 + Math.floor(i / 4)) * 6 + 1 + (i % 4)]! / 255 - 0.5) / 0.25);
    expect(maxAbsDiff(echoed(response.body.predictions), centre)).toBeLessThan(1e-5);
  });

  it('refuses to classify when the config\'s size disagrees with the model, naming the file and field', async () => {
    const response = await classify('wrong_size', testImage(4, 4, 3).png, 1);
    expect([response.status, response.body.error]).toEqual([400, expect.stringMatching(/wrong_size\/vitlin\.json: 'preprocess\.size' gives 8×8 images, the model takes 4×4/)]);
  });
});

describe('Batcher with instances and preferred sizes (a recording run function)', () => {
  const feeds = (rows: number): Feeds => ({ x: createTensor('float32', new Float32Array(rows), [rows]) });
  /** A run that records its batch sizes and how many runs overlap, and finishes when released. */
  function recorder() {
    const sizes: number[] = [];
    let running = 0;
    let most = 0;
    const waiting: (() => void)[] = [];
    const run = async (f: Feeds) => {
      sizes.push(f.x!.dims[0]!);
      most = Math.max(most, ++running);
      await new Promise<void>((resolve) => waiting.push(resolve));
      running -= 1;
      return { y: f.x! };
    };
    return { run, sizes, most: () => most, release: () => waiting.splice(0).forEach((r) => r()), started: () => sizes.length };
  }

  it('runs up to `concurrency` batches at once, one per instance', async () => {
    const r = recorder();
    const batcher = new Batcher({ model: 'm', run: r.run, batchable: true, maxBatch: 1, maxDelayMs: 0, maxQueue: 10, concurrency: 2 });
    const answers = [1, 2, 3].map(() => batcher.submit(feeds(1)));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(r.started()).toBe(2); // the third waits for an instance
    r.release();
    await new Promise((resolve) => setTimeout(resolve, 20));
    r.release();
    await Promise.all(answers);
    expect(r.most()).toBe(2);
  });

  it('sends the largest preferred size that the queue fills, and waits otherwise', async () => {
    const r = recorder();
    const batcher = new Batcher({ model: 'm', run: r.run, batchable: true, maxBatch: 8, maxDelayMs: 60_000, maxQueue: 10, preferredBatchSizes: [2, 3] });
    const first = batcher.submit(feeds(1));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(r.started()).toBe(0); // 1 row: no preferred size yet
    const more = [batcher.submit(feeds(1)), batcher.submit(feeds(1))];
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(r.sizes).toEqual([2]); // 2 rows formed a preferred batch at once
    r.release();
    const rest = [batcher.submit(feeds(1)), batcher.submit(feeds(1))];
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(r.sizes).toEqual([2, 3]); // the third waiting plus two new: 3 rows, the largest preferred size
    r.release();
    await Promise.all([first, ...more, ...rest]);
  });
});
