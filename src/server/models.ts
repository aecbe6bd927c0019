/**
 * The models a server serves: found on disk (ONNX files, folders of them, Hugging Face style folders,
 * model repository folders with versions and a vitlin.json), each version loaded into one onnxruntime
 * session per instance with its own batcher and statistics, and described as the Open Inference
 * Protocol's model metadata.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { InvalidArgumentError, VitlinError, VitlinIoError } from '../../graph-rewrite/errors.js';
import { decodeModelProto } from '../../graph-rewrite/serde/decode.js';
import { HfFolderError, imagePreprocessingFor, isHfModelFolder, readHfFolder, type HfModelFolder } from '../data/hf-folder.js';
import type { ImagePreprocessing } from '../data/images.js';
import { RuntimeError, type Backend, type BackendSession, type Feeds } from '../runtime/backend.js';
import { Batcher, type BatcherOptions } from './batcher.js';
import { oipDatatype, oipShape } from './datatypes.js';
import { configuredImageRecipe, findServingConfig, ModelConfigError, type ImageLayout, type ModelConfig } from './model-config.js';
import { isRepositoryModelFolder, readRepositoryModel } from './repository-layout.js';
import { ModelStats } from './stats.js';

/** A model found on disk, not yet loaded. */
export interface ModelSource {
  /** The file name without `.onnx`, the HF folder's name, or the repository model folder's name. */
  readonly name: string;
  readonly path: string;
  readonly hf?: HfModelFolder;
  /** The version it serves: "1" for a file or an HF folder, the version folder's number in a repository. */
  readonly version?: string;
  /** A repository model's folder. */
  readonly folder?: string;
  /** The model's vitlin.json (in its folder, or `<name>.vitlin.json` beside a file). */
  readonly config?: ModelConfig;
}

/** The version of a model file or HF folder: the protocol's versions are optional, but clients may ask for one. */
export const MODEL_VERSION = '1';
/** Triton's platform name for ONNX models run by onnxruntime (the spec's list predates it and says `onnx_onnxv1`). */
export const PLATFORM = 'onnxruntime_onnx';

/** Where a source came from: two sources of one name from different places are a clash. */
const origin = (source: ModelSource) => source.folder ?? source.path;

function repositorySources(folder: string): ModelSource[] {
  const model = readRepositoryModel(folder);
  return model.versions.map((v) => ({ name: model.name, path: v.path, version: v.version, folder: model.folder, ...(model.config ? { config: model.config } : {}) }));
}

/** The config of a single model (a file or an HF folder): no versions to choose from. */
function singleModelConfig(modelPath: string, folder?: string): { config?: ModelConfig } {
  const config = findServingConfig(modelPath, folder);
  if (config?.versionPolicy) throw new ModelConfigError(config.file, 'version_policy', 'applies to repository models (version folders), not to a single model file');
  return config ? { config } : {};
}

/** The models in one folder entry (or top-level path); undefined when it holds none. */
function sourcesAt(full: string, isFile: boolean): ModelSource[] | undefined {
  if (isFile) {
    if (extname(full) !== '.onnx') return undefined;
    const name = basename(full, '.onnx');
    return [{ name, path: full, ...singleModelConfig(full) }];
  }
  if (isRepositoryModelFolder(full)) return repositorySources(full);
  if (isHfModelFolder(full)) {
    const hf = readHfFolder(full);
    return [{ name: hf.name, path: hf.modelPath, hf, ...singleModelConfig(hf.modelPath, full) }];
  }
  return undefined;
}

/** Called for a model that cannot be read (bad config, …) instead of failing the whole discovery. */
export type DiscoveryProblem = (name: string, error: Error) => void;

/** sourcesAt, with a model that cannot be read reported to `onProblem` (when given) instead of thrown. */
function readableSourcesAt(full: string, isFile: boolean, onProblem: DiscoveryProblem | undefined): ModelSource[] | undefined {
  try {
    return sourcesAt(full, isFile);
  } catch (error) {
    if (!onProblem) throw error;
    onProblem(isFile ? basename(full, '.onnx') : basename(full), error as Error);
    return [];
  }
}

function sourcesIn(path: string, onProblem?: DiscoveryProblem): ModelSource[] {
  const full = resolve(path);
  if (!existsSync(full)) throw new VitlinIoError(`${full}: no such file or folder`);
  const isFile = statSync(full).isFile();
  if (isFile && extname(full) !== '.onnx') throw new InvalidArgumentError(`${full}: a model file must end in .onnx`);
  const here = readableSourcesAt(full, isFile, onProblem);
  if (here) return here;
  // A folder of models: its .onnx files, HF-style and repository model sub-folders, in name order.
  const found: ModelSource[] = [];
  for (const entry of readdirSync(full, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (entry.isFile() || entry.isDirectory()) found.push(...(readableSourcesAt(join(full, entry.name), entry.isFile(), onProblem) ?? []));
  }
  if (found.length === 0 && !onProblem) throw new InvalidArgumentError(`${full}: no models found (no .onnx files, no folders with onnx/model.onnx, model.onnx or version folders 1/model.onnx)`);
  return found;
}

/**
 * Finds the models named by `paths`; two models with one name are an error. With `onProblem`, a model
 * that cannot be read is reported there and skipped (the repository index lists it as unavailable).
 */
export function discoverModels(paths: readonly string[], onProblem?: DiscoveryProblem): ModelSource[] {
  if (paths.length === 0) throw new InvalidArgumentError(`'models' must name at least one model file or folder`);
  const sources = paths.flatMap((path) => sourcesIn(path, onProblem));
  // The versions of one repository model share a name; anything else sharing one is a clash.
  const seen = new Map<string, { origin: string; versions: Set<string | undefined> }>();
  for (const source of sources) {
    const other = seen.get(source.name);
    if (other && (other.origin !== origin(source) || other.versions.has(source.version))) {
      throw new InvalidArgumentError(`two models are named '${source.name}': ${other.origin} and ${origin(source)}`);
    }
    if (other) other.versions.add(source.version);
    else seen.set(source.name, { origin: origin(source), versions: new Set([source.version]) });
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

/** What a model runs with: its vitlin.json's settings, else the server's. */
export interface ModelSettings {
  readonly maxBatch: number;
  readonly maxDelayMs: number;
  readonly maxQueue: number;
  readonly preferredBatchSizes: readonly number[];
  readonly instanceCount: number;
}

export interface ServedModel {
  readonly name: string;
  readonly version: string;
  readonly path: string;
  readonly hf?: HfModelFolder;
  readonly config?: ModelConfig;
  /** The first instance's session: the model's inputs and outputs. */
  readonly session: BackendSession;
  readonly batcher: Batcher;
  /** Whether requests can share onnxruntime runs (every input and output has a dynamic batch axis). */
  readonly batchable: boolean;
  readonly settings: ModelSettings;
  /** Class labels by index: vitlin.json `labels`, else the HF folder's id2label. */
  readonly labels?: readonly string[];
  readonly metadata: ModelMetadata;
  readonly stats: ModelStats;
  /** The image input's layout (vitlin.json preprocess.layout; NCHW otherwise). */
  readonly imageLayout: ImageLayout;
  /** How images become this model's input, or why they cannot; computed on first use. */
  imageRecipe(): ImagePreprocessing;
  /** Releases every instance's session. */
  release(): Promise<void>;
}

export interface LoadOptions {
  /** The runtime the models run on (the server's start-up picks it: onnxruntime-node) and its execution provider. */
  readonly backend: Backend;
  readonly ep: string;
  readonly batching: Pick<BatcherOptions, 'maxBatch' | 'maxDelayMs' | 'maxQueue'>;
  /** Metrics hooks for a model version's batcher. */
  readonly observe?: (model: string, version: string) => Pick<BatcherOptions, 'onBatch' | 'onQueueDepth'>;
  /** Called for each model version once it is loaded and about to serve (at the start, and on a repository load). */
  readonly onLoaded?: (model: ServedModel) => void;
}

/** How a model's images become its input, where that came from and what was guessed. */
export type PreprocessingReport =
  | (ImagePreprocessing & { readonly layout: ImageLayout; readonly source: string; readonly defaulted: readonly string[] })
  | { readonly error: string };

const takesImage = (session: BackendSession) => {
  const [input] = session.inputs;
  return session.inputs.length === 1 && input?.isTensor === true && (input.type === 'float32' || input.type === 'float16');
};

/** The model's preprocessing, or why its config cannot give one; undefined for a model that takes no image. */
export function describePreprocessing(model: ServedModel): PreprocessingReport | undefined {
  if (!takesImage(model.session)) return undefined;
  try {
    const recipe = model.imageRecipe();
    const source = model.config?.preprocess ? model.config.file : model.hf?.preprocessor ? join(model.hf.folder, 'preprocessor_config.json') : 'defaults';
    const defaulted = model.config?.preprocess?.defaulted ?? (source === 'defaults' ? ['mean', 'std', 'rescale'] : []);
    return { layout: model.imageLayout, ...recipe, source, defaulted };
  } catch (error) {
    return { error: (error as Error).message };
  }
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

/** Creates `count` sessions of one model file; on a failure, releases the ones made. */
async function createInstances(source: ModelSource, options: LoadOptions, count: number): Promise<BackendSession[]> {
  const sessions: BackendSession[] = [];
  try {
    for (let i = 0; i < count; i++) {
      sessions.push(await options.backend.createSession(source.path, { ep: options.ep, label: source.path }));
    }
  } catch (error) {
    await Promise.all(sessions.map((s) => s.release()));
    throw await explainLoadFailure(source.path, error);
  }
  return sessions;
}

function checkLabels(source: ModelSource, session: BackendSession): readonly string[] | undefined {
  const labels = source.config?.labels ?? source.hf?.labels;
  const classes = session.outputs[0]?.isTensor ? session.outputs[0].shape.at(-1) : undefined;
  if (labels && typeof classes === 'number' && classes > 0 && labels.length !== classes) {
    const why = `has ${labels.length} labels, the model's output '${session.outputs[0]!.name}' has ${classes} classes`;
    if (source.config?.labels) throw new ModelConfigError(source.config.file, 'labels', why);
    throw new HfFolderError(join(source.hf!.folder, 'config.json'), 'id2label', why);
  }
  return labels;
}

/** Loads one model: its instances' sessions, batcher, metadata; checks its labels against the output. */
export async function loadModel(source: ModelSource, options: LoadOptions): Promise<ServedModel> {
  const config = source.config;
  const settings: ModelSettings = {
    maxBatch: config?.maxBatchSize ?? options.batching.maxBatch,
    maxDelayMs: config?.maxQueueDelayMs ?? options.batching.maxDelayMs,
    maxQueue: config?.maxQueueSize ?? options.batching.maxQueue,
    preferredBatchSizes: config?.preferredBatchSizes ?? [],
    instanceCount: config?.instanceCount ?? 1,
  };
  const sessions = await createInstances(source, options, settings.instanceCount);
  const session = sessions[0]!;
  const release = () => Promise.all(sessions.map((s) => s.release())).then(() => undefined);
  let labels: readonly string[] | undefined;
  try {
    labels = checkLabels(source, session);
  } catch (error) {
    await release();
    throw error;
  }
  const shapes = [...session.inputs, ...session.outputs].map((v) => (v.isTensor ? v.shape : []));
  const batchable = shapes.every(dynamicLead);
  const describe = (values: typeof session.inputs): TensorMetadata[] => values.map((v) => ({
    name: v.name,
    datatype: v.isTensor && v.type ? oipDatatype(v.type) : 'BYTES',
    shape: v.isTensor ? oipShape(v.shape) : [-1],
  }));
  const version = source.version ?? MODEL_VERSION;
  const stats = new ModelStats();
  const observed = options.observe?.(source.name, version);
  // The batcher runs at most one batch per instance; each run takes an idle session.
  const idle = [...sessions];
  const run = async (feeds: Feeds) => {
    const instance = idle.pop()!;
    try {
      return await instance.run(feeds);
    } finally {
      idle.push(instance);
    }
  };
  let recipe: ImagePreprocessing | Error | undefined;
  return {
    name: source.name,
    version,
    path: source.path,
    ...(source.hf ? { hf: source.hf } : {}),
    ...(config ? { config } : {}),
    session,
    batchable,
    settings,
    ...(labels ? { labels } : {}),
    stats,
    imageLayout: config?.preprocess?.layout ?? 'NCHW',
    batcher: new Batcher({
      maxBatch: settings.maxBatch, maxDelayMs: settings.maxDelayMs, maxQueue: settings.maxQueue,
      preferredBatchSizes: settings.preferredBatchSizes, concurrency: sessions.length,
      ...observed,
      onBatch: (rows, requests, seconds) => {
        stats.recordExecution(rows, seconds);
        observed?.onBatch?.(rows, requests, seconds);
      },
      model: source.name, batchable, run,
    }),
    metadata: { name: source.name, versions: [version], platform: PLATFORM, inputs: describe(session.inputs), outputs: describe(session.outputs) },
    imageRecipe() {
      if (recipe === undefined) {
        try {
          const [input] = session.inputs;
          if (!takesImage(session) || !input?.isTensor) {
            throw new InvalidArgumentError(`model '${source.name}' does not take one float image tensor (inputs: ${session.inputs.map((i) => i.name).join(', ')})`);
          }
          recipe = config?.preprocess
            ? configuredImageRecipe(config.preprocess, input.shape, config.file)
            : imagePreprocessingFor(source.hf, input.shape, source.name);
        } catch (error) {
          recipe = error as Error;
        }
      }
      if (recipe instanceof Error) throw recipe;
      return recipe;
    },
    release,
  };
}

/** Loads every source; on a failure, releases what was loaded and rethrows. */
export async function loadModels(sources: readonly ModelSource[], options: LoadOptions): Promise<ServedModel[]> {
  const models: ServedModel[] = [];
  try {
    for (const source of sources) models.push(await loadModel(source, options));
  } catch (error) {
    await Promise.all(models.map((m) => m.release()));
    throw error;
  }
  return models;
}
