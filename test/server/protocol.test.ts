/**
 * Open Inference Protocol v2 REST conformance: the field names and shapes the spec defines
 * (kserve/open-inference-protocol, specification/protocol/inference_rest.md), checked on a real server.
 * Inference answers are compared with the same model run directly in onnxruntime.
 */
import { readFileSync } from 'node:fs';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../../src/runtime/float16.js';
import { directRun, directVit, fixture, maxAbsDiff, MODELS, pixels, post, request, serve, vitRequest, type TestServer } from './helpers.js';

interface ManifestTensor { name: string; dtype: string; shape: Array<number | string> }
interface ManifestModel { name: string; inputs: ManifestTensor[]; outputs: ManifestTensor[] }
const manifest = JSON.parse(readFileSync(`${MODELS}/manifest.json`, 'utf8')) as { models: ManifestModel[] };
const SERVED = ['hf_vit_op17_dyn', 'hf_vit_op12', 'timm_vit_fp16', 'bert_mask'];
const DATATYPE: Record<string, string> = { float32: 'FP32', float16: 'FP16', int64: 'INT64' };

let server: TestServer;
beforeAll(async () => {
  server = await serve(SERVED.map(fixture));
});
afterAll(() => server.close());

describe('health and metadata', () => {
  const table: [string, string, number, unknown][] = [
    ['server metadata', '/v2', 200, { name: 'vitlin', version: expect.any(String), extensions: ['binary_tensor_data', 'model_repository', 'statistics', 'model_configuration'] }],
    ['server live', '/v2/health/live', 200, { live: true }],
    ['server ready', '/v2/health/ready', 200, { ready: true }],
    ['model ready', '/v2/models/hf_vit_op12/ready', 200, { name: 'hf_vit_op12', ready: true }],
    ['model ready, versioned', '/v2/models/hf_vit_op12/versions/1/ready', 200, { name: 'hf_vit_op12', ready: true }],
  ];
  it.each(table)('%s: GET %s → %i', async (_name, path, status, body) => {
    const response = await request(`${server.url}${path}`);
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.body).toStrictEqual(body);
  });

  it.each(SERVED)('model metadata of %s: name, versions, platform, inputs and outputs with -1 for dynamic dims', async (name) => {
    const entry = manifest.models.find((m) => m.name === name)!;
    const describe = (tensors: ManifestTensor[]) => tensors.map((t) => ({
      name: t.name, datatype: DATATYPE[t.dtype], shape: t.shape.map((d) => (typeof d === 'number' ? d : -1)),
    }));
    const expected = { name, versions: ['1'], platform: 'onnxruntime_onnx', inputs: describe(entry.inputs), outputs: describe(entry.outputs) };
    for (const path of [`/v2/models/${name}`, `/v2/models/${name}/versions/1`]) {
      const response = await request(`${server.url}${path}`);
      expect(response.status).toBe(200);
      expect(response.body).toStrictEqual(expected);
    }
  });

  it('answers HEAD like GET, without a body', async () => {
    const response = await request(`${server.url}/v2/health/ready`, { method: 'HEAD' });
    expect([response.status, response.text]).toEqual([200, '']);
  });
});

describe('inference', () => {
  const url = (model: string) => `${server.url}/v2/models/${model}/infer`;

  it('answers with model_name, model_version, id and outputs of name, datatype, shape, flat data', async () => {
    const response = await post(url('hf_vit_op17_dyn'), vitRequest(1, 1, { id: 'req-42' }));
    expect(response.status).toBe(200);
    expect(Object.keys(response.body).sort()).toEqual(['id', 'model_name', 'model_version', 'outputs']);
    expect(response.body).toMatchObject({ model_name: 'hf_vit_op17_dyn', model_version: '1', id: 'req-42' });
    const [output] = response.body.outputs;
    expect(Object.keys(output).sort()).toEqual(['data', 'datatype', 'name', 'shape']);
    expect(output).toMatchObject({ name: 'logits', datatype: 'FP32', shape: [1, 10] });
    expect(maxAbsDiff(output.data, await directVit(fixture('hf_vit_op17_dyn'), 1))).toBeLessThan(1e-5);
  });

  it('omits id when the request has none', async () => {
    const response = await post(url('hf_vit_op12'), vitRequest(2));
    expect(response.status).toBe(200);
    expect(response.body).not.toHaveProperty('id');
    expect(maxAbsDiff(response.body.outputs[0].data, await directVit(fixture('hf_vit_op12'), 2))).toBeLessThan(1e-5);
  });

  it('accepts nested data (row-major) and answers exactly as for flat data', async () => {
    const flat = pixels(3);
    const nested = [[0, 1, 2].map((c) => Array.from({ length: 32 }, (_, y) => flat.slice(c * 1024 + y * 32, c * 1024 + y * 32 + 32)))];
    const request = { inputs: [{ name: 'pixel_values', shape: [1, 3, 32, 32], datatype: 'FP32', data: nested }] };
    const [a, b] = await Promise.all([post(url('hf_vit_op17_dyn'), request), post(url('hf_vit_op17_dyn'), vitRequest(3))]);
    expect(a.status).toBe(200);
    expect(maxAbsDiff(a.body.outputs[0].data, b.body.outputs[0].data)).toBeLessThan(1e-5);
  });

  it('serves the versioned path and ignores request parameters', async () => {
    const response = await post(`${server.url}/v2/models/hf_vit_op17_dyn/versions/1/infer`, vitRequest(4, 1, { parameters: { priority: 1 } }));
    expect(response.status).toBe(200);
    expect(maxAbsDiff(response.body.outputs[0].data, await directVit(fixture('hf_vit_op17_dyn'), 4))).toBeLessThan(1e-5);
  });

  it('returns only the requested outputs', async () => {
    const response = await post(url('hf_vit_op17_dyn'), vitRequest(5, 1, { outputs: [{ name: 'logits' }] }));
    expect(response.body.outputs.map((o: { name: string }) => o.name)).toEqual(['logits']);
  });

  it('runs a batch of 2 in one request, all rows returned', async () => {
    const response = await post(url('hf_vit_op17_dyn'), vitRequest(6, 2));
    expect(response.body.outputs[0].shape).toEqual([2, 10]);
    const direct = await directRun(fixture('hf_vit_op17_dyn'), { pixel_values: new ort.Tensor('float32', Float32Array.from(pixels(6, 6144)), [2, 3, 32, 32]) });
    expect(maxAbsDiff(response.body.outputs[0].data, Array.from(direct.logits!.data as Float32Array))).toBeLessThan(1e-5);
  });

  it('takes and returns FP16 as numbers', async () => {
    const data = pixels(7);
    const response = await post(url('timm_vit_fp16'), { inputs: [{ name: 'pixel_values', shape: [1, 3, 32, 32], datatype: 'FP16', data }] });
    expect(response.status).toBe(200);
    expect(response.body.outputs[0]).toMatchObject({ datatype: 'FP16', shape: [1, 10] });
    const direct = await directRun(fixture('timm_vit_fp16'), { pixel_values: new ort.Tensor('float16', Uint16Array.from(data, float32ToFloat16Bits), [1, 3, 32, 32]) });
    expect(response.body.outputs[0].data).toEqual(Array.from(direct.logits!.data as Uint16Array, float16BitsToFloat32));
  });

  it('takes INT64 inputs with a dynamic sequence axis', async () => {
    const ids = [[5, 7, 1, 3], [2, 2, 9, 0]];
    const mask = [[1, 1, 1, 1], [1, 1, 1, 0]];
    const response = await post(url('bert_mask'), { inputs: [
      { name: 'input_ids', shape: [2, 4], datatype: 'INT64', data: ids },
      { name: 'attention_mask', shape: [2, 4], datatype: 'INT64', data: mask.flat() },
    ] });
    expect(response.status).toBe(200);
    expect(response.body.outputs[0]).toMatchObject({ name: 'last_hidden_state', datatype: 'FP32', shape: [2, 4, 32] });
    const int64 = (rows: number[][]) => new ort.Tensor('int64', BigInt64Array.from(rows.flat(), BigInt), [2, 4]);
    const direct = await directRun(fixture('bert_mask'), { input_ids: int64(ids), attention_mask: int64(mask) });
    expect(maxAbsDiff(response.body.outputs[0].data, Array.from(direct.last_hidden_state!.data as Float32Array))).toBeLessThan(1e-5);
  });

  it('logs one JSON line per request with method, path, model, status and latency', async () => {
    const before = server.logs.length;
    await post(url('hf_vit_op17_dyn'), vitRequest(8, 1, { id: 'logged' }));
    const lines = server.logs.slice(before).filter((l) => l.msg === 'request');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'info', method: 'POST', path: '/v2/models/hf_vit_op17_dyn/infer', route: 'infer', model: 'hf_vit_op17_dyn', status: 200, id: 'logged' });
    expect(lines[0]!.ms).toEqual(expect.any(Number));
    expect(() => new Date(lines[0]!.time).toISOString()).not.toThrow();
  });
});

describe('model names', () => {
  it('serves a single model under --name', async () => {
    const named = await serve([fixture('hf_vit_op12')], { name: 'my-vit' });
    try {
      expect(named.models).toEqual(['my-vit']);
      const response = await post(`${named.url}/v2/models/my-vit/infer`, vitRequest(9));
      expect(response.body.model_name).toBe('my-vit');
      expect(maxAbsDiff(response.body.outputs[0].data, await directVit(fixture('hf_vit_op12'), 9))).toBeLessThan(1e-5);
    } finally {
      await named.close();
    }
  });

  it.each([
    [[MODELS], { name: 'x' }, /'name' renames a single model, but \d+ were found/],
    [[fixture('hf_vit_op12'), fixture('hf_vit_op12')], {}, /two models are named 'hf_vit_op12'/],
    [[`${MODELS}/data`], {}, /no models found/],
    [[`${MODELS}/manifest.json`], {}, /a model file must end in .onnx/],
  ])('refuses to start for %j %j', async (models, options, message) => {
    await expect(serve(models, options)).rejects.toThrow(message);
  });

  it('refuses to start on a port in use', async () => {
    await expect(serve([fixture('hf_vit_op12')], { port: server.port })).rejects.toThrow(/EADDRINUSE/);
  });
});
