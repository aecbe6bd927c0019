/**
 * vitlin's graph-rewriting core (`vitlin/core`), browser-safe. Re-exports only: typed errors, the ONNX
 * codec, the IR and its passes, graph analyses, the rewrite engine, attention conversion, and the
 * conversion planner (analyseSites / planConversion / executePlan / runConversion).
 */
export * from './errors.js';
export * from './serde/index.js';
export * from './ir/index.js';
export * from './passes/index.js';
export * from './analysis/index.js';
export * from './rewrite/index.js';
export * from './attention/index.js';
// Both the IR (a tensor's reference) and the codec (a parsed entry) define ExternalDataInfo: the IR's is the public one.
export type { ExternalDataInfo } from './ir/index.js';
export type { ExternalDataInfo as ExternalDataEntry } from './serde/index.js';
export * from './fusions/index.js';
export {
  SILENT_PROGRESS, analyseSites, executePlan, planConversion, runConversion,
  type AttentionSite, type BlockFitSummary, type CalibrationBlock, type CalibrationReport,
  type ConversionPlan, type ConvertOutcome, type FidelityEvaluator, type PipelineProgress, type PipelineRequest, type PipelineServices, type SiteAnalysis,
} from './plan/index.js';
