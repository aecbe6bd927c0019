/**
 * What the planner needs from a runtime, injected so that the library stays browser-safe and the CLI, the
 * demo, the server and the web app run one pipeline: a fidelity evaluator (runs a model on held inputs
 * and compares two runs) and a block calibrator (fits each converted block's coefficients and writes
 * them). src/eval/backend-evaluator.ts and src/calibration/calibrator.ts implement them on any runtime backend (src/runtime/backend.ts).
 */
import type { AttentionBlock } from '../attention/index.js';
import type { Model } from '../ir/model.js';
import type { AutoSelection, Budget } from './auto-select.js';

/** How far a candidate's outputs are from the reference's on the evaluator's inputs. */
export interface Fidelity {
  readonly items: number;
  readonly maxAbsError: number;
  readonly meanAbsError: number;
  readonly cosine: number;
  /** Share of items whose top-1 class agrees (classifier outputs). */
  readonly top1Agreement?: number;
  /** With labelled inputs: accuracy of the reference and of the candidate. */
  readonly accuracy?: { readonly original: number; readonly converted: number };
}

/**
 * Runs models on a fixed input set. `Run` is the evaluator's own record of a run (outputs kept for
 * comparison); the planner only passes it back to `compare`.
 */
export interface FidelityEvaluator<Run = unknown> {
  /** How reports name the inputs: "fashion-mnist-test-1000.bin (1000 images)". */
  readonly description: string;
  /** Items the evaluator runs (for progress). */
  readonly count: number;
  run(model: Model, label: string): Promise<Run>;
  compare(reference: Run, candidate: Run): Fidelity;
}

/** One converted block as the calibrator needs it: the softmax block it replaced. */
export interface CalibrationBlock {
  readonly heads: number;
  /** Total factor on q·kᵀ of the softmax block. */
  readonly scale: number;
  /** The softmax block's anchor node and node names in the reference model (to find, e.g., its output projection). */
  readonly anchor: string;
  readonly nodes: readonly string[];
}

/** One fused block's fit: whatever the calibrator writes, and the block output's MSE against softmax before / after. */
export interface BlockFitSummary {
  readonly mseBefore: number;
  readonly mseAfter: number;
}

/**
 * What a selection calibrator is asked: convert `candidates` of `reference` (all of them, or with `auto`
 * a greedy choice within the budget) and calibrate the result. `convert` is the planner's conversion
 * of a set of base block indices (the calibrator may convert prefixes of the selection).
 */
export interface SelectionCalibrationJob {
  readonly reference: Model;
  readonly candidates: readonly number[];
  readonly convert: (blocks: readonly number[]) => { readonly model: Model; readonly converted: readonly AttentionBlock[] };
  readonly auto?: { readonly budget: Budget; readonly flops: (blocks: readonly number[]) => number };
  readonly progress: PipelineProgress;
}

/** Per block of a selection calibration: the fit's error before / after (a calibrator may report more). */
export interface SelectionBlockReport extends BlockFitSummary {
  /** Base block index (the planner renumbers it as the model was given). */
  readonly index: number;
}

export interface SelectionCalibrationResult {
  readonly model: Model;
  /** Base block indices converted (with auto: the choice). */
  readonly chosen: readonly number[];
  readonly auto?: AutoSelection;
  /**
   * The report: inputs, per-block figures, fidelity without / with (on inputs the fit did not use). The
   * calibrator's own further fields are kept as they are (the CLI's report and --json show them).
   */
  readonly report: { readonly inputs: string; readonly blocks: readonly SelectionBlockReport[]; readonly without: Fidelity; readonly with: Fidelity };
}

/**
 * The calibration seam for fits that depend on which blocks are converted (a sequential refit: each
 * block's fit corrects the drift of those before it). The planner hands it the whole selection — and
 * with `--blocks auto` the choice.
 */
export interface SelectionCalibrator {
  readonly description: string;
  readonly count: number;
  calibrate(job: SelectionCalibrationJob): Promise<SelectionCalibrationResult>;
}

/** Progress of the pipeline's long steps (the CLI draws bars; the web app may show a spinner). */
export interface PipelineProgress {
  start(label: string, total: number): { tick(n?: number): void; done(): void };
}

export const SILENT_PROGRESS: PipelineProgress = { start: () => ({ tick: () => undefined, done: () => undefined }) };
