/**
 * Every bad request gets the protocol's error object `{"error": "..."}` with the right status and a message
 * naming the problem; none crashes or hangs the server.
 */
import { encode as encodePng } from 'fast-png';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, parseRaw, pixels, rawExchange, request, serve, type TestServer } from './helpers.js';

let server: TestServer;
beforeAll(async () => {
  server = await serve(['hf_vit_op17_dyn', 'hf_vit_op12', 'bert_mask'].map(fixture));
});
afterAll(() => server.close());

const vit = (input: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  ...extra, inputs: [{ name: 'pixel_values', shape: [1, 3, 32, 32], datatype: 'FP32', data: pixels(1), ...input }],
});
const bert = (ids: Record<string, unknown>, mask: Record<string, unknown>) => ({ inputs: [
  { name: 'input_ids', shape: [1, 4], datatype: 'INT64', data: [1, 2, 3, 4], ...ids },
  { name: 'attention_mask', shape: [1, 4], datatype: 'INT64', data: [1, 1, 1, 1], ...mask },
] });
const VIT = '/v2/models/hf_vit_op17_dyn/infer';
const BERT = '/v2/models/bert_mask/infer';
const CLASSIFY = '/v1/models/hf_vit_op17_dyn/classify';
const tinyPng = encodePng({ width: 4, height: 4, data: new Uint8Array(16), channels: 1 });

type Case = [name: string, method: string, path: string, body: unknown, status: number, message: RegExp, headers?: Record<string, string>];
const CASES: Case[] = [
  ['unknown model (infer)', 'POST', '/v2/models/nope/infer', vit({}), 404, /unknown model 'nope' \(models: hf_vit_op17_dyn, hf_vit_op12, bert_mask\)/],
  ['unknown model (metadata)', 'GET', '/v2/models/nope', undefined, 404, /unknown model 'nope'/],
  ['unknown model (ready)', 'GET', '/v2/models/nope/ready', undefined, 404, /unknown model 'nope'/],
  ['unknown version', 'GET', '/v2/models/hf_vit_op12/versions/2', undefined, 404, /model 'hf_vit_op12' has no version '2' \(versions: 1\)/],
  ['unknown route', 'GET', '/v3/models', undefined, 404, /no route for \/v3\/models/],
  ['bad percent-encoding in a model name', 'GET', '/v2/models/%E0%A4%A', undefined, 400, /not valid percent-encoding/],
  ['GET on infer', 'GET', VIT, undefined, 405, /GET is not allowed on .*infer \(allowed: POST\)/],
  ['POST on live', 'POST', '/v2/health/live', '{}', 405, /allowed: GET, HEAD/],
  ['DELETE on model metadata', 'DELETE', '/v2/models/hf_vit_op12', undefined, 405, /DELETE is not allowed/],
  ['malformed JSON', 'POST', VIT, '{"inputs": [', 400, /malformed JSON: /],
  ['an empty body', 'POST', VIT, '', 400, /request body is empty/],
  ['a JSON array', 'POST', VIT, '[]', 400, /must be a JSON object \(an inference request\), got an array/],
  ['a JSON string', 'POST', VIT, '"hi"', 400, /must be a JSON object .*got string/],
  ['no inputs', 'POST', VIT, { id: 'x' }, 400, /'inputs' must be a non-empty array of tensors/],
  ['empty inputs', 'POST', VIT, { inputs: [] }, 400, /'inputs' must be a non-empty array/],
  ['an input that is not an object', 'POST', VIT, { inputs: [42] }, 400, /inputs\[0\] must be an object with name, shape, datatype and data/],
  ['an input without a name', 'POST', VIT, vit({ name: undefined }), 400, /inputs\[0\]\.name must be a string/],
  ['a wrong tensor name', 'POST', VIT, vit({ name: 'pixels' }), 400, /has no input 'pixels' \(inputs: pixel_values\)/],
  ['an input given twice', 'POST', VIT, { inputs: [vit({}).inputs[0], vit({}).inputs[0]] }, 400, /input 'pixel_values' is given twice/],
  ['no datatype', 'POST', VIT, vit({ datatype: undefined }), 400, /datatype must be a string such as FP32/],
  ['a wrong datatype', 'POST', VIT, vit({ datatype: 'FP64' }), 400, /datatype must be FP32, got FP64/],
  ['a datatype outside the spec', 'POST', VIT, vit({ datatype: 'float' }), 400, /datatype must be FP32, got float/],
  ['a shape that is not an array', 'POST', VIT, vit({ shape: 3072 }), 400, /shape must be an array of positive integers, got 3072/],
  ['a shape with a zero', 'POST', VIT, vit({ shape: [0, 3, 32, 32] }), 400, /shape must be an array of positive integers/],
  ['a shape with a fraction', 'POST', VIT, vit({ shape: [1, 3, 32, 32.5] }), 400, /shape must be an array of positive integers/],
  ['a wrong rank', 'POST', VIT, vit({ shape: [3, 32, 32] }), 400, /shape must have rank 4 \(\[batch, 3, 32, 32\]\), got \[3, 32, 32\]/],
  ['a wrong fixed dim', 'POST', VIT, vit({ shape: [1, 3, 32, 31] }), 400, /shape\[3\] must be 32 .*got \[1, 3, 32, 31\]/],
  ['batch 2 for a batch-1 model', 'POST', '/v2/models/hf_vit_op12/infer', vit({ shape: [2, 3, 32, 32], data: pixels(1, 6144) }), 400, /shape\[0\] must be 1/],
  ['too few elements', 'POST', VIT, vit({ data: pixels(1, 3071) }), 400, /data has 3071 elements, shape \[1, 3, 32, 32\] needs 3072/],
  ['too many elements', 'POST', VIT, vit({ data: pixels(1, 3073) }), 400, /data has 3073 elements/],
  ['data that is not an array', 'POST', VIT, vit({ data: 'AAAA' }), 400, /data must be an array \(flat or nested, row-major\), got string/],
  ['a string element', 'POST', VIT, vit({ data: pixels(1).map((v, i) => (i === 5 ? 'x' : v)) }), 400, /data\[5\] must be a number, got "x"/],
  ['a null element', 'POST', VIT, vit({ data: pixels(1).map((v, i) => (i === 0 ? null : v)) }), 400, /data\[0\] must be a number, got null/],
  ['nested data of the wrong shape', 'POST', VIT, vit({ data: [[1, 2]] }), 400, /data\[0\] must be an array of 3 \(shape \[1, 3, 32, 32\] axis 1\), got 2 elements/],
  ['nested data deeper than the rank', 'POST', BERT, bert({ data: [[[1], [2], [3], [4]]] }, {}), 400, /data\[0\]\[0\] is nested deeper than the shape's rank 2/],
  ['a fractional INT64', 'POST', BERT, bert({ data: [1, 2.5, 3, 4] }, {}), 400, /data\[1\] must be an integer in/],
  ['inputs disagreeing on a symbolic dim', 'POST', BERT, bert({}, { shape: [1, 5], data: [1, 1, 1, 1, 1] }), 400, /shape\[1\] \('sequence'\) is 5, input 'input_ids' has sequence = 4/],
  ['a missing input', 'POST', BERT, { inputs: [bert({}, {}).inputs[0]] }, 400, /'inputs' lacks 'attention_mask'/],
  ['an id that is not a string', 'POST', VIT, vit({}, { id: 7 }), 400, /'id' must be a string, got 7/],
  ['parameters that are not an object', 'POST', VIT, vit({}, { parameters: [1] }), 400, /'parameters' must be an object/],
  ['outputs that are not an array', 'POST', VIT, vit({}, { outputs: 'logits' }), 400, /'outputs' must be an array/],
  ['an unknown output', 'POST', VIT, vit({}, { outputs: [{ name: 'probs' }] }), 400, /outputs\[0\]: model 'hf_vit_op17_dyn' has no output 'probs' \(outputs: logits\)/],
  ['an output asked for twice', 'POST', VIT, vit({}, { outputs: [{ name: 'logits' }, { name: 'logits' }] }), 400, /output 'logits' is asked for twice/],
  ['a binary header longer than the body', 'POST', VIT, vit({}), 400, /Inference-Header-Content-Length header says the JSON is 999999 bytes, the body has only \d+/, { 'Inference-Header-Content-Length': '999999' }],
  ['classify: not an image', 'POST', CLASSIFY, 'this is text', 400, /undecodable image: not a PNG or JPEG image/],
  ['classify: a truncated PNG', 'POST', CLASSIFY, tinyPng.subarray(0, 45), 400, /undecodable image: PNG could not be decoded/],
  ['classify: an empty body', 'POST', CLASSIFY, '', 400, /request body is empty; send a PNG or JPEG image/],
  ['classify: k = 0', 'POST', `${CLASSIFY}?k=0`, tinyPng, 400, /'k' must be a positive integer, got '0'/],
  ['classify: k = abc', 'POST', `${CLASSIFY}?k=abc`, tinyPng, 400, /'k' must be a positive integer, got 'abc'/],
  ['classify: a text model', 'POST', '/v1/models/bert_mask/classify', tinyPng, 400, /does not take one float image tensor/],
  ['classify: an unknown model', 'POST', '/v1/models/nope/classify', tinyPng, 404, /unknown model 'nope'/],
  ['classify: GET', 'GET', CLASSIFY, undefined, 405, /allowed: POST/],
];

describe('bad requests', () => {
  it.each(CASES)('%s → %i', async (_name, method, path, body, status, message, headers = {}) => {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : body instanceof Uint8Array ? new Uint8Array(body) : JSON.stringify(body);
    const response = await request(`${server.url}${path}`, { method, ...(payload === undefined ? {} : { body: payload }), headers });
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(Object.keys(response.body)).toEqual(['error']);
    expect(response.body.error).toMatch(message);
    if (status === 405) expect(response.headers.get('allow')).toMatch(/^(POST|GET, HEAD)$/);
  });

  it('answers malformed HTTP with a JSON 400', async () => {
    const { status, body } = parseRaw(await rawExchange(server.port, ['NOT HTTP AT ALL\r\n\r\n']));
    expect(status).toBe(400);
    expect(body.error).toMatch(/malformed HTTP request/);
  });

  it('is still healthy after all of them, and logged each as a warning', async () => {
    expect((await request(`${server.url}/v2/health/ready`)).status).toBe(200);
    const warnings = server.logs.filter((l) => l.msg === 'request' && l.level === 'warn');
    expect(warnings.length).toBeGreaterThanOrEqual(CASES.length);
    expect(warnings.every((l) => typeof l.error === 'string' && (l.status as number) >= 400)).toBe(true);
  });
});
