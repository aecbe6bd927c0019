/**
 * Dynamic batching: concurrent clients over HTTP each get their own, correct rows back (checked against a
 * direct onnxruntime run), batches > 1 show in /metrics, and requests with different non-batch shapes never
 * share a run. The Batcher tests drive a real onnxruntime session and record what each run received.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTensor, type BackendSession, type Feeds } from '../../src/runtime/backend.js';
import { nodeBackend, toOrtFeeds } from '../../src/runtime/node-backend.js';
import { Batcher, type BatcherOptions } from '../../src/server/batcher.js';
import { directRun, directVit, fixture, maxAbsDiff, metric, metricsText, pixels, post, serve, vitRequest, type TestServer } from './helpers.js';

const DYNAMIC = 'hf_vit_op17_dyn';
const FIXED = 'hf_vit_op12';

describe('32 concurrent clients over HTTP', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await serve([fixture(DYNAMIC), fixture(FIXED)], { maxBatch: 8, maxDelayMs: 20 });
  });
  afterAll(() => server.close());

  it('batches a dynamic-batch model: every answer correct, batches of 2..8 in /metrics', async () => {
    const seeds = Array.from({ length: 32 }, (_, i) => 100 + i);
    const answers = await Promise.all(seeds.map((seed) => post(`${server.url}/v2/models/${DYNAMIC}/infer`, vitRequest(seed, 1, { id: String(seed) }))));
    for (const [i, answer] of answers.entries()) {
      expect(answer.status).toBe(200);
      expect(answer.body.id).toBe(String(seeds[i]));
      expect(answer.body.outputs[0].shape).toEqual([1, 10]);
      // Batched GEMMs may round differently from a batch of one: a tolerance, not equality.
      expect(maxAbsDiff(answer.body.outputs[0].data, await directVit(fixture(DYNAMIC), seeds[i]!))).toBeLessThan(1e-4);
    }
    const text = await metricsText(server.url);
    const runs = metric(text, 'vitlin_batch_size_count', { model: DYNAMIC })!;
    const rows = metric(text, 'vitlin_batch_size_sum', { model: DYNAMIC })!;
    expect(rows).toBe(32);
    expect(runs).toBeLessThan(32); // fewer runs than requests: some batch held more than one
    expect(metric(text, 'vitlin_batch_size_bucket', { model: DYNAMIC, le: '1' })).toBeLessThan(runs);
    expect(metric(text, 'vitlin_batch_size_bucket', { model: DYNAMIC, le: '8' })).toBe(runs); // never above --max-batch
    expect(metric(text, 'vitlin_requests_total', { model: DYNAMIC, route: 'infer', status: '200' })).toBe(32);
  });

  it('runs a fixed-batch model one request at a time, all correct', async () => {
    const answers = await Promise.all([1, 2, 3, 4, 5, 6].map((seed) => post(`${server.url}/v2/models/${FIXED}/infer`, vitRequest(seed))));
    for (const [i, answer] of answers.entries()) {
      expect(answer.status).toBe(200);
      expect(maxAbsDiff(answer.body.outputs[0].data, await directVit(fixture(FIXED), i + 1))).toBeLessThan(1e-5);
    }
    const text = await metricsText(server.url);
    expect(metric(text, 'vitlin_batch_size_sum', { model: FIXED })).toBe(metric(text, 'vitlin_batch_size_count', { model: FIXED }));
  });
});

describe('Batcher on a real session', () => {
  let bert: BackendSession;
  let vit: BackendSession;
  beforeAll(async () => {
    [bert, vit] = await Promise.all([nodeBackend.createSession(fixture('bert_mask')), nodeBackend.createSession(fixture(DYNAMIC))]);
  });
  afterAll(async () => {
    await Promise.all([bert.release(), vit.release()]);
  });

  /** A batcher whose runs are recorded (input dims per run) before going to onnxruntime. */
  function recording(session: BackendSession, options: Partial<BatcherOptions> = {}) {
    const runs: number[][][] = [];
    const batcher = new Batcher({
      model: 'm', batchable: true, maxBatch: 8, maxDelayMs: 200, maxQueue: 100, ...options,
      run: (feeds: Feeds) => {
        runs.push(Object.keys(feeds).sort().map((name) => [...feeds[name]!.dims]));
        return session.run(feeds);
      },
    });
    return { batcher, runs };
  }
  const bertFeeds = (seed: number, sequence: number, rows = 1): Feeds => {
    const ids = BigInt64Array.from(pixels(seed, rows * sequence), (v) => BigInt(Math.floor((v + 1) * 20)));
    return { input_ids: createTensor('int64', ids, [rows, sequence]), attention_mask: createTensor('int64', new BigInt64Array(rows * sequence).fill(1n), [rows, sequence]) };
  };
  const vitFeeds = (seed: number, rows: number): Feeds => ({ pixel_values: createTensor('float32', Float32Array.from(pixels(seed, rows * 3072)), [rows, 3, 32, 32]) });

  it('never mixes requests with different non-batch shapes, and slices each its own rows', async () => {
    const { batcher, runs } = recording(bert);
    const requests = [[1, 5], [2, 7], [3, 5], [4, 7], [5, 5], [6, 7]].map(([seed, sequence]) => bertFeeds(seed!, sequence!));
    const results = await Promise.all(requests.map((feeds) => batcher.submit(feeds)));
    // Two runs: the three sequence-5 requests together, then the three sequence-7 ones.
    expect(runs).toEqual([[[3, 5], [3, 5]], [[3, 7], [3, 7]]]);
    for (const [i, result] of results.entries()) {
      const direct = await directRun(fixture('bert_mask'), toOrtFeeds(requests[i]!));
      expect(result.last_hidden_state!.dims).toEqual(direct.last_hidden_state!.dims);
      expect(maxAbsDiff(Array.from(result.last_hidden_state!.data as Float32Array), Array.from(direct.last_hidden_state!.data as Float32Array))).toBeLessThan(1e-4);
    }
  });

  it.each([
    // [max batch, rows per request, expected rows per run]
    [4, [3, 2, 1, 2], [4, 4]],
    [4, [5, 1], [5, 1]], // a request larger than max batch runs alone
    [1, [1, 1, 1], [1, 1, 1]], // max batch 1: no batching
  ])('max batch %i with requests of %j rows runs %j', async (maxBatch, rows, expected) => {
    const { batcher, runs } = recording(vit, { maxBatch });
    // Feeds first, then all submits in one tick: the batching delay cannot expire between them.
    const feeds = rows.map((n, i) => vitFeeds(i, n));
    const results = await Promise.all(feeds.map((f) => batcher.submit(f)));
    expect(runs.map((run) => run[0]![0])).toEqual(expected);
    expect(results.map((r) => r.logits!.dims[0])).toEqual(rows);
  });

  it('takes an aborted request out of the queue without disturbing the others', async () => {
    const { batcher, runs } = recording(vit, { maxDelayMs: 500 });
    const controller = new AbortController();
    const kept = batcher.submit(vitFeeds(1, 1));
    const aborted = batcher.submit(vitFeeds(2, 1), controller.signal);
    expect(batcher.depth).toBe(2);
    controller.abort(new Error('gone'));
    await expect(aborted).rejects.toThrow('gone');
    expect(batcher.depth).toBe(1);
    expect((await kept).logits!.dims).toEqual([1, 10]);
    expect(runs).toEqual([[[1, 3, 32, 32]]]);
  });

  it('drain() runs what is queued at once instead of waiting for the batch to fill', async () => {
    const { batcher } = recording(vit, { maxDelayMs: 10_000 });
    const started = Date.now();
    const pending = [batcher.submit(vitFeeds(1, 1)), batcher.submit(vitFeeds(2, 1))];
    await batcher.drain();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await Promise.all(pending)).map((r) => r.logits!.dims[0])).toEqual([1, 1]);
    expect(batcher.depth).toBe(0);
  });
});
