/**
 * Hugging Face style model folders, as transformers.js and Optimum lay them out:
 *
 *     my-vit/
 *       config.json               id2label, image_size, num_channels
 *       preprocessor_config.json  size, do_resize, resample, do_center_crop, crop_size, do_rescale,
 *                                 rescale_factor, do_normalize, image_mean, image_std
 *       onnx/model.onnx           (transformers.js) — or model.onnx at the top (Optimum)
 *
 * Both JSON files are optional. Errors name the file and the field, so a user can fix the config alone.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { InvalidArgumentError } from '../../graph-rewrite/errors.js';
import { ConfigFileError } from './config-error.js';
import { RESAMPLE, type ImagePreprocessing, type Resample, type ResizeTarget } from './images.js';

/** A config file or field of an HF folder is unreadable or invalid; `file` and `field` say where. */
export class HfFolderError extends ConfigFileError {}

/** What preprocessor_config.json says, validated, with transformers' defaults filled in. */
export interface PreprocessorConfig {
  readonly doResize: boolean;
  readonly size?: ResizeTarget;
  readonly resample: Resample;
  readonly doCenterCrop: boolean;
  readonly cropSize?: { readonly height: number; readonly width: number };
  readonly doRescale: boolean;
  readonly rescaleFactor: number;
  readonly doNormalize: boolean;
  readonly imageMean: readonly number[];
  readonly imageStd: readonly number[];
}

export interface HfModelFolder {
  /** The folder's own name: the model's name when served. */
  readonly name: string;
  readonly folder: string;
  readonly modelPath: string;
  /** Class labels by index, from config.json `id2label`. */
  readonly labels?: readonly string[];
  /** config.json `image_size` and `num_channels`. */
  readonly imageSize?: number;
  readonly numChannels?: number;
  /** Undefined when the folder has no preprocessor_config.json. */
  readonly preprocessor?: PreprocessorConfig;
}

/** transformers' IMAGENET_STANDARD_MEAN / STD: ViTImageProcessor's defaults. */
const STANDARD_MEAN = [0.5, 0.5, 0.5];
const STANDARD_STD = [0.5, 0.5, 0.5];

/** The model file of an HF folder: `onnx/model.onnx` (transformers.js) first, then `model.onnx`. */
export function findHfModelFile(folder: string): string | undefined {
  for (const candidate of [join(folder, 'onnx', 'model.onnx'), join(folder, 'model.onnx')]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

export function isHfModelFolder(folder: string): boolean {
  return existsSync(folder) && statSync(folder).isDirectory() && findHfModelFile(folder) !== undefined;
}

function readJson(path: string): Record<string, unknown> | undefined {
  if (!existsSync(path)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new HfFolderError(path, undefined, `is not valid JSON: ${(cause as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HfFolderError(path, undefined, 'must hold a JSON object');
  return value as Record<string, unknown>;
}

/** Typed field readers: each throws an HfFolderError naming file and field. */
class Fields {
  constructor(readonly file: string, readonly json: Record<string, unknown>) {}
  fail(field: string, why: string): never {
    throw new HfFolderError(this.file, field, why);
  }
  bool(field: string, fallback: boolean): boolean {
    const value = this.json[field];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'boolean') this.fail(field, `must be true or false, got ${JSON.stringify(value)}`);
    return value;
  }
  positiveInt(field: string, value = this.json[field]): number | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) this.fail(field, `must be a positive integer, got ${JSON.stringify(value)}`);
    return value;
  }
  number(field: string, fallback: number, positive = false): number {
    const value = this.json[field];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || (positive && value <= 0)) this.fail(field, `must be a ${positive ? 'positive ' : ''}number, got ${JSON.stringify(value)}`);
    return value;
  }
  numbers(field: string, fallback: readonly number[], positive = false): readonly number[] {
    const value = this.json[field];
    if (value === undefined || value === null) return fallback;
    const list = typeof value === 'number' ? [value] : value;
    if (!Array.isArray(list) || list.length === 0 || !list.every((v) => typeof v === 'number' && Number.isFinite(v) && (!positive || v > 0))) {
      this.fail(field, `must be a ${positive ? 'positive ' : ''}number or a non-empty list of them, got ${JSON.stringify(value)}`);
    }
    return list as number[];
  }
  /** `size` / `crop_size`: an int (square), {height, width}, or (size only) {shortest_edge}. */
  size(field: string, allowShortestEdge: boolean): ResizeTarget | undefined {
    const value = this.json[field];
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'number') {
      const side = this.positiveInt(field, value)!;
      return { height: side, width: side };
    }
    if (typeof value !== 'object' || Array.isArray(value)) this.fail(field, `must be an integer or an object, got ${JSON.stringify(value)}`);
    const record = value as Record<string, unknown>;
    if ('height' in record || 'width' in record) {
      return { height: this.positiveInt(`${field}.height`, record.height ?? 0)!, width: this.positiveInt(`${field}.width`, record.width ?? 0)! };
    }
    if (allowShortestEdge && 'shortest_edge' in record) {
      if (record.longest_edge !== undefined && record.longest_edge !== null) this.fail(`${field}.longest_edge`, 'is not supported (only shortest_edge, or height and width)');
      return { shortestEdge: this.positiveInt(`${field}.shortest_edge`, record.shortest_edge)! };
    }
    this.fail(field, `must have height and width${allowShortestEdge ? ' or shortest_edge' : ''}, got ${JSON.stringify(value)}`);
  }
}

function readLabels(fields: Fields): string[] | undefined {
  const value = fields.json.id2label;
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) fields.fail('id2label', 'must be an object mapping class ids to labels');
  const entries = Object.entries(value as Record<string, unknown>);
  const labels: string[] = new Array<string>(entries.length);
  for (const [key, label] of entries) {
    const index = Number(key);
    if (!Number.isInteger(index) || index < 0 || index >= entries.length || String(index) !== key) {
      fields.fail(`id2label.${key}`, `must be a class id from 0 to ${entries.length - 1}`);
    }
    if (typeof label !== 'string') fields.fail(`id2label.${key}`, `must be a string, got ${JSON.stringify(label)}`);
    labels[index] = label;
  }
  return labels;
}

function readPreprocessor(fields: Fields): PreprocessorConfig {
  const resample = fields.json.resample ?? RESAMPLE.bilinear;
  if (!(Object.values(RESAMPLE) as unknown[]).includes(resample)) fields.fail('resample', `must be a PIL filter number 0–5, got ${JSON.stringify(resample)}`);
  const cropSize = fields.size('crop_size', false) as { height: number; width: number } | undefined;
  const size = fields.size('size', true);
  return {
    doResize: fields.bool('do_resize', true),
    ...(size ? { size } : {}),
    resample: resample as Resample,
    doCenterCrop: fields.bool('do_center_crop', cropSize !== undefined),
    ...(cropSize ? { cropSize } : {}),
    doRescale: fields.bool('do_rescale', true),
    rescaleFactor: fields.number('rescale_factor', 1 / 255, true),
    doNormalize: fields.bool('do_normalize', true),
    imageMean: fields.numbers('image_mean', STANDARD_MEAN),
    imageStd: fields.numbers('image_std', STANDARD_STD, true),
  };
}

/** Reads an HF folder: its model file and (when present) its labels and preprocessing. */
export function readHfFolder(folder: string): HfModelFolder {
  const dir = resolve(folder);
  const modelPath = findHfModelFile(dir);
  if (!modelPath) throw new HfFolderError(dir, undefined, 'has neither onnx/model.onnx nor model.onnx');
  const configPath = join(dir, 'config.json');
  const preprocessorPath = join(dir, 'preprocessor_config.json');
  const config = readJson(configPath);
  const preprocessor = readJson(preprocessorPath);
  const configFields = config ? new Fields(configPath, config) : undefined;
  const labels = configFields ? readLabels(configFields) : undefined;
  const imageSize = configFields?.positiveInt('image_size');
  const numChannels = configFields?.positiveInt('num_channels');
  return {
    name: basename(dir),
    folder: dir,
    modelPath,
    ...(labels ? { labels } : {}),
    ...(imageSize ? { imageSize } : {}),
    ...(numChannels ? { numChannels } : {}),
    ...(preprocessor ? { preprocessor: readPreprocessor(new Fields(preprocessorPath, preprocessor)) } : {}),
  };
}

const fixedDim = (dim: number | string | undefined) => (typeof dim === 'number' && dim > 0 ? dim : undefined);

/**
 * The preprocessing recipe for a model's image input (`shape` = [N, C, H, W], dims may be symbolic):
 * the folder's preprocessor_config.json when present, otherwise ViTImageProcessor's defaults (resize to
 * the model's size, bilinear, ×1/255, mean = std = 0.5). Throws when the config and the model disagree.
 */
export function imagePreprocessingFor(folder: HfModelFolder | undefined, shape: ReadonlyArray<number | string>, model: string): ImagePreprocessing {
  if (shape.length !== 4) throw new InvalidArgumentError(`${model}: an image input must be NCHW (rank 4), this one is [${shape.join(', ')}]`);
  const channels = fixedDim(shape[1]) ?? folder?.numChannels ?? 3;
  if (channels !== 1 && channels !== 3) throw new InvalidArgumentError(`${model}: images have 1 or 3 channels, the model takes ${channels}`);
  const pre = folder?.preprocessor;
  const preFile = folder ? join(folder.folder, 'preprocessor_config.json') : '';
  const modelSize = fixedDim(shape[2]) && fixedDim(shape[3]) ? { height: shape[2] as number, width: shape[3] as number } : undefined;
  const square = folder?.imageSize ? { height: folder.imageSize, width: folder.imageSize } : undefined;
  const crop = pre?.doCenterCrop ? pre.cropSize : undefined;
  if (pre?.doCenterCrop && !crop) throw new HfFolderError(preFile, 'crop_size', 'is needed when do_center_crop is true');
  const resize = pre ? (pre.doResize ? pre.size ?? modelSize ?? square : undefined) : modelSize ?? square;
  if (pre?.doResize && !resize) throw new HfFolderError(preFile, 'size', 'is needed when do_resize is true and the model input has no fixed height and width');
  if (!pre && !resize) throw new InvalidArgumentError(`${model}: the image size is unknown (the input is [${shape.join(', ')}] and there is no config.json image_size)`);
  // The size the recipe produces, where it is known without seeing the image.
  const produced = crop ?? (resize && 'height' in resize ? resize : undefined);
  if (modelSize && produced && (produced.height !== modelSize.height || produced.width !== modelSize.width)) {
    throw new HfFolderError(preFile || model, crop ? 'crop_size' : 'size', `gives ${produced.height}×${produced.width} images, the model takes ${modelSize.height}×${modelSize.width}`);
  }
  const mean = pre?.imageMean ?? STANDARD_MEAN;
  const std = pre?.imageStd ?? STANDARD_STD;
  const doNormalize = pre?.doNormalize ?? true;
  for (const [field, values] of [['image_mean', mean], ['image_std', std]] as const) {
    if (doNormalize && values.length !== 1 && values.length !== channels) {
      if (!pre) continue; // defaults are per RGB channel; a grey model takes their first value
      throw new HfFolderError(preFile, field, `has ${values.length} values, the model takes ${channels} channel(s)`);
    }
  }
  return {
    channels,
    ...(resize ? { resize } : {}),
    resample: pre?.resample ?? RESAMPLE.bilinear,
    ...(crop ? { crop } : {}),
    ...((pre?.doRescale ?? true) ? { rescaleFactor: pre?.rescaleFactor ?? 1 / 255 } : {}),
    ...(doNormalize ? { normalize: { mean: mean.length === channels ? mean : [mean[0]!], std: std.length === channels ? std : [std[0]!] } } : {}),
  };
}
