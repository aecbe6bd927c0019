/**
 * `vitlin classify <model> <image | folder>…`: the top classes of each image, saying first how the
 * images were preprocessed and where the labels came from — and warning when either is a guess.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError, VitlinIoError } from '../../graph-rewrite/errors.js';
import { preprocessImage } from '../data/images.js';
import { modelConfigCandidates } from '../data/preprocess-config.js';
import { chwToHwc, describeRecipe, resolveImagePreprocessing } from '../data/preprocess-recipe.js';
import { listImages } from '../data/image-folder.js';
import { imageArrayInputs } from '../eval/inputs.js';
import { tensorToFloat32 } from '../runtime/float16.js';
import { nodeBackend } from '../runtime/node-backend.js';
import { EXECUTION_PROVIDERS } from '../runtime/session.js';
import { topClasses } from '../web/predictions.js';
import { choiceOption, intOption, parseCommandArgs, positionalArgs, UsageError } from './args.js';
import type { Command } from './commands.js';
import { formatPreprocessing } from './input-arg.js';
import { displayPath, resolveModelArg } from './paths.js';
import { formatPercent, style, table, writeJson } from './ui.js';

const OPTIONS = {
  top: { type: 'string' },
  ep: { type: 'string' },
  json: { type: 'boolean' },
} as const;

const HELP = `Usage: vitlin classify <model> <image | folder>… [options]

Runs a model on PNG / JPEG images and prints each one's most probable classes. The preprocessing
(resize, crop, rescale, mean / std) and the class labels come from the model's config: <name>.vitlin.json
beside <name>.onnx (or vitlin.json in its folder), else a Hugging Face folder's preprocessor_config.json
and config.json; without either the standard recipe (mean = std = 0.5) is used, with a warning.
What was used is printed before the results (docs/model-config.md).

Options:
  --top <n>          classes per image (default 3)
  --ep cpu|webgpu    onnxruntime execution provider (default cpu)
  --json             machine-readable output
  --verbose          stack traces on errors`;

/** The image files named on the command line: files as given, folders expanded (sorted). */
function imageFiles(args: readonly string[]): string[] {
  return args.flatMap((arg) => {
    if (!existsSync(arg)) throw new VitlinIoError(`${arg}: no such file or folder`);
    if (!statSync(arg).isDirectory()) return [arg];
    const files = listImages(arg).map((f) => join(arg, f));
    if (files.length === 0) throw new InvalidArgumentError(`${arg}: no .png / .jpg / .jpeg images in the folder`);
    return files;
  });
}

async function runClassify(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, OPTIONS, 'classify');
  const [modelArg, ...imageArgs] = positionalArgs(positionals, 'classify', ['model', 'image'], { variadic: true });
  const top = intOption(values.top, '--top', 3, 1);
  const ep = choiceOption(values.ep, '--ep', EXECUTION_PROVIDERS, 'cpu');
  const model = resolveModelArg(modelArg!);
  const files = imageFiles(imageArgs);
  const session = await nodeBackend.createSession(model.path, { ep, label: model.arg });
  try {
    const input = session.inputs[0];
    if (!input?.isTensor || session.inputs.length !== 1) throw new UsageError(`${model.arg}: classify needs a model with one image input`);
    const resolved = resolveImagePreprocessing(model, input.shape);
    const warnings = [...resolved.warnings];
    if (!resolved.labels) warnings.push(`${model.name}: no class labels (add "labels" to ${modelConfigCandidates(model.path, model.folder?.folder).at(-1)}); classes are shown as LABEL_i`);
    for (const warning of warnings) process.stderr.write(`vitlin classify: warning: ${warning}\n`);
    const label = (index: number) => resolved.labels?.[index] ?? `LABEL_${index}`;
    const results = [];
    for (const file of files) {
      let tensor;
      try {
        tensor = preprocessImage(new Uint8Array(readFileSync(file)), resolved.recipe);
      } catch (error) {
        throw new InvalidArgumentError(`${file}: ${(error as Error).message}`);
      }
      const [, c, h, w] = tensor.dims;
      const image = resolved.layout === 'NHWC' ? { data: chwToHwc(tensor.data, c, h, w), dims: [1, h!, w!, c!] as const } : { data: tensor.data, dims: [1, c!, h!, w!] as const };
      const outputs = await session.run(imageArrayInputs(file, image.data, image.dims).feeds(session.inputs, 0, 1));
      const logits = tensorToFloat32(outputs[session.outputs[0]!.name]!);
      results.push({ image: file, top: topClasses(logits, top).map((c) => ({ index: c.index, label: label(c.index), probability: c.probability })) });
    }
    const preprocessing = { description: describeRecipe(resolved.recipe), source: displayPath(resolved.source), labelsSource: resolved.labelsSource ? displayPath(resolved.labelsSource) : null };
    if (values.json) {
      writeJson({ model: model.arg, preprocessing, recipe: resolved.recipe, warnings, results });
      return 0;
    }
    process.stdout.write(`${style.bold('classify')} ${model.arg}, onnxruntime ${ep}\n`);
    const said = { description: preprocessing.description, source: preprocessing.source, ...(preprocessing.labelsSource ? { labelsSource: preprocessing.labelsSource } : {}) };
    process.stdout.write(formatPreprocessing(said, resolved.labels) + '\n\n');
    const header = ['image', ...Array.from({ length: Math.min(top, results[0]?.top.length ?? 0) }, (_, i) => `#${i + 1}`)];
    process.stdout.write(table(header, results.map((r) => [r.image, ...r.top.map((c) => `${c.label} ${formatPercent(c.probability)}`)])) + '\n');
    return 0;
  } finally {
    await session.release();
  }
}

export const classifyCommand: Command = {
  name: 'classify',
  help: HELP,
  run: runClassify,
};
