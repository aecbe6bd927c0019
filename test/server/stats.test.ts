/**
 * Per-model statistics (Triton's statistics extension): after a known mix of requests — single rows,
 * a batch of 3 in one request, a failed request, a classification — the counts are exact and the durations
 * consistent; the endpoints cover all models, one model and one version.
 */
import { encode as encodePng } from 'fast-png';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, post, request, serve, vitRequest, type TestServer } from './helpers.js';

const MODEL = 'hf_vit_op17_dyn';
let server: TestServer;
let started: number;
beforeAll(async () => {
  server = await serve([fixture(MODEL), fixture('hf_vit_op12')], { maxBatch: 1 });
  started = Date.now();
  const infer = (body: unknown) => post(`${server.url}/v2/models/${MODEL}/infer`, body);
  for (const seed of [1, 2]) expect((await infer(vitRequest(seed))).status).toBe(200);
  expect((await infer(vitRequest(3, 3))).status).toBe(200);
  expect((await infer({ inputs: [{ name: 'pixel_values', shape: [1, 3, 32, 32], datatype: 'FP64', data: [] }] })).status).toBe(400);
  const png = encodePng({ width: 32, height: 32, data: new Uint8Array(32 * 32 * 3).fill(128), channels: 3 });
  expect((await post(`${server.url}/v1/models/${MODEL}/classify`, png)).status).toBe(200);
});
afterAll(() => server.close());

const stats = async (path: string) => request(`${server.url}${path}`);

describe('statistics', () => {
  it('counts rows, runs, successes, failures and batch sizes exactly', async () => {
    const response = await stats(`/v2/models/${MODEL}/stats`);
    expect(response.status).toBe(200);
    const [stat] = response.body.model_stats;
    expect(Object.keys(stat).sort()).toEqual(['batch_stats', 'execution_count', 'inference_count', 'inference_stats', 'last_inference', 'name', 'version']);
    expect(stat).toMatchObject({ name: MODEL, version: '1', inference_count: 6, execution_count: 4 });
    expect(stat.last_inference).toBeGreaterThanOrEqual(started);
    expect(stat.last_inference).toBeLessThanOrEqual(Date.now());
    const s = stat.inference_stats;
    expect(Object.keys(s).sort()).toEqual(['cache_hit', 'compute_infer', 'compute_input', 'compute_output', 'fail', 'queue', 'success']);
    expect([s.success.count, s.fail.count, s.queue.count, s.compute_input.count, s.compute_infer.count, s.compute_output.count, s.cache_hit.count]).toEqual([4, 1, 4, 4, 4, 4, 0]);
    for (const key of ['success', 'fail', 'compute_input', 'compute_infer', 'compute_output']) expect(s[key].ns, key).toBeGreaterThan(0);
    // A request's parts fit in its whole.
    expect(s.compute_input.ns + s.queue.ns + s.compute_infer.ns + s.compute_output.ns).toBeLessThanOrEqual(s.success.ns);
    expect(stat.batch_stats).toEqual([
      { batch_size: 1, compute_input: { count: 3, ns: 0 }, compute_infer: { count: 3, ns: expect.any(Number) }, compute_output: { count: 3, ns: 0 } },
      { batch_size: 3, compute_input: { count: 1, ns: 0 }, compute_infer: { count: 1, ns: expect.any(Number) }, compute_output: { count: 1, ns: 0 } },
    ]);
    const inferNs = stat.batch_stats.reduce((sum: number, b: { compute_infer: { ns: number } }) => sum + b.compute_infer.ns, 0);
    expect(inferNs).toBe(s.compute_infer.ns); // without batching, each request's run is its own
  });

  it.each([
    ['all models', '/v2/models/stats', [[MODEL, '1'], ['hf_vit_op12', '1']]],
    ['one version', `/v2/models/${MODEL}/versions/1/stats`, [[MODEL, '1']]],
  ])('covers %s (GET %s)', async (_name, path, expected) => {
    const response = await stats(path);
    expect(response.status).toBe(200);
    expect(response.body.model_stats.map((m: { name: string; version: string }) => [m.name, m.version])).toEqual(expected);
  });

  it('starts at zero for a model nobody asked', async () => {
    const { body } = await stats('/v2/models/hf_vit_op12/stats');
    expect(body.model_stats[0]).toMatchObject({ last_inference: 0, inference_count: 0, execution_count: 0, batch_stats: [] });
  });

  it.each([
    ['/v2/models/nope/stats', 404, /unknown model 'nope'/],
    [`/v2/models/${MODEL}/versions/7/stats`, 404, /has no version '7'/],
  ])('GET %s → %i', async (path, status, message) => {
    const response = await stats(path);
    expect([response.status, response.body.error]).toEqual([status, expect.stringMatching(message)]);
  });
});
