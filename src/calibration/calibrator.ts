/**
 * The planner's calibration seam (graph-rewrite/plan/evaluator.ts) on any runtime backend: `refitCalibrator`,
 * the sequential, drift-correcting refit of each converted block's output projection (pipeline.ts,
 * refit.ts), which splits the inputs into a fitting and a selection part and, with `--blocks auto`,
 * chooses the blocks.
 */
import type { SelectionCalibrator } from '../../graph-rewrite/plan/evaluator.js';
import type { InputSet } from '../eval/inputs.js';
import type { RunTarget } from '../eval/backend-evaluator.js';
import type { CalibrationBasis } from './basis.js';
import { calibrateConversion } from './pipeline.js';

/** The sequential refit as the planner's selection calibrator (see the file comment). */
export function refitCalibrator(inputs: InputSet, options: RunTarget & { readonly basis?: CalibrationBasis }): SelectionCalibrator {
  return {
    description: inputs.description,
    count: inputs.count,
    async calibrate(job) {
      const n = job.candidates.length;
      const bar = job.progress.start(job.auto ? 'choosing blocks' : 'calibrating', job.auto ? 2 + (n * (n + 1)) / 2 : 1);
      try {
        const result = await calibrateConversion({
          base: job.reference, blocks: job.candidates, inputs, basis: options.basis ?? 'plain', backend: options.backend, ep: options.ep,
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
