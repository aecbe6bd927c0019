/**
 * `vitlin convert <model> -o <out> --attention hydra|linear-angular`: rewrite, write atomically, check
 * with onnxruntime, report. Every argument is checked before any work; the output is staged next to its
 * destination, checked from there and only then moved into place, so a failure at any step leaves no
 * file behind. The model is encoded once and streamed to disk: no full in-memory copy.
 */
import { copyFileSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { kernelNames } from '../../custom-ops/index.js';
import type { Model } from '../../graph-rewrite/ir/model.js';
import { CALIBRATION_BASES } from '../calibration/index.js';
import { FOLDER_CONFIG_NAME, modelConfigCandidates } from '../data/preprocess-config.js';
import type { InputSet } from '../eval/inputs.js';
import { loadModel, stageModel } from '../model-io.js';
import { nodeBackend } from '../runtime/node-backend.js';
import { UsageError, choiceOption, fractionOption, intOption, numberOption, parseBlockSelection, parseCommandArgs, positionalArgs } from './args.js';
import { DEFAULT_CHECK_COUNT, checkConversion, checkSkipReason, collectGarbage, type ConvertCheck } from './check.js';
import type { Command } from './commands.js';
import { convertModel, type ConvertOutcome, type ConvertRequest } from './convert-model.js';
import { formatConvert, type ConvertReport } from './convert-report.js';
import { integerMeaningsOf, resolveInputsArg } from './input-arg.js';
import { planOutput, resolveModelArg, samePath, type ModelArg, type OutputPlan } from './paths.js';
import { stepProgress, writeJson, type StepProgress } from './ui.js';
import { UnrecognisedAttentionError } from './unrecognised.js';

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
  'allow-partial': { type: 'boolean' },
  'check-count': { type: 'string' },
  'no-check': { type: 'boolean' },
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
  --allow-partial            write the result even when nothing was converted while Softmax nodes
                             were not recognised as attention (they are always listed; without
                             it, convert fails on such a model and writes nothing)
                             (--blocks none --no-fuse re-saves the model unchanged)
  --inline-functions         replace the fused ops by their function bodies (plain ONNX ops)
  --external-data            store weights in <out>.data next to the model
  --check-count <n>          random inputs for the quick check (default 1; 0 skips it). The check
                             loads the written model in onnxruntime and compares its output with
                             the original's; a re-save that changed nothing runs no inference
  --no-check                 skip the quick check (same as --check-count 0)
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
  if (values['no-check'] && values['check-count'] !== undefined && values['check-count'].trim() !== '0') throw new UsageError(`--no-check and --check-count ${values['check-count']} contradict each other`);
  const checkCount = values['no-check'] ? 0 : intOption(values['check-count'], '--check-count', DEFAULT_CHECK_COUNT, 0);
  const model = resolveModelArg(arg!);
  const plan = planOutput(values.output, model);

  // Calibration and --blocks auto draw their own bars within the rewrite step.
  const steps = stepProgress('convert', ['load', 'rewrite', 'write', 'check']);
  let outcome: ConvertOutcome;
  let check: ConvertCheck;
  let written: string;
  try {
    const request: ConvertRequest = {
      attention, selection: blocksSpec, linearAngularMode: mode, eps, fuse: !values['no-fuse'], fit: !values['no-fit'],
      budget: maxDrop !== undefined ? { maxTop1Drop: maxDrop } : minCosine !== undefined ? { minCosine } : undefined,
      inlineFunctions: values['inline-functions'] ?? false, basis,
    };
    const calibration = values.calibration === undefined ? undefined : { arg: values.calibration, count: calibrationCount, labelsFile: values.labels };
    let staged: StagedOutput;
    ({ outcome, staged } = await convertAndStage(model, plan, request, calibration, values['external-data'] ?? false, steps, values['allow-partial'] ?? false));
    const skip = checkSkipReason(outcome, checkCount);
    try {
      if (skip === undefined) {
        steps.step('check');
        const meanings = await integerMeaningsOf(model.path); // valid ids, 0/1 masks
        // The models are unreachable now: their buffers (the size of the file) go before onnxruntime loads its copy.
        collectGarbage();
        check = await checkConversion({ path: model.path, label: model.arg }, { path: staged.path, label: `${arg} (converted)` }, checkCount, meanings);
      } else {
        check = { skipped: skip };
      }
    } catch (error) {
      await staged.discard();
      throw error;
    }
    written = await staged.finish();
  } finally {
    steps.done();
  }
  const report: ConvertReport = { input: model.arg, output: values.output!, bytes: statSync(written).size, attention, linearAngularMode: mode, outcome, check };
  if (values.json) writeJson(toJson(report));
  else process.stdout.write(formatConvert(report, values.budget !== undefined ? `top-1 drop ≤ ${values.budget}` : `cosine ≥ ${values['min-cosine']}`) + '\n');
  return 0;
}

/** Calibration inputs; an image folder is preprocessed for the model's input, read from a session that is released at once. */
async function calibrationInputs(arg: string, count: number, labelsFile: string | undefined, model: ModelArg): Promise<InputSet> {
  const session = await nodeBackend.createSession(model.path, { label: model.arg });
  try {
    return await resolveInputsArg(arg, { flag: '--calibration', count, labelsFile, model, session, command: 'convert' });
  } finally {
    await session.release();
  }
}

/**
 * Loads, converts and stages the output; returns the report without the models, so that once this
 * returns nothing holds them (the check then runs with memory for one onnxruntime session).
 */
async function convertAndStage(model: ModelArg, plan: OutputPlan, request: ConvertRequest, calibration: { arg: string; count: number; labelsFile?: string } | undefined,
  externalData: boolean, steps: StepProgress, allowPartial: boolean): Promise<{ outcome: ConvertOutcome; staged: StagedOutput }> {
  steps.step('load');
  const original = await loadModel(model.path);
  const inputs = calibration === undefined ? undefined : await calibrationInputs(calibration.arg, calibration.count, calibration.labelsFile, model);
  steps.step('rewrite');
  const outcome = await convertModel(original, { ...request, ...(inputs ? { calibration: inputs } : {}) });
  const unrecognised = outcome.unrecognised;
  // Nothing matched while Softmax nodes remain: never a silent "no attention here".
  const nothingMatched = outcome.converted.length === 0 && outcome.fusion.fused.length === 0;
  if (request.attention !== undefined && nothingMatched && unrecognised.length > 0 && !allowPartial) throw new UnrecognisedAttentionError(unrecognised);
  steps.step('write');
  const staged = await stageOutput(plan, outcome.model, externalData, model.config?.file);
  const { model: _converted, fusion: { model: _fused, ...fusion }, ...rest } = outcome;
  void _converted;
  void _fused;
  // The report never reads the models; they are left out so that they can be collected.
  return { outcome: { ...rest, fusion } as unknown as ConvertOutcome, staged };
}

/** The output, written under a hidden name: `finish` moves it into place, `discard` removes it. */
interface StagedOutput {
  /** The staged model file (complete, its side file beside it). */
  readonly path: string;
  /** Moves the files into place (and, for a folder output, copies the input folder's configs); returns the model file's path. */
  finish(): Promise<string>;
  discard(): Promise<void>;
}

/**
 * Stages the model; a folder output this call creates is removed again if the output is discarded or
 * fails. The input's configs (a folder's, or the model's preprocessing `config` file) go with it.
 */
async function stageOutput(plan: OutputPlan, model: Model, externalData: boolean, config?: string): Promise<StagedOutput> {
  const target = plan.kind === 'file' ? plan.path : plan.modelPath;
  const created = plan.kind === 'file' || existsSync(plan.folder) ? undefined : plan.folder;
  const removeCreated = () => { if (created) rmSync(created, { recursive: true, force: true }); };
  try {
    if (plan.kind === 'folder') mkdirSync(join(plan.folder, 'onnx'), { recursive: true });
    const staged = await stageModel(model, target, { externalData });
    return {
      path: staged.path,
      discard: async () => {
        await staged.discard();
        removeCreated();
      },
      finish: async () => {
        try {
          if (plan.kind === 'folder') {
            for (const file of ['config.json', 'preprocessor_config.json', FOLDER_CONFIG_NAME]) {
              if (existsSync(join(plan.source.folder, file))) copyFileSync(join(plan.source.folder, file), join(plan.folder, file));
            }
          }
          await staged.commit();
          if (plan.kind === 'file') {
            // The converted model takes the same images and labels: its config file goes with it.
            const configTarget = modelConfigCandidates(plan.path).at(-1)!;
            if (config && !samePath(config, configTarget)) copyFileSync(config, configTarget);
          }
          return target;
        } catch (error) {
          await staged.discard();
          removeCreated();
          throw error;
        }
      },
    };
  } catch (error) {
    removeCreated();
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
  help: HELP,
  run: runConvert,
};
