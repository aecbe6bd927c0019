export * from './session.js';
export * from './placement.js';
export * from './random-feeds.js';
export * from './compare.js';
export * from './float16.js';
export * from './webgpu-env.js';
export * from './profile-events.js';
// The runtime seam: vitlin's tensor under names that do not clash with the IR's Tensor and session.ts's Feeds.
export {
  checkFeeds as checkTensorFeeds, createTensor, float32Tensor, RuntimeError, type Backend, type BackendSession, type BackendSessionOptions,
  type Feeds as TensorFeeds, type Tensor as RuntimeTensor, type TensorDataByType, type TensorExpectation, type TensorType as RuntimeTensorType, type ValueInfo,
} from './backend.js';
export * from './node-backend.js';
export * from './random.js';
