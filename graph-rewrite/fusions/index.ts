/** Exact fusion: decomposed Hydra / linear-angular attention (Castling's training form too) → the fused `ai.vitlin` ops. */

export { EXACT_FUSION_RULES, findExactFusions, fuseExactAttention } from './fuse.js';
export { NO_GUARD_EPS, checkExactAttention, fusedEps } from './exactness.js';
export { hydraAttentionRule } from './hydra.js';
export { linearAngularAttentionRule } from './linear-angular.js';
export { matchL2Normalized } from './l2-normalize.js';
export { rewriteExactAttention } from './rewrite.js';
export type {
  EpsForm, ExactAttentionMatch, ExactCondition, ExactFusionBlock, ExactFusionKind, ExactFusionsReport,
  FuseExactAttentionOptions, FuseExactAttentionResult, FusedBlock, GatedSoftmaxBranch, L2Normalization, LinearAngularForm,
} from './types.js';
