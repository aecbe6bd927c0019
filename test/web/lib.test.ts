/** The browser library's pure parts, in Node: model bytes, image → input, predictions, placement lines. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OnnxDecodeError } from '../../graph-rewrite/errors.js';
import { modelToBytes as nodeModelToBytes, loadModel } from '../../src/model-io.js';
import {
  describePlacement, imageToInput, isAllocationFailure, ModelTooLargeError, modelToBlob, modelToBytes, parsePlacementLog,
  parseSampleFile, readModelBytes, sampleImage, softmax, topClasses,
} from '../../src/web/index.js';
import { REPO } from './harness.js';

const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(join(REPO, 'models', name)));

describe('readModelBytes / modelToBlob', () => {
  it('reads a fixture and encodes the same bytes as the Node API', async () => {
    const bytes = fixture('tv_vit_mha.onnx');
    const model = readModelBytes(bytes, { source: 'tv_vit_mha.onnx' });
    expect(model.graph.nodes.length).toBeGreaterThan(0);
    const expected = nodeModelToBytes(await loadModel(bytes));
    expect(modelToBytes(model)).toEqual(expected);
    const blob = modelToBlob(model);
    expect(blob.size).toBe(expected.length);
    expect(new Uint8Array(await blob.arrayBuffer())).toEqual(expected);
  });

  it('refuses non-ONNX bytes with a decode error naming the file', () => {
    expect(() => readModelBytes(new TextEncoder().encode('hello, not a model'), { source: 'notes.txt' }))
      .toThrow(OnnxDecodeError);
    expect(() => readModelBytes(new TextEncoder().encode('hello'), { source: 'notes.txt' })).toThrow(/notes\.txt: not an ONNX model/);
  });

  it('refuses a model over the size cap before decoding it', () => {
    const bytes = fixture('tv_vit_mha.onnx');
    expect(() => readModelBytes(bytes, { source: 'm.onnx', maxBytes: 1000 })).toThrow(ModelTooLargeError);
    expect(() => readModelBytes(bytes, { source: 'm.onnx', maxBytes: 1000 })).toThrow(/over this page's limit of 1000 B/);
  });

  it('recognises allocation failures', () => {
    expect(isAllocationFailure(new RangeError('Array buffer allocation failed'))).toBe(true);
    expect(isAllocationFailure(new Error('Aborted(OOM)'))).toBe(true);
    expect(isAllocationFailure(new Error('std::bad_alloc'))).toBe(true);
    expect(isAllocationFailure(new Error('input pixel_values is missing'))).toBe(false);
    expect(isAllocationFailure(new RangeError('index out of range'))).toBe(false);
  });
});

describe('imageToInput', () => {
  const sampleBytes = new Uint8Array(readFileSync(join(REPO, 'models/data/fashion-mnist-test-1000.bin')));
  const sample = parseSampleFile(sampleBytes);
  const { mean, std } = sample.header.normalization;

  it('at the sample size it equals parseSampleFile’s normalisation', () => {
    const image = sampleImage(sample, sampleBytes, 7);
    const input = imageToInput(image, { channels: 1, height: 28, width: 28, mean, std });
    expect(input).toEqual(sample.images.subarray(7 * 784, 8 * 784));
  });

  it('resizes bilinearly and replicates gray into RGB', () => {
    const image = { width: 2, height: 1, channels: 1 as const, pixels: [0, 255] };
    const input = imageToInput(image, { channels: 3, height: 1, width: 4, mean: 0, std: 1 });
    // Half-pixel centres: x = 0.25 → clamped to 0, 0.75 → ¼ of the way, 1.25 → ¾, 1.75 → clamped to 1.
    expect(Array.from(input.subarray(0, 4))).toEqual([0, 0.25, 0.75, 1]);
    expect(input.subarray(4, 8)).toEqual(input.subarray(0, 4));
    expect(input.subarray(8, 12)).toEqual(input.subarray(0, 4));
  });

  it('converts RGBA to gray with BT.601 weights and can invert', () => {
    const image = { width: 1, height: 1, channels: 4 as const, pixels: [255, 0, 0, 255] };
    expect(imageToInput(image, { channels: 1, height: 1, width: 1, mean: 0, std: 1 })[0]).toBeCloseTo(0.299, 6);
    expect(imageToInput(image, { channels: 1, height: 1, width: 1, mean: 0, std: 1, invert: true })[0]).toBeCloseTo(0.701, 6);
  });

  it('rejects a bad index or spec', () => {
    expect(() => sampleImage(sample, sampleBytes, 1000)).toThrow(/\[0, 999\]/);
    expect(() => imageToInput(sampleImage(sample, sampleBytes, 0), { channels: 0, height: 1, width: 1, mean: 0, std: 1 })).toThrow(/channels/);
  });
});

describe('predictions and placement', () => {
  it('softmax and top classes', () => {
    const p = softmax([1, 2, 3]);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(topClasses([0.5, 3, -1, 3], 3).map((c) => c.index)).toEqual([1, 3, 0]);
  });

  it('reads onnxruntime placement lines', () => {
    const lines = [
      '2026-01-01 [V:onnxruntime:, session_state.cc:1380 VerifyEachNodeIsAssignedToAnEp]  All nodes placed on [WebGpuExecutionProvider]. Number of nodes: 92',
    ];
    expect(parsePlacementLog(lines)).toEqual({ countByProvider: { WebGpuExecutionProvider: 92 } });
    const mixed = parsePlacementLog([
      ' Node(s) placed on [WebGpuExecutionProvider]. Number of nodes: 90',
      ' Node(s) placed on [CPUExecutionProvider]. Number of nodes: 2',
      '  Shape (/Shape)',
    ])!;
    expect(mixed.countByProvider).toEqual({ WebGpuExecutionProvider: 90, CPUExecutionProvider: 2 });
    expect(describePlacement(mixed)).toBe('90 on WebGpuExecutionProvider, 2 on CPUExecutionProvider');
    expect(parsePlacementLog(['Session successfully initialized.'])).toBeUndefined();
    // A failed WebGPU attempt, then the WASM session: the last report counts.
    const header = '[V:onnxruntime:m.onnx, session_state.cc:1377 VerifyEachNodeIsAssignedToAnEp] Node placements';
    const twice = parsePlacementLog([
      header, ' All nodes placed on [WebGpuExecutionProvider]. Number of nodes: 67',
      header, ' All nodes placed on [CPUExecutionProvider]. Number of nodes: 112',
    ]);
    expect(twice).toEqual({ countByProvider: { CPUExecutionProvider: 112 } });
  });
});
