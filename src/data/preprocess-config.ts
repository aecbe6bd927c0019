/**
 * Per-model configuration, `vitlin.json`: how images become the model's input and its class labels, in one
 * small JSON file next to the model — the one reader for the CLI (classify, verify, convert) and the server
 * (which reads its own sections too; see src/server/model-config.ts). The format is
 * described once, in docs/model-config.md:
 *
 *     my_model.onnx
 *     my_model.vitlin.json    (in a model folder or a repository model's folder: vitlin.json)
 *
 *     {
 *       "preprocess": { "layout": "NCHW", "size": [28, 28], "resample": "bilinear",
 *                       "rescale": 0.00392156862745098, "mean": [0.286], "std": [0.353] },
 *       "labels": ["T-shirt/top", "Trouser", …] | {"0": "T-shirt/top", …} | "labels.txt"
 *     }
 *
 * The server's sections (batching, instance count, version policy) are part of the same format: every
 * reader accepts them, so one file serves `vitlin classify` and `vitlin serve`, and the server validates them
 * (this reader hands them over untouched in `extra`). Any other key is an error, so a typo is caught. Every error is a
 * {@link ModelConfigError} naming the file and the dotted field, whichever consumer reads the file.
 * The recipe a config gives for a model's input is in preprocess-recipe.ts.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ConfigFileError } from './config-error.js';
import { RESAMPLE, type Resample, type ResizeTarget } from './images.js';

/** The file name beside `<name>.onnx`: `<name>.vitlin.json`; inside a model folder: `vitlin.json`. */
export const MODEL_CONFIG_SUFFIX = '.vitlin.json';
export const FOLDER_CONFIG_NAME = 'vitlin.json';

/** A model config file or one of its fields is invalid; `file` and `field` say where. */
export class ModelConfigError extends ConfigFileError {}

/** The order of an image input's axes. */
export type ImageLayout = 'NCHW' | 'NHWC';

/** The `preprocess` section, validated, as written. Absent fields fall back to the model's shape and the standard recipe. */
export interface PreprocessConfig {
  readonly layout?: ImageLayout;
  readonly size?: ResizeTarget;
  readonly crop?: { readonly height: number; readonly width: number };
  readonly resample?: Resample;
  /** A multiplier for the 0–255 pixels; `false`: none. */
  readonly rescale?: number | false;
  readonly mean?: readonly number[];
  readonly std?: readonly number[];
  readonly normalize?: boolean;
  readonly channels?: 1 | 3;
}

export interface ModelConfig {
  /** The file it was read from (for messages and reports). */
  readonly file: string;
  readonly preprocess?: PreprocessConfig;
  readonly labels?: readonly string[];
  /** The server's sections ({@link SERVER_SECTIONS}), as written (it reads them with a {@link ConfigReader}). */
  readonly extra: Readonly<Record<string, unknown>>;
}

/** The sections only `vitlin serve` reads (src/server/model-config.ts validates them). */
export const SERVER_SECTIONS = ['max_batch_size', 'batching', 'instance_count', 'version_policy'];
const SHARED_SECTIONS = ['preprocess', 'labels'];
const PREPROCESS_KEYS = ['layout', 'size', 'crop', 'resample', 'rescale', 'mean', 'std', 'normalize', 'channels'];

type Json = Record<string, unknown>;
export const isJsonObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const show = (value: unknown) => JSON.stringify(value);

/** Typed readers over one JSON object of a config file; each failure names the file and the dotted field. */
export class ConfigReader {
  constructor(readonly file: string, readonly json: Json, readonly prefix = '') {}

  fail(field: string, why: string): never {
    throw new ModelConfigError(this.file, `${this.prefix}${field}`, why);
  }

  /** Refuses any key not in `known` (a typo must not be silently ignored). */
  only(known: readonly string[]): void {
    for (const key of Object.keys(this.json)) {
      if (!known.includes(key)) this.fail(key, `is not a known field (known: ${known.join(', ')})`);
    }
  }

  child(field: string): ConfigReader | undefined {
    const value = this.json[field];
    if (value === undefined) return undefined;
    if (!isJsonObject(value)) this.fail(field, `must be an object, got ${show(value)}`);
    return new ConfigReader(this.file, value, `${this.prefix}${field}.`);
  }

  int(field: string, min: number, value = this.json[field]): number | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) this.fail(field, `must be an integer ≥ ${min}, got ${show(value)}`);
    return value;
  }

  /** A number or a non-empty list of them, each `kind` (`what` names it in the error). */
  list(field: string, what: string, kind: (v: unknown) => boolean): number[] | undefined {
    const value = this.json[field];
    if (value === undefined) return undefined;
    const items: unknown = typeof value === 'number' ? [value] : value;
    if (Array.isArray(items) && items.length > 0 && items.every(kind)) return items as number[];
    return this.fail(field, `must be ${what} or a non-empty list of them, got ${show(value)}`);
  }

  ints(field: string, min: number): number[] | undefined {
    return this.list(field, `an integer ≥ ${min}`, (v) => Number.isInteger(v) && (v as number) >= min);
  }

  numbers(field: string, positive: boolean): number[] | undefined {
    return this.list(field, positive ? 'a positive number' : 'a number', (v) => typeof v === 'number' && Number.isFinite(v) && (!positive || v > 0));
  }

  /** An image side: a positive integer. */
  side(field: string, value: unknown): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) this.fail(field, `must be a positive integer, got ${show(value)}`);
    return value;
  }

  /** n (square), [height, width], {height, width} or (when allowed) {shortest_edge}. */
  size(field: string, allowShortestEdge: boolean): ResizeTarget | undefined {
    const value = this.json[field];
    if (value === undefined) return undefined;
    if (typeof value === 'number') {
      const side = this.side(field, value);
      return { height: side, width: side };
    }
    if (Array.isArray(value) && value.length === 2) return { height: this.side(`${field}[0]`, value[0]), width: this.side(`${field}[1]`, value[1]) };
    if (isJsonObject(value) && ('height' in value || 'width' in value)) {
      return { height: this.side(`${field}.height`, value.height), width: this.side(`${field}.width`, value.width) };
    }
    if (allowShortestEdge && isJsonObject(value) && 'shortest_edge' in value) return { shortestEdge: this.side(`${field}.shortest_edge`, value.shortest_edge) };
    return this.fail(field, `must be an integer, [height, width], {height, width}${allowShortestEdge ? ' or {shortest_edge}' : ''}, got ${show(value)}`);
  }
}

function readPreprocess(reader: ConfigReader): PreprocessConfig | undefined {
  const pre = reader.child('preprocess');
  if (!pre) return undefined;
  pre.only(PREPROCESS_KEYS);
  const { layout, resample, rescale, normalize, channels } = pre.json;
  const out: { -readonly [K in keyof PreprocessConfig]: PreprocessConfig[K] } = {};
  if (layout !== undefined) {
    if (layout !== 'NCHW' && layout !== 'NHWC') pre.fail('layout', `must be "NCHW" or "NHWC", got ${show(layout)}`);
    out.layout = layout as ImageLayout;
  }
  const size = pre.size('size', true);
  if (size) out.size = size;
  const crop = pre.size('crop', false) as { height: number; width: number } | undefined;
  if (crop) out.crop = crop;
  if (resample !== undefined) {
    // A filter name, or PIL's number as Hugging Face configs write it.
    const byName = typeof resample === 'string' ? (RESAMPLE as Record<string, Resample>)[resample] : undefined;
    const byNumber = (Object.values(RESAMPLE) as unknown[]).includes(resample) ? (resample as Resample) : undefined;
    out.resample = byName ?? byNumber ?? pre.fail('resample', `must be one of ${Object.keys(RESAMPLE).join(', ')} (or PIL's number), got ${show(resample)}`);
  }
  if (rescale !== undefined) {
    if (rescale !== false && !(typeof rescale === 'number' && Number.isFinite(rescale) && rescale > 0)) {
      pre.fail('rescale', `must be a positive factor (such as 1/255 = 0.00392156862745098) or false, got ${show(rescale)}`);
    }
    out.rescale = rescale as number | false;
  }
  if (normalize !== undefined) {
    if (typeof normalize !== 'boolean') pre.fail('normalize', `must be true or false, got ${show(normalize)}`);
    out.normalize = normalize as boolean;
  }
  const mean = pre.numbers('mean', false);
  const std = pre.numbers('std', true);
  if (mean) out.mean = mean;
  if (std) out.std = std;
  if ((mean === undefined) !== (std === undefined) && normalize !== false) pre.fail(mean === undefined ? 'mean' : 'std', 'is missing: give mean and std together (or "normalize": false)');
  if (channels !== undefined) {
    if (channels !== 1 && channels !== 3) pre.fail('channels', `must be 1 or 3, got ${show(channels)}`);
    out.channels = channels as 1 | 3;
  }
  return out;
}

function readLabels(reader: ConfigReader): string[] | undefined {
  const value = reader.json.labels;
  if (value === undefined) return undefined;
  if (typeof value === 'string') {
    // Triton's label_filename: one label per line, next to the config.
    const path = join(dirname(reader.file), value);
    if (!existsSync(path) || !statSync(path).isFile()) reader.fail('labels', `names ${path}, which does not exist`);
    const lines = readFileSync(path, 'utf8').split(/\r?\n/);
    if (lines.at(-1) === '') lines.pop();
    if (lines.length === 0) reader.fail('labels', `names ${path}, which is empty`);
    return lines;
  }
  if (Array.isArray(value) && value.length > 0) {
    value.forEach((label, i) => {
      if (typeof label !== 'string') reader.fail(`labels[${i}]`, `must be a string, got ${show(label)}`);
    });
    return value as string[];
  }
  if (isJsonObject(value) && Object.keys(value).length > 0) {
    // config.json's id2label form: {"0": "T-shirt", …}, every class id once.
    const entries = Object.entries(value);
    const labels = new Array<string>(entries.length);
    for (const [key, label] of entries) {
      const index = Number(key);
      if (String(index) !== key || index >= entries.length) reader.fail(`labels.${key}`, `must be a class id from 0 to ${entries.length - 1}`);
      if (typeof label !== 'string') reader.fail(`labels.${key}`, `must be a string, got ${show(label)}`);
      labels[index] = label;
    }
    return labels;
  }
  return reader.fail('labels', `must be a non-empty list of strings, an {"0": name} object or a file name, got ${show(value)}`);
}

/** Validates a parsed config document; `file` names it in errors (and labels files are found beside it). */
export function parseModelConfig(json: unknown, file: string): ModelConfig {
  if (!isJsonObject(json)) throw new ModelConfigError(file, undefined, 'must hold a JSON object');
  const reader = new ConfigReader(file, json);
  reader.only([...SHARED_SECTIONS, ...SERVER_SECTIONS]);
  const preprocess = readPreprocess(reader);
  const labels = readLabels(reader);
  return {
    file,
    ...(preprocess ? { preprocess } : {}),
    ...(labels ? { labels } : {}),
    extra: Object.fromEntries(Object.entries(json).filter(([key]) => SERVER_SECTIONS.includes(key))),
  };
}

/** Reads and validates a config file. */
export function readModelConfig(file: string): ModelConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new ModelConfigError(file, undefined, `cannot be read: ${(cause as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new ModelConfigError(file, undefined, `is not valid JSON: ${(cause as Error).message}`);
  }
  return parseModelConfig(json, file);
}

/** Where a model's config file is looked for: `vitlin.json` in a model folder, then `<name>.vitlin.json` beside `<name>.onnx`. */
export function modelConfigCandidates(modelPath: string, folder?: string): string[] {
  return [
    ...(folder ? [join(folder, FOLDER_CONFIG_NAME)] : []),
    join(dirname(modelPath), `${basename(modelPath).replace(/\.onnx$/i, '')}${MODEL_CONFIG_SUFFIX}`),
  ];
}

/** The model's config file, read, or undefined when it has none. */
export function findModelConfig(modelPath: string, folder?: string): ModelConfig | undefined {
  const file = modelConfigCandidates(modelPath, folder).find((path) => existsSync(path) && statSync(path).isFile());
  return file ? readModelConfig(file) : undefined;
}
