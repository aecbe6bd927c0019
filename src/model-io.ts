/**
 * The public entry points for getting models in and out of the IR: `loadModel` (a file or bytes),
 * `saveModel` (an atomic file write, optionally with external data) and `modelToBytes`.
 * They are thin: the work is done by the serde codec (lossless, zero-copy for tensor bytes), the IR
 * conversion (lossless by contract) and src/io/model-file.ts (external data, atomic writes).
 */
import { ExternalDataError, GraphValidationError, InvalidArgumentError } from '../graph-rewrite/errors.js';
import { modelFromProto } from '../graph-rewrite/ir/from-proto.js';
import { Model } from '../graph-rewrite/ir/model.js';
import { modelToProto } from '../graph-rewrite/ir/to-proto.js';
import { decodeModelProto } from '../graph-rewrite/serde/decode.js';
import { collectTensors, isExternalTensor, parseExternalDataInfo } from '../graph-rewrite/serde/external-data.js';
import type { ModelProto } from '../graph-rewrite/serde/onnx-schema.js';
import { readModelFile, stageModelFile, type StagedModel } from './io/model-file.js';
import { checkModel, describe } from './model-bytes.js';

export { modelToBytes } from './model-bytes.js';

/** Options of {@link loadModel}. */
export interface LoadModelOptions {
  /**
   * Read tensors stored in external-data side files (default `true`). With `false` the tensors keep
   * their references (`Tensor.storage === 'external'`): the model can be inspected and rewritten, but
   * only saved next to the side files it refers to.
   */
  loadExternalData?: boolean;
  /**
   * Told what the file has that protobuf and onnxruntime accept but a careful reader should know (strings
   * that are not UTF-8, a known field with another wire type, an IR version outside 3..12): the model
   * loads, means the same and saves byte for byte. Default: `process.emitWarning`.
   */
  onWarning?: (message: string) => void;
}

/** Options of {@link saveModel}. */
export interface SaveModelOptions {
  /**
   * Store large initializers in a side file next to the model. `true`: `<model file name>.data`, and
   * initializers of at least 1024 bytes (onnx's defaults). `{ location, sizeThreshold }` overrides
   * either. Models over protobuf's 2 GiB limit are always saved with external data.
   */
  externalData?: boolean | { location?: string; sizeThreshold?: number };
}


function checkOptionsObject(options: unknown): Record<string, unknown> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidArgumentError(`'options' must be an object, got ${describe(options)}`);
  }
  return options as Record<string, unknown>;
}

const emitWarning = (message: string): void => process.emitWarning(message, 'VitlinWarning');

function checkLoadOptions(options: unknown): { loadExternalData: boolean; onWarning: (message: string) => void } {
  const { loadExternalData, onWarning } = checkOptionsObject(options);
  if (loadExternalData !== undefined && typeof loadExternalData !== 'boolean') {
    throw new InvalidArgumentError(`'options.loadExternalData' must be a boolean, got ${describe(loadExternalData)}`);
  }
  if (onWarning !== undefined && typeof onWarning !== 'function') {
    throw new InvalidArgumentError(`'options.onWarning' must be a function, got ${describe(onWarning)}`);
  }
  return { loadExternalData: loadExternalData ?? true, onWarning: (onWarning as ((m: string) => void) | undefined) ?? emitWarning };
}

function checkSaveOptions(options: unknown): SaveModelOptions {
  const { externalData } = checkOptionsObject(options);
  if (externalData === undefined || typeof externalData === 'boolean') return { externalData };
  if (typeof externalData !== 'object' || externalData === null || Array.isArray(externalData)) {
    throw new InvalidArgumentError(`'options.externalData' must be a boolean or { location?, sizeThreshold? }, got ${describe(externalData)}`);
  }
  const { location, sizeThreshold } = externalData as Record<string, unknown>;
  if (location !== undefined && (typeof location !== 'string' || location.length === 0)) {
    throw new InvalidArgumentError(`'options.externalData.location' must be a non-empty file name, got ${describe(location)}`);
  }
  if (sizeThreshold !== undefined && !(typeof sizeThreshold === 'number' && Number.isFinite(sizeThreshold) && sizeThreshold >= 0)) {
    throw new InvalidArgumentError(`'options.externalData.sizeThreshold' must be a non-negative number of bytes, got ${describe(sizeThreshold)}`);
  }
  return { externalData: { location: location as string | undefined, sizeThreshold: sizeThreshold as number | undefined } };
}


/** Graph errors found while building the IR get the file name in front, like the decoder's. */
function toModel(proto: ModelProto, source: string): Model {
  try {
    return modelFromProto(proto);
  } catch (error) {
    if (error instanceof GraphValidationError) throw new GraphValidationError(`${source}: ${error.message}`);
    throw error;
  }
}

/** Bytes have no folder to resolve side files against: say so, naming the tensor and the side file. */
function refuseExternalReferences(proto: ModelProto, source: string): void {
  const external = collectTensors(proto).filter(({ tensor }) => isExternalTensor(tensor));
  if (external.length === 0) return;
  const { tensor, path } = external[0]!;
  const { location } = parseExternalDataInfo(tensor, path);
  const others = external.length > 1 ? ` (and ${external.length - 1} more tensor${external.length > 2 ? 's' : ''})` : '';
  throw new ExternalDataError(
    `${source}: tensor '${tensor.name ?? path}'${others} stores its data in the external file ${JSON.stringify(location)}, ` +
    'but the model was given as bytes, so there is no folder to read it from; pass the model\'s file path to loadModel, ' +
    'or { loadExternalData: false } to keep the references');
}

/**
 * Reads an ONNX model into the IR, losslessly: saving it unchanged gives back the same ModelProto.
 *
 * `source` is a file path, or the bytes of a `.onnx` file. From a path, tensors stored in external-data
 * side files are read from the model's folder (never outside it). Bytes have no folder, so a model
 * with external references is refused unless `loadExternalData: false`. Tensor bytes are views into
 * the file's buffer (or into `source`), not copies: do not modify `source` afterwards.
 *
 * @throws {@link InvalidArgumentError} for a bad argument; {@link VitlinIoError} when the file cannot be
 * read (missing, a directory, no permission); {@link OnnxDecodeError} for bytes that are not an ONNX model
 * (the message names the file and byte offset); {@link UnsupportedIrVersionError};
 * {@link ExternalDataError} for a missing or escaping side file; {@link GraphValidationError}.
 *
 * @example
 * ```ts
 * const model = await loadModel('vit.onnx');
 * console.log(model.graph.nodes.length, model.opsetImports.get(''));
 * ```
 */
export async function loadModel(source: string | Uint8Array, options?: LoadModelOptions): Promise<Model> {
  const { loadExternalData, onWarning } = checkLoadOptions(options);
  if (typeof source === 'string') {
    if (source.length === 0) throw new InvalidArgumentError(`'source' must be a file path or a Uint8Array, got an empty string`);
    const proto = await readModelFile(source, { loadExternalData, onWarning });
    return toModel(proto, source);
  }
  if (source instanceof Uint8Array) {
    const name = '<bytes>';
    const proto = decodeModelProto(source, { source: name, onWarning });
    if (loadExternalData) refuseExternalReferences(proto, name);
    return toModel(proto, name);
  }
  throw new InvalidArgumentError(`'source' must be a file path or a Uint8Array, got ${describe(source)}`);
}

/**
 * Writes a model to `path` atomically: the bytes go to a temporary file in the same folder, which is
 * synced and then renamed over `path`, so a crash or an error never leaves a half-written model (nor a
 * model without its side file). The model is not modified.
 *
 * With `externalData`, initializers of at least `sizeThreshold` bytes (default 1024) go to one side file
 * (`location`, default `<file name>.data`, relative to the model's folder), 4096-byte aligned as onnx does.
 *
 * @throws {@link InvalidArgumentError} for a bad argument; {@link VitlinIoError} when the file cannot be
 * written (the message names the path); {@link OnnxEncodeError}; {@link ExternalDataError} for a bad
 * `location` or one that unresolved external tensors of the model still refer to.
 *
 * @example
 * ```ts
 * const model = await loadModel('vit.onnx');
 * await saveModel(model, 'out/vit.onnx');                                   // one file
 * await saveModel(model, 'out/vit-ext.onnx', { externalData: true });      // + out/vit-ext.onnx.data
 * ```
 */
export async function saveModel(model: Model, path: string, options?: SaveModelOptions): Promise<void> {
  await (await stageModel(model, path, options)).commit();
}

/**
 * {@link saveModel} in two steps: the files are written completely into a hidden folder next to `path`
 * (so that `staged.path` can be opened, e.g. by onnxruntime) and only `commit()` moves them into place;
 * `discard()` removes them. Same arguments and errors as saveModel.
 */
export async function stageModel(model: Model, path: string, options?: SaveModelOptions): Promise<StagedModel> {
  const checked = checkModel(model);
  if (typeof path !== 'string' || path.length === 0) {
    throw new InvalidArgumentError(`'path' must be a non-empty file path, got ${describe(path)}`);
  }
  const { externalData } = checkSaveOptions(options);
  return stageModelFile(path, modelToProto(checked), { externalData });
}
