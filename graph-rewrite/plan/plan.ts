/**
 * A plan: which softmax sites get which kernel. Built from the one site analysis and the request's
 * selection (site numbers as `inspect` shows them on the model as given); usage errors name the site.
 */
import { kernelNames } from '../../custom-ops/index.js';
import { UsageError } from '../errors.js';
import { parseBlockSelection, type BlockSelection } from './selection.js';
import type { SiteAnalysis } from './sites.js';
import type { PipelineRequest } from './types.js';

export interface ConversionPlan {
  /** The kernel the selected sites get. */
  readonly kernel: string;
  readonly selection: BlockSelection;
  /** Sites to convert, as indices of `analysis.baseBlocks` (for auto: the candidates, narrowed when executed). */
  readonly blocks: readonly number[];
  /** Convertible sites among `blocks`: what calibration fits and auto chooses from. */
  readonly candidates: readonly number[];
  /** Whether the sites are chosen by measured fidelity (`--blocks auto`). */
  readonly auto: boolean;
  /** Anchor → the number of its site on the model as given, for reports. */
  readonly givenNumber: ReadonlyMap<string, number>;
}

/** Site numbers the selection names, checked against the model's sites (usage errors name the bad one). */
function selectedNumbers(selection: BlockSelection, analysis: SiteAnalysis): number[] {
  const blocks = analysis.given.blocks;
  if (selection.kind === 'none') return [];
  if (selection.kind === 'list') {
    // Named explicitly, a block that cannot be converted is an error, not a silent skip.
    const blocked = selection.indices.map((i) => blocks[i]!).find((b) => !b.convertible);
    if (blocked) throw new UsageError(`--blocks: block ${blocked.index} cannot be converted: ${blocked.reason}`);
    return [...selection.indices];
  }
  return blocks.filter((b) => b.convertible).map((b) => b.index);
}

/** Plans `request` on `analysis`; throws UsageError for a selection the model cannot take. */
export function planConversion(analysis: SiteAnalysis, request: PipelineRequest): ConversionPlan {
  const given = analysis.given.blocks;
  const selection = typeof request.selection === 'string' ? parseBlockSelection(request.selection, given.length) : request.selection;
  const numbers = selectedNumbers(selection, analysis);
  const softmaxSites = analysis.sites.filter((s) => s.family === 'softmax');
  const baseIndexOf = (n: number) => softmaxSites[n]!.baseIndex;
  // Exact fusion may drop softmax blocks (Castling's gated branch): those cannot be named.
  const dropped = numbers.filter((n) => baseIndexOf(n) === undefined);
  if (selection.kind === 'list' && dropped.length) throw new UsageError(`--blocks: block ${dropped[0]} is part of a decomposed block that exact fusion replaced (convert with --no-fuse to convert it)`);
  const blocks = numbers.map(baseIndexOf).filter((i): i is number => i !== undefined);
  if (blocks.length > 0 && !request.attention) throw new UsageError(`--attention is required (${kernelNames().join(' | ')}) to convert softmax blocks; use --blocks none to only fuse`);
  return {
    kernel: request.attention ?? 'hydra',
    selection,
    blocks,
    candidates: blocks.filter((i) => analysis.baseBlocks[i]!.convertible),
    auto: selection.kind === 'auto',
    givenNumber: new Map(given.map((b) => [b.anchor, b.index])),
  };
}
