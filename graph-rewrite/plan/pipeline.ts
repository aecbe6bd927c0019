/**
 * The conversion pipeline, one for the CLI, the demo, the server and the web app: analyse the sites
 * once (analyseSites), plan which softmax sites get which kernel (a list, all, none, or a greedy search
 * within a fidelity budget measured by the injected evaluator), execute the plan (convert, apply the
 * injected calibrator's fits), count FLOPs, and optionally inline the function bodies. Never modifies
 * the model it is given.
 */
import { convertAttention, findAttentionBlocks, type AttentionBlock } from '../attention/index.js';
import { UsageError } from '../errors.js';
import { findExactFusions } from '../fusions/index.js';
import type { Model } from '../ir/model.js';
import { inlineFunctions } from '../passes/inline-functions.js';
import { greedySelect, type AutoSelection } from './auto-select.js';
import { SILENT_PROGRESS, type Fidelity, type SelectionCalibrationResult } from './evaluator.js';
import { attentionFlops, concreteShapes, countFlops, modelAttentionCores } from './flops.js';
import { planConversion, type ConversionPlan } from './plan.js';
import { analyseSites, type SiteAnalysis } from './sites.js';
import type { CalibrationReport, ConvertOutcome, PipelineRequest, PipelineServices } from './types.js';

/** FLOPs of `base` with the blocks in `selected` (base indices) replaced by `kernel` (cost model). */
function flopsWith(analysis: SiteAnalysis, selected: ReadonlySet<number>, kernel: string): number {
  const { base: report, baseCores } = analysis.flops;
  let attention = 0;
  baseCores.forEach((core, i) => {
    const chosen = core.source?.list === 'softmax' && selected.has(core.source.index);
    attention += chosen ? attentionFlops(kernel, core.dims) : report.coreFlops[i]!;
  });
  return report.current.rest + attention;
}

function top1Drop(f: Fidelity): number {
  return f.accuracy ? f.accuracy.original - f.accuracy.converted : 1 - (f.top1Agreement ?? 1);
}

/** Runs the whole pipeline on `original` (not modified) and returns the converted model with its report. */
export async function runConversion(original: Model, request: PipelineRequest, services: PipelineServices = {}): Promise<ConvertOutcome> {
  const analysis = analyseSites(original, { fuse: request.fuse });
  const plan = planConversion(analysis, request);
  return executePlan(analysis, plan, request, services);
}

/**
 * Executes `plan` on `analysis.base`: with a selection calibrator, let it convert, choose (auto) and
 * calibrate; otherwise choose (auto, measured by the evaluator) and convert. Then count and inline.
 */
export async function executePlan(analysis: SiteAnalysis, plan: ConversionPlan, request: PipelineRequest, services: PipelineServices = {}): Promise<ConvertOutcome> {
  const { base, baseBlocks } = analysis;
  const progress = services.progress ?? SILENT_PROGRESS;
  const attention = plan.kernel;
  const options = { attention, linearAngularMode: request.linearAngularMode, ...(request.eps === undefined ? {} : { eps: request.eps }) } as const;
  const toGiven = (b: AttentionBlock): AttentionBlock => ({ ...b, index: plan.givenNumber.get(b.anchor) ?? b.index });
  const { evaluator, selectionCalibrator } = services;
  const candidates = plan.candidates;

  // A selection calibrator (a sequential refit) converts, calibrates and — with auto — chooses as one:
  // its fits depend on which blocks are converted, so they cannot be fitted once for all candidates.
  let selected: SelectionCalibrationResult | undefined;
  if (selectionCalibrator && request.fit && candidates.length > 0) {
    if (plan.auto && !request.budget) throw new UsageError(`--blocks auto needs --budget <max top-1 drop> or --min-cosine <x>`);
    selected = await selectionCalibrator.calibrate({
      reference: base, candidates, convert: (blocks) => convertAttention(base, { ...options, blocks }), progress,
      ...(plan.auto ? { auto: { budget: request.budget!, flops: (blocks: readonly number[]) => flopsWith(analysis, new Set(blocks), attention) } } : {}),
    });
  }

  const build = (blocks: readonly number[]) => convertAttention(base, { ...options, blocks });

  let chosen = selected ? [...selected.chosen] : plan.blocks;
  let auto: AutoSelection | undefined = selected?.auto;
  let baseRun: unknown;
  if (plan.auto && !selected) {
    if (!evaluator || !request.budget) throw new UsageError(`--blocks auto needs --calibration <inputs> and --budget <max top-1 drop> or --min-cosine <x>`);
    baseRun = await evaluator.run(base, 'original');
    const bar = progress.start('choosing blocks', 1 + (candidates.length * (candidates.length + 1)) / 2);
    try {
      auto = await greedySelect(candidates, async (blocks) => {
        const f = evaluator.compare(baseRun, await evaluator.run(build(blocks).model, `blocks ${blocks.join(',')}`));
        return { top1Drop: top1Drop(f), cosine: f.cosine, flops: flopsWith(analysis, new Set(blocks), attention), ...(f.accuracy ? { accuracy: f.accuracy.converted } : {}) };
      }, request.budget, () => bar.tick());
    } finally {
      bar.done();
    }
    chosen = [...auto.chosen];
  }

  const uncalibrated = build(chosen);
  let model = uncalibrated.model;
  let calibration: CalibrationReport | undefined;
  if (selected) {
    model = selected.model;
    calibration = { ...selected.report, blocks: selected.report.blocks.map((b) => ({ ...b, index: toGiven(baseBlocks[b.index]!).index })) };
  }
  // Counted before inlining, while the fused ops are still recognisable as attention. The result's
  // analysis (one shape inference) also gives the anchors it leaves unrecognised, with their reasons.
  const afterFacts = concreteShapes(model);
  const afterBlocks = findAttentionBlocks(model);
  const after = countFlops(model, modelAttentionCores(model, afterBlocks, findExactFusions(model).blocks, afterFacts), afterFacts).current;
  if (request.inlineFunctions) model = inlineFunctions(model);
  const givenIndex = (i: number) => toGiven(baseBlocks[i]!).index;
  return {
    model,
    found: { blocks: analysis.given.blocks, unmatched: analysis.given.unmatched },
    converted: uncalibrated.converted.map(toGiven),
    // With all / auto, blocks that cannot be converted were never selected: they are reported as skipped too.
    skipped: [
      ...(plan.selection.kind === 'all' || plan.selection.kind === 'auto' ? baseBlocks.filter((b) => !b.convertible).map((b) => ({ index: toGiven(b).index, reason: b.reason ?? 'not convertible' })) : []),
      ...uncalibrated.skipped.map((s) => ({ index: toGiven(s.block).index, reason: s.reason })),
    ].sort((a, b) => a.index - b.index),
    fusion: analysis.fusion,
    ...(calibration ? { calibration } : {}),
    ...(auto ? { auto: { ...auto, chosen: auto.chosen.map(givenIndex), rows: auto.rows.map((r) => ({
      ...r, blocks: r.blocks.map(givenIndex), ...(r.added === undefined ? {} : { added: givenIndex(r.added) }),
    })) } } : {}),
    flops: { before: analysis.flops.before, after },
    inlined: request.inlineFunctions,
    unrecognised: afterBlocks.unmatched,
  };
}
