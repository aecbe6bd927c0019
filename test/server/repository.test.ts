/**
 * A model repository on disk (one folder per model, numeric version folders, vitlin.json) served beside a
 * flat .onnx file, and the repository extension (index, load, unload) with Triton's states: each answer
 * is checked against the model run directly in onnxruntime, and each state change against the index, the
 * readiness endpoints and inference.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBackend } from '../../src/runtime/node-backend.js';
import { ModelRepository } from '../../src/server/repository.js';
import { directVit, fixture, maxAbsDiff, metric, metricsText, pixels, post, request, serve, vitRequest, waitFor, type TestServer } from './helpers.js';
import { writeOneNodeModel } from './tiny-models.js';

const DYNAMIC = fixture('hf_vit_op17_dyn');
const FIXED = fixture('hf_vit_op12');

/** Writes `<repo>/<name>/<version>/model.onnx` copies and the model's vitlin.json. */
function writeModel(repo: string, name: string, versions: Record<string, string>, config?: unknown): string {
  const folder = join(repo, name);
  for (const [version, source] of Object.entries(versions)) {
    mkdirSync(join(folder, version), { recursive: true });
    copyFileSync(source, join(folder, version, 'model.onnx'));
  }
  if (config !== undefined) writeFileSync(join(folder, 'vitlin.json'), typeof config === 'string' ? config : JSON.stringify(config));
  return folder;
}

const root = mkdtempSync(join(tmpdir(), 'vitlin-repo-'));
const repo = join(root, 'repo');
// Versions must answer differently to tell them apart: y = x and y = -x, with the ViTs' input name and shape.
const tiny = (op: string) => writeOneNodeModel(join(root, 'tiny', `${op}.onnx`), { op, input: 'pixel_values', output: 'logits', dims: ['batch', 3, 32, 32] });
const ECHO = tiny('Identity');
const NEGATE = tiny('Neg');
/** What each model file answers for vitRequest(seed). */
const expected = async (file: string, seed: number) => (file === ECHO ? pixels(seed) : file === NEGATE ? pixels(seed).map((v) => -v) : directVit(file, seed));

let server: TestServer;
beforeAll(async () => {
  writeModel(repo, 'vit', { 1: ECHO, 2: NEGATE }, { version_policy: { all: {} } });
  writeModel(repo, 'newest', { 1: ECHO, 3: DYNAMIC }); // no vitlin.json: the newest version only
  writeModel(repo, 'slow', { 1: DYNAMIC }, { max_batch_size: 8, batching: { max_queue_delay_ms: 60_000 } });
  copyFileSync(FIXED, join(repo, 'plain.onnx'));
  server = await serve([repo]);
});
afterAll(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

const url = (path: string) => `${server.url}${path}`;
const index = async (body?: unknown) => (await request(url('/v2/repository/index'), { method: 'POST', ...(body === undefined ? {} : { body: JSON.stringify(body) }) })).body;
const load = (name: string, body?: unknown) => request(url(`/v2/repository/models/${name}/load`), { method: 'POST', ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
const unload = (name: string) => request(url(`/v2/repository/models/${name}/unload`), { method: 'POST', body: '{"parameters":{"unload_dependents":false}}' });
const ready = (row: { name: string; version: string }) => ({ ...row, state: 'READY', reason: '' });

describe('the repository layout', () => {
  it('serves repository models and a flat .onnx file side by side', () => {
    expect(server.models).toEqual(['newest', 'plain', 'slow', 'vit']);
  });

  it.each([
    ['vit', ['1', '2']],
    ['newest', ['3']],
    ['plain', ['1']],
  ])('lists the versions %s serves in its metadata', async (name, versions) => {
    expect((await request(url(`/v2/models/${name}`))).body.versions).toEqual(versions);
  });

  it.each([
    ['/v2/models/vit/versions/1/infer', ECHO, '1'],
    ['/v2/models/vit/versions/2/infer', NEGATE, '2'],
    ['/v2/models/vit/infer', NEGATE, '2'],
    ['/v2/models/newest/infer', DYNAMIC, '3'],
    ['/v2/models/plain/versions/1/infer', FIXED, '1'],
  ])('POST %s runs %s (version %s)', async (path, file, version) => {
    const response = await post(url(path), vitRequest(31));
    expect(response.status).toBe(200);
    expect(response.body.model_version).toBe(version);
    expect(maxAbsDiff(response.body.outputs[0].data, await expected(file, 31))).toBeLessThan(1e-5);
  });

  it('answers 404 for a version on disk that the version policy does not serve', async () => {
    const response = await post(url('/v2/models/newest/versions/1/infer'), vitRequest(1));
    expect([response.status, response.body.error]).toEqual([404, "model 'newest' has no version '1' (versions: 3)"]);
  });
});

describe('the repository extension', () => {
  it('indexes every model and version with its state', async () => {
    expect(await index()).toEqual([
      ready({ name: 'newest', version: '3' }), ready({ name: 'plain', version: '1' }), ready({ name: 'slow', version: '1' }),
      ready({ name: 'vit', version: '1' }), ready({ name: 'vit', version: '2' }),
    ]);
  });

  it('unloads a model: not ready, 503 on inference, UNAVAILABLE in the index; loads it again', async () => {
    expect((await unload('vit')).body).toEqual({ name: 'vit', unload: true });
    for (const path of ['/v2/models/vit/ready', '/v2/models/vit/versions/1/ready']) {
      const response = await request(url(path));
      expect([response.status, response.body]).toEqual([503, { name: 'vit', ready: false }]);
    }
    const refused = await post(url('/v2/models/vit/infer'), vitRequest(1));
    expect([refused.status, refused.body.error]).toEqual([503, expect.stringMatching(/model 'vit' is not ready \(UNAVAILABLE: unloaded\); load it with POST \/v2\/repository\/models\/vit\/load/)]);
    expect((await request(url('/v2/models/vit'))).status).toBe(503);
    expect((await index()).filter((row: { name: string }) => row.name === 'vit')).toEqual([{ name: 'vit', state: 'UNAVAILABLE', reason: 'unloaded' }]);
    expect((await index({ ready: true })).map((row: { name: string }) => row.name)).toEqual(['newest', 'plain', 'slow']);
    // The server stays ready: other models are unaffected.
    expect((await request(url('/v2/health/ready'))).status).toBe(200);
    expect((await post(url('/v2/models/plain/infer'), vitRequest(2))).status).toBe(200);

    expect((await load('vit')).body).toEqual({ name: 'vit', load: true });
    expect((await request(url('/v2/models/vit/ready'))).body).toEqual({ name: 'vit', ready: true });
    const answer = await post(url('/v2/models/vit/versions/1/infer'), vitRequest(3));
    expect(maxAbsDiff(answer.body.outputs[0].data, await expected(ECHO, 3))).toBeLessThan(1e-5);
  });

  it('lets a queued request finish when its model is unloaded, and refuses new ones at once', async () => {
    // 'slow' waits up to 60 s for a batch to fill: the request is still queued when the unload comes.
    const pending = post(url('/v2/models/slow/infer'), vitRequest(4));
    await waitFor(async () => metric(await metricsText(server.url), 'vitlin_queue_depth', { model: 'slow' }) === 1, 10_000, 'the request to queue');
    const unloaded = unload('slow');
    const answer = await pending;
    expect(answer.status).toBe(200);
    expect(maxAbsDiff(answer.body.outputs[0].data, await directVit(DYNAMIC, 4))).toBeLessThan(1e-5);
    expect((await unloaded).status).toBe(200);
    expect((await post(url('/v2/models/slow/infer'), vitRequest(4))).status).toBe(503);
    expect((await load('slow')).status).toBe(200);
  });

  it('finds a model added after the start: listed as not loaded, served once loaded', async () => {
    writeModel(repo, 'later', { 1: DYNAMIC });
    expect((await index()).filter((row: { name: string }) => row.name === 'later')).toEqual([{ name: 'later', state: 'UNAVAILABLE', reason: 'not loaded' }]);
    expect((await post(url('/v2/models/later/infer'), vitRequest(5))).status).toBe(404);
    expect((await load('later')).status).toBe(200);
    expect((await index({ ready: true })).filter((row: { name: string }) => row.name === 'later')).toEqual([ready({ name: 'later', version: '1' })]);
    const answer = await post(url('/v2/models/later/infer'), vitRequest(5));
    expect(maxAbsDiff(answer.body.outputs[0].data, await directVit(DYNAMIC, 5))).toBeLessThan(1e-5);
  });

  it('reloads a model with a new version folder', async () => {
    writeModel(repo, 'vit', { 3: DYNAMIC });
    expect((await load('vit')).status).toBe(200);
    expect((await request(url('/v2/models/vit'))).body.versions).toEqual(['1', '2', '3']);
    const answer = await post(url('/v2/models/vit/infer'), vitRequest(6));
    expect(answer.body.model_version).toBe('3');
    expect(maxAbsDiff(answer.body.outputs[0].data, await expected(DYNAMIC, 6))).toBeLessThan(1e-5);
  });

  it('keeps serving the loaded versions when a reload fails', async () => {
    writeFileSync(join(repo, 'vit', 'vitlin.json'), '{"version_policy": {"all": {}}, "max_batch_size": 0}');
    const response = await load('vit');
    expect([response.status, response.body.error]).toEqual([400, expect.stringMatching(/^failed to load 'vit': .*vit\/vitlin\.json: 'max_batch_size' must be an integer ≥ 1, got 0$/)]);
    expect((await post(url('/v2/models/vit/infer'), vitRequest(7))).status).toBe(200);
    expect((await index({ ready: true })).filter((row: { name: string }) => row.name === 'vit')).toHaveLength(3);
    writeFileSync(join(repo, 'vit', 'vitlin.json'), '{"version_policy": {"all": {}}}');
  });

  it('loads with a config given in the request (parameters.config) instead of vitlin.json', async () => {
    const config = JSON.stringify({ version_policy: { specific: { versions: [1] } } });
    expect((await load('vit', { parameters: { config } })).status).toBe(200);
    expect((await request(url('/v2/models/vit'))).body.versions).toEqual(['1']);
    expect((await load('vit')).status).toBe(200);
    expect((await request(url('/v2/models/vit'))).body.versions).toEqual(['1', '2', '3']);
  });

  it('lists a model it cannot read as UNAVAILABLE with the reason, and refuses to load it', async () => {
    writeModel(repo, 'broken', { 1: DYNAMIC }, { max_batch_size: 4, batching: { preferred_batch_sizes: [8] } });
    const row = (await index()).find((r: { name: string }) => r.name === 'broken');
    expect(row).toEqual({ name: 'broken', state: 'UNAVAILABLE', reason: expect.stringMatching(/broken\/vitlin\.json: 'batching\.preferred_batch_sizes' must not exceed max_batch_size 4, got \[8\]/) });
    const response = await load('broken');
    expect([response.status, response.body.error]).toEqual([400, expect.stringMatching(/failed to load 'broken': .*must not exceed max_batch_size 4/)]);
    rmSync(join(repo, 'broken'), { recursive: true });
  });

  it.each([
    ['load of an unknown model', () => load('nope'), 404, /no model 'nope' in the repository/],
    ['unload of an unknown model', () => unload('nope'), 404, /unknown model 'nope'/],
    ['a load body that is not JSON', () => request(url('/v2/repository/models/vit/load'), { method: 'POST', body: '{' }), 400, /malformed JSON/],
    ['parameters.config that is not a string', () => load('vit', { parameters: { config: { max_batch_size: 2 } } }), 400, /parameters.config must be a string/],
    ['parameters.config that is not JSON', () => load('vit', { parameters: { config: '{' } }), 400, /failed to load 'vit': parameters.config is not valid JSON/],
    ['parameters.config for a flat file', () => load('plain', { parameters: { config: '{}' } }), 400, /parameters.config applies to models in a repository folder/],
    ['an index body with ready that is not a boolean', () => request(url('/v2/repository/index'), { method: 'POST', body: '{"ready": 1}' }), 400, /'ready' must be true or false/],
    ['GET on the index', () => request(url('/v2/repository/index')), 405, /GET is not allowed/],
  ])('%s → %i', async (_name, call, status, message) => {
    const response = await call();
    expect([response.status, response.body.error]).toEqual([status, expect.stringMatching(message)]);
  });
});

describe('ModelRepository', () => {
  it('runs loads and unloads of one model in the order they were asked for', async () => {
    const repository = await ModelRepository.open([FIXED], undefined, { backend: nodeBackend, ep: 'cpu', batching: { maxBatch: 1, maxDelayMs: 0, maxQueue: 4 } });
    try {
      // Not awaited one by one: each waits for the one before it.
      await Promise.all([repository.unload('hf_vit_op12'), repository.load('hf_vit_op12')]);
      expect(repository.index()).toEqual([ready({ name: 'hf_vit_op12', version: '1' })]);
      await Promise.all([repository.load('hf_vit_op12'), repository.unload('hf_vit_op12')]);
      expect(repository.index()).toEqual([{ name: 'hf_vit_op12', state: 'UNAVAILABLE', reason: 'unloaded' }]);
      expect(repository.served.size).toBe(0);
    } finally {
      await repository.release();
    }
  });
});

describe('ModelRepository on a single model file', () => {
  it('refuses to reload a model whose vitlin.json broke, keeps serving it, and says why once it is unloaded', async () => {
    const folder = mkdtempSync(join(root, 'single-'));
    const file = join(folder, 'solo.onnx');
    copyFileSync(FIXED, file);
    writeFileSync(join(folder, 'solo.vitlin.json'), '{"max_batch_size": 1}');
    const repository = await ModelRepository.open([file], undefined, { backend: nodeBackend, ep: 'cpu', batching: { maxBatch: 1, maxDelayMs: 0, maxQueue: 4 } });
    try {
      writeFileSync(join(folder, 'solo.vitlin.json'), '{"max_batch_size": "one"}');
      await expect(repository.load('solo')).rejects.toThrow(/failed to load 'solo': .*solo\.vitlin\.json: 'max_batch_size' must be an integer ≥ 1, got "one"/);
      expect(repository.index()).toEqual([ready({ name: 'solo', version: '1' })]);
      await repository.unload('solo');
      expect(repository.index()).toEqual([{ name: 'solo', state: 'UNAVAILABLE', reason: expect.stringMatching(/solo\.vitlin\.json: 'max_batch_size' must be an integer/) }]);
    } finally {
      await repository.release();
    }
  });
});

describe('a repository that cannot start', () => {
  it.each([
    ['an unknown config field', { 1: DYNAMIC }, { max_batch: 4 }, /m\/vitlin\.json: 'max_batch' is not a known field \(known: preprocess, labels, max_batch_size, /],
    ['a config that is not JSON', { 1: DYNAMIC }, '{', /m\/vitlin\.json is not valid JSON/],
    ['a version policy naming a missing version', { 1: DYNAMIC }, { version_policy: { specific: { versions: [1, 4] } } }, /'version_policy\.specific\.versions' lists 4, which .* does not have \(versions: 1\)/],
    ['labels that do not match the classes', { 1: DYNAMIC }, { labels: ['a', 'b'] }, /m\/vitlin\.json: 'labels' has 2 labels, the model's output 'logits' has 10 classes/],
    ['a labels file that does not exist', { 1: DYNAMIC }, { labels: 'labels.txt' }, /'labels' names .*labels\.txt, which does not exist/],
  ])('refuses %s with the file and the field', async (_name, versions, config, message) => {
    const folder = mkdtempSync(join(root, 'bad-'));
    writeModel(folder, 'm', versions, config);
    await expect(serve([folder])).rejects.toThrow(message);
  });

  it('refuses a version policy for a single model file', async () => {
    const folder = mkdtempSync(join(root, 'bad-'));
    copyFileSync(FIXED, join(folder, 'x.onnx'));
    writeFileSync(join(folder, 'x.vitlin.json'), '{"version_policy": {"all": {}}}');
    await expect(serve([folder])).rejects.toThrow(/x\.vitlin\.json: 'version_policy' applies to repository models \(version folders\), not to a single model file/);
  });

  it('refuses a version folder without model.onnx', async () => {
    const folder = mkdtempSync(join(root, 'bad-'));
    writeModel(folder, 'm', { 1: DYNAMIC });
    mkdirSync(join(folder, 'm', '2'));
    await expect(serve([folder])).rejects.toThrow(/m\/2 is a version folder without model\.onnx/);
  });
});
