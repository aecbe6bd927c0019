/**
 * The planner's calibration seam (graph-rewrite/plan/evaluator.ts BlockCalibrator) on onnxruntime:
 * `fit` captures each converted block on the calibration inputs and fits it (fitBlocks), `apply` writes
 * the fits (applyFits). A new fit (e.g. a block-by-block refit of the output projection) replaces
 * these two functions only; the planner does not change.
 */
import type { BlockCalibrator, CalibrationJob } from '../../graph-rewrite/plan/evaluator.js';
import type { InputSet } from '../eval/inputs.js';
import type { ExecutionProvider } from '../runtime/session.js';
import { applyFits, fitBlocks, type BlockFit } from './index.js';

export function ortCalibrator(inputs: InputSet, ep?: ExecutionProvider): BlockCalibrator<BlockFit> {
  return {
    description: inputs.description,
    count: inputs.count,
    fit: (job: CalibrationJob) => fitBlocks(job.reference, job.converted, job.blocks, inputs, {
      attention: job.kernel as 'hydra' | 'linear-angular', linearAngularMode: job.options.linearAngularMode, ep, onItems: job.onItems,
    }),
    apply: applyFits,
  };
}
