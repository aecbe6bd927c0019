/** The ONNX protobuf schema lives in base/onnx-schema.ts (shared by graph-rewrite and custom-ops); re-exported here. */
export * from '../../base/onnx-schema.js';
