/** Attention blocks: finding them in exported ViTs and converting them to fused linear attention. */

export { convertAttention, type ConvertAttentionResult } from './convert.js';
export { emitFusedAttention, outputArrangement, type FusedAttentionOptions, type OutputArrangement } from './emit.js';
export {
  ATTENTION_RULES, analyseAttention, elementTypeName, findAttentionBlocks,
  type AttentionAnalysis, type AttentionBlocksReport, type AttentionRule, type UnmatchedAnchor,
} from './find.js';
export { msAttentionRule, msMultiHeadAttentionRule, onnxAttentionRule } from './fused-ops.js';
export { traceOperand, type OperandTrace, type ScaleFactor } from './operand.js';
export { traceOutput } from './output.js';
export { expectedScale, makeScale, scaleFromFactors } from './scale.js';
export { checkAttention } from './check.js';
export { softmaxAttentionRule } from './softmax-attention.js';
export { distinctValues, graphInputsReaching } from './score-terms.js';
export type {
  AttentionBlock, AttentionKind, AttentionMatch, AttentionScale, AttentionStyle, ConvertAttentionOptions, OperandView, OutputTarget, ScalePlacement,
} from './types.js';
