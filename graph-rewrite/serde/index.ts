export * from './onnx-schema.js';
export {
  MAX_IR_VERSION, MAX_MESSAGE_DEPTH, MIN_IR_VERSION, WireType, decodeMessage, decodeModelProto, newMessage, wireTypeOf,
  type DecodeOptions, type OnnxMessageTypes,
} from './decode.js';
export { FIRST_RELEASED_IR_VERSION } from './decode-model.js';
export {
  MAX_MESSAGE_BYTES, ZERO_COPY_MIN_BYTES, concatChunks, encodeMessage, encodeMessageChunks, encodeModelProto,
  encodeModelProtoToBytes, serializedSize,
} from './encode.js';
export {
  DEFAULT_EXTERNAL_SIZE_THRESHOLD, EXTERNAL_DATA_ALIGNMENT, collectTensors, externalizeTensors, isExternalTensor,
  parseExternalDataInfo, resolveExternalData, validateExternalLocation,
  type ExternalDataInfo, type ExternalDataReader, type ExternalizeOptions, type ExternalizedModel, type TensorVisit,
} from './external-data.js';
