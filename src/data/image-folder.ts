/**
 * A folder of PNG / JPEG images as an input set: decoded and preprocessed the way the model's
 * Hugging Face configs say (src/data/images.ts, src/data/hf-folder.ts), optionally with labels from a
 * labels file: one `<file name> <label>` per line (tab, comma or spaces), or a JSON object
 * `{ "<file name>": label }`; a label is a class index or a class name from config.json `id2label`.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { InvalidArgumentError, VitlinIoError } from '../../graph-rewrite/errors.js';
import { imagePreprocessingFor, type HfModelFolder } from './hf-folder.js';
import { preprocessImage, type ImagePreprocessing } from './images.js';
import { listClassFolders } from './class-folders.js';
import type { ImageLayout } from './preprocess-config.js';
import { chwToHwc } from './preprocess-recipe.js';
import { imageArrayInputs, type InputPreprocessing, type InputSet } from '../eval/inputs.js';

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);

/** The image files of a folder (not recursive), sorted by name so runs are reproducible. */
export function listImages(folder: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(folder);
  } catch (cause) {
    throw new VitlinIoError(`${folder}: cannot read the folder: ${(cause as Error).message}`, { cause });
  }
  return entries.filter((f) => IMAGE_EXTENSIONS.has(extname(f).toLowerCase()) && statSync(join(folder, f)).isFile()).sort();
}

/** Reads a labels file into file name → class index. */
export function readLabelsFile(path: string, classes: readonly string[] | undefined): Map<string, number> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new VitlinIoError(`${path}: cannot read the labels file: ${(cause as Error).message}`, { cause });
  }
  const toIndex = (label: unknown, where: string): number => {
    if (typeof label === 'number' && Number.isInteger(label) && label >= 0) return label;
    const s = String(label).trim();
    if (/^\d+$/.test(s)) return Number(s);
    const at = classes?.indexOf(s) ?? -1;
    if (at < 0) throw new InvalidArgumentError(`${path}: ${where}: label '${s}' is neither a class index nor a class name${classes ? '' : ' (the model has no id2label)'}`);
    return at;
  };
  const map = new Map<string, number>();
  if (text.trimStart().startsWith('{')) {
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch (cause) {
      throw new InvalidArgumentError(`${path}: not valid JSON: ${(cause as Error).message}`);
    }
    for (const [file, label] of Object.entries(json)) map.set(basename(file), toIndex(label, `'${file}'`));
    return map;
  }
  text.split(/\r?\n/).forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const match = /^(.+?)\s*[\t,]\s*(.+)$/.exec(trimmed) ?? /^(\S+)\s+(.+)$/.exec(trimmed);
    if (!match) throw new InvalidArgumentError(`${path}: line ${i + 1}: expected '<file> <label>', got '${trimmed}'`);
    map.set(basename(match[1]!), toIndex(match[2]!, `line ${i + 1}`));
  });
  return map;
}

export interface ImageFolderOptions {
  /** The model's image input shape [N, C, H, W] (dims may be symbolic). */
  readonly inputShape: ReadonlyArray<number | string>;
  readonly modelName: string;
  readonly hf?: HfModelFolder;
  readonly labelsFile?: string;
  /** Use at most this many images. */
  readonly limit?: number;
  /** The recipe to apply (default: the HF folder's, else the standard one) and how to report it. */
  readonly recipe?: ImagePreprocessing;
  /** The input's axis order (a config's `preprocess.layout`); default NCHW. */
  readonly layout?: ImageLayout;
  readonly preprocessing?: InputPreprocessing;
  /** Class names (default: the HF folder's id2label). */
  readonly classes?: readonly string[];
}

/** Decodes and preprocesses every image of `folder` for the model. */
export function imageFolderInputs(folder: string, options: ImageFolderOptions): InputSet {
  const flat = listImages(folder);
  // No images at the top but class subfolders: the one-subfolder-per-class layout, labelled by folder.
  const byClass = flat.length === 0 && !options.labelsFile ? listClassFolders(folder, (f) => IMAGE_EXTENSIONS.has(extname(f).toLowerCase()), options.classes ?? options.hf?.labels) : undefined;
  const files = (byClass?.files ?? flat).slice(0, options.limit ?? Infinity);
  if (files.length === 0) throw new InvalidArgumentError(`${folder}: no .png / .jpg / .jpeg images in the folder or in class subfolders`);
  const recipe = options.recipe ?? imagePreprocessingFor(options.hf, options.inputShape, options.modelName);
  let images: Float32Array | undefined;
  let dims: [number, number, number] | undefined;
  files.forEach((file, i) => {
    let tensor;
    try {
      tensor = preprocessImage(readFileSync(join(folder, file)), recipe);
    } catch (error) {
      throw new InvalidArgumentError(`${join(folder, file)}: ${(error as Error).message}`);
    }
    const [, c, h, w] = tensor.dims;
    if (!dims) {
      dims = [c, h, w];
      images = new Float32Array(files.length * c * h * w);
    } else if (dims[1] !== h || dims[2] !== w) {
      throw new InvalidArgumentError(`${join(folder, file)}: preprocessed to ${h}×${w}, the first image to ${dims[1]}×${dims[2]} (the model's configs need a fixed size or crop)`);
    }
    images!.set(options.layout === 'NHWC' ? chwToHwc(tensor.data, c, h, w) : tensor.data, i * c * h * w);
  });
  let labels: number[] | undefined;
  const classes = byClass?.classes ?? options.classes ?? options.hf?.labels;
  if (byClass) {
    const labelOf = new Map(byClass.files.map((f, i) => [f, byClass.labels[i]!]));
    labels = files.map((f) => labelOf.get(f)!);
  } else if (options.labelsFile) {
    const map = readLabelsFile(options.labelsFile, classes);
    const missing = files.filter((f) => !map.has(f));
    if (missing.length) throw new InvalidArgumentError(`${options.labelsFile}: no label for ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ` and ${missing.length - 3} more` : ''}`);
    labels = files.map((f) => map.get(f)!);
  }
  const set = imageArrayInputs(`${folder} (${files.length} image${files.length === 1 ? '' : 's'})`, images!, options.layout === 'NHWC' ? [files.length, dims![1], dims![2], dims![0]] as const : [files.length, ...dims!] as const, labels, classes);
  return options.preprocessing ? { ...set, preprocessing: options.preprocessing } : set;
}
