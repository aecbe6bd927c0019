/**
 * The conversion pipeline behind `vitlin convert` and the demo: exact fusion of decomposed linear
 * attention (unless --no-fuse), replacement of the selected softmax blocks (a list, all, none, or a
 * greedy search within a fidelity budget), optional post-training calibration, optional function
 * inlining. Works on copies; the original model is never modified.
 */
import { convertAttention, findAttentionBlocks, type AttentionBlock, type AttentionBlocksReport } from '../../graph-rewrite/attention/index.js';
import { findExactFusions } from '../../graph-rewrite/fusions/index.js';
import type { Model } from '../../graph-rewrite/ir/model.js';
import { calibrateConversion, type CalibrationBasis, type CalibrationReport } from '../calibration/index.js';
import { greedySelect, type AutoSelection, type Budget, type SelectionScore } from '../eval/auto-select.js';
import { fidelityOf, runModel, type Fidelity, type ModelRun } from '../eval/fidelity.js';
import { attentionCores, attentionFlops, concreteShapes, countFlops, modelAttentionCores, type AttentionCore, type FlopReport } from '../eval/flops.js';
import type { InputSet } from '../eval/inputs.js';
import { modelToBytes } from '../model-io.js';
import { createSession, type ExecutionProvider } from '../runtime/session.js';
import { UsageError, parseBlockSelection, type BlockSelection } from './args.js';
import { fuseExactly, type ExactFusionResult } from './exact-fusion.js';
import { inlineModelFunctions } from './inline.js';
import { progress } from './ui.js';

export type LinearAttention = 'hydra' | 'linear-angular';
export type LinearAngularMode = 'reference' | 'kernel_normalized';

export interface ConvertRequest {
  /** Required when softmax blocks are to be converted (any --blocks but none). */
  readonly attention?: LinearAttention;
  /** `--blocks` as given (checked against the model's blocks here), or already parsed. */
  readonly selection: BlockSelection | string;
  readonly linearAngularMode: LinearAngularMode;
  readonly eps?: number;
  /** Fuse decomposed Hydra / linear-angular blocks exactly (on unless --no-fuse). */
  readonly fuse: boolean;
  /** Calibration inputs: fit coefficients on them (when `fit`), and measure `--blocks auto` on them. */
  readonly calibration?: InputSet;
  readonly fit: boolean;
  /** The refit's basis: the output projection alone (default), or with v, mean_t v and T1 added. */
  readonly basis?: CalibrationBasis;
  readonly budget?: Budget;
  readonly inlineFunctions: boolean;
  readonly ep?: ExecutionProvider;
}

export interface ConvertOutcome {
  readonly model: Model;
  readonly found: AttentionBlocksReport;
  readonly converted: readonly AttentionBlock[];
  readonly skipped: readonly { readonly index: number; readonly reason: string }[];
  readonly fusion: ExactFusionResult;
  readonly calibration?: CalibrationReport;
  readonly auto?: AutoSelection;
  readonly flops: { readonly before: FlopReport['current']; readonly after: FlopReport['current'] };
  readonly inlined: boolean;
}

/** Indices the selection names, checked against the model's blocks (usage errors name the bad one). */
function selectedBlocks(selection: BlockSelection, blocks: readonly AttentionBlock[]): number[] {
  if (selection.kind === 'none') return [];
  if (selection.kind === 'list') {
    // Named explicitly, a block that cannot be converted is an error, not a silent skip.
    const blocked = selection.indices.map((i) => blocks[i]!).find((b) => !b.convertible);
    if (blocked) throw new UsageError(`--blocks: block ${blocked.index} cannot be converted: ${blocked.reason}`);
    return [...selection.indices];
  }
  return blocks.filter((b) => b.convertible).map((b) => b.index);
}

/** FLOPs of the model with the softmax blocks in `selected` (indices) replaced by `kind` (cost model). */
function flopsWith(report: FlopReport, cores: readonly AttentionCore[], selected: ReadonlySet<number>, kind: LinearAttention): number {
  let attention = 0;
  cores.forEach((core, i) => {
    const chosen = core.source?.list === 'softmax' && selected.has(core.source.index);
    attention += chosen ? attentionFlops(kind, core.dims) : report.coreFlops[i]!;
  });
  return report.current.rest + attention;
}

async function runBytes(bytes: Uint8Array, inputs: InputSet, ep: ExecutionProvider | undefined, label: string): Promise<ModelRun> {
  const session = await createSession(bytes, { ep }, label);
  try {
    return await runModel(session, inputs);
  } finally {
    await session.release();
  }
}

function score(base: ModelRun, run: ModelRun, labels: ArrayLike<number> | undefined, flops: number): SelectionScore {
  const f = fidelityOf(base, run, labels);
  const top1Drop = f.accuracy ? f.accuracy.original - f.accuracy.converted : 1 - (f.top1Agreement ?? 1);
  return { top1Drop, cosine: f.cosine, flops, ...(f.accuracy ? { accuracy: f.accuracy.converted } : {}) };
}

/** Runs the pipeline on `original` (not modified) and returns the converted model with its report. */
export async function convertModel(original: Model, request: ConvertRequest): Promise<ConvertOutcome> {
  const fusion: ExactFusionResult = request.fuse ? fuseExactly(original) : { model: original, fused: [], skipped: [], available: true };
  const base = fusion.model;
  // Users number blocks as `inspect` shows them, on the model as given; exact fusion may drop softmax
  // blocks (Castling's gated branch), so indices are carried over by anchor node.
  const given = findAttentionBlocks(original);
  const fused = request.fuse && fusion.fused.length ? findAttentionBlocks(base) : given;
  const baseIndex = new Map(fused.blocks.map((b) => [b.anchor, b.index]));
  const toBase = (i: number) => baseIndex.get(given.blocks[i]!.anchor);
  const givenIndex = new Map(given.blocks.map((b) => [b.anchor, b.index]));
  const toGiven = (b: AttentionBlock): AttentionBlock => ({ ...b, index: givenIndex.get(b.anchor) ?? b.index });
  const found: AttentionBlocksReport = { blocks: given.blocks, unmatched: given.unmatched };
  const selection = typeof request.selection === 'string' ? parseBlockSelection(request.selection, given.blocks.length) : request.selection;
  const wantedGiven = selectedBlocks(selection, given.blocks);
  const dropped = wantedGiven.filter((i) => toBase(i) === undefined);
  if (selection.kind === 'list' && dropped.length) throw new UsageError(`--blocks: block ${dropped[0]} is part of a decomposed block that exact fusion replaced (convert with --no-fuse to convert it)`);
  const wanted = wantedGiven.map(toBase).filter((i): i is number => i !== undefined);
  if (wanted.length > 0 && !request.attention) throw new UsageError(`--attention is required (hydra | linear-angular) to convert softmax blocks; use --blocks none to only fuse`);
  const attention = request.attention ?? 'hydra';
  const options = { attention, linearAngularMode: request.linearAngularMode, ...(request.eps === undefined ? {} : { eps: request.eps }) } as const;
  const facts = concreteShapes(base);
  const cores = attentionCores(base, fused.blocks, facts);
  const flopReport = countFlops(base, cores, facts);
  const originalFacts = concreteShapes(original);
  const beforeFlops = countFlops(original, modelAttentionCores(original, given, findExactFusions(original).blocks, originalFacts), originalFacts).current;

  const build = (blocks: readonly number[]) => convertAttention(base, { ...options, blocks });
  let chosen = wanted;
  let auto: AutoSelection | undefined;
  let calibration: CalibrationReport | undefined;
  let model: Model | undefined;
  const candidates = wanted.filter((i) => fused.blocks[i]!.convertible);
  const calibrationInputs = request.calibration;
  if (selection.kind === 'auto' && (!calibrationInputs || !request.budget)) throw new UsageError(`--blocks auto needs --calibration <inputs> and --budget <max top-1 drop> or --min-cosine <x>`);
  if (calibrationInputs && request.fit && candidates.length > 0) {
    // Calibrated: refit sequentially on one part of the inputs, choose (auto) and report on the other.
    const bar = progress(selection.kind === 'auto' ? 'choosing blocks' : 'calibrating', 1);
    try {
      const result = await calibrateConversion({
        base, blocks: candidates, inputs: calibrationInputs, basis: request.basis ?? 'plain', ep: request.ep,
        convert: (blocks) => { const r = build(blocks); return { model: r.model, blocks: r.converted }; },
        ...(selection.kind === 'auto' ? { auto: { budget: request.budget!, flops: (blocks: readonly number[]) => flopsWith(flopReport, cores, new Set(blocks), attention) } } : {}),
      });
      bar.tick();
      chosen = [...result.chosen];
      auto = result.auto;
      model = result.model;
      calibration = { ...result.report, blocks: result.report.blocks.map((b) => ({ ...b, index: toGiven(fused.blocks[b.index]!).index })) };
    } finally {
      bar.done();
    }
  } else if (selection.kind === 'auto') {
    const inputs = calibrationInputs!;
    const baseRun = await runBytes(modelToBytes(base), inputs, request.ep, 'original');
    const bar = progress('choosing blocks', 1 + (candidates.length * (candidates.length + 1)) / 2);
    try {
      auto = await greedySelect(candidates, async (blocks) => {
        const run = await runBytes(modelToBytes(build(blocks).model), inputs, request.ep, `blocks ${blocks.join(',')}`);
        return score(baseRun, run, inputs.labels, flopsWith(flopReport, cores, new Set(blocks), attention));
      }, request.budget!, () => bar.tick());
    } finally {
      bar.done();
    }
    chosen = [...auto.chosen];
  }
  const uncalibrated = build(chosen);
  model ??= uncalibrated.model;
  // Counted before inlining, while the fused ops are still recognisable as attention.
  const afterFacts = concreteShapes(model);
  const after = countFlops(model, modelAttentionCores(model, findAttentionBlocks(model), findExactFusions(model).blocks, afterFacts), afterFacts).current;
  if (request.inlineFunctions) model = await inlineModelFunctions(model);
  return {
    model,
    found,
    converted: uncalibrated.converted.map(toGiven),
    // With all / auto, blocks that cannot be converted were never selected: they are reported as skipped too.
    skipped: [
      ...(selection.kind === 'all' || selection.kind === 'auto' ? fused.blocks.filter((b) => !b.convertible).map((b) => ({ index: toGiven(b).index, reason: b.reason ?? 'not convertible' })) : []),
      ...uncalibrated.skipped.map((s) => ({ index: toGiven(s.block).index, reason: s.reason })),
    ].sort((a, b) => a.index - b.index),
    fusion,
    ...(calibration ? { calibration } : {}),
    ...(auto ? { auto: { ...auto, chosen: auto.chosen.map((i) => toGiven(fused.blocks[i]!).index), rows: auto.rows.map((r) => ({
      ...r, blocks: r.blocks.map((i) => toGiven(fused.blocks[i]!).index), ...(r.added === undefined ? {} : { added: toGiven(fused.blocks[r.added]!).index }),
    })) } } : {}),
    flops: { before: beforeFlops, after },
    inlined: request.inlineFunctions,
  };
}
