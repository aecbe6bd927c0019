/**
 * Post-training calibration of converted attention blocks. The pipeline's entry point is
 * {@link calibrateConversion} (pipeline.ts): a sequential, drift-correcting ridge refit of each converted
 * block's output projection (refit.ts), optionally on an enlarged basis (basis.ts), with block selection
 * on held-out inputs. coefficient-fit.ts keeps the earlier fit of the fused ops' own coefficients.
 */
export { applyCoefficients, type BlockCoefficients } from './apply.js';
export { buildProbe, captureBlocks, fusedNodes, type BlockInfo } from './capture.js';
export { fitHydraScale, fitLinearAngularWeights, softmaxAttention, type BlockCapture } from './fit.js';
export { applyFits, fitBlocks, type BlockFit, type CalibrateOptions } from './coefficient-fit.js';
export { CALIBRATION_BASES, type CalibrationBasis } from './basis.js';
export { findOutputProjection, type OutputProjection } from './projection.js';
export { NormalEquations, DEFAULT_RIDGE } from './ridge.js';
export { SequentialRefitter, applyRefits, newFusedNodes, writeRefits, type BlockRefit, type ConvertBlocks, type ConvertedForRefit, type RefitOptions, type RefitPhase } from './refit.js';
export { calibrateConversion, type CalibratedConversion, type CalibratedConversionRequest } from './pipeline.js';
export { refitReportLines, refitReportOf, type BlockCalibrationReport, type RefitCalibrationReport } from './report.js';
export { refitCalibrator } from './calibrator.js';
export { sliceInputs, splitInputs } from './split.js';
export { writeBlockWeights, type BlockWeights } from './write-back.js';
