/**
 * Model and output paths as the commands take them: a model is an `.onnx` file or a Hugging Face /
 * transformers.js folder (labels and preprocessing come from its configs); an output path must be
 * writable and must not be one of the inputs (compared by resolved real path, so `./m.onnx`, an
 * absolute path and a symlink to the same file are all caught).
 */
import { accessSync, constants, existsSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { VitlinIoError } from '../../graph-rewrite/errors.js';
import { isHfModelFolder, readHfFolder, type HfModelFolder } from '../data/hf-folder.js';
import { findModelConfig, type ModelConfig } from '../data/preprocess-config.js';
import { servingConfig } from '../server/model-config.js';
import { UsageError } from './args.js';

/**
 * The model's config file, checked whole — its server sections too, though the CLI does not use them — so
 * that a file is valid or invalid, with the same error, whichever of the CLI and `vitlin serve` reads it.
 */
function modelConfigOf(modelPath: string, folder?: string): ModelConfig | undefined {
  const config = findModelConfig(modelPath, folder);
  if (config) servingConfig(config);
  return config;
}

/** A model argument, resolved. */
export interface ModelArg {
  /** As the user wrote it (for messages). */
  readonly arg: string;
  /** The `.onnx` file. */
  readonly path: string;
  /** Short name for tables: the folder's or file's name. */
  readonly name: string;
  /** Set when the argument was a Hugging Face style folder. */
  readonly folder?: HfModelFolder;
  /** The model's config file (`<name>.vitlin.json` beside it, `vitlin.json` in its folder), when it has one. */
  readonly config?: ModelConfig;
}

/** Resolves a model argument; a missing path or a folder without a model is a failure (exit 1). */
export function resolveModelArg(arg: string): ModelArg {
  const path = resolve(arg);
  if (!existsSync(path)) throw new VitlinIoError(`${arg}: no such file or folder`);
  if (statSync(path).isDirectory()) {
    if (!isHfModelFolder(path)) throw new VitlinIoError(`${arg}: a folder, but neither onnx/model.onnx nor model.onnx is in it`);
    const folder = readHfFolder(path);
    const config = modelConfigOf(folder.modelPath, folder.folder);
    return { arg, path: folder.modelPath, name: folder.name, folder, ...(config ? { config } : {}) };
  }
  const config = modelConfigOf(path);
  return { arg, path, name: basename(path).replace(/\.onnx$/, ''), ...(config ? { config } : {}) };
}

/** A path as reports show it: relative to the working folder when inside it. */
export function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

/** The real path of `path`, or of its nearest existing ancestor joined with the rest. */
function realPathOrAncestor(path: string): string {
  const absolute = resolve(path);
  if (existsSync(absolute)) return realpathSync(absolute);
  const parent = dirname(absolute);
  return parent === absolute ? absolute : join(realPathOrAncestor(parent), basename(absolute));
}

/** Whether two paths name the same file once resolved (symlinks and relative forms included). */
export function samePath(a: string, b: string): boolean {
  return realPathOrAncestor(a) === realPathOrAncestor(b);
}

/**
 * Checks `-o` before any work is done: not an input (usage error, exit 2), not a folder, and its
 * folder exists and is writable (failures, exit 1). Nothing is created here.
 */
export function checkOutputPath(output: string | undefined, inputs: readonly string[], flag = '-o/--output'): string {
  if (output === undefined || output === '') throw new UsageError(`${flag} is required`);
  const path = resolve(output);
  for (const input of inputs) {
    if (samePath(path, input)) throw new UsageError(`${flag}: '${output}' is the input model; refusing to overwrite it (write somewhere else)`);
  }
  if (existsSync(path) && statSync(path).isDirectory()) throw new VitlinIoError(`${flag}: '${output}' is a folder; give a file name such as ${join(output, 'model.onnx')}`);
  const folder = dirname(path);
  if (!existsSync(folder)) throw new VitlinIoError(`${flag}: cannot write '${output}': folder '${dirname(output)}' does not exist`);
  if (!statSync(folder).isDirectory()) throw new VitlinIoError(`${flag}: cannot write '${output}': '${dirname(output)}' is not a folder`);
  try {
    accessSync(folder, constants.W_OK);
    if (existsSync(path)) accessSync(path, constants.W_OK);
  } catch {
    throw new VitlinIoError(`${flag}: cannot write '${output}': permission denied`);
  }
  return path;
}

/** Where convert writes: one `.onnx` file, or (for a Hugging Face folder input) a folder in the same layout. */
export type OutputPlan =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'folder'; readonly folder: string; readonly modelPath: string; readonly source: HfModelFolder };

/**
 * Plans `-o`: a path ending in `.onnx` is a file; given a Hugging Face folder as input, any other path
 * is a folder that gets the input's configs and `onnx/model.onnx`. Checks as {@link checkOutputPath}.
 */
export function planOutput(output: string | undefined, model: ModelArg): OutputPlan {
  if (output === undefined || output === '' || !model.folder || output.toLowerCase().endsWith('.onnx')) {
    return { kind: 'file', path: checkOutputPath(output, [model.path]) };
  }
  const folder = resolve(output);
  if (samePath(folder, model.folder.folder)) throw new UsageError(`-o/--output: '${output}' is the input folder; refusing to overwrite it (write somewhere else)`);
  if (existsSync(folder) && !statSync(folder).isDirectory()) throw new VitlinIoError(`-o/--output: '${output}' is a file; a Hugging Face folder input is written as a folder (or give a .onnx file name)`);
  const parent = existsSync(folder) ? folder : dirname(folder);
  if (!existsSync(parent) || !statSync(parent).isDirectory()) throw new VitlinIoError(`-o/--output: cannot write '${output}': folder '${dirname(output)}' does not exist`);
  try {
    accessSync(parent, constants.W_OK);
  } catch {
    throw new VitlinIoError(`-o/--output: cannot write '${output}': permission denied`);
  }
  return { kind: 'folder', folder, modelPath: join(folder, 'onnx', 'model.onnx'), source: model.folder };
}
