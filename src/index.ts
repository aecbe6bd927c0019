/**
 * vitlin's public API (the package's main entry point). Re-exports only: the graph IR and its passes,
 * the typed errors, the onnxruntime layer, and loading / saving models.
 */
export * from '../graph-rewrite/errors.js';
export * from '../graph-rewrite/ir/index.js';
export * from '../graph-rewrite/passes/index.js';
export * from './runtime/index.js';
export { loadModel, modelToBytes, saveModel, type LoadModelOptions, type SaveModelOptions } from './model-io.js';
