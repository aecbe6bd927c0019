export * from './session.js';
export * from './placement.js';
export * from './random-feeds.js';
export * from './compare.js';
export * from './float16.js';
export * from './webgpu-env.js';
export * from './profile-events.js';
