/**
 * onnxruntime-web's WASM build as a backend for the CLI (`convert --calibration-ep wasm`): the runtime
 * the web app calibrates on, run in Node, so that the CLI can reproduce a calibration done in the page
 * bit for bit. (onnxruntime-node's CPU kernels sum floats in another order: the same fit on them
 * differs in the last bits.) Loaded only when asked for.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type { Backend } from '../runtime/backend.js';

/** The web backend with onnxruntime-web configured from node_modules (one thread, as a page without isolation). */
export async function wasmBackend(): Promise<Backend> {
  const { configureWebRuntime } = await import('../web/runtime.js');
  const { webBackend } = await import('../web/web-backend.js');
  const wasm = createRequire(import.meta.url).resolve('onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm');
  configureWebRuntime({ wasmPaths: `${dirname(wasm)}/`, numThreads: 1, logLevel: 'error' });
  return webBackend;
}
