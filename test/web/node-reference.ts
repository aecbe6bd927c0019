/** The Node side of the browser tests: onnxruntime-node (CPU) on exactly the input the page feeds. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { createSession } from '../../src/runtime/session.js';
import { float16BitsToFloat32, float32ToFloat16Bits, imageToInput, parseSampleFile, sampleImage, type RawImage } from '../../src/web/index.js';
import { REPO } from './harness.js';

const sampleBytes = new Uint8Array(readFileSync(join(REPO, 'models/data/fashion-mnist-test-1000.bin')));
const sample = parseSampleFile(sampleBytes);

/**
 * Logits of `modelBytes` for sample image `image` (an index) or raw pixels, prepared by the same
 * imageToInput as the page's, with the sample's normalisation.
 */
export async function nodeLogits(modelBytes: Uint8Array, image: number | RawImage): Promise<Float32Array> {
  const session = await createSession(modelBytes, { ep: 'cpu' });
  try {
    const input = session.inputs[0]!;
    if (!input.isTensor) throw new Error(`input ${input.name} is not a tensor`);
    const [, channels, height, width] = input.shape as number[];
    const { mean, std } = sample.header.normalization;
    const raw = typeof image === 'number' ? sampleImage(sample, sampleBytes, image) : image;
    const pixels = imageToInput(raw, { channels: channels!, height: height!, width: width!, mean, std });
    const dims = [1, channels!, height!, width!];
    const tensor = input.type === 'float16'
      ? new ort.Tensor('float16', Uint16Array.from(pixels, float32ToFloat16Bits), dims)
      : new ort.Tensor('float32', pixels, dims);
    const output = (await session.run({ [input.name]: tensor }))[session.outputs[0]!.name]!;
    return output.type === 'float16' ? Float32Array.from(output.data as Uint16Array, float16BitsToFloat32) : Float32Array.from(output.data as Float32Array);
  } finally {
    await session.release();
  }
}
