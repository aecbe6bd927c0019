/** The rewrite engine: rules (pattern + check + rewrite), match contexts, the tracer, committing edits. */

export { commitRewrite, matchRules, namePrefixOf, removeDeadNodesFrom, type MatchRulesResult, type RuleMatch } from './engine.js';
export {
  METADATA_OPS, MatchContext, MatchFailure, VALUE_NEUTRAL_OPS, describeNode, isMetadataReader, type Alternative,
} from './match-context.js';
export { buildFunction } from './function-builder.js';
export { FUNCTION_KEY_METADATA, ensureModelFunction, ensureOpsetImport } from './model-functions.js';
export { getOpFunction, makeVitlinNode } from './vitlin-protos.js';
export { RewriteContext, type NewNodeOptions } from './rewrite-context.js';
export { isAnchorOf, type RewriteRule } from './rule.js';
export { MatchTracer, type MatchAttempt } from './tracer.js';
export { validateRewrittenModel } from './validate.js';
