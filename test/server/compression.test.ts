/**
 * Compressed answers and requests on a real server over raw node:http (fetch would inflate behind our
 * back and always send its own Accept-Encoding): Accept-Encoding negotiation with q-values, identity and
 * `*`; the size threshold; Vary and Content-Length; binary tensor answers compressed only when the coding
 * is named, their Inference-Header-Content-Length the uncompressed JSON's (what tritonclient reads);
 * compressed request bodies, corrupt ones and decompression bombs.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, deflateSync, gunzipSync, gzipSync, inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseCoding, parseAcceptEncoding } from '../../src/server/compression.js';
import { MODELS, pixels, serve, type TestServer } from './helpers.js';
import { writeOneNodeModel } from './tiny-models.js';

const root = mkdtempSync(join(tmpdir(), 'vitlin-compression-'));
const MAX_BODY = 256 * 1024;
let server: TestServer;
beforeAll(async () => {
  writeOneNodeModel(join(root, 'echo.onnx'), { input: 'image', output: 'image_out', dims: ['batch', 3, 32, 32] });
  server = await serve([root, join(MODELS, 'fmnist_softmax.onnx')], { maxBatch: 1, maxBodyBytes: MAX_BODY });
});
afterAll(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

interface Raw { status: number; headers: IncomingHttpHeaders; body: Buffer }

/** One request on its own connection; the body comes back as sent, still encoded. */
function raw(path: string, options: { method?: string; headers?: Record<string, string>; body?: Buffer } = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${server.url}${path}`, { method: options.method ?? 'GET', headers: { Connection: 'close', ...options.headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const DECODE: Record<string, (b: Buffer) => Buffer> = { gzip: gunzipSync, br: brotliDecompressSync, deflate: inflateSync };
const decoded = (answer: Raw) => (answer.headers['content-encoding'] ? DECODE[answer.headers['content-encoding']]!(answer.body) : answer.body);

/** A JSON inference request for the echo model: its answer is ~60 kB of JSON. */
const echoRequest = Buffer.from(JSON.stringify({ inputs: [{ name: 'image', shape: [1, 3, 32, 32], datatype: 'FP32', data: pixels(5) }] }));
const inferEcho = (headers: Record<string, string> = {}, body = echoRequest) =>
  raw('/v2/models/echo/infer', { method: 'POST', body, headers: { 'Content-Type': 'application/json', ...headers } });

describe('Accept-Encoding negotiation (RFC 9110 §12.5.3)', () => {
  type Row = [header: string | undefined, expected: string, answer?: { bytes: number; binary: boolean }];
  const BIG = { bytes: 50_000, binary: false };
  const SMALL = { bytes: 100, binary: false };
  const BINARY = { bytes: 50_000, binary: true };
  const ROWS: Row[] = [
    [undefined, 'identity'],
    ['', 'identity'],
    ['gzip', 'gzip'],
    ['gzip, deflate, br', 'br'],
    ['GZIP;Q=0.5, br;q=0.9', 'br'],
    ['br;q=0.4, gzip;q=0.8', 'gzip'],
    ['br;q=0, gzip', 'gzip'],
    ['deflate', 'deflate'],
    ['gzip;q=0.3, identity', 'identity'],
    ['gzip;q=0.3, identity;q=0.2', 'gzip'],
    ['*', 'br'],
    ['*;q=0.5, gzip', 'gzip'],
    ['zstd, compress', 'identity'],
    ['gzip;q=abc', 'identity'],
    ['gzip', 'identity', SMALL],
    ['gzip, identity;q=0', 'gzip', SMALL],
    ['*', 'identity', BINARY],
    ['gzip', 'gzip', BINARY],
    ['*, identity;q=0', 'br', BINARY],
  ];
  it.each(ROWS)('%j → %s', (header, expected, answer = BIG) => {
    expect(chooseCoding(parseAcceptEncoding(header), answer, 1024)).toBe(expected);
  });

  it.each(['identity;q=0', '*;q=0', 'zstd, identity;q=0'])('refuses %j: nothing the server sends is acceptable (406)', (header) => {
    expect(() => chooseCoding(parseAcceptEncoding(header), BIG, 1024)).toThrow(/accepts none of the codings the server sends \(br, gzip, deflate, identity\)/);
  });
});

describe('compressed answers', () => {
  let plain: Raw;
  beforeAll(async () => {
    plain = await inferEcho();
  });

  it('sends a large JSON answer uncompressed when not asked, with Vary', () => {
    expect(plain.status).toBe(200);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers.vary).toBe('Accept-Encoding');
    expect(plain.body.length).toBeGreaterThan(40_000);
  });

  it.each([
    ['gzip', 'gzip'],
    ['br', 'br'],
    ['deflate', 'deflate'],
    ['gzip;q=0.5, br', 'br'],
    ['gzip, deflate, br', 'br'],
  ])('Accept-Encoding %s: %s, decoding to the same JSON, with its own Content-Length', async (accept, coding) => {
    const answer = await inferEcho({ 'Accept-Encoding': accept });
    expect(answer.status).toBe(200);
    expect(answer.headers['content-encoding']).toBe(coding);
    expect(answer.headers.vary).toBe('Accept-Encoding');
    expect(answer.headers['content-length']).toBe(String(answer.body.length));
    expect(answer.headers['transfer-encoding']).toBeUndefined();
    expect(answer.body.length).toBeLessThan(plain.body.length / 2);
    expect(decoded(answer).equals(plain.body)).toBe(true);
  });

  it('leaves a small answer uncompressed, whatever is accepted', async () => {
    const answer = await raw('/v2/health/ready', { headers: { 'Accept-Encoding': 'gzip, br' } });
    expect(answer.status).toBe(200);
    expect(answer.headers['content-encoding']).toBeUndefined();
    expect(answer.headers.vary).toBe('Accept-Encoding');
    expect(JSON.parse(answer.body.toString())).toEqual({ ready: true });
  });

  it('compresses a small answer when the client refuses identity', async () => {
    const answer = await raw('/v2/health/ready', { headers: { 'Accept-Encoding': 'gzip, identity;q=0' } });
    expect(answer.headers['content-encoding']).toBe('gzip');
    expect(JSON.parse(gunzipSync(answer.body).toString())).toEqual({ ready: true });
  });

  it('answers 406 before running the model when nothing acceptable can be sent', async () => {
    const answer = await inferEcho({ 'Accept-Encoding': 'identity;q=0, *;q=0' });
    expect(answer.status).toBe(406);
    expect(answer.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(answer.body.toString()).error).toMatch(/Accept-Encoding 'identity;q=0, \*;q=0' accepts none of the codings the server sends/);
    expect(server.logs.at(-1)).toMatchObject({ status: 406, route: 'infer' });
  });

  it('compresses /metrics text too', async () => {
    await inferEcho();
    const answer = await raw('/metrics', { headers: { 'Accept-Encoding': 'gzip' } });
    const text = decoded(answer).toString();
    expect(text).toContain('vitlin_');
    if (text.length >= 1024) expect(answer.headers['content-encoding']).toBe('gzip');
  });
});

describe('binary tensor answers', () => {
  /** A Triton client's request for the echo model: JSON input, the output as binary data. */
  const binaryOutput = Buffer.from(JSON.stringify({
    inputs: [{ name: 'image', shape: [1, 3, 32, 32], datatype: 'FP32', data: pixels(9) }],
    outputs: [{ name: 'image_out', parameters: { binary_data: true } }],
  }));
  const inferBinary = (accept?: string) => inferEcho(accept === undefined ? {} : { 'Accept-Encoding': accept }, binaryOutput);

  /** Splits an (inflated) answer as tritonclient's InferResult does: the JSON, then the tensor's bytes. */
  function split(answer: Raw): { json: unknown; tensor: Float32Array } {
    const body = decoded(answer);
    const headerLength = Number(answer.headers['inference-header-content-length']);
    const tensor = new Float32Array(new Uint8Array(body.subarray(headerLength)).buffer);
    return { json: JSON.parse(body.subarray(0, headerLength).toString()), tensor };
  }

  it.each([[undefined], ['*'], ['*;q=1, identity;q=0.5']])('are not compressed for Accept-Encoding %j (the coding is not named)', async (accept) => {
    const answer = await inferBinary(accept);
    expect(answer.status).toBe(200);
    expect(answer.headers['content-encoding']).toBeUndefined();
    expect(Array.from(split(answer).tensor)).toEqual(Array.from(Float32Array.from(pixels(9))));
  });

  it.each([['gzip'], ['deflate'], ['br']])('are compressed whole when %s is named; the header length stays the uncompressed JSON\'s', async (coding) => {
    const plain = split(await inferBinary());
    const answer = await inferBinary(coding);
    expect(answer.headers['content-encoding']).toBe(coding);
    expect(answer.headers['content-length']).toBe(String(answer.body.length));
    const { json, tensor } = split(answer);
    expect(json).toEqual(plain.json);
    expect(Array.from(tensor)).toEqual(Array.from(plain.tensor));
  });
});

describe('compressed requests', () => {
  it.each([['gzip', gzipSync], ['deflate', deflateSync]])('takes a %s JSON body', async (coding, compress) => {
    const plain = await inferEcho();
    const answer = await inferEcho({ 'Content-Encoding': coding }, compress(echoRequest));
    expect(answer.status).toBe(200);
    expect(answer.body.equals(plain.body)).toBe(true);
  });

  it('takes a gzip body on the repository endpoints', async () => {
    const answer = await raw('/v2/repository/index', { method: 'POST', body: gzipSync(JSON.stringify({ ready: true })), headers: { 'Content-Encoding': 'gzip' } });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body.toString()).map((row: { state: string }) => row.state)).toEqual(['READY', 'READY']);
  });

  it('takes a gzip image on the classify endpoint', async () => {
    const png = readFileSync(join(MODELS, 'data', 'fashion-mnist-png', '000.png'));
    const answers = await Promise.all([png, gzipSync(png)].map((body, i) =>
      raw('/v1/models/fmnist_softmax/classify?k=1', { method: 'POST', body, headers: { 'Content-Type': 'image/png', ...(i ? { 'Content-Encoding': 'gzip' } : {}) } })));
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    expect(JSON.parse(answers[1]!.body.toString())).toEqual(JSON.parse(answers[0]!.body.toString()));
  });

  it.each([
    ['a corrupt gzip body', () => Buffer.concat([gzipSync(echoRequest).subarray(0, 200), Buffer.alloc(50, 7)]), 'gzip', 400, /the body is not valid gzip data/],
    ['deflate data sent as gzip', () => deflateSync(echoRequest), 'gzip', 400, /the body is not valid gzip data/],
    // 100 MB of zeros is ~100 kB of gzip: under --max-body on the wire, far over it inflated.
    ['a decompression bomb', () => gzipSync(Buffer.alloc(100 * 2 ** 20)), 'gzip', 413, new RegExp(`the request body inflates to more than the ${MAX_BODY} bytes allowed \\(--max-body\\)`)],
    ['an unknown coding', () => echoRequest, 'zstd', 415, /Content-Encoding 'zstd' is not supported \(gzip, deflate or none\)/],
  ])('refuses %s with a clear error', async (_name, body, coding, status, message) => {
    const payload = body();
    expect(payload.length).toBeLessThan(MAX_BODY);
    const answer = await inferEcho({ 'Content-Encoding': coding }, payload);
    expect(answer.status).toBe(status);
    expect(JSON.parse(answer.body.toString()).error).toMatch(message);
  });
});
