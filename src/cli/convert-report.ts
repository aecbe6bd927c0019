/** The text report of `vitlin convert`: what was converted, FLOPs before/after, calibration, the check, and `--blocks auto`'s trade-off table. */
import type { AutoSelection } from '../eval/auto-select.js';
import type { Fidelity } from '../eval/fidelity.js';
import type { CalibrationReport } from '../calibration/index.js';
import type { ConvertOutcome } from './convert-model.js';
import { formatBytes, formatError, formatFlops, formatPercent, style, table } from './ui.js';

export interface ConvertReport {
  readonly input: string;
  readonly output: string;
  readonly bytes: number;
  readonly attention?: string;
  readonly linearAngularMode: string;
  readonly outcome: ConvertOutcome;
  /** The quick check on random inputs. */
  readonly check: Fidelity & { readonly inputs: string };
}

const list = (xs: readonly number[]) => (xs.length ? xs.join(', ') : 'none');

/** The `--blocks auto` trade-off table: one row per greedy step. */
export function formatTradeOff(auto: AutoSelection, budget: string): string {
  const labelled = auto.rows.some((r) => r.accuracy !== undefined);
  const rows = auto.rows.map((r) => {
    const chosen = r.blocks.length === auto.chosen.length && r.blocks.every((b, i) => b === auto.chosen[i]);
    return [
      String(r.blocks.length), r.added === undefined ? '—' : `+${r.added}`, list(r.blocks),
      ...(labelled ? [formatPercent(r.accuracy ?? NaN)] : []),
      formatPercent(r.top1Drop), r.cosine.toFixed(4), formatFlops(r.flops), r.withinBudget ? 'yes' : 'no', chosen ? '◀ chosen' : '',
    ];
  });
  const header = ['blocks', 'added', 'converted', ...(labelled ? ['accuracy'] : []), labelled ? 'top-1 drop' : 'top-1 changed', 'cosine', 'FLOPs', 'in budget', ''];
  return [`trade-off (greedy, ${auto.evaluations} evaluations; budget ${budget}):`, '', table(header, rows)].join('\n');
}

function fidelityLine(f: Fidelity): string {
  const parts = [`max |Δ| ${formatError(f.maxAbsError)}`, `cosine ${f.cosine.toFixed(4)}`];
  if (f.top1Agreement !== undefined) parts.push(`top-1 agreement ${formatPercent(f.top1Agreement)}`);
  if (f.accuracy) parts.push(`accuracy ${formatPercent(f.accuracy.original)} → ${formatPercent(f.accuracy.converted)}`);
  return parts.join(', ');
}

export function formatConvert(r: ConvertReport, budget = ''): string {
  const o = r.outcome;
  const lines: string[] = [`${style.bold('convert')} ${r.input} → ${r.output}`, ''];
  const total = o.found.blocks.length;
  const what = r.attention === 'linear-angular' ? `linear-angular (${r.linearAngularMode})` : r.attention ?? '—';
  if (total === 0) lines.push(`  blocks       the model has no softmax attention blocks`);
  else if (!r.attention) lines.push(`  blocks       none of the ${total} softmax block${total === 1 ? '' : 's'} converted (--blocks none)`);
  else lines.push(`  blocks       ${o.converted.length} of ${total} softmax block${total === 1 ? '' : 's'} converted to ${what}${o.converted.length ? `: ${list(o.converted.map((b) => b.index))}` : ''}`);
  for (const s of o.skipped) lines.push(`  skipped      block ${s.index}: ${s.reason}`);
  if (!o.fusion.available) lines.push(`  exact fusion ${style.yellow('not available in this build yet')} (decomposed Hydra / linear-angular blocks are left as they are)`);
  else if (o.fusion.fused.length) {
    const kinds = [...new Set(o.fusion.fused.map((f) => `${f.kind} → ${f.opType}`))].join(', ');
    const dropped = o.fusion.fused.flatMap((f) => f.droppedBranches ?? []);
    lines.push(`  exact fusion ${o.fusion.fused.length} decomposed block${o.fusion.fused.length === 1 ? '' : 's'} fused (${kinds})${dropped.length ? `; zero-gated softmax branches dropped: ${dropped.length}` : ''}`);
  }
  for (const s of o.fusion.skipped) lines.push(`  not fused    decomposed block ${s.index}: ${s.reason}`);
  const { before, after } = o.flops;
  lines.push(`  FLOPs        ${formatFlops(before.total)} → ${formatFlops(after.total)} (${(after.total / (before.total || 1)).toFixed(3)}×); attention ${formatFlops(before.attention)} → ${formatFlops(after.attention)}`);
  if (o.calibration) lines.push(...formatCalibration(o.calibration));
  lines.push(`  check        ${r.check.inputs}: ${fidelityLine(r.check)}`);
  if (o.inlined) lines.push(`  inlined      the fused ops were replaced by their function bodies`);
  lines.push(`  wrote        ${r.output} (${formatBytes(r.bytes)})`);
  if (o.auto) lines.push('', formatTradeOff(o.auto, budget));
  return lines.join('\n');
}

/** The calibration lines: the splits, then one row per refitted block, then the model with and without the refit. */
function formatCalibration(c: CalibrationReport): string[] {
  const lines = [`  calibration  ${c.basis === 'extended' ? 'extended-basis' : 'output-projection'} refit, sequential, on ${c.inputs}`,
    `               fitted on ${c.fitting}; measured on ${c.selection} (held out)`];
  const rows = c.blocks.map((b) => [
    `#${b.index}`, b.basis, (b.mseBefore / (b.targetPower || 1)).toExponential(2), (b.mseAfter / (b.targetPower || 1)).toExponential(2),
    formatPercent(b.selectionTop1), b.driftCorrected ? 'yes' : 'no', b.notes.join('; '),
  ]);
  const table_ = table(['block', 'basis', 'rel. error before', 'after', 'top-1 (selection)', 'drift-corrected', 'notes'], rows);
  lines.push(...table_.split('\n').map((l) => `               ${l}`));
  lines.push(`               without: ${fidelityLine(c.without)}`);
  lines.push(`               with:    ${fidelityLine(c.with)}`);
  const worse = c.with.accuracy && c.without.accuracy ? c.with.accuracy.converted < c.without.accuracy.converted : (c.with.top1Agreement ?? 0) < (c.without.top1Agreement ?? 0);
  if (worse) lines.push(`               ${style.yellow('note: the refit model agrees less with the original on the held-out inputs; convert without --calibration to keep the uncalibrated model')}`);
  return lines;
}
