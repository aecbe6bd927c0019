/**
 * The coefficient fit that came before the output-projection refit: the fused ops' own free
 * coefficients (Hydra: per-feature output scale; linear-angular: per-head weights), each block fitted
 * to its softmax output on the original model's activations (capture.ts, fit.ts, apply.ts). Kept as a
 * library function and as the baseline the refit is measured against; the pipeline uses refit.ts.
 */
import type { LinearAngularMode } from '../../custom-ops/schemas.js';
import type { Model } from '../../graph-rewrite/ir/model.js';
import type { RunTarget } from '../eval/backend-evaluator.js';
import type { InputSet } from '../eval/inputs.js';
import { applyCoefficients, type BlockCoefficients } from './apply.js';
import { captureBlocks, fusedNodes, type BlockInfo } from './capture.js';
import { fitHydraScale, fitLinearAngularWeights } from './fit.js';

/** One fused node's fit: its coefficients and the block output's MSE against softmax before / after. */
export interface BlockFit {
  readonly coefficients: BlockCoefficients;
  readonly mseBefore: number;
  readonly mseAfter: number;
}

export interface CalibrateOptions extends RunTarget {
  /** The fused op the blocks were converted to. */
  readonly attention: 'hydra' | 'linear-angular';
  readonly linearAngularMode: LinearAngularMode;
  readonly onItems?: (n: number) => void;
}

/**
 * Fits coefficients for every fused node of `converted` (graph order), whose blocks `blocks` describe
 * (heads and scale of the softmax block each replaced), on `inputs` run through `original`.
 * Does not modify either model: {@link applyCoefficients} writes the result.
 */
export async function fitBlocks(original: Model, converted: Model, blocks: readonly BlockInfo[], inputs: InputSet, options: CalibrateOptions): Promise<BlockFit[]> {
  const captures = await captureBlocks(original, converted, blocks, inputs, { backend: options.backend, ep: options.ep, onItems: options.onItems });
  return captures.map((capture, i) => {
    if (options.attention === 'hydra') {
      const fit = fitHydraScale(capture);
      return { coefficients: { kind: 'hydra', scale: fit.coefficients }, mseBefore: fit.mseBefore, mseAfter: fit.mseAfter };
    }
    const fit = fitLinearAngularWeights(capture, blocks[i]!.heads, options.linearAngularMode);
    return { coefficients: { kind: 'linear-angular', ...fit.coefficients }, mseBefore: fit.mseBefore, mseAfter: fit.mseAfter };
  });
}

/** Writes fits into `model`'s fused nodes (graph order), in place. */
export function applyFits(model: Model, fits: readonly (BlockFit | undefined)[]): void {
  applyCoefficients(model, fusedNodes(model), fits.map((f) => f?.coefficients));
}
