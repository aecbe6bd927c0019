/** The conversion planner: one site analysis, a plan, its execution, with runtime services injected. */
export { analyseSites, type AttentionSite, type SiteAnalysis } from './sites.js';
export { planConversion, type ConversionPlan } from './plan.js';
export { executePlan, runConversion } from './pipeline.js';
export { parseBlockSelection, type BlockSelection } from './selection.js';
export { fuseExactly, type ExactFusionResult } from './exact-fusion.js';
export { greedySelect, withinBudget, type AutoSelection, type Budget, type SelectionScore, type TradeOffRow } from './auto-select.js';
export {
  SILENT_PROGRESS, type BlockFitSummary, type CalibrationBlock, type Fidelity, type FidelityEvaluator, type PipelineProgress,
  type SelectionBlockReport, type SelectionCalibrationJob, type SelectionCalibrationResult, type SelectionCalibrator,
} from './evaluator.js';
export type { CalibrationReport, ConvertOutcome, LinearAngularMode, LinearAttention, PipelineRequest, PipelineServices } from './types.js';
export {
  attentionCores, attentionFlops, concreteShapes, countFlops, modelAttentionCores, nodeFlops, projectFlops,
  type AttentionCore, type AttentionDims, type ConcreteShapes, type FlopReport, type FlopSplit,
} from './flops.js';
