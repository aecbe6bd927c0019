/**
 * Calibrated conversion, the entry point the conversion pipeline calls: split the calibration inputs
 * into a fitting part and a selection part (nothing is ever scored on what it was fitted on), refit the
 * converted blocks sequentially on the fitting part (refit.ts), and — with `--blocks auto` — choose the
 * blocks greedily by their measured cost on the selection part, within a budget. Reports per block the
 * branch error before / after the refit and the top-1 on the selection part once that block is in.
 */
import type { Model } from '../../graph-rewrite/ir/model.js';
import { greedySelect, type AutoSelection, type Budget, type SelectionScore } from '../../graph-rewrite/plan/auto-select.js';
import { runOn, type RunTarget } from '../eval/backend-evaluator.js';
import { fidelityOf, type Fidelity } from '../eval/fidelity.js';
import type { InputSet } from '../eval/inputs.js';
import type { CalibrationBasis } from './basis.js';
import type { BlockCalibrationReport, RefitCalibrationReport } from './report.js';
import { SequentialRefitter, type BlockRefit, type ConvertBlocks } from './refit.js';
import { selectionShareFor, splitInputs } from './split.js';

/** What to convert and refit, and where the models run (`backend`, `ep`). */
export interface CalibratedConversionRequest extends RunTarget {
  /** The model blocks are numbered in (after exact fusion); not modified. */
  readonly base: Model;
  readonly convert: ConvertBlocks;
  /** Blocks to convert, or with `auto`, to choose from. */
  readonly blocks: readonly number[];
  readonly inputs: InputSet;
  readonly basis?: CalibrationBasis;
  /** Share of the inputs held out for selection and the report (default ½ with auto, ¼ without). */
  readonly selectionShare?: number;
  /**
   * Inputs of their own for selection and the report (e.g. labelled images beside unlabelled ones to
   * fit on): then every item of `inputs` fits and none of them is scored.
   */
  readonly selection?: InputSet;
  readonly auto?: { readonly budget: Budget; readonly flops: (blocks: readonly number[]) => number };
  readonly lambda?: number;
  readonly onProgress?: (stage: 'fitting' | 'choosing', blocks: readonly number[]) => void;
}

export interface CalibratedConversion {
  readonly model: Model;
  readonly chosen: readonly number[];
  readonly report: RefitCalibrationReport;
  readonly auto?: AutoSelection;
  readonly fits: readonly BlockRefit[];
}

function top1Of(f: Fidelity): number {
  return f.accuracy ? f.accuracy.converted : (f.top1Agreement ?? NaN);
}

/** Converts and refits `request.blocks` (or a greedy choice of them), as the file comment says. */
export async function calibrateConversion(request: CalibratedConversionRequest): Promise<CalibratedConversion> {
  const { fitting, selection } = request.selection
    ? { fitting: request.inputs, selection: request.selection }
    : splitInputs(request.inputs, request.selectionShare ?? selectionShareFor(request.auto !== undefined));
  const refitter = new SequentialRefitter(request.base, request.convert, fitting, { basis: request.basis ?? 'plain', backend: request.backend, ep: request.ep, ...(request.lambda ? { lambda: request.lambda } : {}) });
  const baseRun = await runOn(request, request.base, selection, 'original');
  const fidelity = async (model: Model, label: string) => fidelityOf(baseRun, await runOn(request, model, selection, label), selection.labels);

  let chosen = [...request.blocks].sort((a, b) => a - b);
  let auto: AutoSelection | undefined;
  if (request.auto) {
    const { budget, flops } = request.auto;
    auto = await greedySelect(chosen, async (blocks): Promise<SelectionScore> => {
      request.onProgress?.('choosing', blocks);
      const { model } = await refitter.model(blocks);
      const f = await fidelity(model, `blocks ${blocks.join(',')}`);
      const top1Drop = f.accuracy ? f.accuracy.original - f.accuracy.converted : 1 - (f.top1Agreement ?? 1);
      return { top1Drop, cosine: f.cosine, flops: flops(blocks), ...(f.accuracy ? { accuracy: f.accuracy.converted } : {}) };
    }, budget);
    chosen = [...auto.chosen];
  }
  request.onProgress?.('fitting', chosen);
  const { model, fits } = await refitter.model(chosen);
  const blocks: BlockCalibrationReport[] = [];
  for (let i = 0; i < fits.length; i++) {
    const fit = fits[i]!;
    const prefix = i === fits.length - 1 ? model : (await refitter.model(chosen.slice(0, i + 1))).model;
    const f = await fidelity(prefix, `blocks ${chosen.slice(0, i + 1).join(',')}`);
    blocks.push({
      index: fit.block, basis: fit.basis, mseBefore: fit.mseBefore, mseAfter: fit.mseAfter, targetPower: fit.targetPower,
      driftCorrected: fit.driftCorrected, selectionTop1: top1Of(f), notes: fit.notes,
      ...(fit.addedProjection !== undefined ? { addedProjection: fit.addedProjection } : {}),
    });
  }
  const without = await fidelity(request.convert(chosen).model, 'uncalibrated');
  const withFit = chosen.length ? await fidelity(model, 'calibrated') : without;
  return {
    model, chosen, auto, fits,
    report: { inputs: request.inputs.description, basis: request.basis ?? 'plain', fitting: fitting.description, selection: selection.description, blocks, without, with: withFit },
  };
}
