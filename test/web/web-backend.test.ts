/**
 * onnxruntime-web as the runtime seam's Backend (src/web/web-backend.ts), in Node on its WASM build: the
 * same numbers as the node backend within float noise, vitlin tensors in and out (float16 as raw bits),
 * and errors that name the bad argument.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../graph-rewrite/errors.js';
import { nodeBackend } from '../../src/runtime/node-backend.js';
import { configureWebRuntime, fromOrtTensor, ort, parseSampleFile, toOrtTensor, webBackend } from '../../src/web/index.js';
import { maxAbsDiff, REPO } from './harness.js';

const model = new Uint8Array(readFileSync(join(REPO, 'models/fmnist_softmax.onnx')));
const sample = parseSampleFile(new Uint8Array(readFileSync(join(REPO, 'models/data/fashion-mnist-test-1000.bin'))));

beforeAll(() => {
  const wasm = createRequire(import.meta.url).resolve('onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm');
  configureWebRuntime({ wasmPaths: `${dirname(wasm)}/`, numThreads: 1 });
});

describe('webBackend', () => {
  it('runs a model on WASM with vitlin tensors, as the node backend does', async () => {
    expect(webBackend.name).toBe('onnxruntime-web');
    expect(webBackend.eps).toEqual(['webgpu', 'wasm']);
    const feeds = { input: { type: 'float32' as const, dims: [4, 1, 28, 28], data: sample.images.slice(0, 4 * 784) } };
    const web = await webBackend.createSession(model, { ep: 'wasm', label: 'fmnist_softmax.onnx' });
    const node = await nodeBackend.createSession(model, { ep: 'cpu' });
    try {
      expect(web.ep).toBe('wasm');
      expect(web.inputs).toEqual(node.inputs);
      expect(web.outputs).toEqual(node.outputs);
      const name = web.inputs[0]!.name;
      const [a, b] = [await web.run({ [name]: feeds.input }), await node.run({ [name]: feeds.input })];
      const out = web.outputs[0]!.name;
      expect(a[out]!.type).toBe('float32');
      expect(a[out]!.dims).toEqual([4, 10]);
      expect(a[out]!.data).toBeInstanceOf(Float32Array);
      expect(maxAbsDiff(a[out]!.data as Float32Array, b[out]!.data as Float32Array)).toBeLessThan(1e-4);
      // Feeds are checked as every backend checks them, naming the input.
      await expect(web.run({ [name]: { type: 'int64', dims: [1, 1, 28, 28], data: new BigInt64Array(784) } })).rejects.toThrow(`'feeds.${name}' must be float32, got int64`);
      await expect(web.run({})).rejects.toThrow(InvalidArgumentError);
    } finally {
      await web.release();
      await node.release();
    }
  }, 120_000);

  it('refuses an EP it does not have, naming it', async () => {
    await expect(webBackend.createSession(model, { ep: 'cuda' })).rejects.toThrow(`'ep' must be one of webgpu, wasm for onnxruntime-web, got "cuda"`);
  });

  it('converts tensors: float16 stays raw bits both ways, a bad tensor names the feed', () => {
    const bits = new Uint16Array([0x3c00, 0xc000, 0x7bff]);
    const there = toOrtTensor({ type: 'float16', dims: [3], data: bits }, 'x');
    const back = fromOrtTensor(there, 'x');
    expect(back.type).toBe('float16');
    expect(back.data).toBeInstanceOf(Uint16Array);
    expect(Array.from(back.data as Uint16Array)).toEqual([0x3c00, 0xc000, 0x7bff]);
    const ints = fromOrtTensor(new ort.Tensor('int64', new BigInt64Array([1n, 2n]), [2]));
    expect(ints).toEqual({ type: 'int64', dims: [2], data: new BigInt64Array([1n, 2n]) });
    expect(() => toOrtTensor({ type: 'float32', dims: [2, 2], data: new Float32Array(3) }, 'pixels')).toThrow(/^feed 'pixels': not a valid float32 tensor of dims \[2, 2\]/);
    expect(() => toOrtTensor({ type: 'complex64' as never, dims: [1], data: new Float32Array(1) }, 'z')).toThrow(`feed 'z': unknown tensor type "complex64"`);
  });
});
