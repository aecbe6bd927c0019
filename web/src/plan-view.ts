/**
 * The conversion plan, before Convert: what happens to each attention block (convert to the chosen op,
 * keep softmax, or left alone and why) and the model's FLOPs per image as it is and as the plan would
 * make it, counted the way `vitlin inspect` / `convert` count them. After Convert: what was done per
 * block (the pipeline's report beside it gives the converted graph's FLOPs).
 */
import { attentionCores, attentionFlops, concreteShapes, countFlops, modelAttentionCores, type FlopSplit } from '../../graph-rewrite/plan/flops.js';
import { formatFlops } from '../../src/cli/format.js';
import { findExactFusions } from '../../graph-rewrite/fusions/index.js';
import { findAttentionBlocks, type Model } from '../../src/web/index.js';
import { byId, el } from './dom.js';
import type { AttentionKind } from './rewriter.js';

/** FLOPs per image (symbolic dims at 1), split into attention and the rest. */
export function modelFlops(model: Model): FlopSplit {
  const facts = concreteShapes(model);
  return countFlops(model, modelAttentionCores(model, findAttentionBlocks(model), findExactFusions(model).blocks, facts), facts).current;
}

/** What the plan would cost: the selected blocks' attention at the chosen op's price, the rest as now. */
export function plannedFlops(model: Model, selected: readonly number[], kind: AttentionKind): { before: FlopSplit; after: FlopSplit } {
  const facts = concreteShapes(model);
  const { blocks } = findAttentionBlocks(model);
  const cores = attentionCores(model, blocks, facts);
  const report = countFlops(model, cores, facts);
  let saved = 0;
  for (const i of new Set(selected)) if (cores[i]) saved += report.coreFlops[i]! - attentionFlops(kind, cores[i]!.dims);
  const before = modelFlops(model);
  return { before, after: { attention: before.attention - saved, rest: before.rest, total: before.total - saved } };
}

export interface PlanRow {
  readonly index: number;
  readonly convertible: boolean;
  readonly reason?: string;
}

const opName = (kind: AttentionKind) => (kind === 'hydra' ? 'Hydra' : 'linear-angular');

function flopsLine(before: FlopSplit, after: FlopSplit, verb: string): string {
  return `FLOPs per image: ${formatFlops(before.total)} → ${formatFlops(after.total)} ${verb} (${(after.total / (before.total || 1)).toFixed(3)}×); ` +
    `attention ${formatFlops(before.attention)} → ${formatFlops(after.attention)}.`;
}

/** The plan as the checkboxes and the op choice stand now (before Convert). */
export function renderPlan(model: Model, rows: readonly PlanRow[], selected: readonly number[], kind: AttentionKind): void {
  const chosen = new Set(selected);
  const items = rows.map((row) => {
    const what = !row.convertible ? `left as is: ${row.reason ?? 'not convertible'}` : chosen.has(row.index) ? `→ ${opName(kind)}` : 'keep softmax';
    return el('li', { dataset: { block: String(row.index) } }, `block ${row.index}: ${what}`);
  });
  const { before, after } = plannedFlops(model, selected, kind);
  byId('plan').replaceChildren(el('h3', {}, 'Plan'), el('ul', {}, ...items), el('p', { className: 'flops' }, flopsLine(before, after, 'planned')));
}

/** What Convert did, per block. */
export function renderConverted(done: readonly number[], skipped: readonly { index: number; reason: string }[], kind: AttentionKind): void {
  const items = [
    ...done.map((index) => el('li', { dataset: { block: String(index) } }, `block ${index}: converted to ${opName(kind)}`)),
    ...skipped.map((s) => el('li', { dataset: { block: String(s.index) } }, `block ${s.index}: not converted: ${s.reason}`)),
  ];
  byId('plan').replaceChildren(el('h3', {}, 'Converted'), el('ul', {}, ...items));
}
