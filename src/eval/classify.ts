/**
 * Runs an image classifier over a labelled sample: batched when the model's batch axis is dynamic,
 * image by image when it is fixed. Returns the logits of every image, so two models can be compared
 * on exactly the same inputs.
 */
import { InvalidArgumentError } from '../../graph-rewrite/errors.js';
import type { LabelledSample } from '../data/sample-file.js';
import { argmaxRows } from '../runtime/compare.js';
import { float32ToFloat16Bits, tensorToFloat32 } from '../runtime/float16.js';
import type { BackendSession, Tensor } from '../runtime/backend.js';

export interface SampleRun {
  /** Logits, [count, classes] row-major, as float32. */
  readonly logits: Float32Array;
  readonly classes: number;
  readonly accuracy: number;
}

function logitsOf(tensor: Tensor): Float32Array {
  if (tensor.type !== 'float32' && tensor.type !== 'float16') throw new InvalidArgumentError(`model output must be float32 or float16 logits, got ${tensor.type}`);
  return tensorToFloat32(tensor);
}

export async function classifySample(session: BackendSession, sample: LabelledSample, maxBatch = 100): Promise<SampleRun> {
  const [input] = session.inputs;
  if (!input?.isTensor || session.inputs.length !== 1) {
    throw new InvalidArgumentError(`classification needs a model with one image input, this one has ${session.inputs.length}`);
  }
  const [count, ...imageDims] = sample.shape;
  const batchDim = input.shape[0];
  const batch = typeof batchDim === 'number' && batchDim > 0 ? batchDim : maxBatch;
  const perImage = imageDims.reduce((a, b) => a * b, 1);
  const outputName = session.outputs[0]!.name;
  const chunks: Float32Array[] = [];
  for (let start = 0; start < count; start += batch) {
    const size = Math.min(batch, count - start);
    if (typeof batchDim === 'number' && batchDim > 0 && size !== batchDim) break; // fixed batch: drop a ragged tail
    const pixels = sample.images.subarray(start * perImage, (start + size) * perImage);
    const dims = [size, ...imageDims];
    const tensor: Tensor = input.type === 'float16'
      ? { type: 'float16', dims, data: Uint16Array.from(pixels, float32ToFloat16Bits) }
      : { type: 'float32', dims, data: pixels };
    const outputs = await session.run({ [input.name]: tensor });
    chunks.push(logitsOf(outputs[outputName]!));
  }
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const logits = new Float32Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    logits.set(chunk, offset);
    offset += chunk.length;
  }
  const evaluated = Math.min(count, chunks.length * batch);
  const classes = total / evaluated;
  const predictions = argmaxRows(logits, classes);
  const correct = predictions.filter((label, i) => label === sample.labels[i]).length;
  return { logits, classes, accuracy: correct / evaluated };
}
