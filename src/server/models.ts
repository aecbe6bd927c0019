/**
 * The models a server serves: found on disk (ONNX files, folders of them, Hugging Face style folders),
 * each loaded once into an onnxruntime session with its own batcher, and described as the Open Inference
 * Protocol's model metadata.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { InvalidArgumentError, VitlinError, VitlinIoError } from '../../graph-rewrite/errors.js';
import { decodeModelProto } from '../../graph-rewrite/serde/decode.js';
import { HfFolderError, imagePreprocessingFor, isHfModelFolder, readHfFolder, type HfModelFolder } from '../data/hf-folder.js';
import type { ImagePreprocessing } from '../data/images.js';
import { createSession, RuntimeError, type ExecutionProvider, type RuntimeSession } from '../runtime/session.js';
import { Batcher, type BatcherOptions } from './batcher.js';
import { oipDatatype, oipShape } from './datatypes.js';

/** A model found on disk, not yet loaded. */
export interface ModelSource {
  /** The file name without `.onnx`, or the HF folder's name. */
  readonly name: string;
  readonly path: string;
  readonly hf?: HfModelFolder;
}

/** Every model is served as version "1": the protocol's versions are optional, but clients may ask for one. */
export const MODEL_VERSION = '1';
/** Triton's platform name for ONNX models run by onnxruntime (the spec's list predates it and says `onnx_onnxv1`). */
export const PLATFORM = 'onnxruntime_onnx';

function sourcesIn(path: string): ModelSource[] {
  const full = resolve(path);
  if (!existsSync(full)) throw new VitlinIoError(`${full}: no such file or folder`);
  if (statSync(full).isFile()) {
    if (extname(full) !== '.onnx') throw new InvalidArgumentError(`${full}: a model file must end in .onnx`);
    return [{ name: basename(full, '.onnx'), path: full }];
  }
  if (isHfModelFolder(full)) {
    const hf = readHfFolder(full);
    return [{ name: hf.name, path: hf.modelPath, hf }];
  }
  // A folder of models: its .onnx files and its HF-style sub-folders, in name order.
  const found: ModelSource[] = [];
  for (const entry of readdirSync(full, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const child = join(full, entry.name);
    if (entry.isFile() && extname(entry.name) === '.onnx') found.push({ name: basename(entry.name, '.onnx'), path: child });
    else if (entry.isDirectory() && isHfModelFolder(child)) {
      const hf = readHfFolder(child);
      found.push({ name: hf.name, path: hf.modelPath, hf });
    }
  }
  if (found.length === 0) throw new InvalidArgumentError(`${full}: no models found (no .onnx files, no folders with onnx/model.onnx or model.onnx)`);
  return found;
}

/** Finds the models named by `paths`; two models with one name are an error. */
export function discoverModels(paths: readonly string[]): ModelSource[] {
  if (paths.length === 0) throw new InvalidArgumentError(`'models' must name at least one model file or folder`);
  const sources = paths.flatMap(sourcesIn);
  const seen = new Map<string, string>();
  for (const source of sources) {
    const other = seen.get(source.name);
    if (other) throw new InvalidArgumentError(`two models are named '${source.name}': ${other} and ${source.path}`);
    seen.set(source.name, source.path);
  }
  return sources;
}

export interface TensorMetadata {
  readonly name: string;
  readonly datatype: string;
  readonly shape: number[];
}

/** The protocol's model metadata response object. */
export interface ModelMetadata {
  readonly name: string;
  readonly versions: string[];
  readonly platform: string;
  readonly inputs: TensorMetadata[];
  readonly outputs: TensorMetadata[];
}

export interface ServedModel {
  readonly name: string;
  readonly path: string;
  readonly hf?: HfModelFolder;
  readonly session: RuntimeSession;
  readonly batcher: Batcher;
  /** Whether requests can share onnxruntime runs (every input and output has a dynamic batch axis). */
  readonly batchable: boolean;
  readonly metadata: ModelMetadata;
  /** How images become this model's input, or why they cannot; computed on first use. */
  imageRecipe(): ImagePreprocessing;
}

export interface LoadOptions {
  readonly ep: ExecutionProvider;
  readonly intraOpThreads?: number;
  readonly batching: Pick<BatcherOptions, 'maxBatch' | 'maxDelayMs' | 'maxQueue'>;
  /** Metrics hooks for a model's batcher, by model name. */
  readonly observe?: (model: string) => Pick<BatcherOptions, 'onBatch' | 'onQueueDepth'>;
}

const dynamicLead = (shape: ReadonlyArray<number | string>) => shape.length > 0 && !(typeof shape[0] === 'number' && shape[0] > 0);

/**
 * Why onnxruntime refused a file, in vitlin's words where vitlin's reader finds the fault
 * (`model.onnx: not an ONNX model (empty file)` rather than onnxruntime's C++ source location).
 */
async function explainLoadFailure(path: string, error: unknown): Promise<unknown> {
  try {
    decodeModelProto(new Uint8Array(await readFile(path)), { source: basename(path), onWarning: () => {} });
  } catch (diagnosis) {
    if (diagnosis instanceof VitlinError) return diagnosis;
  }
  if (!(error instanceof Error)) return error;
  // Keep onnxruntime's reason, without its C++ source location and function signature.
  const reason = error.message.replace(/\/onnxruntime_src\/\S+:\d+ (?:[\w:~<>]+\((?:[^()]|\([^()]*\))*\) )?/g, '');
  return new RuntimeError(reason, { cause: error });
}

/** Loads one model: session, batcher, metadata; checks an HF folder's labels against the output. */
export async function loadModel(source: ModelSource, options: LoadOptions): Promise<ServedModel> {
  const session = await createSession(source.path, { ep: options.ep, ...(options.intraOpThreads ? { intraOpThreads: options.intraOpThreads } : {}) }, source.path)
    .catch(async (error: unknown) => { throw await explainLoadFailure(source.path, error); });
  const shapes = [...session.inputs, ...session.outputs].map((v) => (v.isTensor ? v.shape : []));
  const batchable = shapes.every(dynamicLead);
  const describe = (values: typeof session.inputs): TensorMetadata[] => values.map((v) => ({
    name: v.name,
    datatype: v.isTensor ? oipDatatype(v.type) : 'BYTES',
    shape: v.isTensor ? oipShape(v.shape) : [-1],
  }));
  const labels = source.hf?.labels;
  const classes = session.outputs[0]?.isTensor ? session.outputs[0].shape.at(-1) : undefined;
  if (labels && typeof classes === 'number' && classes > 0 && labels.length !== classes) {
    await session.release();
    throw new HfFolderError(join(source.hf!.folder, 'config.json'), 'id2label', `has ${labels.length} labels, the model's output '${session.outputs[0]!.name}' has ${classes} classes`);
  }
  let recipe: ImagePreprocessing | Error | undefined;
  return {
    name: source.name,
    path: source.path,
    ...(source.hf ? { hf: source.hf } : {}),
    session,
    batchable,
    batcher: new Batcher({ ...options.batching, ...options.observe?.(source.name), model: source.name, batchable, run: (feeds) => session.run(feeds) }),
    metadata: { name: source.name, versions: [MODEL_VERSION], platform: PLATFORM, inputs: describe(session.inputs), outputs: describe(session.outputs) },
    imageRecipe() {
      if (recipe === undefined) {
        try {
          const [input] = session.inputs;
          if (session.inputs.length !== 1 || !input?.isTensor || (input.type !== 'float32' && input.type !== 'float16')) {
            throw new InvalidArgumentError(`model '${source.name}' does not take one float image tensor (inputs: ${session.inputs.map((i) => i.name).join(', ')})`);
          }
          recipe = imagePreprocessingFor(source.hf, input.shape, source.name);
        } catch (error) {
          recipe = error as Error;
        }
      }
      if (recipe instanceof Error) throw recipe;
      return recipe;
    },
  };
}

/** A model that was found but could not be loaded: served as not ready, with the reason. */
export interface UnavailableModel {
  readonly name: string;
  readonly path: string;
  readonly reason: string;
}

/**
 * Loads every source it can: one bad file in a folder does not stop the others. Throws only when none
 * loads (there would be nothing to serve), naming every failure.
 */
export async function loadAvailableModels(sources: readonly ModelSource[], options: LoadOptions): Promise<{
  models: Map<string, ServedModel>; unavailable: Map<string, UnavailableModel>;
}> {
  const models = new Map<string, ServedModel>();
  const unavailable = new Map<string, UnavailableModel>();
  for (const source of sources) {
    try {
      models.set(source.name, await loadModel(source, options));
    } catch (error) {
      unavailable.set(source.name, { name: source.name, path: source.path, reason: error instanceof Error ? error.message : String(error) });
    }
  }
  if (models.size === 0) {
    const reasons = [...unavailable.values()].map((m) => m.reason);
    throw new InvalidArgumentError(reasons.length === 1 ? reasons[0]! : `no model could be loaded: ${reasons.join('; ')}`);
  }
  return { models, unavailable };
}
