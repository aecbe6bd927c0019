/**
 * The runtime seam (backend.ts) on onnxruntime-node, CPU and WebGPU EPs. Sessions are session.ts's
 * (`createSession`: the EP check, WebGPU's driver set-up, RuntimeError naming the model, the
 * `vitlin:runtime:session` diagnostics events, profiling); this file adds what the interface asks for:
 * vitlin tensors in and out. The conversion between vitlin's Tensor and ort.Tensor lives here and only
 * here, and copies nothing: an ort.Tensor is built on the feed's typed array, and an output's typed
 * array becomes the vitlin tensor's data.
 */
import type ort from 'onnxruntime-node';
import { onnxruntime } from './ort.js';
import {
  checkFeeds, mapTensors, RuntimeError, tensorFromRuntime, type Backend, type BackendSession, type BackendSessionOptions, type Feeds, type Tensor,
} from './backend.js';
import { createSession, EXECUTION_PROVIDERS, valueInfoOf, type ExecutionProvider, type RuntimeSession, type SessionOptions } from './session.js';

export type { ExecutionProvider };

/** onnxruntime-node's own settings, beside the interface's `ep` and `label`. */
export interface NodeBackendSessionOptions extends BackendSessionOptions, Omit<SessionOptions, 'ep'> {
  readonly ep?: ExecutionProvider;
}

export interface NodeBackendSession extends BackendSession {
  readonly ep: ExecutionProvider;
  /** Ends profiling (when `profileFilePrefix` was given) and returns the profile file's path. */
  endProfiling(): string | undefined;
}

/** A vitlin tensor as an ort.Tensor over the same memory. */
export function toOrtTensor(tensor: Tensor): ort.Tensor {
  const Ort = onnxruntime().Tensor;
  return new Ort(tensor.type, tensor.data as ort.Tensor['data'], [...tensor.dims]);
}

/** Vitlin feeds as ort.Tensor feeds (for onnxruntime-level tools such as measureNodePlacement). */
export function toOrtFeeds(feeds: Feeds): Record<string, ort.Tensor> {
  return mapTensors(feeds, (tensor) => toOrtTensor(tensor));
}

/**
 * An ort.Tensor (on the CPU) as a vitlin tensor over the same memory. float16 stays raw bits, also where
 * a runtime with Float16Array hands one back.
 */
export function fromOrtTensor(tensor: ort.Tensor): Tensor {
  const converted = tensorFromRuntime(tensor);
  if (!converted) throw new RuntimeError(`onnxruntime returned a ${tensor.type} tensor, which vitlin does not read`);
  return converted;
}

/** Wraps an onnxruntime-node session (session.ts) in the backend interface. */
export function backendSessionOf(session: RuntimeSession): NodeBackendSession {
  const inputs = session.inputs.map(valueInfoOf);
  return {
    ep: session.ep,
    inputs,
    outputs: session.outputs.map(valueInfoOf),
    async run(feeds: Feeds) {
      const outputs = await session.run(toOrtFeeds(checkFeeds(inputs, feeds)));
      return mapTensors(outputs, (tensor) => fromOrtTensor(tensor));
    },
    endProfiling: () => session.endProfiling(),
    release: () => session.release(),
  };
}

/**
 * onnxruntime-node as a vitlin {@link Backend}. `createSession` also takes a file path (onnxruntime
 * then resolves external data next to it) and onnxruntime-node's own options.
 */
export interface NodeBackend extends Backend {
  readonly eps: readonly ExecutionProvider[];
  createSession(model: Uint8Array | string, options?: NodeBackendSessionOptions): Promise<NodeBackendSession>;
}

/** onnxruntime-node with `defaults` under every session's options (e.g. the server's intra-op threads). */
export function nodeBackendWith(defaults: Omit<NodeBackendSessionOptions, 'ep' | 'label'>): NodeBackend {
  return {
    name: 'onnxruntime-node',
    eps: EXECUTION_PROVIDERS,
    async createSession(model, options = {}) {
      const { label, ...sessionOptions } = { ...defaults, ...options };
      return backendSessionOf(await createSession(model, sessionOptions, label));
    },
  };
}

export const nodeBackend: NodeBackend = nodeBackendWith({});
