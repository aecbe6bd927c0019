/**
 * Models in the browser: bytes (a File, a fetch) → IR, and IR → bytes / a Blob to download. The same
 * codec as Node's loadModel / modelToBytes, minus the filesystem: a browser has no folder to read
 * external-data side files from, so a model that needs one is refused with a message that says so.
 */
import { ExternalDataError, GraphValidationError, InvalidArgumentError, VitlinError } from '../../graph-rewrite/errors.js';
import { modelFromProto } from '../../graph-rewrite/ir/from-proto.js';
import type { Model } from '../../graph-rewrite/ir/model.js';
import { modelToProto } from '../../graph-rewrite/ir/to-proto.js';
import { decodeModelProto } from '../../graph-rewrite/serde/decode.js';
import { concatChunks, encodeModelProto } from '../../graph-rewrite/serde/encode.js';
import { collectTensors, isExternalTensor, parseExternalDataInfo } from '../../graph-rewrite/serde/external-data.js';

/** Default cap on a model opened in the page: 1 GiB (decoding + two sessions need a few times that). */
export const DEFAULT_MAX_MODEL_BYTES = 1024 ** 3;

/** The model does not fit: over the size cap, or an allocation failed while decoding or loading it. */
export class ModelTooLargeError extends VitlinError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_ARGUMENT', message, options);
  }
}

/** True for the errors a JS engine or onnxruntime-web raise when memory runs out. */
export function isAllocationFailure(error: unknown): boolean {
  if (error instanceof ModelTooLargeError) return true;
  const message = error instanceof Error ? error.message : String(error);
  // V8: "Array buffer allocation failed"; wasm: "Aborted(OOM)", "Out of memory", std::bad_alloc;
  // WebGPU: "Failed to allocate" / buffer size over the device's maxBufferSize.
  return (error instanceof RangeError && /alloc|memory|invalid array length/i.test(message))
    || /out of memory|\boom\b|bad_alloc|failed to allocate|allocation failed|exceeds the max buffer size/i.test(message);
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

export interface ReadModelOptions {
  /** Names the model in errors (e.g. the file name); default '<bytes>'. */
  readonly source?: string;
  /** Refuse larger models up front; default {@link DEFAULT_MAX_MODEL_BYTES}. */
  readonly maxBytes?: number;
}

/**
 * Decodes an ONNX model from bytes into the IR. Tensor bytes are views into `bytes` (no copy).
 * @throws {@link ModelTooLargeError} over `maxBytes` or on an allocation failure; OnnxDecodeError for
 * bytes that are not an ONNX model; ExternalDataError for a model with side files; GraphValidationError.
 */
export function readModelBytes(bytes: Uint8Array, options: ReadModelOptions = {}): Model {
  if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError(`'bytes' must be a Uint8Array`);
  const source = options.source ?? '<bytes>';
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_MODEL_BYTES;
  if (bytes.length > maxBytes) {
    throw new ModelTooLargeError(
      `${source}: the model is ${formatBytes(bytes.length)}, over this page's limit of ${formatBytes(maxBytes)} for this device`);
  }
  try {
    const proto = decodeModelProto(bytes, { source, onWarning: (message) => console.warn(message) });
    const external = collectTensors(proto).filter(({ tensor }) => isExternalTensor(tensor));
    if (external.length > 0) {
      const { tensor, path } = external[0]!;
      const { location } = parseExternalDataInfo(tensor, path);
      throw new ExternalDataError(
        `${source}: tensor '${tensor.name ?? path}' stores its data in the side file ${JSON.stringify(location)}; ` +
        'a page has no folder to read it from: save the model as a single file first');
    }
    try {
      return modelFromProto(proto);
    } catch (error) {
      if (error instanceof GraphValidationError) throw new GraphValidationError(`${source}: ${error.message}`);
      throw error;
    }
  } catch (error) {
    if (!(error instanceof VitlinError) && isAllocationFailure(error)) {
      throw new ModelTooLargeError(`${source}: ran out of memory while reading the model (${(error as Error).message})`, { cause: error });
    }
    throw error;
  }
}

/** The model encoded as chunks: large tensors are views, not copies (see encodeModelProto). */
export function modelToChunks(model: Model): Uint8Array[] {
  return encodeModelProto(modelToProto(model));
}

/** The model as one `.onnx` buffer (for onnxruntime-web, which takes bytes). */
export function modelToBytes(model: Model): Uint8Array {
  return concatChunks(modelToChunks(model));
}

/** The model as a Blob, built from the encoder's chunks without concatenating them first. */
export function modelToBlob(model: Model): Blob {
  // Blob copies its parts; the cast is for TS's ArrayBufferLike vs ArrayBuffer distinction only.
  return new Blob(modelToChunks(model) as BlobPart[], { type: 'application/octet-stream' });
}
