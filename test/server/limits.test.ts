/**
 * Limits: body size (413), full queue (503 + Retry-After), request deadline (504 while queued or running,
 * 408 while the body is still arriving). Each is provoked deterministically: a long batching delay keeps
 * requests queued for as long as the test needs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, metric, metricsText, openRaw, parseRaw, post, rawExchange, request, serve, vitRequest, waitFor, type TestServer } from './helpers.js';

const MODEL = fixture('hf_vit_op17_dyn');
const INFER = '/v2/models/hf_vit_op17_dyn/infer';

describe('body size limit', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await serve([MODEL], { maxBodyBytes: 100_000 });
  });
  afterAll(() => server.close());

  it.each([
    ['just over the limit', 100_001],
    ['far over the limit', 8_000_000],
  ])('answers 413 to a body %s (Content-Length)', async (_name, size) => {
    const response = await post(`${server.url}${INFER}`, 'x'.repeat(size));
    expect(response.status).toBe(413);
    expect(response.body.error).toMatch(new RegExp(`request body is ${size} bytes, more than the 100000 bytes allowed \\(--max-body\\)`));
  });

  it('answers 413 to a chunked body once it passes the limit', async () => {
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        // Bounded: at most 2 MB, far past the limit; the server answers long before.
        if (sent >= 2_000_000) return controller.close();
        sent += 50_000;
        controller.enqueue(new Uint8Array(50_000).fill(32));
      },
    });
    const response = await request(`${server.url}${INFER}`, { method: 'POST', body, duplex: 'half' } as RequestInit);
    expect(response.status).toBe(413);
    expect(response.body.error).toMatch(/request body is over 100000 bytes/);
  });

  it('answers an error before the body is read without reading it, and closes the connection', async () => {
    const response = await post(`${server.url}/v2/models/nope/infer`, 'x'.repeat(90_000));
    expect(response.status).toBe(404);
    expect(response.headers.get('connection')).toBe('close');
  });

  it('still serves a request under the limit afterwards', async () => {
    const response = await post(`${server.url}${INFER}`, vitRequest(1));
    expect(response.status).toBe(200);
  });
});

describe('queue and deadline limits', () => {
  let server: TestServer;
  beforeAll(async () => {
    // Batches wait up to 1.5 s to fill, so requests stay queued; the queue holds 2; deadlines are 2 s.
    server = await serve([MODEL], { maxQueue: 2, maxBatch: 64, maxDelayMs: 1_500, timeoutMs: 2_000 });
  });
  afterAll(() => server.close());

  it('answers 503 with Retry-After when the queue is full, and still serves the queued requests', async () => {
    const queued = [post(`${server.url}${INFER}`, vitRequest(1)), post(`${server.url}${INFER}`, vitRequest(2))];
    await waitFor(async () => metric(await metricsText(server.url), 'vitlin_queue_depth', { model: 'hf_vit_op17_dyn' }) === 2, 5_000, 'two queued requests');
    const refused = await post(`${server.url}${INFER}`, vitRequest(3));
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.body.error).toMatch(/model 'hf_vit_op17_dyn' has 2 requests waiting, the most allowed \(--max-queue\)/);
    const answers = await Promise.all(queued);
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    const text = await metricsText(server.url);
    expect(metric(text, 'vitlin_requests_total', { model: 'hf_vit_op17_dyn', route: 'infer', status: '503' })).toBe(1);
  });

  it('drops a queued request whose client hung up, and logs it as 499', async () => {
    const body = JSON.stringify(vitRequest(1));
    const client = await openRaw(server.port);
    client.write(`POST ${INFER} HTTP/1.1\r\nHost: x\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    await waitFor(async () => metric(await metricsText(server.url), 'vitlin_queue_depth', { model: 'hf_vit_op17_dyn' }) === 1, 5_000, 'the request queued');
    client.destroy();
    // Well before the 1.5 s batching delay would have run it.
    await waitFor(async () => metric(await metricsText(server.url), 'vitlin_queue_depth', { model: 'hf_vit_op17_dyn' }) === 0, 500, 'the queue to empty');
    await waitFor(() => server.logs.some((l) => l.status === 499), 500, 'the 499 log line');
    expect(server.logs.find((l) => l.status === 499)).toMatchObject({ level: 'warn', route: 'infer', error: 'the client closed the connection before the answer' });
  });
});

describe('request deadline', () => {
  let server: TestServer;
  beforeAll(async () => {
    // The deadline (200 ms) is far shorter than the batching delay (3 s): a lone request times out queued.
    server = await serve([MODEL], { timeoutMs: 200, maxBatch: 64, maxDelayMs: 3_000 });
  });
  afterAll(() => server.close());

  it('answers 504 when inference does not finish in time, and takes the request out of the queue', async () => {
    const started = Date.now();
    const response = await post(`${server.url}${INFER}`, vitRequest(1));
    expect(response.status).toBe(504);
    expect(response.body.error).toMatch(/inference did not finish within 200 ms \(--timeout-ms\)/);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(metric(await metricsText(server.url), 'vitlin_queue_depth', { model: 'hf_vit_op17_dyn' })).toBe(0);
  });

  it('answers 408 when the client sends the body too slowly, and closes the connection', async () => {
    const head = `POST ${INFER} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n`;
    const started = Date.now();
    const raw = await rawExchange(server.port, [head, '{"inputs":'], { timeoutMs: 5_000 });
    const { status, body } = parseRaw(raw);
    expect(status).toBe(408);
    expect(body.error).toMatch(/request body did not arrive within 200 ms/);
    expect(raw).toMatch(/connection: close/i);
    // rawExchange resolves on close (or after 5 s): the server closed it.
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it('keeps answering health checks within the deadline', async () => {
    expect((await request(`${server.url}/v2/health/live`)).status).toBe(200);
  });
});
