/**
 * vitlin's public API (the package's main entry point). Re-exports only: the browser-safe core (typed
 * errors, ONNX codec, IR and passes, analyses, rewrite engine, attention conversion, exact fusions), the
 * custom ops, the onnxruntime layer, loading / saving models, and the inference server. onnxruntime and the
 * server are loaded on first use (runtime/ort.ts, server/start-lazily.ts): importing vitlin stays light.
 */
export * from '../graph-rewrite/index.js';
export {
  VITLIN_DOMAIN, VITLIN_OPSET_VERSION, VITLIN_OP_SCHEMAS, hydraAttentionReference,
  linearAngularAttentionReference, getKernel, kernelForOp, kernelNames, kernels, registerKernel, unregisterKernel,
  type AttentionKernel, type KernelCall, type KernelDims, type KernelOptions, type KernelSite,
} from '../custom-ops/index.js';
export * from './runtime/index.js';
export { loadModel, modelToBytes, saveModel, type LoadModelOptions, type SaveModelOptions } from './model-io.js';
export type { ServerOptions, RunningServer } from './server/server.js';
export { startServer } from './server/start-lazily.js';
