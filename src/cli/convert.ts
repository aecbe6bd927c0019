/**
 * `vitlin convert <model> -o <out> --attention hydra|linear-angular`: rewrite, check with onnxruntime,
 * write atomically, report. Every argument is checked before any work, and the output is written last
 * (saveModel is atomic), so a failure at any step leaves no file behind.
 */
import { copyFileSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { kernelNames } from '../../custom-ops/index.js';
import type { Model } from '../../graph-rewrite/ir/model.js';
import { CALIBRATION_BASES } from '../calibration/index.js';
import { fidelityOf, runModel } from '../eval/fidelity.js';
import { randomInputs, type InputSet } from '../eval/inputs.js';
import { loadModel, modelToBytes, saveModel } from '../model-io.js';
import { createSession } from '../runtime/session.js';
import { UsageError, choiceOption, fractionOption, intOption, numberOption, parseBlockSelection, parseCommandArgs, positionalArgs } from './args.js';
import type { Command } from './commands.js';
import { convertModel, type ConvertOutcome } from './convert-model.js';
import { formatConvert, type ConvertReport } from './convert-report.js';
import { resolveInputsArg } from './input-arg.js';
import { planOutput, resolveModelArg, type OutputPlan } from './paths.js';
import { progress, writeJson } from './ui.js';

const OPTIONS = {
  output: { type: 'string', short: 'o' },
  attention: { type: 'string' },
  blocks: { type: 'string' },
  budget: { type: 'string' },
  'min-cosine': { type: 'string' },
  calibration: { type: 'string' },
  'calibration-count': { type: 'string' },
  labels: { type: 'string' },
  'no-fit': { type: 'boolean' },
  'calibration-basis': { type: 'string' },
  'linear-angular-mode': { type: 'string' },
  eps: { type: 'string' },
  'inline-functions': { type: 'boolean' },
  'external-data': { type: 'boolean' },
  'no-fuse': { type: 'boolean' },
  'check-count': { type: 'string' },
  json: { type: 'boolean' },
} as const;

const HELP = `Usage: vitlin convert <model> -o <out.onnx> --attention hydra|linear-angular [options]

Replaces softmax attention blocks with fused linear-cost ops (ai.vitlin HydraAttention or
LinearAngularAttention, shipped inside the model as ONNX functions), fuses decomposed Hydra /
linear-angular blocks exactly, checks the result with onnxruntime and writes it atomically.
Converting softmax attention without retraining changes what the model computes: the report
measures it (and 'vitlin verify' measures it on real data).

Options:
  -o, --output <path>        where to write: a .onnx file (never the input); for a Hugging Face
                             folder input, a folder path writes the same layout (configs + onnx/model.onnx)
  --attention <op>           hydra | linear-angular (required unless --blocks none)
  --blocks <which>           all (default) | none | 0,3,10-11 | auto
  --budget <drop>            with --blocks auto: max top-1 drop, e.g. 1% (accuracy with labels,
                             otherwise agreement with the original)
  --min-cosine <x>           with --blocks auto: min cosine similarity of the outputs instead
  --calibration <inputs>     a sample file, a .npy / .npz tensor in the model's input layout, or an
                             image folder (one subfolder per class, or flat with --labels): refit each
                             converted block's output projection, block after block, so that the
                             residual stream matches the original's (ridge least squares). The inputs
                             are split: the refit uses the first part, the report (and --blocks auto)
                             the rest (¼, or ½ with --blocks auto) — never what was fitted
  --calibration-count <n>    use at most n calibration inputs (default 256)
  --calibration-basis <b>    plain (default: the output projection alone) | extended (adds v,
                             its token mean and an unnormalised linear attention term, written as
                             ordinary ONNX nodes beside the fused op)
  --labels <file>            labels for --calibration: a .npy of ints, or a text file for an image folder
  --no-fit                   with --calibration: measure only, do not refit
  --linear-angular-mode <m>  kernel_normalized (default: the paper's normalised form, the closer
                             drop-in for softmax) | reference (Castling-ViT's released code)
  --eps <x>                  eps of the fused ops' normalisations (default 1e-6)
  --no-fuse                  do not fuse decomposed Hydra / linear-angular blocks
                             (--blocks none --no-fuse re-saves the model unchanged)
  --inline-functions         replace the fused ops by their function bodies (plain ONNX ops)
  --external-data            store weights in <out>.data next to the model
  --check-count <n>          random inputs for the quick check (default 8)
  --json                     machine-readable output
  --verbose                  stack traces on errors`;

async function runConvert(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, OPTIONS, 'convert');
  const [arg] = positionalArgs(positionals, 'convert', ['model']);
  // Argument checks first: nothing is loaded, run or written for a command that cannot succeed.
  const attention = values.attention === undefined ? undefined : choiceOption(values.attention, '--attention', kernelNames());
  const mode = choiceOption(values['linear-angular-mode'], '--linear-angular-mode', ['kernel_normalized', 'reference'] as const, 'kernel_normalized');
  const blocksSpec = values.blocks ?? 'all';
  if (!/^(all|none|auto|[\d,\s-]+)$/.test(blocksSpec.trim())) parseBlockSelection(blocksSpec, Number.MAX_SAFE_INTEGER); // throws the syntax error
  const isAuto = blocksSpec.trim() === 'auto';
  const maxDrop = fractionOption(values.budget, '--budget');
  const minCosine = numberOption(values['min-cosine'], '--min-cosine', -1, 1);
  if ((maxDrop !== undefined || minCosine !== undefined) && !isAuto) throw new UsageError(`--budget and --min-cosine go with --blocks auto`);
  if (isAuto && (maxDrop === undefined) === (minCosine === undefined)) throw new UsageError(`--blocks auto needs exactly one of --budget <max top-1 drop> and --min-cosine <x>`);
  if (isAuto && values.calibration === undefined) throw new UsageError(`--blocks auto needs --calibration <sample file | image folder> to measure fidelity on`);
  if (blocksSpec.trim() !== 'none' && attention === undefined) throw new UsageError(`--attention is required (${kernelNames().join(' | ')})`);
  if (values['no-fit'] && values.calibration === undefined) throw new UsageError(`--no-fit goes with --calibration`);
  const basis = choiceOption(values['calibration-basis'], '--calibration-basis', CALIBRATION_BASES, 'plain');
  if (values['calibration-basis'] !== undefined && (values.calibration === undefined || values['no-fit'])) throw new UsageError(`--calibration-basis goes with --calibration (and without --no-fit)`);
  const eps = numberOption(values.eps, '--eps', Number.MIN_VALUE, 1);
  const calibrationCount = intOption(values['calibration-count'], '--calibration-count', 256, 1);
  const checkCount = intOption(values['check-count'], '--check-count', 8, 1);
  const model = resolveModelArg(arg!);
  const plan = planOutput(values.output, model);

  // Stages, for the progress bar (calibration and --blocks auto draw their own).
  const bar = progress('convert', 4);
  let outcome: ConvertOutcome;
  let check;
  let written: string;
  try {
    const original = await loadModel(model.path);
    const originalSession = await createSession(model.path, {}, model.arg);
    bar.tick();
    try {
      const calibration: InputSet | undefined = values.calibration === undefined ? undefined
        : resolveInputsArg(values.calibration, { flag: '--calibration', count: calibrationCount, labelsFile: values.labels, model, session: originalSession });
      outcome = await convertModel(original, {
        attention, selection: blocksSpec, linearAngularMode: mode, eps, fuse: !values['no-fuse'], calibration, fit: !values['no-fit'], basis,
        budget: maxDrop !== undefined ? { maxTop1Drop: maxDrop } : minCosine !== undefined ? { minCosine } : undefined,
        inlineFunctions: values['inline-functions'] ?? false,
      });
      bar.tick();
      // The check: onnxruntime must load the result, and its outputs are compared on random inputs.
      const inputs = randomInputs(checkCount, 1);
      const converted = await createSession(modelToBytes(outcome.model), {}, `${arg} (converted)`);
      try {
        check = { inputs: inputs.description, ...fidelityOf(await runModel(originalSession, inputs), await runModel(converted, inputs)) };
      } finally {
        await converted.release();
      }
      bar.tick();
    } finally {
      await originalSession.release();
    }
    written = await writeOutput(plan, outcome.model, values['external-data'] ?? false);
    bar.tick();
  } finally {
    bar.done();
  }
  const report: ConvertReport = { input: model.arg, output: values.output!, bytes: statSync(written).size, attention, linearAngularMode: mode, outcome, check };
  if (values.json) writeJson(toJson(report));
  else process.stdout.write(formatConvert(report, values.budget !== undefined ? `top-1 drop ≤ ${values.budget}` : `cosine ≥ ${values['min-cosine']}`) + '\n');
  return 0;
}

/**
 * Writes the model (atomically) and, for a folder output, the input folder's configs; a folder this
 * call created is removed again if writing fails. Returns the model file's path.
 */
async function writeOutput(plan: OutputPlan, model: Model, externalData: boolean): Promise<string> {
  if (plan.kind === 'file') {
    await saveModel(model, plan.path, { externalData });
    return plan.path;
  }
  const created = existsSync(plan.folder) ? undefined : plan.folder;
  try {
    mkdirSync(join(plan.folder, 'onnx'), { recursive: true });
    for (const file of ['config.json', 'preprocessor_config.json']) {
      if (existsSync(join(plan.source.folder, file))) copyFileSync(join(plan.source.folder, file), join(plan.folder, file));
    }
    await saveModel(model, plan.modelPath, { externalData });
    return plan.modelPath;
  } catch (error) {
    if (created) rmSync(created, { recursive: true, force: true });
    throw error;
  }
}

/** The `--json` document: the report without the model object. */
function toJson(report: ConvertReport): unknown {
  const { outcome, ...rest } = report;
  const { model: _model, ...fields } = outcome;
  void _model;
  return { ...rest, ...fields, fusion: { available: fields.fusion.available, fused: fields.fusion.fused, skipped: fields.fusion.skipped } };
}

export const convertCommand: Command = {
  name: 'convert',
  summary: 'replace softmax attention with fused Hydra / linear-angular ops, check, write',
  help: HELP,
  run: runConvert,
};
