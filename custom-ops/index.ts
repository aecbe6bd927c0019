/**
 * vitlin's custom ops (`ai.vitlin` domain, version 1): schemas, model-local ONNX function bodies, and
 * float32 reference kernels. Browser-safe: no Node built-ins. See custom-ops/README.md.
 */
export {
  VITLIN_DOMAIN,
  VITLIN_OPSET_VERSION,
  MIN_SUPPORTED_MODEL_OPSET,
  MAX_SUPPORTED_MODEL_OPSET,
  MIN_IR_VERSION_WITH_FUNCTIONS,
  MIN_IR_VERSION_WITH_OVERLOAD,
  assertSupportedModelOpset,
  defaultDomainOpset,
  requiredIrVersion,
  withVitlinOpsetImport,
} from './domain.js';
export {
  DEFAULT_ANGULAR_WEIGHT,
  DEFAULT_EPS,
  DEFAULT_VALUE_WEIGHT,
  HYDRA_ATTENTION_SCHEMA,
  LINEAR_ANGULAR_ATTENTION_SCHEMA,
  LINEAR_ANGULAR_MODES,
  VITLIN_OP_SCHEMAS,
  VITLIN_OP_TYPES,
  assertVitlinOpType,
  inferOutputShape,
  resolveOpAttributes,
  type Dim,
  type HydraAttentionAttributes,
  type LinearAngularAttentionAttributes,
  type LinearAngularMode,
  type OpAttributeSchema,
  type OpSchema,
  type OpTensorSchema,
  type PartialOpAttributes,
  type Shape,
  type VitlinElemType,
  type VitlinOpAttributes,
  type VitlinOpType,
} from './schemas.js';
export {
  functionBodyNodeName,
  opFunction,
  opFunctionKey,
  vitlinNodeAttributes,
  vitlinNodeInputNames,
  wiredOptionalInputs,
  type FunctionSpec,
  type OpFunctionOptions,
  type VitlinNodeOptions,
  type VitlinOptionalInputs,
} from './functions/op-function.js';
export {
  cast, clampedNorm, reduce, reshape, tapeAttr, transpose, unsqueeze,
  type NodeTape, type ReductionOp, type TapeAttr, type TapeNodeOptions,
} from './functions/node-tape.js';
export { hydraAttentionReference, type HydraAttentionReferenceOptions } from './reference/hydra-attention.js';
export {
  linearAngularAttentionReference,
  type LinearAngularAttentionReferenceOptions,
} from './reference/linear-angular-attention.js';
export type { Float32TensorView } from './reference/tensor.js';
export {
  getKernel, hasKernel, hydraKernel, kernelForOp, kernelNames, kernels, linearAngularKernel, registerKernel, unregisterKernel,
  type AttentionKernel, type KernelCall, type KernelDims, type KernelOptions, type KernelSite,
} from './kernels/registry.js';
