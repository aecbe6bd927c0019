/**
 * The CLI's and the demo's entry to the library's conversion pipeline (graph-rewrite/plan): the
 * request with its calibration inputs, run on onnxruntime-node (the node backend) as the evaluator and the (sequential refit) calibrator and the
 * terminal's progress bars. Works on copies; the original model is never modified.
 */
import type { Model } from '../../graph-rewrite/ir/model.js';
import { runConversion, type ConvertOutcome, type PipelineRequest } from '../../graph-rewrite/plan/index.js';
import type { CalibrationBasis } from '../calibration/basis.js';
import { refitCalibrator } from '../calibration/calibrator.js';
import { backendEvaluator } from '../eval/backend-evaluator.js';
import type { InputSet } from '../eval/inputs.js';
import { nodeBackend } from '../runtime/node-backend.js';
import type { ExecutionProvider } from '../runtime/session.js';
import { progress } from './ui.js';

export type { CalibrationReport, ConvertOutcome, LinearAngularMode, LinearAttention } from '../../graph-rewrite/plan/index.js';

export interface ConvertRequest extends PipelineRequest {
  /**
   * Calibration inputs: the sequential refit (when `fit`) fits on a first part of them and measures —
   * and with `--blocks auto` chooses — on the rest; without `fit`, `--blocks auto` measures on them all.
   */
  readonly calibration?: InputSet;
  /** The refit's basis: the output projection alone (default), or with v, mean_t v and T1 added. */
  readonly basis?: CalibrationBasis;
  readonly ep?: ExecutionProvider;
}

/** Runs the pipeline on `original` (not modified) and returns the converted model with its report. */
export async function convertModel(original: Model, request: ConvertRequest): Promise<ConvertOutcome> {
  const { calibration, ep } = request;
  const target = { backend: nodeBackend, ...(ep ? { ep } : {}) };
  return runConversion(original, request, {
    ...(calibration ? { evaluator: backendEvaluator(calibration, target), selectionCalibrator: refitCalibrator(calibration, { ...target, basis: request.basis }) } : {}),
    progress: { start: (label, total) => progress(label, total) },
  });
}
