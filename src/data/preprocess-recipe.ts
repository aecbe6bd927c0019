/**
 * From a model's config (preprocess-config.ts) to what its images get: the `preprocess` section with the
 * standard recipe's defaults filled in, the image recipe for a model input's shape (in the section's
 * layout), and where each part came from — the same for the CLI and the server.
 */
import { join } from 'node:path';
import { imagePreprocessingFor, type HfModelFolder } from './hf-folder.js';
import { RESAMPLE, type ImagePreprocessing, type Resample, type ResizeTarget } from './images.js';
import { modelConfigCandidates, ModelConfigError, type ImageLayout, type ModelConfig, type PreprocessConfig } from './preprocess-config.js';

/** The standard recipe's mean and std (transformers' ViTImageProcessor): the guess for fields a model leaves out. */
const DEFAULT_MEAN_STD = 0.5;

/** A `preprocess` section with its defaults filled in. */
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
  /** The fields the file left out, filled with ViTImageProcessor's defaults (the server reports them). */
  readonly defaulted: readonly string[];
}

/** The section with ViTImageProcessor's defaults (NCHW, bilinear, ×1/255, mean = std = 0.5) for what it leaves out. */
export function withPreprocessDefaults(pre: PreprocessConfig): PreprocessingConfig {
  const normalize = pre.normalize !== false;
  return {
    layout: pre.layout ?? 'NCHW',
    ...(pre.size ? { size: pre.size } : {}),
    ...(pre.crop ? { crop: pre.crop } : {}),
    resample: pre.resample ?? RESAMPLE.bilinear,
    rescale: pre.rescale ?? 1 / 255,
    ...(normalize ? { normalize: { mean: pre.mean ?? [DEFAULT_MEAN_STD], std: pre.std ?? [DEFAULT_MEAN_STD] } } : {}),
    ...(pre.channels ? { channels: pre.channels } : {}),
    defaulted: [...(normalize && !pre.mean ? ['mean', 'std'] : []), ...(pre.rescale === undefined ? ['rescale'] : [])],
  };
}

const fixed = (dim: number | string | undefined) => (typeof dim === 'number' && dim > 0 ? dim : undefined);

/**
 * The image recipe a config's `preprocess` section gives for a model input of `shape` (in `layout` order):
 * resize to `size` (default: the model's fixed height and width), optional centre `crop`, × `rescale`,
 * (x − mean) / std. Throws a {@link ModelConfigError} naming `file` when the config and the model disagree.
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
  const resize = pre.size ?? modelSize ?? fail('size', `is needed: the model's input [${shape.join(', ')}] has no fixed height and width`);
  const produced = pre.crop ?? ('height' in resize ? resize : undefined);
  if (modelSize && produced && (produced.height !== modelSize.height || produced.width !== modelSize.width)) {
    fail(pre.crop ? 'crop' : 'size', `gives ${produced.height}×${produced.width} images, the model takes ${modelSize.height}×${modelSize.width}`);
  }
  for (const [field, values] of [['mean', pre.normalize?.mean ?? []], ['std', pre.normalize?.std ?? []]] as const) {
    if (pre.normalize && values.length !== 1 && values.length !== channels) fail(field, `has ${values.length} values, the model takes ${channels} channel(s)`);
  }
  return {
    channels: channels as 1 | 3,
    resize,
    resample: pre.resample,
    ...(pre.crop ? { crop: pre.crop } : {}),
    ...(pre.rescale === false ? {} : { rescaleFactor: pre.rescale }),
    ...(pre.normalize ? { normalize: pre.normalize } : {}),
  };
}

/** A config's `preprocess` section, as written, as a recipe for this input shape: absent fields get the defaults. */
export function recipeFromConfig(pre: PreprocessConfig, file: string, shape: ReadonlyArray<number | string>): ImagePreprocessing {
  return configuredImageRecipe(withPreprocessDefaults(pre), shape, file);
}

/** CHW planes → HWC, for models whose image input is NHWC. */
export function chwToHwc(data: Float32Array, channels: number, height: number, width: number): Float32Array {
  const out = new Float32Array(data.length);
  const plane = height * width;
  for (let p = 0; p < plane; p++) for (let ch = 0; ch < channels; ch++) out[p * channels + ch] = data[ch * plane + p]!;
  return out;
}

/** What a model's images get, where each part came from, and warnings for the parts that are guesses. */
export interface ResolvedPreprocessing {
  readonly recipe: ImagePreprocessing;
  /** The order of the input's axes (a config's `preprocess.layout`; NCHW otherwise). */
  readonly layout: ImageLayout;
  /** Where the recipe came from: a config file's path, an HF folder's preprocessor_config.json, or 'defaults'. */
  readonly source: string;
  readonly labels?: readonly string[];
  /** Where the labels came from; undefined when there are none (classes are then shown as LABEL_i). */
  readonly labelsSource?: string;
  /** Warnings about the recipe (a guess); missing labels are the caller's to mention where names matter. */
  readonly warnings: readonly string[];
}

/**
 * The preprocessing for a model's image input: its config file first, then an HF folder's
 * preprocessor_config.json, else the standard recipe — with a warning, since a model trained with other
 * statistics silently gets worse predictions.
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
    recipe = recipeFromConfig(config.preprocess, config.file, shape);
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
  return { recipe, layout: config?.preprocess?.layout ?? 'NCHW', source, ...(labels ? { labels, labelsSource } : {}), warnings };
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
