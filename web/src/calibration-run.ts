/**
 * Calibration in the page on the CLI's own code: the sequential refit (`refitCalibrator`) and the
 * fidelity evaluator (`backendEvaluator`) of src/calibration and src/eval, run on onnxruntime-web through
 * the runtime seam (`webBackend`). The inputs are the bundled sample's first `count` images (as
 * `--calibration <sample> --calibration-count <count>` reads them), or the images the user dropped.
 */
import { refitCalibrator } from '../../src/calibration/calibrator.js';
import { backendEvaluator } from '../../src/eval/backend-evaluator.js';
import { imageArrayInputs, type InputSet } from '../../src/eval/inputs.js';
import { imageToInput, sampleImage, webBackend, type Backend, type PipelineProgress, type PipelineServices, type RawImage } from '../../src/web/index.js';
import type { Sample } from './assets.js';
import type { CalibrationSettings } from './calibration-view.js';
import { renderCalibrationProgress } from './calibration-view.js';
import type { ImageInput } from './model-view.js';
import { RunCancelled } from './run-view.js';

/** Images the user dropped to fit on, decoded (unlabelled). */
export interface DroppedRaw {
  readonly names: readonly string[];
  readonly images: readonly RawImage[];
}

/** `images` prepared for the model's input (resized, normalised as the sample is), stacked NCHW. */
function stack(images: readonly RawImage[], input: ImageInput, sample: Sample): Float32Array {
  const { mean, std } = sample.parsed.header.normalization;
  const per = input.channels * input.height * input.width;
  const out = new Float32Array(images.length * per);
  images.forEach((image, i) => out.set(imageToInput(image, { channels: input.channels, height: input.height, width: input.width, mean, std }), i * per));
  return out;
}

/**
 * Sample images [0, count) with their labels, for the model's input. At the sample's own size and
 * channels the values are the sample file's (parseSampleFile's), bit for bit, as the CLI reads them.
 */
export function sampleCalibrationInputs(sample: Sample, count: number, input: ImageInput): InputSet {
  const images = Array.from({ length: count }, (_, i) => sampleImage(sample.parsed, sample.bytes, i));
  return imageArrayInputs(`${sample.name} (${count} image${count === 1 ? '' : 's'})`, stack(images, input, sample),
    [count, input.channels, input.height, input.width], sample.parsed.labels.subarray(0, count), sample.parsed.header.classes);
}

export function droppedInputs(dropped: DroppedRaw, input: ImageInput, sample: Sample): InputSet {
  const n = dropped.images.length;
  return imageArrayInputs(`${n} image${n === 1 ? '' : 's'} you dropped (unlabelled)`, stack(dropped.images, input, sample), [n, input.channels, input.height, input.width]);
}

/** A run the user can cancel: checked at every progress step. */
export interface CancelControl {
  cancelled: boolean;
}

/** Lets the page handle its events (Cancel, a repaint) before the next step, and stops there if cancelled. */
async function checkpoint(control: CancelControl): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 0));
  if (control.cancelled) throw new RunCancelled();
}

/**
 * `backend` with a checkpoint before every session and every run: the fit runs on the page's thread,
 * so this is where a click on Cancel gets handled and takes effect.
 */
export function cancellable(backend: Backend, control: CancelControl): Backend {
  return {
    name: backend.name,
    eps: backend.eps,
    async createSession(model, options) {
      await checkpoint(control);
      const session = await backend.createSession(model, options);
      return {
        ...session,
        run: async (feeds) => {
          await checkpoint(control);
          return session.run(feeds);
        },
      };
    },
  };
}

/** The pipeline's progress as the page's progress line; a tick after Cancel stops the conversion. */
export function pageProgress(control: CancelControl): PipelineProgress {
  return {
    start(label, total) {
      let done = 0;
      if (control.cancelled) throw new RunCancelled();
      renderCalibrationProgress(`${label}: step 1 of ${total}`, 0, total);
      return {
        tick(n = 1) {
          if (control.cancelled) throw new RunCancelled();
          done += n;
          renderCalibrationProgress(`${label}: step ${Math.min(done + 1, total)} of ${total}`, done, total);
        },
        done() {},
      };
    },
  };
}

/**
 * The pipeline's services for `settings`: with a refit, the selection calibrator (fitting on the first
 * part of the sample images and selecting on the rest, or fitting on the dropped images and selecting
 * on the sample images); measuring only (`--no-fit`, for `--blocks auto`), the evaluator.
 */
export function calibrationServices(
  settings: CalibrationSettings, sample: Sample, dropped: DroppedRaw | undefined, input: ImageInput, ep: string | undefined, control: CancelControl,
): PipelineServices {
  const target = { backend: cancellable(webBackend, control), ...(ep ? { ep } : {}) };
  const sampleSet = sampleCalibrationInputs(sample, settings.count, input);
  const progress = pageProgress(control);
  if (settings.mode === 'off') return { evaluator: backendEvaluator(sampleSet, target), progress };
  const basis = settings.mode;
  const calibrator = dropped
    ? refitCalibrator(droppedInputs(dropped, input, sample), { ...target, basis, selection: sampleSet })
    : refitCalibrator(sampleSet, { ...target, basis });
  return { evaluator: backendEvaluator(sampleSet, target), selectionCalibrator: calibrator, progress };
}
