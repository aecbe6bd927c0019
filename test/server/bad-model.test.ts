/**
 * One bad model file in a served folder: the others load and serve; the bad one is "not ready" with
 * vitlin's own reason — at /v2/models/<m>/ready, on its other routes, and in the log — never onnxruntime's
 * C++ source location, and never a server that does not start.
 */
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, post, request, serve, vitRequest, type TestServer } from './helpers.js';

let folder: string;
let server: TestServer;
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'vitlin-bad-model-'));
  await copyFile(fixture('hf_vit_op17_dyn'), join(folder, 'good.onnx'));
  await writeFile(join(folder, 'empty.onnx'), new Uint8Array(0));
  await writeFile(join(folder, 'notes.onnx'), 'these are my notes, not a model\n');
  await writeFile(join(folder, 'graphless.onnx'), new Uint8Array([0x08, 0x08])); // ir_version 8, no graph
  server = await serve([folder]);
});
afterAll(async () => {
  await server?.close();
  await rm(folder, { recursive: true, force: true });
});

describe('serving a folder with bad model files', () => {
  it('serves the good model', async () => {
    expect((await request(`${server.url}/v2/models/good/ready`)).status).toBe(200);
    expect((await post(`${server.url}/v2/models/good/infer`, vitRequest(1))).status).toBe(200);
    expect((await request(`${server.url}/v2/health/ready`)).body).toEqual({ ready: true });
  });

  it.each([
    ['empty', 'empty.onnx: not an ONNX model (empty file)'],
    ['notes', 'notes.onnx: not an ONNX model ('],
    ['graphless', 'ModelProto does not have a graph'],
  ])('%s is not ready, with the reason, on every route', async (name, reason) => {
    const ready = await request(`${server.url}/v2/models/${name}/ready`);
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ name, ready: false });
    expect(ready.body.error).toContain(reason);
    expect(ready.body.error).not.toMatch(/onnxruntime_src|\.cc:\d+|onnxruntime::/);
    for (const answer of [await request(`${server.url}/v2/models/${name}`), await post(`${server.url}/v2/models/${name}/infer`, vitRequest(1))]) {
      expect(answer.status).toBe(503);
      expect(answer.body.error).toContain(`model '${name}' is not ready (UNAVAILABLE: `);
      expect(answer.body.error).toContain(reason);
    }
  });

  it('logs each bad model once at startup, and the repository index lists it with the reason', async () => {
    const notLoaded = server.logs.filter((entry) => entry.msg === 'model not loaded');
    expect(notLoaded.map((entry) => entry.model)).toEqual(['empty', 'graphless', 'notes']);
    expect(notLoaded[0]).toMatchObject({ level: 'error', error: 'empty.onnx: not an ONNX model (empty file)' });
    const index = await post(`${server.url}/v2/repository/index`, {});
    expect(index.body).toContainEqual({ name: 'empty', state: 'UNAVAILABLE', reason: 'empty.onnx: not an ONNX model (empty file)' });
    expect(index.body).toContainEqual(expect.objectContaining({ name: 'good', state: 'READY' }));
  });

  it('a folder where nothing loads still refuses to start, naming every reason', async () => {
    const onlyBad = await mkdtemp(join(tmpdir(), 'vitlin-only-bad-'));
    try {
      await writeFile(join(onlyBad, 'a.onnx'), new Uint8Array(0));
      await writeFile(join(onlyBad, 'b.onnx'), 'text');
      await expect(serve([onlyBad])).rejects.toThrow(/no model could be loaded: a\.onnx: not an ONNX model \(empty file\); b\.onnx: not an ONNX model/);
    } finally {
      await rm(onlyBad, { recursive: true, force: true });
    }
  });
});
