/**
 * `vitlin verify <original> <converted>`: runs both models with onnxruntime on the same inputs and
 * reports max / mean absolute error, cosine similarity, top-1 agreement and, with labels, accuracy.
 */
import { fidelityOf, runModel, type Fidelity } from '../eval/fidelity.js';
import type { InputPreprocessing } from '../eval/inputs.js';
import type { BackendSession } from '../runtime/backend.js';
import { nodeBackend } from '../runtime/node-backend.js';
import { EXECUTION_PROVIDERS, type ExecutionProvider } from '../runtime/session.js';
import { choiceOption, intOption, numberOption, parseCommandArgs, positionalArgs } from './args.js';
import type { Command } from './commands.js';
import { formatPreprocessing, resolveInputsArg } from './input-arg.js';
import { resolveModelArg } from './paths.js';
import { formatError, formatPercent, progress, style, writeJson } from './ui.js';

const OPTIONS = {
  inputs: { type: 'string' },
  labels: { type: 'string' },
  count: { type: 'string' },
  seed: { type: 'string' },
  batch: { type: 'string' },
  ep: { type: 'string' },
  threads: { type: 'string' },
  tolerance: { type: 'string' },
  json: { type: 'boolean' },
} as const;

const HELP = `Usage: vitlin verify <original> <converted> [options]

Runs both models with onnxruntime on the same inputs and compares their first outputs.
A model is an .onnx file or a Hugging Face folder (config.json, preprocessor_config.json, onnx/model.onnx).

Options:
  --inputs random|<sample file>|<image folder>
                       what to run: seeded random tensors (default), a labelled sample file such as
                       models/data/fashion-mnist-test-1000.bin, or PNG/JPEG images preprocessed per the
                       model's config (<name>.vitlin.json beside it, or its Hugging Face configs; the
                       preprocessing in use is printed, with a warning when it is the default guess)
  --labels <file>      labels for an image folder: '<file> <label>' lines or a JSON object; a label is
                       a class index or an id2label name (sample files carry their own labels)
  --count <n>          random inputs to make (default 16), or at most this many images
  --seed <n>           random-input seed (default 0)
  --batch <n>          largest batch for models with a dynamic batch axis (default 64)
  --ep cpu|webgpu      onnxruntime execution provider (default cpu)
  --threads <n>        intra-op threads (default: onnxruntime's choice)
  --tolerance <x>      exit 1 when the max absolute error is above x
  --json               machine-readable output
  --verbose            stack traces on errors`;

/** The verify report, also the `--json` document. */
export interface VerifyReport extends Fidelity {
  readonly original: string;
  readonly converted: string;
  readonly inputs: string;
  /** How the images became tensors (image folders and sample files). */
  readonly preprocessing?: InputPreprocessing;
  readonly ep: ExecutionProvider;
  readonly seconds: number;
}

/** Formats a fidelity report as aligned `name value` lines. */
export function formatFidelity(f: Fidelity): string {
  const lines: [string, string][] = [
    ['max |Δ|', formatError(f.maxAbsError)],
    ['mean |Δ|', formatError(f.meanAbsError)],
    ['cosine', f.cosine.toFixed(6)],
  ];
  if (f.top1Agreement !== undefined) lines.push(['top-1 agreement', formatPercent(f.top1Agreement)]);
  if (f.accuracy) {
    const drop = (f.accuracy.converted - f.accuracy.original) * 100;
    lines.push(['accuracy', `${formatPercent(f.accuracy.original)} → ${formatPercent(f.accuracy.converted)} (${drop >= 0 ? '+' : '−'}${Math.abs(drop).toFixed(1)} points)`]);
  }
  const width = Math.max(...lines.map(([name]) => name.length));
  return lines.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`).join('\n');
}

async function runVerify(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, OPTIONS, 'verify');
  const [originalArg, convertedArg] = positionalArgs(positionals, 'verify', ['original', 'converted']);
  const ep = choiceOption(values.ep, '--ep', EXECUTION_PROVIDERS, 'cpu');
  const count = values.count === undefined ? undefined : intOption(values.count, '--count', 16);
  const seed = intOption(values.seed, '--seed', 0, 0);
  const maxBatch = intOption(values.batch, '--batch', 64);
  const threads = values.threads === undefined ? undefined : intOption(values.threads, '--threads', 1, 1, 1024);
  const tolerance = numberOption(values.tolerance, '--tolerance', 0, Number.MAX_VALUE);
  const original = resolveModelArg(originalArg!);
  const converted = resolveModelArg(convertedArg!);

  const started = performance.now();
  const sessions: BackendSession[] = [];
  try {
    const a = await nodeBackend.createSession(original.path, { ep, intraOpThreads: threads, label: original.arg });
    sessions.push(a);
    const b = await nodeBackend.createSession(converted.path, { ep, intraOpThreads: threads, label: converted.arg });
    sessions.push(b);
    const inputs = await resolveInputsArg(values.inputs, { flag: '--inputs', count, seed, labelsFile: values.labels, model: original, session: a, command: 'verify' });
    const bar = progress('verify', inputs.count * 2);
    const runA = await runModel(a, inputs, { maxBatch, onBatch: (n) => bar.tick(n) });
    const runB = await runModel(b, inputs, { maxBatch, onBatch: (n) => bar.tick(n) });
    bar.done();
    if (runA.perItem !== runB.perItem) {
      throw new Error(`the models' first outputs differ in size: ${runA.perItem} values per input vs ${runB.perItem}`);
    }
    const fidelity = fidelityOf(runA, runB, inputs.labels);
    const report: VerifyReport = {
      original: original.arg, converted: converted.arg, inputs: inputs.description, ...(inputs.preprocessing ? { preprocessing: inputs.preprocessing } : {}),
      ep, seconds: (performance.now() - started) / 1000, ...fidelity,
    };
    const failed = tolerance !== undefined && !(fidelity.maxAbsError <= tolerance);
    if (values.json) writeJson({ ...report, ...(tolerance !== undefined ? { tolerance, passed: !failed } : {}) });
    else {
      process.stdout.write(`${style.bold('verify')} ${original.arg} → ${converted.arg}\n`);
      process.stdout.write(`${style.dim(`on ${inputs.description}, onnxruntime ${ep}, ${report.seconds.toFixed(1)} s`)}\n`);
      if (inputs.preprocessing) process.stdout.write(formatPreprocessing(inputs.preprocessing, inputs.classes) + '\n');
      process.stdout.write(`\n${formatFidelity(fidelity)}\n`);
      if (tolerance !== undefined) process.stdout.write(`\n${failed ? style.red('FAIL') : style.green('ok')}: max |Δ| ${formatError(fidelity.maxAbsError)} ${failed ? '>' : '≤'} tolerance ${tolerance}\n`);
    }
    if (failed) process.stderr.write(`vitlin verify: max |Δ| ${formatError(fidelity.maxAbsError)} is above --tolerance ${values.tolerance}\n`);
    return failed ? 1 : 0;
  } finally {
    for (const s of sessions) await s.release();
  }
}

export const verifyCommand: Command = {
  name: 'verify',
  help: HELP,
  run: runVerify,
};
