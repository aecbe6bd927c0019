/** What the pipeline is asked (a request), what it is given (services), and what it reports (an outcome). */
import type { AttentionBlock, AttentionBlocksReport, UnmatchedAnchor } from '../attention/index.js';
import type { Model } from '../ir/model.js';
import type { AutoSelection, Budget } from './auto-select.js';
import type { Fidelity, FidelityEvaluator, PipelineProgress, SelectionCalibrator } from './evaluator.js';
import type { ExactFusionResult } from './exact-fusion.js';
import type { FlopReport } from './flops.js';
import type { BlockSelection } from './selection.js';

/** A registered kernel's name (custom-ops/kernels): 'hydra', 'linear-angular', … */
export type LinearAttention = string;
export type LinearAngularMode = 'reference' | 'kernel_normalized';

export interface PipelineRequest {
  /** Required when softmax blocks are to be converted (any selection but none). */
  readonly attention?: LinearAttention;
  /** `--blocks` as given (checked against the model's sites), or already parsed. */
  readonly selection: BlockSelection | string;
  readonly linearAngularMode: LinearAngularMode;
  readonly eps?: number;
  /** Fuse decomposed Hydra / linear-angular blocks exactly. */
  readonly fuse: boolean;
  /** With a calibrator: fit coefficients (otherwise only measure). */
  readonly fit: boolean;
  /** For `--blocks auto`: the fidelity budget. */
  readonly budget?: Budget;
  readonly inlineFunctions: boolean;
}

/** What the pipeline is given: measurement and calibration on some runtime, and progress display. All optional. */
export interface PipelineServices {
  /** Measures fidelity on held inputs: needed by `--blocks auto` and the calibration report. */
  readonly evaluator?: FidelityEvaluator<unknown>;
  /** Calibrates a whole selection (fits that depend on the other converted blocks). */
  readonly selectionCalibrator?: SelectionCalibrator;
  readonly progress?: PipelineProgress;
}

export interface CalibrationReport {
  readonly inputs: string;
  /** Per converted block (numbered as the model was given); a selection calibrator's report carries more fields. */
  readonly blocks: readonly { readonly index: number; readonly mseBefore: number; readonly mseAfter: number }[];
  /** Fidelity against the original on the calibration inputs, without and with the fitted coefficients. */
  readonly without: Fidelity;
  readonly with: Fidelity;
}

export interface ConvertOutcome {
  readonly model: Model;
  readonly found: AttentionBlocksReport;
  readonly converted: readonly AttentionBlock[];
  readonly skipped: readonly { readonly index: number; readonly reason: string }[];
  readonly fusion: ExactFusionResult;
  readonly calibration?: CalibrationReport;
  readonly auto?: AutoSelection;
  readonly flops: { readonly before: FlopReport['current']; readonly after: FlopReport['current'] };
  readonly inlined: boolean;
  /**
   * Softmax nodes and fused attention ops left in the result that no attention rule recognised, each
   * with the matcher's reason (from the analysis of the result the FLOP count makes).
   */
  readonly unrecognised: readonly UnmatchedAnchor[];
}
