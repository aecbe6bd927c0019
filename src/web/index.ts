/**
 * vitlin for the browser: the ESM entry a bundler (or the web app) imports. It re-exports the
 * browser-safe core — typed errors, the graph IR and its passes, the ONNX codec, the attention rewriter
 * (findAttentionBlocks / convertAttention), the custom ops, the fidelity numbers and the sample reader — and adds what Node's entry does with the filesystem and
 * onnxruntime-node, done with bytes, Blobs and onnxruntime-web instead. No Node built-ins anywhere
 * below this file (test/web/bundle.test.ts builds it and checks).
 */
export * from '../../graph-rewrite/errors.js';
export * from '../../graph-rewrite/ir/index.js';
export * from '../../graph-rewrite/passes/index.js';
export { concatChunks, decodeModelProto, encodeModelProto, encodeModelProtoToBytes } from '../../graph-rewrite/serde/index.js';
export {
  VITLIN_DOMAIN,
  VITLIN_OPSET_VERSION,
  VITLIN_OP_SCHEMAS,
  VITLIN_OP_TYPES,
  hydraAttentionReference,
  linearAngularAttentionReference,
  getKernel, kernelForOp, kernelNames, kernels, registerKernel, unregisterKernel,
  type AttentionKernel, type KernelSite,
  type VitlinOpType,
} from '../../custom-ops/index.js';
export { getOpFunction, makeVitlinNode } from '../../graph-rewrite/rewrite/vitlin-protos.js';
export * from '../../graph-rewrite/attention/index.js';
export * from '../../graph-rewrite/plan/index.js';
export { formatConversion } from '../cli/conversion-report.js';
export { argmaxRows, compareOutputs, type OutputComparison } from '../runtime/compare.js';
export { float16BitsToFloat32, float32ToFloat16Bits } from '../runtime/float16.js';
export { parseSampleFile, SAMPLE_FORMAT, type LabelledSample, type SampleHeader } from '../data/sample-file.js';

export * from './model.js';
export * from './image.js';
export * from './predictions.js';
export * from './placement-log.js';
export * from './runtime.js';
