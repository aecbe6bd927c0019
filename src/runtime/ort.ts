/**
 * onnxruntime-node, loaded on first use. Its native binding costs time and memory at import, which
 * reading, inspecting and rewriting models never need: `import 'vitlin'` and `vitlin inspect` stay light.
 * Types come from `import type ort from 'onnxruntime-node'`, values from `onnxruntime()`.
 */
import { createRequire } from 'node:module';
import type * as Ort from 'onnxruntime-node';

let loaded: typeof Ort | undefined;

/** The onnxruntime-node module (the same instance `import ort from 'onnxruntime-node'` gives). */
export function onnxruntime(): typeof Ort {
  loaded ??= createRequire(import.meta.url)('onnxruntime-node') as typeof Ort;
  return loaded;
}
