/**
 * A served model's own configuration, `vitlin.json`: in a repository model's folder (Triton's
 * `config.pbtxt`, as JSON, with vitlin's fields), in an HF folder, or `<name>.vitlin.json` beside a
 * `<name>.onnx` file — the file and the `preprocess` / `labels` sections the CLI reads too
 * (src/data/preprocess-config.ts), plus the server's sections:
 *
 *     {
 *       "max_batch_size": 8,
 *       "batching": { "max_queue_delay_ms": 2, "preferred_batch_sizes": [4, 8], "max_queue_size": 256 },
 *       "instance_count": 1,
 *       "version_policy": { "latest": { "num_versions": 1 } },
 *       "labels": ["T-shirt", …] | {"0": "T-shirt", …} | "labels.txt",
 *       "preprocess": { "layout": "NCHW", "size": 28, "crop": 28, "resample": "bilinear",
 *                       "rescale": 0.00392156862745098, "mean": [0.286], "std": [0.353] }
 *     }
 *
 * Every field is optional; the server's flags give what a model does not set. Errors name the file and the
 * field. (Until the two readers merge, this one repeats the CLI's preprocess rules and adds `layout`.)
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { InvalidArgumentError } from '../../graph-rewrite/errors.js';
import { RESAMPLE, type ImagePreprocessing, type Resample, type ResizeTarget } from '../data/images.js';

/** The config in a model's folder; beside a model file `<name>.onnx` it is `<name>.vitlin.json`. */
export const CONFIG_FILE = 'vitlin.json';
export const CONFIG_SUFFIX = '.vitlin.json';

/** A model's config file or one of its fields is invalid; `file` and `field` say where. */
export class ModelConfigError extends InvalidArgumentError {
  constructor(readonly file: string, readonly field: string | undefined, why: string) {
    super(`${file}${field === undefined ? '' : `: '${field}'`} ${why}`);
  }
}

/** Which versions of a model to serve (Triton's version_policy): the newest n, all, or the ones listed. */
export type VersionPolicy = { readonly latest: number } | { readonly all: true } | { readonly specific: readonly number[] };

export type ImageLayout = 'NCHW' | 'NHWC';

export interface PreprocessingConfig {
  readonly layout: ImageLayout;
  readonly size?: ResizeTarget;
  readonly crop?: { readonly height: number; readonly width: number };
  readonly resample: Resample;
  /** A factor for the 0–255 pixels, or false: none. */
  readonly rescale: number | false;
  /** Undefined: no normalisation (`"normalize": false`). */
  readonly normalize?: { readonly mean: readonly number[]; readonly std: readonly number[] };
  readonly channels?: 1 | 3;
  /** The fields the file left out, filled with ViTImageProcessor's defaults (reported by GET …/config). */
  readonly defaulted: readonly string[];
}

export interface ModelConfig {
  /** The file it was read from. */
  readonly file: string;
  readonly maxBatchSize?: number;
  readonly maxQueueDelayMs?: number;
  readonly preferredBatchSizes?: readonly number[];
  readonly maxQueueSize?: number;
  readonly instanceCount: number;
  /** Undefined: the default, the newest version (repository models only). */
  readonly versionPolicy?: VersionPolicy;
  readonly labels?: readonly string[];
  readonly preprocess?: PreprocessingConfig;
}

const KNOWN = ['preprocess', 'labels', 'max_batch_size', 'batching', 'instance_count', 'version_policy'];
const KNOWN_BATCHING = ['max_queue_delay_ms', 'preferred_batch_sizes', 'max_queue_size'];
const KNOWN_PREPROCESS = ['layout', 'size', 'crop', 'resample', 'rescale', 'mean', 'std', 'normalize', 'channels'];
/** ViTImageProcessor's defaults, as the HF path uses them. */
const DEFAULT_MEAN = [0.5];
const DEFAULT_STD = [0.5];

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Typed readers over one JSON object; each failure names the file and the dotted field. */
class Reader {
  constructor(readonly file: string, readonly json: Json, readonly prefix = '') {}
  fail(field: string, why: string): never {
    throw new ModelConfigError(this.file, `${this.prefix}${field}`, why);
  }
  only(known: readonly string[]): void {
    for (const key of Object.keys(this.json)) {
      if (!known.includes(key)) this.fail(key, `is not a known field (known: ${known.join(', ')})`);
    }
  }
  child(field: string): Reader | undefined {
    const value = this.json[field];
    if (value === undefined) return undefined;
    if (!isObject(value)) this.fail(field, `must be an object, got ${JSON.stringify(value)}`);
    return new Reader(this.file, value, `${this.prefix}${field}.`);
  }
  int(field: string, min: number, value = this.json[field]): number | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) this.fail(field, `must be an integer ≥ ${min}, got ${JSON.stringify(value)}`);
    return value;
  }
  /** A number or a non-empty list of them, each `kind` (`what` names it in the error). */
  list(field: string, what: string, kind: (v: unknown) => boolean): number[] | undefined {
    const value = this.json[field];
    if (value === undefined) return undefined;
    const items: unknown = typeof value === 'number' ? [value] : value;
    if (Array.isArray(items) && items.length > 0 && items.every(kind)) return items as number[];
    return this.fail(field, `must be ${what} or a non-empty list of them, got ${JSON.stringify(value)}`);
  }
  ints(field: string, min: number): number[] | undefined {
    return this.list(field, `an integer ≥ ${min}`, (v) => Number.isInteger(v) && (v as number) >= min);
  }
  numbers(field: string, positive: boolean): number[] | undefined {
    return this.list(field, positive ? 'a positive number' : 'a number', (v) => typeof v === 'number' && Number.isFinite(v) && (!positive || v > 0));
  }
  /** An int (square), [height, width], {height, width} or (when allowed) {shortest_edge}. */
  size(field: string, allowShortestEdge: boolean): ResizeTarget | undefined {
    const value = this.json[field];
    if (value === undefined) return undefined;
    if (typeof value === 'number') {
      const side = this.int(field, 1)!;
      return { height: side, width: side };
    }
    if (Array.isArray(value) && value.length === 2) return { height: this.int(`${field}[0]`, 1, value[0])!, width: this.int(`${field}[1]`, 1, value[1])! };
    if (isObject(value) && ('height' in value || 'width' in value)) {
      return { height: this.int(`${field}.height`, 1, value.height ?? 0)!, width: this.int(`${field}.width`, 1, value.width ?? 0)! };
    }
    if (allowShortestEdge && isObject(value) && 'shortest_edge' in value) return { shortestEdge: this.int(`${field}.shortest_edge`, 1, value.shortest_edge)! };
    this.fail(field, `must be an integer, [height, width], {height, width}${allowShortestEdge ? ' or {shortest_edge}' : ''}, got ${JSON.stringify(value)}`);
  }
}

function readVersionPolicy(reader: Reader): VersionPolicy | undefined {
  const policy = reader.child('version_policy');
  if (!policy) return undefined;
  const keys = Object.keys(policy.json);
  if (keys.length !== 1) reader.fail('version_policy', `must have exactly one of latest, all, specific, got ${JSON.stringify(policy.json)}`);
  const [kind] = keys as [string];
  const body = policy.child(kind);
  if (kind === 'latest') return { latest: body?.int('num_versions', 1) ?? 1 };
  if (kind === 'all') return { all: true };
  if (kind === 'specific') {
    const versions = body?.ints('versions', 1);
    return versions ? { specific: versions } : policy.fail('specific.versions', 'must list the versions to serve');
  }
  return policy.fail(kind, 'is not a version policy (latest, all, specific)');
}

function readLabels(reader: Reader): string[] | undefined {
  const value = reader.json.labels;
  if (value === undefined) return undefined;
  if (typeof value === 'string') {
    // Triton's label_filename: one label per line, next to the config.
    const path = join(dirname(reader.file), value);
    if (!existsSync(path)) reader.fail('labels', `names ${path}, which does not exist`);
    const lines = readFileSync(path, 'utf8').split(/\r?\n/);
    if (lines.at(-1) === '') lines.pop();
    return lines;
  }
  if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string')) return value as string[];
  if (isObject(value) && Object.keys(value).length > 0) {
    // config.json's id2label form: {"0": "T-shirt", …}, every class id once.
    const entries = Object.entries(value);
    const labels = new Array<string>(entries.length);
    for (const [key, label] of entries) {
      const index = Number(key);
      if (String(index) !== key || index >= entries.length) reader.fail(`labels.${key}`, `must be a class id from 0 to ${entries.length - 1}`);
      if (typeof label !== 'string') reader.fail(`labels.${key}`, `must be a string, got ${JSON.stringify(label)}`);
      labels[index] = label;
    }
    return labels;
  }
  return reader.fail('labels', `must be a non-empty list of strings, an {"0": name} object or a file name, got ${JSON.stringify(value)}`);
}

function readPreprocess(reader: Reader): PreprocessingConfig | undefined {
  const pre = reader.child('preprocess');
  if (!pre) return undefined;
  pre.only(KNOWN_PREPROCESS);
  const layoutName = pre.json.layout ?? 'NCHW';
  const layout: ImageLayout = layoutName === 'NCHW' || layoutName === 'NHWC' ? layoutName : pre.fail('layout', `must be "NCHW" or "NHWC", got ${JSON.stringify(layoutName)}`);
  const resampleValue = pre.json.resample ?? 'bilinear';
  // A filter name, or PIL's number as Hugging Face configs write it.
  const resample: Resample = (typeof resampleValue === 'string' ? RESAMPLE[resampleValue as keyof typeof RESAMPLE] : (Object.values(RESAMPLE) as unknown[]).includes(resampleValue) ? resampleValue as Resample : undefined)
    ?? pre.fail('resample', `must be one of ${Object.keys(RESAMPLE).join(', ')} (or PIL's number), got ${JSON.stringify(resampleValue)}`);
  const channels = pre.int('channels', 1);
  if (channels !== undefined && channels !== 1 && channels !== 3) pre.fail('channels', `must be 1 or 3, got ${channels}`);
  const rescaleValue = pre.json.rescale;
  if (rescaleValue !== undefined && rescaleValue !== false && !(typeof rescaleValue === 'number' && Number.isFinite(rescaleValue) && rescaleValue > 0)) {
    pre.fail('rescale', `must be a positive factor (such as 1/255 = 0.00392156862745098) or false, got ${JSON.stringify(rescaleValue)}`);
  }
  const normalize = pre.json.normalize ?? true;
  if (typeof normalize !== 'boolean') pre.fail('normalize', `must be true or false, got ${JSON.stringify(normalize)}`);
  const size = pre.size('size', true);
  const crop = pre.size('crop', false) as { height: number; width: number } | undefined;
  const mean = pre.numbers('mean', false);
  const std = pre.numbers('std', true);
  if (normalize && (mean === undefined) !== (std === undefined)) pre.fail(mean === undefined ? 'mean' : 'std', 'is missing: give mean and std together (or "normalize": false)');
  return {
    layout,
    ...(size ? { size } : {}),
    ...(crop ? { crop } : {}),
    resample,
    rescale: (rescaleValue as number | false | undefined) ?? 1 / 255,
    ...(normalize ? { normalize: { mean: mean ?? DEFAULT_MEAN, std: std ?? DEFAULT_STD } } : {}),
    ...(channels ? { channels: channels as 1 | 3 } : {}),
    defaulted: [...(normalize && !mean ? ['mean', 'std'] : []), ...(rescaleValue === undefined ? ['rescale'] : [])],
  };
}

/** Reads and validates a model's config from a JSON value (a file's content, or a load request's). */
export function parseModelConfig(file: string, json: unknown): ModelConfig {
  if (!isObject(json)) throw new ModelConfigError(file, undefined, 'must hold a JSON object');
  const reader = new Reader(file, json);
  reader.only(KNOWN);
  const batching = reader.child('batching');
  batching?.only(KNOWN_BATCHING);
  const maxBatchSize = reader.int('max_batch_size', 1);
  const preferred = batching?.ints('preferred_batch_sizes', 1);
  if (preferred && maxBatchSize !== undefined && preferred.some((p) => p > maxBatchSize)) {
    batching!.fail('preferred_batch_sizes', `must not exceed max_batch_size ${maxBatchSize}, got ${JSON.stringify(preferred)}`);
  }
  const maxQueueDelayMs = batching?.int('max_queue_delay_ms', 0);
  const maxQueueSize = batching?.int('max_queue_size', 1);
  const labels = readLabels(reader);
  const preprocess = readPreprocess(reader);
  const versionPolicy = readVersionPolicy(reader);
  return {
    file,
    ...(maxBatchSize !== undefined ? { maxBatchSize } : {}),
    ...(maxQueueDelayMs !== undefined ? { maxQueueDelayMs } : {}),
    ...(preferred ? { preferredBatchSizes: [...preferred].sort((a, b) => a - b) } : {}),
    ...(maxQueueSize !== undefined ? { maxQueueSize } : {}),
    instanceCount: reader.int('instance_count', 1) ?? 1,
    ...(versionPolicy ? { versionPolicy } : {}),
    ...(labels ? { labels } : {}),
    ...(preprocess ? { preprocess } : {}),
  };
}

/** Reads a config file; undefined when there is none. */
export function readModelConfig(file: string): ModelConfig | undefined {
  if (!existsSync(file)) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new ModelConfigError(file, undefined, `is not valid JSON: ${(cause as Error).message}`);
  }
  return parseModelConfig(file, json);
}

const fixed = (dim: number | string | undefined) => (typeof dim === 'number' && dim > 0 ? dim : undefined);

/**
 * The image recipe a config's `preprocessing` gives for a model input of `shape` (in `layout` order):
 * resize to `size` (default: the model's fixed height and width), optional centre `crop`, × `rescale`,
 * (x − mean) / std. Throws when the config and the model disagree.
 */
export function configuredImageRecipe(pre: PreprocessingConfig, shape: ReadonlyArray<number | string>, file: string): ImagePreprocessing {
  const fail = (field: string, why: string): never => {
    throw new ModelConfigError(file, `preprocess.${field}`, why);
  };
  if (shape.length !== 4) fail('layout', `needs an image input of rank 4, the model's is [${shape.join(', ')}]`);
  const [, c, h, w] = pre.layout === 'NCHW' ? shape : [shape[0], shape[3], shape[1], shape[2]];
  const modelChannels = fixed(c);
  if (modelChannels !== undefined && pre.channels !== undefined && modelChannels !== pre.channels) {
    fail('channels', `is ${pre.channels}, the model's ${pre.layout} input [${shape.join(', ')}] has ${modelChannels}`);
  }
  const channels = modelChannels ?? pre.channels ?? 3;
  if (channels !== 1 && channels !== 3) fail('layout', `gives ${channels} channels for the input [${shape.join(', ')}]; images have 1 or 3 (is the layout right?)`);
  const modelSize = fixed(h) && fixed(w) ? { height: h as number, width: w as number } : undefined;
  const resize = pre.size ?? modelSize;
  if (!resize) fail('size', `is needed: the model's input [${shape.join(', ')}] has no fixed height and width`);
  const produced = pre.crop ?? (resize && 'height' in resize ? resize : undefined);
  if (modelSize && produced && (produced.height !== modelSize.height || produced.width !== modelSize.width)) {
    fail(pre.crop ? 'crop' : 'size', `gives ${produced.height}×${produced.width} images, the model takes ${modelSize.height}×${modelSize.width}`);
  }
  for (const [field, values] of [['mean', pre.normalize?.mean ?? []], ['std', pre.normalize?.std ?? []]] as const) {
    if (pre.normalize && values.length !== 1 && values.length !== channels) fail(field, `has ${values.length} values, the model takes ${channels} channel(s)`);
  }
  return {
    channels: channels as 1 | 3,
    ...(resize ? { resize } : {}),
    resample: pre.resample,
    ...(pre.crop ? { crop: pre.crop } : {}),
    ...(pre.rescale === false ? {} : { rescaleFactor: pre.rescale }),
    ...(pre.normalize ? { normalize: pre.normalize } : {}),
  };
}

/** CHW planes → HWC, for models whose image input is NHWC. */
export function chwToHwc(data: Float32Array, channels: number, height: number, width: number): Float32Array {
  const out = new Float32Array(data.length);
  const plane = height * width;
  for (let p = 0; p < plane; p++) for (let ch = 0; ch < channels; ch++) out[p * channels + ch] = data[ch * plane + p]!;
  return out;
}
