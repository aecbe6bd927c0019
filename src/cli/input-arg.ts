/**
 * `--inputs` / `--calibration` arguments: `random`, a labelled sample file (models/data/*.bin), a NumPy
 * .npy / .npz tensor in the model's input layout, or a folder of images preprocessed for the model
 * (labels from class subfolders or `--labels`).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { VitlinIoError } from '../../graph-rewrite/errors.js';
import { describeRecipe, resolveImagePreprocessing } from '../data/preprocess-recipe.js';
import { parseSampleFile } from '../data/sample-file.js';
import { isTensorFile, tensorFileInputs } from '../data/tensor-file.js';
import { imageFolderInputs } from '../data/image-folder.js';
import { randomInputs, sampleInputs, type InputPreprocessing, type InputSet } from '../eval/inputs.js';
import { integerInputMeanings, type IntegerInputMeaning } from '../eval/integer-inputs.js';
import { readModelFile } from '../io/model-file.js';
import type { BackendSession } from '../runtime/backend.js';
import { UsageError } from './args.js';
import { displayPath, type ModelArg } from './paths.js';
import { style } from './ui.js';

export interface InputArgOptions {
  /** Flag name for messages (`--inputs`, `--calibration`). */
  readonly flag: string;
  /** Items to use (random: how many; sample / images: at most). */
  readonly count?: number;
  /** Default number of random inputs. */
  readonly randomCount?: number;
  readonly seed?: number;
  readonly labelsFile?: string;
  /** The model the images are for: preprocessing and labels come from its folder. */
  readonly model: ModelArg;
  readonly session: BackendSession;
  /** The command, for the prefix of warnings on stderr (`vitlin verify: warning: …`). */
  readonly command?: string;
}

/** What the model's integer inputs mean (ids, masks), read from its graph (its weights stay on disk). */
export async function integerMeaningsOf(path: string): Promise<Record<string, IntegerInputMeaning>> {
  return integerInputMeanings(await readModelFile(path, { loadExternalData: false, onWarning: () => {} }));
}

/** Resolves an inputs argument to an input set. */
export async function resolveInputsArg(arg: string | undefined, options: InputArgOptions): Promise<InputSet> {
  if (arg === undefined || arg === 'random') {
    if (options.labelsFile) throw new UsageError(`--labels needs --inputs <image folder>; random inputs have no labels`);
    return randomInputs(options.count ?? options.randomCount ?? 16, options.seed ?? 0, {}, await integerMeaningsOf(options.model.path));
  }
  const path = resolve(arg);
  if (!existsSync(path)) throw new VitlinIoError(`${options.flag}: '${arg}': no such file or folder (expected random, a sample file, a .npy / .npz file or an image folder)`);
  if (statSync(path).isDirectory()) {
    const input = options.session.inputs[0];
    if (!input?.isTensor) throw new UsageError(`${options.flag}: the model has no tensor input to feed images to`);
    const resolved = resolveImagePreprocessing(options.model, input.shape);
    // A guessed recipe is worth a warning: a model trained with other statistics silently does worse.
    for (const warning of resolved.warnings) process.stderr.write(`vitlin${options.command ? ` ${options.command}` : ''}: warning: ${warning}\n`);
    return imageFolderInputs(path, {
      inputShape: input.shape, modelName: options.model.name, hf: options.model.folder, labelsFile: options.labelsFile, limit: options.count,
      recipe: resolved.recipe, layout: resolved.layout, ...(resolved.labels ? { classes: resolved.labels } : {}),
      preprocessing: {
        description: describeRecipe(resolved.recipe), source: resolved.source === 'defaults' ? 'defaults' : displayPath(resolved.source),
        ...(resolved.labelsSource ? { labelsSource: displayPath(resolved.labelsSource) } : {}),
      },
    });
  }
  if (isTensorFile(path)) {
    const input = options.session.inputs[0];
    if (!input?.isTensor) throw new UsageError(`${options.flag}: the model has no tensor input to feed '${arg}' to`);
    return tensorFileInputs(path, { inputShape: input.shape, inputName: input.name, labelsFile: options.labelsFile, limit: options.count });
  }
  if (options.labelsFile) throw new UsageError(`--labels is for image folders and NumPy files; the sample file '${arg}' carries its own labels`);
  const sample = parseSampleFile(readFileSync(path), arg);
  return sampleInputs(sample, basename(arg), 0, Math.min(sample.shape[0], options.count ?? Infinity));
}

/** "preprocessing resize 28×28 (bilinear), … (from x.vitlin.json)" and where the labels came from. */
export function formatPreprocessing(pre: InputPreprocessing, classes: readonly string[] | undefined): string {
  const origin = pre.applied ? `applied when ${pre.source} was made` : pre.source === 'defaults' ? 'defaults: no preprocessing config' : `from ${pre.source}`;
  const lines = [`preprocessing: ${pre.description} (${origin})`];
  lines.push(`labels: ${classes ? `${classes.length} classes from ${pre.labelsSource ?? pre.source}` : 'none (classes shown as LABEL_i)'}`);
  return style.dim(lines.join('\n'));
}
