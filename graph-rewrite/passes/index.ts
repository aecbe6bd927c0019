/** Graph passes over the IR: sorting, cleanup, naming and validation. */

export { allInputsOf, isDefinedWithin, outerScopeInputs, stableTopologicalOrder, type TopologicalOrder } from './dependencies.js';
export { removeDeadNodes } from './remove-dead-nodes.js';
export { cancelLayoutOps } from './cancel-layout-ops.js';
export { removeUnusedInitializers } from './remove-unused-initializers.js';
export { topologicalSort } from './topological-sort.js';
export { uniqueNames } from './unique-names.js';
export { inlineFunctions } from './inline-functions.js';
export { findGraphProblems, validateGraph, validateModel, type ValidateOptions } from './validate-graph.js';
export {
  CLEANUP_PASSES, cancelLayoutOpsPass, inlineFunctionsPass, removeDeadNodesPass, removeUnusedInitializersPass, sequential, type Pass, type PassResult,
} from './pass.js';
