/**
 * The runtime seam: the one interface eval, calibration, `--blocks auto` and the server run models through,
 * with vitlin's own tensor type. It is small on purpose (in the spirit of onnxruntime's js/common `Backend`):
 * create a session from model bytes, read its inputs and outputs, run it, release it. Implementations:
 * onnxruntime-node (CPU, WebGPU; src/runtime/node-backend.ts) and onnxruntime-web (WebGPU, WASM;
 * src/web/web-backend.ts). This file imports nothing from Node or from any runtime: it runs in the browser.
 */
import { InvalidArgumentError } from '../../graph-rewrite/errors.js';

/** Element types a vitlin tensor can hold (ONNX names, as onnxruntime's JS APIs spell them). */
export type TensorType =
  | 'float32' | 'float16' | 'float64'
  | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64'
  | 'bool' | 'string';

/** The typed array behind each element type (float16 as raw IEEE half bits, bool as 0/1 bytes). */
export interface TensorDataByType {
  float32: Float32Array;
  float16: Uint16Array;
  float64: Float64Array;
  int8: Int8Array;
  uint8: Uint8Array;
  int16: Int16Array;
  uint16: Uint16Array;
  int32: Int32Array;
  uint32: Uint32Array;
  int64: BigInt64Array;
  uint64: BigUint64Array;
  bool: Uint8Array;
  string: string[];
}

/** A dense, row-major tensor on the CPU. Plain data: backends convert to and from their own tensor types. */
export interface Tensor<T extends TensorType = TensorType> {
  readonly type: T;
  readonly dims: readonly number[];
  readonly data: TensorDataByType[T];
}

/** A model input or output as a session reports it. `shape` holds symbolic dims as strings. */
export interface ValueInfo {
  readonly name: string;
  /** False for sequences and maps, which vitlin does not feed. */
  readonly isTensor: boolean;
  readonly type?: TensorType;
  readonly shape: readonly (number | string | undefined)[];
}

export type Feeds = Record<string, Tensor>;

/** One loaded model on one execution provider. */
export interface BackendSession {
  /** The execution provider the session actually runs on (after any fallback). */
  readonly ep: string;
  /** Set when the backend fell back from the requested EP: why. */
  readonly fallbackReason?: string;
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  /** Runs the model; errors name the model (the session's label) and the EP. */
  run(feeds: Feeds): Promise<Record<string, Tensor>>;
  release(): Promise<void>;
}

export interface BackendSessionOptions {
  /** One of the backend's `eps`; default its first. */
  readonly ep?: string;
  /** Names the model in errors and logs. */
  readonly label?: string;
}

/** A runtime vitlin can run models on. */
export interface Backend {
  /** 'onnxruntime-node', 'onnxruntime-web'. */
  readonly name: string;
  /** Execution providers this backend accepts, the default first. */
  readonly eps: readonly string[];
  createSession(model: Uint8Array, options?: BackendSessionOptions): Promise<BackendSession>;
}

/** A float32 tensor (the common case), checked: data length must match dims. */
export function float32Tensor(data: Float32Array, dims: readonly number[]): Tensor<'float32'> {
  const expected = dims.reduce((a, b) => a * b, 1);
  if (data.length !== expected) throw new InvalidArgumentError(`tensor data has ${data.length} elements but dims [${dims.join(', ')}] need ${expected}`);
  return { type: 'float32', dims: [...dims], data };
}
