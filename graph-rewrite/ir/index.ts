/** The in-memory graph IR of vitlin and its lossless conversion from/to decoded ONNX messages. */

export { Attr, decodeUtf8, subgraphsOfAttr, type AttrKind } from './attributes.js';
export {
  DataType,
  bfloat16BitsToNumber,
  dataTypeInfo,
  dataTypeName,
  float16BitsToNumber,
  floatBitsToNumber,
  isIntegerType,
  type DataTypeCode,
  type DataTypeInfo,
} from './dtypes.js';
export { Function, type FunctionInit } from './function.js';
export { Graph, type GraphInit } from './graph.js';
export { Model, type ModelInit } from './model.js';
export { NameAllocator } from './name-allocator.js';
export { Node, type NodeInit } from './node.js';
export { SparseTensor, Tensor, type ExternalDataInfo, type TensorOptions, type TensorStorage } from './tensor.js';
export {
  formatType,
  sparseTensorType,
  tensorType,
  type Dim,
  type OtherType,
  type SparseTensorType,
  type TensorType,
  type ValueType,
} from './types.js';
export { Value, type InferredType, type ReplaceAllUsesOptions, type Use, type ValueOptions } from './value.js';
export { graphFromProto, modelFromProto } from './from-proto.js';
export { attributeToProto, functionToProto, graphToProto, modelToProto, nodeToProto } from './to-proto.js';
