/**
 * The planner's calibration seams (graph-rewrite/plan/evaluator.ts) on onnxruntime.
 * - `ortRefitCalibrator` (SelectionCalibrator), what the CLI and the demo use: the sequential,
 *   drift-correcting refit of each converted block's output projection (pipeline.ts, refit.ts), which
 *   splits the inputs into a fitting and a selection part and, with `--blocks auto`, chooses the blocks.
 * - `ortCalibrator` (BlockCalibrator): the earlier fit of the fused ops' own coefficients (fitBlocks /
 *   applyFits), fitted once for every candidate.
 */
import type { BlockCalibrator, CalibrationJob, SelectionCalibrator } from '../../graph-rewrite/plan/evaluator.js';
import type { InputSet } from '../eval/inputs.js';
import type { ExecutionProvider } from '../runtime/session.js';
import type { CalibrationBasis } from './basis.js';
import { applyFits, fitBlocks, type BlockFit } from './coefficient-fit.js';
import { calibrateConversion } from './pipeline.js';

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

/** The sequential refit as the planner's selection calibrator (see the file comment). */
export function ortRefitCalibrator(inputs: InputSet, options: { readonly ep?: ExecutionProvider; readonly basis?: CalibrationBasis } = {}): SelectionCalibrator {
  return {
    description: inputs.description,
    count: inputs.count,
    async calibrate(job) {
      const n = job.candidates.length;
      const bar = job.progress.start(job.auto ? 'choosing blocks' : 'calibrating', job.auto ? 2 + (n * (n + 1)) / 2 : 1);
      try {
        const result = await calibrateConversion({
          base: job.reference, blocks: job.candidates, inputs, basis: options.basis ?? 'plain', ep: options.ep,
          convert: (blocks) => { const r = job.convert(blocks); return { model: r.model, blocks: r.converted }; },
          ...(job.auto ? { auto: job.auto } : {}),
          onProgress: () => bar.tick(),
        });
        return { model: result.model, chosen: result.chosen, ...(result.auto ? { auto: result.auto } : {}), report: result.report };
      } finally {
        bar.done();
      }
    },
  };
}
