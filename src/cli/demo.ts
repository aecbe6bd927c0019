/**
 * `vitlin demo` (what `npm start` runs): the main job on the bundled Fashion-MNIST ViTs. The 6-block
 * softmax model is converted to linear-angular attention without calibration, with the sequential
 * output-projection refit, with the extended basis, and with `--blocks auto` at a 1 % budget; the
 * 3-block one to Hydra and to refitted linear-angular attention; the models trained with Hydra /
 * Castling attention get the exact fusion. Calibration uses training-split images only. Every result is verified on the bundled
 * test sample (accuracy before / after, top-1 agreement, max |Δ logits|) and benchmarked, in ONE table.
 * Whatever is missing (a model still training, a fusion not yet in this build) is said, never fatal.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { VitlinIoError } from '../../graph-rewrite/errors.js';
import type { Model } from '../../graph-rewrite/ir/model.js';
import { parseSampleFile, type LabelledSample } from '../data/sample-file.js';
import { measureInterleaved } from '../runtime/bench.js';
import { fidelityOf, runModel, type ModelRun } from '../eval/fidelity.js';
import { randomInputs, sampleInputs, type InputSet } from '../eval/inputs.js';
import { tensorFileInputs } from '../data/tensor-file.js';
import { refitReportOf } from '../calibration/report.js';
import { loadModel, modelToBytes } from '../model-io.js';
import type { BackendSession, Feeds } from '../runtime/backend.js';
import { nodeBackend } from '../runtime/node-backend.js';
import { intOption, parseCommandArgs } from './args.js';
import type { Command } from './commands.js';
import { convertModel, type ConvertRequest } from './convert-model.js';
import { formatError, formatMs, formatPercent, progress, style, table, writeJson } from './ui.js';

interface ManifestEntry {
  readonly name: string;
  readonly file: string;
  readonly trained?: unknown;
}

/** One line of the demo: a model as trained, or a conversion of it. */
export interface DemoRow {
  readonly model: string;
  readonly step: string;
  readonly blocks?: string;
  readonly accuracy?: number;
  readonly accuracyBefore?: number;
  readonly top1Agreement?: number;
  readonly maxAbsError?: number;
  readonly medianMs?: number;
  readonly speedup?: number;
  /** Why the row has no figures. */
  readonly note?: string;
}

/** What the demo does with each trained model (by name). */
interface Plan {
  readonly model: string;
  readonly steps: readonly { readonly label: string; readonly request: Omit<ConvertRequest, 'calibration'>; readonly calibrate?: boolean }[];
}

const FUSE_ONLY = { selection: { kind: 'none' }, linearAngularMode: 'reference', fuse: true, fit: false, inlineFunctions: false } as const;
const LINEAR_ANGULAR = { attention: 'linear-angular', selection: { kind: 'all' }, linearAngularMode: 'kernel_normalized', fuse: true, inlineFunctions: false } as const;

const PLANS: readonly Plan[] = [
  { model: 'fmnist_softmax6', steps: [
    { label: '→ linear-angular, no calibration', request: { ...LINEAR_ANGULAR, fit: false } },
    { label: '→ linear-angular, refit', calibrate: true, request: { ...LINEAR_ANGULAR, fit: true, basis: 'plain' } },
    { label: '→ linear-angular, extended refit', calibrate: true, request: { ...LINEAR_ANGULAR, fit: true, basis: 'extended' } },
    { label: '→ --blocks auto, budget 1%', calibrate: true, request: { ...LINEAR_ANGULAR, selection: { kind: 'auto' }, budget: { maxTop1Drop: 0.01 }, fit: true, basis: 'extended' } },
  ] },
  { model: 'fmnist_softmax', steps: [
    { label: '→ hydra', request: { ...LINEAR_ANGULAR, attention: 'hydra', fit: false } },
    { label: '→ linear-angular, refit', calibrate: true, request: { ...LINEAR_ANGULAR, fit: true } },
  ] },
  { model: 'fmnist_hydra', steps: [{ label: '→ exact fusion', request: FUSE_ONLY }] },
  { model: 'fmnist_hydra_last2', steps: [{ label: '→ exact fusion', request: FUSE_ONLY }] },
  { model: 'fmnist_castling_train', steps: [{ label: '→ exact fusion (castling)', request: FUSE_ONLY }] },
  { model: 'fmnist_castling', steps: [{ label: '→ exact fusion', request: FUSE_ONLY }] },
];

/**
 * Calibration inputs: images of the training split (models/scripts/train_fmnist6.py), never the test
 * sample every row is scored on. The refit fits on the first part of them and measures (and chooses
 * blocks) on the rest, so each figure comes from images neither fitted nor selected on.
 */
const CALIBRATION_FILE = 'data/fashion-mnist-train-2000.npz';
const CALIBRATION_IMAGES = 1000;

/** What one run of the demo uses: timed runs per model, calibration images per calibrated step. */
interface DemoSettings {
  readonly runs: number;
  readonly calibrationImages: number;
}

/** A model loaded for the demo: its outputs on the whole sample, and its session kept open for timing. */
interface Loaded {
  readonly run: ModelRun;
  readonly session: BackendSession;
  readonly feeds: Feeds;
}

async function load(source: string | Uint8Array, sample: LabelledSample, label: string): Promise<Loaded> {
  const session = await nodeBackend.createSession(source, { intraOpThreads: 1, label });
  try {
    const run = await runModel(session, sampleInputs(sample, 'sample'), { maxBatch: 100 });
    return { run, session, feeds: randomInputs(1).feeds(session.inputs, 0, 1) };
  } catch (error) {
    await session.release();
    throw error;
  }
}

/** The training-split images calibration fits on and chooses with (see CALIBRATION_FILE). */
function calibrationInputs(folder: string, session: BackendSession, count: number): InputSet {
  const path = join(folder, CALIBRATION_FILE);
  if (!existsSync(path)) throw new VitlinIoError(`no calibration images: ${CALIBRATION_FILE} is not in ${folder}`);
  const input = session.inputs[0] as { name: string; shape: readonly (number | string)[] };
  return tensorFileInputs(path, { inputShape: input.shape, inputName: input.name, limit: count });
}

/** Where a calibrated row's refit was fitted and measured (training images, never the test sample). */
function calibrationNote(outcome: Awaited<ReturnType<typeof convertModel>>): string {
  const c = refitReportOf(outcome.calibration)!;
  const count = (text: string) => /\((\d+)\)/.exec(text)?.[1] ?? '?';
  return `${c.basis} refit on ${count(c.fitting)} training images, ${outcome.auto ? 'blocks chosen' : 'checked'} on ${count(c.selection)} others`;
}

/** What the conversion did to the blocks, in a few words. */
function blocksText(outcome: Awaited<ReturnType<typeof convertModel>>): string {
  if (outcome.converted.length) return `${outcome.converted.length}/${outcome.found.blocks.length} converted`;
  if (outcome.fusion.fused.length) return `${outcome.fusion.fused.length} fused`;
  return 'none';
}

async function runPlan(plan: Plan, entry: ManifestEntry | undefined, folder: string, sample: LabelledSample, settings: DemoSettings, rows: DemoRow[], tick: () => void): Promise<void> {
  const { runs } = settings;
  const path = join(folder, entry?.file ?? `${plan.model}.onnx`);
  if (!existsSync(path)) {
    rows.push({ model: plan.model, step: 'as trained', note: 'not in models/ yet (still training?)' });
    plan.steps.forEach(tick);
    return;
  }
  const model: Model = await loadModel(path);
  const evaluation = sample;
  const original = await load(path, evaluation, plan.model);
  const before = fidelityOf(original.run, original.run, evaluation.labels).accuracy!.original;
  const planRows: DemoRow[] = [{ model: plan.model, step: entry ? 'as trained' : 'as trained (not in the manifest yet)', accuracy: before }];
  const timed: { row: number; loaded: Loaded }[] = [{ row: 0, loaded: original }];
  try {
    for (const step of plan.steps) {
      try {
        const calibration = step.calibrate ? calibrationInputs(folder, original.session, settings.calibrationImages) : undefined;
        const outcome = await convertModel(model, { ...step.request, ...(calibration ? { calibration } : {}) });
        if (outcome.converted.length === 0 && outcome.fusion.fused.length === 0) {
          planRows.push({ model: '', step: step.label, note: outcome.fusion.available ? 'nothing to convert' : 'exact fusion not available in this build yet' });
          continue;
        }
        const loaded = await load(modelToBytes(outcome.model), evaluation, `${plan.model} ${step.label}`);
        timed.push({ row: planRows.length, loaded });
        const f = fidelityOf(original.run, loaded.run, evaluation.labels);
        planRows.push({
          model: '', step: step.label, blocks: blocksText(outcome), accuracy: f.accuracy!.converted, accuracyBefore: before,
          top1Agreement: f.top1Agreement, maxAbsError: f.maxAbsError,
          ...(outcome.calibration ? { note: calibrationNote(outcome) } : {}),
        });
      } catch (error) {
        planRows.push({ model: '', step: step.label, note: `failed: ${(error as Error).message.split('\n')[0]}` });
      } finally {
        tick();
      }
    }
    // The original and its conversions are timed in turn, so machine load affects their ratio least.
    const stats = await measureInterleaved(timed.map((t) => ({ session: t.loaded.session, feeds: t.loaded.feeds, batch: 1 })), { warmup: 5, runs });
    timed.forEach((t, k) => {
      const row = planRows[t.row]!;
      planRows[t.row] = { ...row, medianMs: stats[k]!.medianMs, ...(k > 0 ? { speedup: stats[0]!.medianMs / stats[k]!.medianMs } : {}) };
    });
  } finally {
    for (const t of timed) await t.loaded.session.release();
    rows.push(...planRows);
  }
}

export function formatDemo(rows: readonly DemoRow[], count: number): string {
  const body = rows.map((r) => [
    r.model, r.step, r.blocks ?? (r.note && r.accuracy === undefined ? '' : '—'),
    r.accuracy === undefined ? '' : formatPercent(r.accuracy),
    r.accuracyBefore === undefined || r.accuracy === undefined ? '' : `${r.accuracy >= r.accuracyBefore ? '+' : '−'}${(Math.abs(r.accuracy - r.accuracyBefore) * 100).toFixed(1)}`,
    r.top1Agreement === undefined ? '' : formatPercent(r.top1Agreement),
    r.maxAbsError === undefined ? '' : formatError(r.maxAbsError),
    r.medianMs === undefined ? '' : formatMs(r.medianMs),
    r.speedup === undefined ? '' : `${r.speedup.toFixed(2)}×`,
    r.note ?? '',
  ]);
  return [
    `${style.bold('vitlin demo')}: Fashion-MNIST ViTs on the bundled test sample (${count} images), onnxruntime CPU, 1 thread, batch 1 latency`,
    '',
    table(['model', 'step', 'blocks', 'accuracy', 'Δ points', 'top-1 agree', 'max |Δ logits|', 'latency', 'speedup', 'note'], body),
  ].join('\n');
}

async function runDemo(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, { 'models-dir': { type: 'string' }, runs: { type: 'string' }, 'calibration-count': { type: 'string' }, json: { type: 'boolean' } }, 'demo');
  const folder = resolve(values['models-dir'] ?? 'models');
  const runs = intOption(values.runs, '--runs', 100, 1);
  const calibrationImages = intOption(values['calibration-count'], '--calibration-count', CALIBRATION_IMAGES, 8);
  if (!existsSync(join(folder, 'manifest.json'))) throw new VitlinIoError(`--models-dir: no manifest.json in '${folder}' (the bundled models folder is models/)`);
  const manifest = JSON.parse(readFileSync(join(folder, 'manifest.json'), 'utf8')) as { sample: { file: string }; models: ManifestEntry[] };
  const sample = parseSampleFile(readFileSync(join(folder, manifest.sample.file)), manifest.sample.file);
  const rows: DemoRow[] = [];
  const bar = progress('demo', PLANS.reduce((n, p) => n + p.steps.length, 0));
  try {
    for (const plan of PLANS) {
      const entry = manifest.models.find((m) => m.name === plan.model && m.trained);
      await runPlan(plan, entry, folder, sample, { runs, calibrationImages }, rows, () => bar.tick());
    }
  } finally {
    bar.done();
  }
  if (values.json) writeJson(rows);
  else process.stdout.write(formatDemo(rows, sample.header.count) + '\n');
  const failed = rows.filter((r) => r.note?.startsWith('failed'));
  if (failed.length) process.stderr.write(`vitlin demo: ${failed.length} step(s) failed; the table says which\n`);
  return failed.length ? 1 : 0;
}

export const demoCommand: Command = {
  name: 'demo',
  help: ['Usage: vitlin demo [--models-dir DIR] [--runs N] [--json]', '',
    'Converts the bundled trained ViTs (softmax → Hydra and linear-angular; Hydra / Castling-trained → exact fusion),',
    'verifies each on the bundled test sample and benchmarks it, and prints one table.', '',
    'Options:', '  --models-dir <dir>  the models folder (default models)', '  --runs <n>          timed runs per model, taken in turn with the original (default 100)',
    `  --calibration-count <n>  training images the calibrated steps use (default ${CALIBRATION_IMAGES}; fewer: faster, less accurate)`,
    '  --json              machine-readable output'].join('\n'),
  run: runDemo,
};
