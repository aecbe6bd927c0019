/**
 * Per-model configuration: how images become the model's input, and its class labels, in one small JSON
 * file next to the model — for models that have no Hugging Face configs (a bare `.onnx` file):
 *
 *     my_model.onnx
 *     my_model.vitlin.json    (for a model folder: vitlin.json inside it)
 *
 *     {
 *       "preprocess": { "size": [28, 28], "resample": "bilinear", "rescale": 0.00392156862745098,
 *                       "mean": [0.286], "std": [0.353] },
 *       "labels": ["T-shirt/top", "Trouser", …]
 *     }
 *
 * `preprocess` fields (all optional): `size` (n, [height, width], {height, width} or {shortest_edge}),
 * `crop` (n, [height, width] or {height, width}: a centre crop after the resize), `resample` (nearest,
 * bilinear, bicubic, box, hamming, lanczos), `rescale` (a factor, or false), `mean` and `std` (one value
 * or one per channel; `"normalize": false` for none). `labels` is a list by class index or an
 * `{ "0": … }` object (config.json's id2label). Other sections (e.g. the server's) are the caller's:
 * they are named in `extraKeys` and returned untouched; any other key is an error, so a typo is caught.
 *
 * {@link parseModelConfig} validates a parsed document; {@link readModelConfig} and {@link findModelConfig}
 * read files. {@link resolveImagePreprocessing} says what a model's images get and where that came
 * from, warning when it is a guess.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { InvalidArgumentError } from '../../graph-rewrite/errors.js';
import { ConfigFileError } from './config-error.js';
import { imagePreprocessingFor, type HfModelFolder } from './hf-folder.js';
import { RESAMPLE, type ImagePreprocessing, type Resample, type ResizeTarget } from './images.js';

/** The file name beside `<name>.onnx`: `<name>.vitlin.json`; inside a model folder: `vitlin.json`. */
export const MODEL_CONFIG_SUFFIX = '.vitlin.json';
export const FOLDER_CONFIG_NAME = 'vitlin.json';

/** A model config file or one of its fields is invalid; `file` and `field` say where. */
export class ModelConfigError extends ConfigFileError {}

/** The `preprocess` section, validated. Absent fields fall back to the model's shape and the standard recipe. */
export interface PreprocessConfig {
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
  /** The sections named in `extraKeys`, as written. */
  readonly extra: Readonly<Record<string, unknown>>;
}

const KNOWN_KEYS = ['preprocess', 'labels'] as const;
const PREPROCESS_KEYS = ['size', 'crop', 'resample', 'rescale', 'mean', 'std', 'normalize', 'channels'] as const;

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const show = (value: unknown) => JSON.stringify(value);

function positiveInt(file: string, field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new ModelConfigError(file, field, `must be a positive integer, got ${show(value)}`);
  return value;
}

/** n, [height, width] or {height, width}; `size` also takes {shortest_edge}. */
function readSize(file: string, field: string, value: unknown, allowShortestEdge: boolean): ResizeTarget {
  if (typeof value === 'number') {
    const side = positiveInt(file, field, value);
    return { height: side, width: side };
  }
  if (Array.isArray(value) && value.length === 2) return { height: positiveInt(file, `${field}[0]`, value[0]), width: positiveInt(file, `${field}[1]`, value[1]) };
  if (isObject(value) && ('height' in value || 'width' in value)) {
    return { height: positiveInt(file, `${field}.height`, value.height), width: positiveInt(file, `${field}.width`, value.width) };
  }
  if (allowShortestEdge && isObject(value) && 'shortest_edge' in value) return { shortestEdge: positiveInt(file, `${field}.shortest_edge`, value.shortest_edge) };
  throw new ModelConfigError(file, field, `must be an integer, [height, width] or {"height", "width"}${allowShortestEdge ? ' or {"shortest_edge"}' : ''}, got ${show(value)}`);
}

function readNumbers(file: string, field: string, value: unknown, positive: boolean): number[] {
  const list = typeof value === 'number' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || !list.every((v) => typeof v === 'number' && Number.isFinite(v) && (!positive || v > 0))) {
    throw new ModelConfigError(file, field, `must be a ${positive ? 'positive ' : ''}number or a non-empty list of them, got ${show(value)}`);
  }
  return list as number[];
}

function readPreprocess(file: string, section: unknown): PreprocessConfig {
  if (!isObject(section)) throw new ModelConfigError(file, 'preprocess', `must be an object, got ${show(section)}`);
  const unknown = Object.keys(section).filter((key) => !(PREPROCESS_KEYS as readonly string[]).includes(key));
  if (unknown.length) throw new ModelConfigError(file, `preprocess.${unknown[0]}`, `is not a preprocessing field (expected ${PREPROCESS_KEYS.join(', ')})`);
  const out: { -readonly [K in keyof PreprocessConfig]: PreprocessConfig[K] } = {};
  if (section.size !== undefined) out.size = readSize(file, 'preprocess.size', section.size, true);
  if (section.crop !== undefined) out.crop = readSize(file, 'preprocess.crop', section.crop, false) as { height: number; width: number };
  if (section.resample !== undefined) {
    const value = section.resample;
    const byName = typeof value === 'string' ? (RESAMPLE as Record<string, Resample>)[value] : undefined;
    const byNumber = (Object.values(RESAMPLE) as unknown[]).includes(value) ? (value as Resample) : undefined;
    if (byName === undefined && byNumber === undefined) throw new ModelConfigError(file, 'preprocess.resample', `must be one of ${Object.keys(RESAMPLE).join(', ')}, got ${show(value)}`);
    out.resample = byName ?? byNumber!;
  }
  if (section.rescale !== undefined) {
    if (section.rescale !== false && !(typeof section.rescale === 'number' && Number.isFinite(section.rescale) && section.rescale > 0)) {
      throw new ModelConfigError(file, 'preprocess.rescale', `must be a positive factor (such as 1/255 = 0.00392156862745098) or false, got ${show(section.rescale)}`);
    }
    out.rescale = section.rescale;
  }
  if (section.normalize !== undefined) {
    if (typeof section.normalize !== 'boolean') throw new ModelConfigError(file, 'preprocess.normalize', `must be true or false, got ${show(section.normalize)}`);
    out.normalize = section.normalize;
  }
  if (section.mean !== undefined) out.mean = readNumbers(file, 'preprocess.mean', section.mean, false);
  if (section.std !== undefined) out.std = readNumbers(file, 'preprocess.std', section.std, true);
  if ((out.mean === undefined) !== (out.std === undefined) && out.normalize !== false) {
    throw new ModelConfigError(file, out.mean === undefined ? 'preprocess.mean' : 'preprocess.std', `is missing: give mean and std together (or "normalize": false)`);
  }
  if (section.channels !== undefined) {
    if (section.channels !== 1 && section.channels !== 3) throw new ModelConfigError(file, 'preprocess.channels', `must be 1 or 3, got ${show(section.channels)}`);
    out.channels = section.channels;
  }
  return out;
}

function readLabelList(file: string, value: unknown): string[] {
  if (Array.isArray(value)) {
    value.forEach((label, i) => {
      if (typeof label !== 'string') throw new ModelConfigError(file, `labels[${i}]`, `must be a string, got ${show(label)}`);
    });
    if (value.length === 0) throw new ModelConfigError(file, 'labels', 'is empty');
    return value as string[];
  }
  if (!isObject(value)) throw new ModelConfigError(file, 'labels', `must be a list of class names or an {"0": name} object, got ${show(value)}`);
  const entries = Object.entries(value);
  const labels = new Array<string>(entries.length);
  for (const [key, label] of entries) {
    const index = Number(key);
    if (!Number.isInteger(index) || index < 0 || index >= entries.length || String(index) !== key) throw new ModelConfigError(file, `labels.${key}`, `must be a class id from 0 to ${entries.length - 1}`);
    if (typeof label !== 'string') throw new ModelConfigError(file, `labels.${key}`, `must be a string, got ${show(label)}`);
    labels[index] = label;
  }
  return labels;
}

/** Validates a parsed config document; `file` names it in errors. */
export function parseModelConfig(json: unknown, file: string, options: { readonly extraKeys?: readonly string[] } = {}): ModelConfig {
  if (!isObject(json)) throw new ModelConfigError(file, undefined, 'must hold a JSON object');
  const allowed = [...KNOWN_KEYS, ...(options.extraKeys ?? [])];
  const unknown = Object.keys(json).filter((key) => !allowed.includes(key));
  if (unknown.length) throw new ModelConfigError(file, unknown[0], `is not a config section (expected ${allowed.join(', ')})`);
  const extra = Object.fromEntries(Object.entries(json).filter(([key]) => !(KNOWN_KEYS as readonly string[]).includes(key)));
  return {
    file,
    ...(json.preprocess !== undefined ? { preprocess: readPreprocess(file, json.preprocess) } : {}),
    ...(json.labels !== undefined ? { labels: readLabelList(file, json.labels) } : {}),
    extra,
  };
}

/** Reads and validates a config file. */
export function readModelConfig(file: string, options: { readonly extraKeys?: readonly string[] } = {}): ModelConfig {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new ModelConfigError(file, undefined, `is not readable JSON: ${(cause as Error).message}`);
  }
  return parseModelConfig(json, file, options);
}

/** Where a model's config file is looked for: `<name>.vitlin.json` beside `<name>.onnx`, and `vitlin.json` in a model folder. */
export function modelConfigCandidates(modelPath: string, folder?: string): string[] {
  return [
    ...(folder ? [join(folder, FOLDER_CONFIG_NAME)] : []),
    join(dirname(modelPath), `${basename(modelPath).replace(/\.onnx$/i, '')}${MODEL_CONFIG_SUFFIX}`),
  ];
}

/** The model's config file, read, or undefined when it has none. */
export function findModelConfig(modelPath: string, folder?: string, options: { readonly extraKeys?: readonly string[] } = {}): ModelConfig | undefined {
  const file = modelConfigCandidates(modelPath, folder).find((path) => existsSync(path) && statSync(path).isFile());
  return file ? readModelConfig(file, options) : undefined;
}

/** What a model's images get, where each part came from, and warnings for the parts that are guesses. */
export interface ResolvedPreprocessing {
  readonly recipe: ImagePreprocessing;
  /** Where the recipe came from: a config file's path, an HF folder's preprocessor_config.json, or 'defaults'. */
  readonly source: string;
  readonly labels?: readonly string[];
  /** Where the labels came from; undefined when there are none (classes are then shown as LABEL_i). */
  readonly labelsSource?: string;
  /** Warnings about the recipe (a guess); missing labels are the caller's to mention where names matter. */
  readonly warnings: readonly string[];
}

/** The standard recipe's mean and std (transformers' ViTImageProcessor): the guess for a model with no config. */
const DEFAULT_MEAN_STD = 0.5;

/**
 * The preprocessing for a model's image input (`shape` = [N, C, H, W]): its config file first, then an HF
 * folder's preprocessor_config.json, else the standard recipe — with a warning, since a model trained with
 * other statistics silently gets worse predictions.
 */
export function resolveImagePreprocessing(
  model: { readonly name: string; readonly path: string; readonly folder?: HfModelFolder; readonly config?: ModelConfig },
  shape: ReadonlyArray<number | string>,
): ResolvedPreprocessing {
  const warnings: string[] = [];
  const config = model.config;
  const hfPre = model.folder?.preprocessor ? join(model.folder.folder, 'preprocessor_config.json') : undefined;
  let recipe: ImagePreprocessing;
  let source: string;
  if (config?.preprocess) {
    recipe = recipeFromConfig(config.preprocess, config.file, shape, model.name);
    source = config.file;
  } else {
    recipe = imagePreprocessingFor(model.folder, shape, model.name);
    source = hfPre ?? 'defaults';
    if (!hfPre) {
      warnings.push(`${model.name}: no preprocessing config (${modelConfigCandidates(model.path, model.folder?.folder).join(' or ')}${model.folder ? ' or preprocessor_config.json' : ''}); ` +
        `using the standard recipe, mean = std = ${DEFAULT_MEAN_STD} — if the model was trained with other statistics its predictions will be off`);
    }
  }
  const labels = config?.labels ?? model.folder?.labels;
  const labelsSource = config?.labels ? config.file : model.folder?.labels ? join(model.folder.folder, 'config.json') : undefined;
  return { recipe, source, ...(labels ? { labels, labelsSource } : {}), warnings };
}

/** A config's `preprocess` section as a recipe for this input shape: absent sizes come from the model. */
export function recipeFromConfig(pre: PreprocessConfig, file: string, shape: ReadonlyArray<number | string>, model: string): ImagePreprocessing {
  if (shape.length !== 4) throw new InvalidArgumentError(`${model}: an image input must be NCHW (rank 4), this one is [${shape.join(', ')}]`);
  const fixed = (dim: number | string | undefined) => (typeof dim === 'number' && dim > 0 ? dim : undefined);
  const channels = fixed(shape[1]) ?? pre.channels ?? 3;
  if (channels !== 1 && channels !== 3) throw new InvalidArgumentError(`${model}: images have 1 or 3 channels, the model takes ${channels}`);
  if (pre.channels !== undefined && pre.channels !== channels) throw new ModelConfigError(file, 'preprocess.channels', `is ${pre.channels}, the model takes ${channels}`);
  const modelSize = fixed(shape[2]) && fixed(shape[3]) ? { height: shape[2] as number, width: shape[3] as number } : undefined;
  const resize = pre.size ?? modelSize;
  if (!resize) throw new ModelConfigError(file, 'preprocess.size', 'is needed: the model input has no fixed height and width');
  const produced = pre.crop ?? ('height' in resize ? resize : undefined);
  if (modelSize && produced && (produced.height !== modelSize.height || produced.width !== modelSize.width)) {
    throw new ModelConfigError(file, pre.crop ? 'preprocess.crop' : 'preprocess.size', `gives ${produced.height}×${produced.width} images, the model takes ${modelSize.height}×${modelSize.width}`);
  }
  const normalize = pre.normalize !== false;
  const mean = pre.mean ?? [DEFAULT_MEAN_STD];
  const std = pre.std ?? [DEFAULT_MEAN_STD];
  for (const [field, values] of [['preprocess.mean', mean], ['preprocess.std', std]] as const) {
    if (normalize && values.length !== 1 && values.length !== channels) throw new ModelConfigError(file, field, `has ${values.length} values, the model takes ${channels} channel(s)`);
  }
  return {
    channels,
    resize,
    resample: pre.resample ?? RESAMPLE.bilinear,
    ...(pre.crop ? { crop: pre.crop } : {}),
    ...(pre.rescale === false ? {} : { rescaleFactor: pre.rescale ?? 1 / 255 }),
    ...(normalize ? { normalize: { mean, std } } : {}),
  };
}

const RESAMPLE_NAMES = Object.fromEntries(Object.entries(RESAMPLE).map(([name, id]) => [id, name])) as Record<Resample, string>;
const list = (values: readonly number[]) => (values.length === 1 ? String(values[0]) : `[${values.join(', ')}]`);

/** One line for reports: "resize 28×28 (bilinear), ×1/255, mean 0.286, std 0.353, 1 channel". */
export function describeRecipe(recipe: ImagePreprocessing): string {
  const parts: string[] = [];
  if (recipe.resize) parts.push('height' in recipe.resize ? `resize ${recipe.resize.height}×${recipe.resize.width} (${RESAMPLE_NAMES[recipe.resample]})` : `resize shortest edge ${recipe.resize.shortestEdge} (${RESAMPLE_NAMES[recipe.resample]})`);
  if (recipe.crop) parts.push(`centre crop ${recipe.crop.height}×${recipe.crop.width}`);
  if (recipe.rescaleFactor !== undefined) parts.push(Math.abs(recipe.rescaleFactor - 1 / 255) < 1e-12 ? '×1/255' : `×${recipe.rescaleFactor}`);
  parts.push(recipe.normalize ? `mean ${list(recipe.normalize.mean)}, std ${list(recipe.normalize.std)}` : 'no normalisation');
  parts.push(`${recipe.channels} channel${recipe.channels === 1 ? '' : 's'}`);
  return parts.join(', ');
}
