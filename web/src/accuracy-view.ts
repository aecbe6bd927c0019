/**
 * Accuracy on the bundled labelled sample: n images (from the first one calibration did not use) through the original and the converted
 * model (same EP choice and sessions as Run), top-1 against the labels, and how often the two agree —
 * one image is an anecdote, a few hundred are a measurement.
 */
import { argmaxRows, float32ToFloat16Bits, imageToInput, ort, outputToFloat32, sampleImage } from '../../src/web/index.js';
import type { Sample } from './assets.js';
import { byId, el } from './dom.js';
import type { ImageInput } from './model-view.js';
import { getSession, RunCancelled, type RunControl, type Which } from './run-view.js';

export interface SampleScore {
  readonly correct: number;
  readonly count: number;
  readonly predictions: number[];
  /** The first sample image scored. */
  readonly from: number;
}

/** Top-1 of sample images [from, from + count) through one model, one image per run. */
export async function scoreOnSample(
  which: Which, bytes: Uint8Array, label: string, ep: 'auto' | 'webgpu' | 'wasm', input: ImageInput, sample: Sample, from: number, count: number,
  control: RunControl & { onImage(which: Which, done: number): void },
): Promise<SampleScore> {
  const { session } = await getSession(which, bytes, ep, label, input);
  const { mean, std } = sample.parsed.header.normalization;
  const outputName = session.outputs[0]!.name;
  const dims = [input.batch, input.channels, input.height, input.width];
  const predictions: number[] = [];
  let correct = 0;
  for (let i = from; i < from + count; i++) {
    if (control.cancelled) throw new RunCancelled();
    const pixels = imageToInput(sampleImage(sample.parsed, sample.bytes, i), { channels: input.channels, height: input.height, width: input.width, mean, std });
    const batch = new Float32Array(pixels.length * input.batch);
    for (let b = 0; b < input.batch; b++) batch.set(pixels, b * pixels.length);
    const tensor = input.type === 'float16' ? new ort.Tensor('float16', Uint16Array.from(batch, float32ToFloat16Bits), dims) : new ort.Tensor('float32', batch, dims);
    const output = (await session.run({ [input.name]: tensor })).outputs[outputName]!;
    const classes = output.dims.at(-1) ?? output.size;
    const predicted = argmaxRows(outputToFloat32(output.type, output.data).slice(0, classes), classes)[0]!;
    predictions.push(predicted);
    if (predicted === sample.parsed.labels[i]) correct++;
    control.onImage(which, i - from + 1);
  }
  return { correct, count, predictions, from };
}

const percent = (x: number) => `${(x * 100).toFixed(1)} %`;

export function renderAccuracy(original: SampleScore, converted: SampleScore | undefined): void {
  const box = byId('accuracy-result');
  const rows: [string, string][] = [['original', `${percent(original.correct / original.count)} (${original.correct} of ${original.count})`]];
  if (converted) {
    const agree = converted.predictions.filter((p, i) => p === original.predictions[i]).length;
    const drop = (original.correct - converted.correct) / original.count;
    rows.push(['converted', `${percent(converted.correct / converted.count)} (${converted.correct} of ${converted.count}), ` +
      `${drop >= 0 ? '−' : '+'}${(Math.abs(drop) * 100).toFixed(1)} points`]);
    rows.push(['same top-1 class', `${percent(agree / original.count)} of the images`]);
  }
  rows.push(['images', `sample images ${original.from}–${original.from + original.count - 1}`]);
  box.dataset.state = 'done';
  box.dataset.original = String(original.correct / original.count);
  if (converted) box.dataset.converted = String(converted.correct / converted.count);
  box.replaceChildren(el('dl', {}, ...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)])));
}

export function renderAccuracyState(text: string, state: 'running' | 'idle' | 'failed' | 'cancelled', done = 0, total = 0): void {
  const box = byId('accuracy-result');
  box.dataset.state = state;
  delete box.dataset.original;
  delete box.dataset.converted;
  box.replaceChildren(el('span', { className: state === 'running' ? '' : 'muted' }, text), ...(state === 'running' ? [el('progress', { max: total, value: done })] : []));
}
