/**
 * The runtime seam: the one interface eval, calibration, `--blocks auto` and the server run models through,
 * with vitlin's own tensor type. It is small on purpose (in the spirit of onnxruntime's js/common `Backend`):
 * create a session from model bytes, read its inputs and outputs, run it, release it. Implementations:
 * onnxruntime-node (CPU, WebGPU; src/runtime/node-backend.ts) and onnxruntime-web (WebGPU, WASM;
 * src/web/web-backend.ts). This file imports nothing from Node or from any runtime: it runs in the browser.
 */
import { InvalidArgumentError, VitlinError } from '../../graph-rewrite/errors.js';

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

/** A failure inside a runtime (load or run), with the model named: every backend throws it. */
export class RuntimeError extends VitlinError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('RUNTIME', message, options);
  }
}

/** A model input or output as a session reports it. `shape` holds symbolic dims as strings (as onnxruntime's metadata does). */
export interface ValueInfo {
  readonly name: string;
  /** False for sequences and maps, which vitlin does not feed. */
  readonly isTensor: boolean;
  readonly type?: TensorType;
  readonly shape: readonly (number | string)[];
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
  /**
   * Loads a model: its bytes, or a path (Node) / URL (browser) the runtime reads itself, resolving
   * external data next to it. Load failures are {@link RuntimeError}s naming the model.
   */
  createSession(model: Uint8Array | string, options?: BackendSessionOptions): Promise<BackendSession>;
}

/** Every {@link TensorType}: what a backend can hand over (a runtime's other types, e.g. int4, it cannot). */
export const TENSOR_TYPES: ReadonlySet<string> = new Set<TensorType>([
  'float32', 'float16', 'float64', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'bool', 'string',
]);

export const isTensorType = (type: unknown): type is TensorType => typeof type === 'string' && TENSOR_TYPES.has(type);

function isTensor(value: unknown): value is Tensor {
  if (typeof value !== 'object' || value === null) return false;
  const { type, dims, data } = value as Partial<Tensor>;
  return isTensorType(type) && Array.isArray(dims) && (ArrayBuffer.isView(data) || Array.isArray(data));
}

/** What a feed must be: a backend whose sessions also take their runtime's own tensors narrows it. */
export interface TensorExpectation {
  readonly test: (value: unknown) => boolean;
  /** Said in the error: "a tensor ({ type, dims, data })", "an ort.Tensor". */
  readonly what: string;
}
const VITLIN_TENSOR: TensorExpectation = { test: isTensor, what: 'a tensor ({ type, dims, data })' };

/**
 * Checks `feeds` against a session's inputs before a backend converts them: every input present and no
 * other, each a {@link Tensor} of the declared type and rank, fixed dims matching, data as long as the
 * dims say. Errors name the bad argument (`'feeds.pixel_values' must be float32, got int64`). Every
 * backend calls it, so a wrong feed reads the same on each.
 */
export function checkFeeds(inputs: readonly ValueInfo[], feeds: unknown, expected: TensorExpectation = VITLIN_TENSOR): Feeds {
  if (typeof feeds !== 'object' || feeds === null || Array.isArray(feeds)) {
    throw new InvalidArgumentError(`'feeds' must be an object mapping input names to tensors`);
  }
  const record = feeds as Record<string, unknown>;
  for (const name of Object.keys(record)) {
    if (!inputs.some((input) => input.name === name)) {
      throw new InvalidArgumentError(`'feeds' has '${name}', which is not a model input (inputs: ${inputs.map((i) => i.name).join(', ')})`);
    }
  }
  for (const input of inputs) {
    const tensor = record[input.name];
    if (!expected.test(tensor) || !isTensor(tensor)) throw new InvalidArgumentError(`'feeds.${input.name}' must be ${expected.what}`);
    if (!input.isTensor) continue;
    if (tensor.type !== input.type) throw new InvalidArgumentError(`'feeds.${input.name}' must be ${input.type}, got ${tensor.type}`);
    if (input.shape.length > 0 && tensor.dims.length !== input.shape.length) {
      throw new InvalidArgumentError(`'feeds.${input.name}' must have rank ${input.shape.length} [${input.shape.join(', ')}], got [${tensor.dims.join(', ')}]`);
    }
    input.shape.forEach((dim, axis) => {
      if (typeof dim === 'number' && dim >= 0 && tensor.dims[axis] !== dim) {
        throw new InvalidArgumentError(`'feeds.${input.name}' dim ${axis} must be ${dim}, got ${tensor.dims[axis]} (shape [${tensor.dims.join(', ')}])`);
      }
    });
    const size = tensor.dims.reduce((a, b) => a * b, 1);
    if (tensor.data.length !== size) {
      throw new InvalidArgumentError(`'feeds.${input.name}' has ${tensor.data.length} elements but dims [${tensor.dims.join(', ')}] need ${size}`);
    }
  }
  return record as Feeds;
}

/** A tensor of any type, checked: data length must match dims (a copy of `dims` is kept; `data` is not copied). */
export function createTensor<T extends TensorType>(type: T, data: TensorDataByType[T], dims: readonly number[]): Tensor<T> {
  const expected = dims.reduce((a, b) => a * b, 1);
  if (data.length !== expected) throw new InvalidArgumentError(`tensor data has ${data.length} elements but dims [${dims.join(', ')}] need ${expected}`);
  return { type, dims: [...dims], data };
}

/** A float32 tensor (the common case), checked: data length must match dims. */
export function float32Tensor(data: Float32Array, dims: readonly number[]): Tensor<'float32'> {
  return createTensor('float32', data, dims);
}

/** What onnxruntime's JS tensors (node and web alike: onnxruntime-common's Tensor) have in common. */
export interface RuntimeTensorLike {
  readonly type: string;
  readonly dims: readonly number[];
  readonly data: unknown;
}

/**
 * A runtime's CPU tensor as a vitlin tensor over the same memory, or undefined for a type vitlin does not
 * read. float16 stays raw bits, also where a runtime hands back a Float16Array.
 */
export function tensorFromRuntime(tensor: RuntimeTensorLike): Tensor | undefined {
  const { type, dims, data } = tensor;
  if (!isTensorType(type)) return undefined;
  if (type === 'float16' && !(data instanceof Uint16Array)) {
    const view = data as ArrayBufferView & { length: number };
    return { type, dims: [...dims], data: new Uint16Array(view.buffer, view.byteOffset, view.length) };
  }
  return { type, dims: [...dims], data: data as Tensor['data'] };
}

/** `record` with `convert` applied to each named tensor (feeds into a runtime, outputs out of it). */
export function mapTensors<From, To>(record: Readonly<Record<string, From>>, convert: (tensor: From, name: string) => To): Record<string, To> {
  const result: Record<string, To> = {};
  for (const [name, tensor] of Object.entries(record)) result[name] = convert(tensor, name);
  return result;
}
