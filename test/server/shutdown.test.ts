/**
 * Graceful shutdown: close() with requests in flight lets every one finish with 200 (and the right answer),
 * while new work is refused — a new connection finds nothing listening, and a request completed on a
 * connection that is still open gets 503 with `Connection: close`. "New" means arriving after close() has
 * let the event loop take in what was already sent (a few turns): drain.test.ts covers that boundary.
 */
import { describe, expect, it } from 'vitest';
import { directVit, fixture, maxAbsDiff, metric, metricsText, openRaw, parseRaw, post, request, serve, vitRequest, waitFor } from './helpers.js';

const MODEL = fixture('hf_vit_op17_dyn');
const INFER = '/v2/models/hf_vit_op17_dyn/infer';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('graceful shutdown', () => {
  it('finishes every in-flight request with 200 and refuses new connections', async () => {
    // Batches wait 400 ms to fill: the 8 requests are certainly in flight when close() starts.
    const server = await serve([MODEL], { maxBatch: 64, maxDelayMs: 400 });
    const seeds = [1, 2, 3, 4, 5, 6, 7, 8];
    const inFlight = seeds.map((seed) => post(`${server.url}${INFER}`, vitRequest(seed)));
    await waitFor(async () => metric(await metricsText(server.url), 'vitlin_queue_depth', { model: 'hf_vit_op17_dyn' }) === 8, 5_000, '8 queued requests');
    const closing = server.close();
    await sleep(100); // past the turns close() gives requests sent before it
    const later = await Promise.allSettled([post(`${server.url}${INFER}`, vitRequest(9)), request(`${server.url}/v2/health/ready`)]);
    for (const outcome of later) {
      // Refused: either no connection at all, or a 503 on a connection that was still open.
      if (outcome.status === 'fulfilled') expect(outcome.value.status).toBe(503);
      else expect(outcome.reason).toBeInstanceOf(TypeError); // fetch failed: ECONNREFUSED / socket closed
    }
    const answers = await Promise.all(inFlight);
    for (const [i, answer] of answers.entries()) {
      expect(answer.status).toBe(200);
      expect(maxAbsDiff(answer.body.outputs[0].data, await directVit(MODEL, seeds[i]!))).toBeLessThan(1e-4);
    }
    await closing;
    await expect(fetch(`${server.url}/v2/health/live`)).rejects.toThrow();
    expect(server.logs.at(-1)).toMatchObject({ msg: 'stopped' });
  });

  it('answers 503 to requests completed on open connections while draining, and finishes the one in flight', async () => {
    const server = await serve([MODEL], { timeoutMs: 8_000 });
    const body = JSON.stringify(vitRequest(1));
    const head = `POST ${INFER} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
    // In flight: headers and half the body sent, so its handler is running (reading the body).
    const inFlight = await openRaw(server.port);
    inFlight.write(head + body.slice(0, 1000));
    await waitFor(async () => metric(await metricsText(server.url), 'vitlin_requests_in_flight')! >= 2, 5_000, 'the slow request in flight');
    // Open, with a request started but its headers unfinished: node does not count these connections as idle.
    const ready = await openRaw(server.port);
    ready.write('GET /v2/health/ready HTTP/1.1\r\nHost: x\r\n');
    const infer = await openRaw(server.port);
    infer.write(head.slice(0, -2));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const closing = server.close();
    await sleep(100);
    ready.write('\r\n');
    infer.write('\r\n' + body);
    const [readyAnswer, inferAnswer] = [parseRaw(await ready.received), parseRaw(await infer.received)];
    expect(readyAnswer).toEqual({ status: 503, body: { ready: false } });
    expect(inferAnswer).toEqual({ status: 503, body: { error: 'the server is shutting down' } });
    inFlight.write(body.slice(1000));
    const finished = parseRaw(await inFlight.received);
    await closing;
    expect(finished.status).toBe(200);
    expect(maxAbsDiff(finished.body.outputs[0].data, await directVit(MODEL, 1))).toBeLessThan(1e-4);
  });

  it('close() is idempotent and quick with nothing in flight', async () => {
    const server = await serve([MODEL]);
    const started = Date.now();
    await Promise.all([server.close(), server.close()]);
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});
