/** The inference server as a library: `startServer(options)` → `{ url, close() }`, plus its parts. */
export * from './server.js';
export * from './errors.js';
export { Batcher, type BatcherOptions, type Outputs } from './batcher.js';
export { oipDatatype, oipShape, tensorFromJson, tensorToJson, OIP_DATATYPES } from './datatypes.js';
export { discoverModels, MODEL_VERSION, PLATFORM, type ModelMetadata, type ModelSettings, type ModelSource, type ServedModel, type TensorMetadata } from './models.js';
export { ModelRepository, ModelUnavailableError, type IndexEntry, type ModelState } from './repository.js';
export {
  CONFIG_FILE, findServingConfig, ModelConfigError, parseModelConfig, readModelConfig, servingConfig, type ModelConfig, type PreprocessingConfig, type VersionPolicy,
} from './model-config.js';
export { chooseCoding, CODINGS, parseAcceptEncoding, type AcceptedEncodings, type Coding } from './compression.js';
export { INFERENCE_HEADER_CONTENT_LENGTH, tensorFromBinary, tensorToBinary } from './binary.js';
export { ModelStats } from './stats.js';
export type { LogEntry, Logger } from './http.js';
export type { Prediction } from './infer.js';
