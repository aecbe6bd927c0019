/**
 * The binary tensor data extension on a real server: requests and answers carrying raw little-endian bytes
 * after the JSON (`Inference-Header-Content-Length`), checked bit for bit through Identity models, against
 * the same request sent as JSON, and in the exact byte layout the Triton Python client (tritonclient.http)
 * produces and parses.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync, gzipSync } from 'node:zlib';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { float32ToFloat16Bits } from '../../src/runtime/float16.js';
import { directRun, fixture, pixels, post, request, serve, vitRequest, type TestServer } from './helpers.js';
import { DataType, writeOneNodeModel } from './tiny-models.js';

const root = mkdtempSync(join(tmpdir(), 'vitlin-binary-'));
let server: TestServer;
beforeAll(async () => {
  writeOneNodeModel(join(root, 'image_echo.onnx'), { input: 'image', output: 'image_out', dims: ['batch', 3, 32, 32] });
  writeOneNodeModel(join(root, 'text_echo.onnx'), { input: 'text', output: 'text_out', dims: ['n'], elemType: DataType.STRING });
  writeOneNodeModel(join(root, 'negate.onnx'), { op: 'Not', input: 'flags', output: 'negated', dims: ['n'], elemType: DataType.BOOL });
  server = await serve([root, ...['hf_vit_op17_dyn', 'timm_vit_fp16', 'bert_mask'].map(fixture)], { maxBatch: 1 });
});
afterAll(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

const bytesOf = (view: ArrayBufferView) => new Uint8Array(view.buffer, view.byteOffset, view.byteLength);

/** A request body as the extension lays it out: the JSON, then the tensors' bytes in order. */
function binaryBody(json: unknown, ...tensors: ArrayBufferView[]): { body: Uint8Array; headers: Record<string, string> } {
  const header = Buffer.from(JSON.stringify(json));
  return { body: Buffer.concat([header, ...tensors.map(bytesOf)]), headers: { 'Inference-Header-Content-Length': String(header.length) } };
}

/** BYTES elements: a 4-byte little-endian length before each. */
function bytesElements(values: string[]): Uint8Array {
  return Buffer.concat(values.flatMap((v) => {
    const text = Buffer.from(v, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32LE(text.length);
    return [length, text];
  }));
}

interface ParsedOutput { name: string; datatype: string; shape: number[]; parameters?: { binary_data_size: number }; data?: unknown[]; bytes?: Uint8Array }

/** Parses an inference answer the way tritonclient.http's InferResult does. */
async function inferAnswer(response: Response): Promise<{ status: number; json: any; outputs: ParsedOutput[]; headerLength: string | null }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const body = new Uint8Array(await response.arrayBuffer());
  const headerLength = response.headers.get('inference-header-content-length');
  const jsonLength = headerLength === null ? body.length : Number(headerLength);
  const json = JSON.parse(Buffer.from(body.subarray(0, jsonLength)).toString('utf8'));
  let offset = jsonLength;
  const outputs = ((json.outputs ?? []) as ParsedOutput[]).map((output) => {
    const size = output.parameters?.binary_data_size;
    if (size === undefined) return output;
    const bytes = body.slice(offset, offset + size);
    offset += size;
    return { ...output, bytes };
  });
  if (headerLength !== null) expect(offset).toBe(body.length);
  return { status: response.status, json, outputs, headerLength };
}

const infer = (model: string, body: Uint8Array | string, headers: Record<string, string> = {}) =>
  fetch(`${server.url}/v2/models/${model}/infer`, { method: 'POST', body: typeof body === 'string' ? body : new Uint8Array(body), headers }).then(inferAnswer);

/** A float32 image whose values JSON cannot carry: NaN, ±0, ±Infinity, subnormals, the extremes. */
function awkwardImage(batch: number): Float32Array {
  const image = Float32Array.from(pixels(11, batch * 3072));
  const special = [NaN, -0, 0, Infinity, -Infinity, 1.4e-45, -1.4e-45, 3.4028234663852886e38, -3.4028234663852886e38, 1.1754942e-38];
  special.forEach((v, i) => { image[i * 97] = v; });
  // A NaN with a payload: only a bit-for-bit path keeps it.
  new Uint32Array(image.buffer)[5] = 0x7fc0beef;
  return image;
}

describe('binary tensor data: float32 images', () => {
  it('round-trips a float32 image tensor bit for bit (binary in, binary out)', async () => {
    const image = awkwardImage(2);
    const { body, headers } = binaryBody({
      inputs: [{ name: 'image', shape: [2, 3, 32, 32], datatype: 'FP32', parameters: { binary_data_size: image.byteLength } }],
      parameters: { binary_data_output: true },
    }, image);
    const answer = await infer('image_echo', body, headers);
    expect(answer.status).toBe(200);
    expect(Number(answer.headerLength)).toBeGreaterThan(0);
    expect(answer.outputs).toHaveLength(1);
    const [output] = answer.outputs;
    expect(output).toMatchObject({ name: 'image_out', datatype: 'FP32', shape: [2, 3, 32, 32], parameters: { binary_data_size: image.byteLength } });
    expect(output!.data).toBeUndefined();
    expect(Buffer.from(output!.bytes!).equals(Buffer.from(bytesOf(image)))).toBe(true);
  });

  it('answers a binary request to a real ViT exactly as the same request in JSON', async () => {
    const image = Float32Array.from(pixels(12));
    const { body, headers } = binaryBody({ inputs: [{ name: 'pixel_values', shape: [1, 3, 32, 32], datatype: 'FP32', parameters: { binary_data_size: image.byteLength } }] }, image);
    const binary = await infer('hf_vit_op17_dyn', body, headers);
    const json = await post(`${server.url}/v2/models/hf_vit_op17_dyn/infer`, vitRequest(12));
    expect(binary.status).toBe(200);
    // Outputs as JSON unless asked for as binary: no header on the answer.
    expect(binary.headerLength).toBeNull();
    expect(binary.json.outputs[0].data).toEqual(json.body.outputs[0].data);
  });

  it('returns binary outputs for a JSON request that asks for them per output, and JSON for the others', async () => {
    const answer = await infer('hf_vit_op17_dyn', JSON.stringify(vitRequest(13, 1, { outputs: [{ name: 'logits', parameters: { binary_data: true } }] })));
    const json = await post(`${server.url}/v2/models/hf_vit_op17_dyn/infer`, vitRequest(13));
    expect(answer.outputs[0]!.parameters).toEqual({ binary_data_size: 40 });
    expect(Array.from(new Float32Array(answer.outputs[0]!.bytes!.buffer))).toEqual(json.body.outputs[0].data);
    // binary_data: false on an output overrides binary_data_output.
    const overridden = await infer('hf_vit_op17_dyn', JSON.stringify(vitRequest(13, 1, { parameters: { binary_data_output: true }, outputs: [{ name: 'logits', parameters: { binary_data: false } }] })));
    expect(overridden.headerLength).toBeNull();
    expect(overridden.json.outputs[0].data).toEqual(json.body.outputs[0].data);
  });

  it('takes and returns FP16 as raw half-precision bits', async () => {
    const values = pixels(14);
    const half = Uint16Array.from(values, float32ToFloat16Bits);
    const { body, headers } = binaryBody({
      inputs: [{ name: 'pixel_values', shape: [1, 3, 32, 32], datatype: 'FP16', parameters: { binary_data_size: half.byteLength } }],
      parameters: { binary_data_output: true },
    }, half);
    const answer = await infer('timm_vit_fp16', body, headers);
    expect(answer.status).toBe(200);
    const direct = await directRun(fixture('timm_vit_fp16'), { pixel_values: new ort.Tensor('float16', half, [1, 3, 32, 32]) });
    expect(Array.from(new Uint16Array(answer.outputs[0]!.bytes!.buffer))).toEqual(Array.from(direct.logits!.data as Uint16Array));
  });

  it('takes INT64 inputs as 8-byte little-endian integers, mixed with a JSON input', async () => {
    const ids = BigInt64Array.from([5n, 7n, 1n, 3n, 2n, 2n, 9n, 0n]);
    const { body, headers } = binaryBody({ inputs: [
      { name: 'input_ids', shape: [2, 4], datatype: 'INT64', parameters: { binary_data_size: 64 } },
      { name: 'attention_mask', shape: [2, 4], datatype: 'INT64', data: [1, 1, 1, 1, 1, 1, 1, 0] },
    ] }, ids);
    const binary = await infer('bert_mask', body, headers);
    const json = await post(`${server.url}/v2/models/bert_mask/infer`, { inputs: [
      { name: 'input_ids', shape: [2, 4], datatype: 'INT64', data: Array.from(ids, Number) },
      { name: 'attention_mask', shape: [2, 4], datatype: 'INT64', data: [1, 1, 1, 1, 1, 1, 1, 0] },
    ] });
    expect(binary.status).toBe(200);
    expect(binary.json.outputs[0].data).toEqual(json.body.outputs[0].data);
  });
});

describe('binary tensor data: BYTES and BOOL', () => {
  const words = ['', 'héllo', 'ViT 🦒', 'tab\tand\nnewline', 'x'.repeat(300)];

  it('round-trips BYTES elements with their 4-byte length prefixes', async () => {
    const data = bytesElements(words);
    const { body, headers } = binaryBody({
      inputs: [{ name: 'text', shape: [words.length], datatype: 'BYTES', parameters: { binary_data_size: data.length } }],
      outputs: [{ name: 'text_out', parameters: { binary_data: true } }],
    }, data);
    const answer = await infer('text_echo', body, headers);
    expect(answer.status).toBe(200);
    expect(answer.outputs[0]).toMatchObject({ datatype: 'BYTES', shape: [words.length], parameters: { binary_data_size: data.length } });
    expect(Buffer.from(answer.outputs[0]!.bytes!).equals(Buffer.from(data))).toBe(true);
  });

  it('answers BYTES sent as JSON strings with the same bytes', async () => {
    const answer = await infer('text_echo', JSON.stringify({ inputs: [{ name: 'text', shape: [words.length], datatype: 'BYTES', data: words }], parameters: { binary_data_output: true } }));
    expect(Buffer.from(answer.outputs[0]!.bytes!).equals(Buffer.from(bytesElements(words)))).toBe(true);
  });

  it('takes BOOL as one byte per element and returns it so', async () => {
    const flags = Uint8Array.from([1, 0, 0, 1, 1]);
    const { body, headers } = binaryBody({ inputs: [{ name: 'flags', shape: [5], datatype: 'BOOL', parameters: { binary_data_size: 5 } }], parameters: { binary_data_output: true } }, flags);
    const answer = await infer('negate', body, headers);
    expect(answer.status).toBe(200);
    expect(Array.from(answer.outputs[0]!.bytes!)).toEqual([0, 1, 1, 0, 0]);
  });
});

/**
 * tritonclient.http's request body, byte for byte: `_get_inference_request` (tritonclient/http/_utils.py)
 * dumps `{"id"?, "inputs": [...], "outputs"?: [...], "parameters"?: {...}}` with python-rapidjson (compact,
 * keys in insertion order), each InferInput as `{"name", "shape", "datatype", "parameters": {"binary_data_size"}}`
 * (set_data_from_numpy with binary_data=True, the default) or with `"data"` (binary_data=False), each
 * InferRequestedOutput as `{"name", "parameters": {"binary_data": true}}`; with no outputs named it adds
 * `"parameters": {"binary_data_output": true}`. The raw bytes (numpy's tobytes(), little-endian) follow, and
 * infer() sends `Inference-Header-Content-Length: <len(json)>` and no Content-Type.
 */
function tritonRequest(inputs: { name: string; shape: number[]; datatype: string; raw?: ArrayBufferView; data?: unknown[] }[], outputs?: string[], requestId = ''): { body: Uint8Array; headers: Record<string, string> } {
  const request: Record<string, unknown> = {};
  const parameters: Record<string, unknown> = {};
  if (requestId !== '') request.id = requestId;
  request.inputs = inputs.map((i) => (i.raw ? { name: i.name, shape: i.shape, datatype: i.datatype, parameters: { binary_data_size: i.raw.byteLength } } : { name: i.name, shape: i.shape, datatype: i.datatype, data: i.data }));
  if (outputs) request.outputs = outputs.map((name) => ({ name, parameters: { binary_data: true } }));
  else parameters.binary_data_output = true;
  if (Object.keys(parameters).length > 0) request.parameters = parameters;
  const json = JSON.stringify(request);
  const raws = inputs.filter((i) => i.raw).map((i) => bytesOf(i.raw!));
  return { body: Buffer.concat([Buffer.from(json), ...raws]), headers: raws.length > 0 ? { 'Inference-Header-Content-Length': String(json.length) } : {} };
}

describe('a Triton client (tritonclient.http) byte layout', () => {
  it('lays the request out as tritonclient does (checked against the literal bytes)', () => {
    const image = new Float32Array(3072);
    const { body, headers } = tritonRequest([{ name: 'pixel_values', shape: [1, 3, 32, 32], datatype: 'FP32', raw: image }], ['logits'], 'req-1');
    const json = '{"id":"req-1","inputs":[{"name":"pixel_values","shape":[1,3,32,32],"datatype":"FP32","parameters":{"binary_data_size":12288}}],'
      + '"outputs":[{"name":"logits","parameters":{"binary_data":true}}]}';
    expect(headers).toEqual({ 'Inference-Header-Content-Length': String(json.length) });
    expect(Buffer.from(body.subarray(0, json.length)).toString()).toBe(json);
    expect(body.length).toBe(json.length + 12288);
  });

  it('answers client.infer(model, [InferInput FP32 image], outputs=[InferRequestedOutput("logits")])', async () => {
    const image = Float32Array.from(pixels(21));
    const { body, headers } = tritonRequest([{ name: 'pixel_values', shape: [1, 3, 32, 32], datatype: 'FP32', raw: image }], ['logits'], 'req-1');
    const answer = await infer('hf_vit_op17_dyn', body, headers);
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ model_name: 'hf_vit_op17_dyn', model_version: '1', id: 'req-1' });
    const json = await post(`${server.url}/v2/models/hf_vit_op17_dyn/infer`, vitRequest(21));
    // as_numpy('logits'): np.frombuffer(bytes, float32).reshape(shape)
    expect(answer.outputs[0]!.shape).toEqual([1, 10]);
    expect(Array.from(new Float32Array(answer.outputs[0]!.bytes!.buffer))).toEqual(json.body.outputs[0].data);
  });

  it('answers client.infer with no outputs named (binary_data_output) and an input sent with binary_data=False', async () => {
    const ids = BigInt64Array.from([4n, 8n, 15n]);
    const { body, headers } = tritonRequest([
      { name: 'input_ids', shape: [1, 3], datatype: 'INT64', raw: ids },
      { name: 'attention_mask', shape: [1, 3], datatype: 'INT64', data: [1, 1, 1] },
    ]);
    const answer = await infer('bert_mask', body, headers);
    expect(answer.status).toBe(200);
    expect(answer.outputs[0]).toMatchObject({ name: 'last_hidden_state', datatype: 'FP32', shape: [1, 3, 32] });
    const direct = await directRun(fixture('bert_mask'), {
      input_ids: new ort.Tensor('int64', ids, [1, 3]), attention_mask: new ort.Tensor('int64', BigInt64Array.from([1n, 1n, 1n]), [1, 3]),
    });
    const served = new Float32Array(answer.outputs[0]!.bytes!.buffer);
    const expected = direct.last_hidden_state!.data as Float32Array;
    expect(Math.max(...served.map((v, i) => Math.abs(v - expected[i]!)))).toBeLessThan(1e-5);
  });
});

describe('compressed requests (tritonclient request_compression_algorithm)', () => {
  it.each([
    ['gzip', gzipSync],
    ['deflate', deflateSync],
  ])('inflates a %s body before reading the JSON and the binary data', async (encoding, compress) => {
    const image = Float32Array.from(pixels(22));
    const { body, headers } = tritonRequest([{ name: 'pixel_values', shape: [1, 3, 32, 32], datatype: 'FP32', raw: image }], ['logits']);
    const answer = await infer('hf_vit_op17_dyn', compress(body), { ...headers, 'Content-Encoding': encoding });
    expect(answer.status).toBe(200);
    const json = await post(`${server.url}/v2/models/hf_vit_op17_dyn/infer`, vitRequest(22));
    expect(Array.from(new Float32Array(answer.outputs[0]!.bytes!.buffer))).toEqual(json.body.outputs[0].data);
  });

  it.each([
    ['an unknown encoding', Buffer.from('{}'), 'br', 415, /Content-Encoding 'br' is not supported/],
    ['data that is not gzip', Buffer.from('{}'), 'gzip', 400, /the body is not valid gzip data/],
    ['a body that inflates past --max-body', gzipSync(Buffer.alloc(33 * 2 ** 20)), 'gzip', 413, /inflates to more than the 33554432 bytes allowed/],
  ])('refuses %s', async (_name, body, encoding, status, message) => {
    const response = await request(`${server.url}/v2/models/hf_vit_op17_dyn/infer`, { method: 'POST', body: new Uint8Array(body), headers: { 'Content-Encoding': encoding } });
    expect([response.status, response.body.error]).toEqual([status, expect.stringMatching(message)]);
  });
});

describe('bad binary requests', () => {
  const image = new Float32Array(3072);
  const input = (parameters: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    ({ inputs: [{ name: 'pixel_values', shape: [1, 3, 32, 32], datatype: 'FP32', parameters, ...extra }] });
  type Case = [name: string, body: { body: Uint8Array; headers: Record<string, string> }, message: RegExp];
  const CASES: Case[] = [
    ['a size that does not fit the shape', binaryBody(input({ binary_data_size: 12284 }), image.subarray(1)), /binary_data_size is 12284, shape \[1, 3, 32, 32\] of float32 needs 3072 × 4 = 12288 bytes/],
    ['a size beyond the body', binaryBody(input({ binary_data_size: 20000 }), image), /binary_data_size is 20000, but only 12288 bytes of binary data are left/],
    ['bytes no input claims', binaryBody(input({ binary_data_size: 12288 }), image, new Uint8Array(3)), /3 bytes after the JSON that no input's binary_data_size covers/],
    ['data and binary_data_size both', binaryBody(input({ binary_data_size: 12288 }, { data: [1] }), image), /has both data and parameters.binary_data_size/],
    ['a negative size', binaryBody(input({ binary_data_size: -1 }), image), /binary_data_size must be a byte count, got -1/],
    ['binary_data_size without the header', { body: Buffer.from(JSON.stringify(input({ binary_data_size: 12288 }))), headers: {} }, /needs the Inference-Header-Content-Length header/],
    ['a header that is not a number', { ...binaryBody(input({ binary_data_size: 12288 }), image), headers: { 'Inference-Header-Content-Length': 'ten' } }, /must be the JSON's length in bytes, got 'ten'/],
    ['a header cutting the JSON short', { ...binaryBody(input({ binary_data_size: 12288 }), image), headers: { 'Inference-Header-Content-Length': '20' } }, /malformed JSON/],
    ['shared memory', binaryBody(input({ shared_memory_region: 'r', shared_memory_byte_size: 12288 })), /shared_memory_region: the shared memory extensions are not supported/],
    ['classification', { body: Buffer.from(JSON.stringify(vitRequest(1, 1, { outputs: [{ name: 'logits', parameters: { classification: 3 } }] }))), headers: {} }, /classification extension is not supported; use POST \/v1\/models\/hf_vit_op17_dyn\/classify/],
    ['binary_data that is not a boolean', { body: Buffer.from(JSON.stringify(vitRequest(1, 1, { outputs: [{ name: 'logits', parameters: { binary_data: 1 } }] }))), headers: {} }, /outputs\[0\].parameters.binary_data must be true or false, got 1/],
  ];
  it.each(CASES)('%s → 400', async (_name, { body, headers }, message) => {
    const response = await request(`${server.url}/v2/models/hf_vit_op17_dyn/infer`, { method: 'POST', body: new Uint8Array(body), headers });
    expect(response.status).toBe(400);
    expect(response.body.error).toMatch(message);
  });

  it.each([
    ['a truncated length prefix', Uint8Array.from([1, 0]), /truncated 4-byte length prefix/],
    ['a length beyond the data', Uint8Array.from([9, 0, 0, 0, 65]), /BYTES element 0 says 9 bytes, only 1 are left/],
    ['too few elements', bytesElements(['a']), /holds 1 BYTES elements, the shape needs 2/],
    ['bytes that are not UTF-8', Uint8Array.from([2, 0, 0, 0, 0xc3, 0x28, 1, 0, 0, 0, 65]), /BYTES element 0 is not UTF-8 text/],
    ['a NUL byte (onnxruntime would cut the string there)', bytesElements(['a\u0000b', 'c']), /BYTES element 0 holds a NUL byte/],
  ])('BYTES with %s → 400', async (_name, data, message) => {
    const { body, headers } = binaryBody({ inputs: [{ name: 'text', shape: [2], datatype: 'BYTES', parameters: { binary_data_size: data.length } }] }, data);
    const response = await request(`${server.url}/v2/models/text_echo/infer`, { method: 'POST', body: new Uint8Array(body), headers });
    expect([response.status, response.body.error]).toEqual([400, expect.stringMatching(message)]);
  });

  it('a JSON string with a NUL character → 400', async () => {
    const response = await post(`${server.url}/v2/models/text_echo/infer`, { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['a\u0000b'] }] });
    expect([response.status, response.body.error]).toEqual([400, expect.stringMatching(/data\[0\] must be a string without NUL characters/)]);
  });

  it('BOOL bytes other than 0 and 1 → 400', async () => {
    const { body, headers } = binaryBody({ inputs: [{ name: 'flags', shape: [2], datatype: 'BOOL', parameters: { binary_data_size: 2 } }] }, Uint8Array.from([1, 2]));
    const response = await request(`${server.url}/v2/models/negate/infer`, { method: 'POST', body: new Uint8Array(body), headers });
    expect([response.status, response.body.error]).toEqual([400, expect.stringMatching(/BOOL element 1 is byte 2, must be 0 or 1/)]);
  });
});
