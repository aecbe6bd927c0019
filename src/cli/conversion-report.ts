/** The pipeline's part of `vitlin convert`'s report, shared with the web app (browser-safe: no terminal, no Node globals). */
import type { ConvertOutcome, Fidelity } from '../../graph-rewrite/plan/index.js';
import { refitReportLines, refitReportOf } from '../calibration/report.js';
import { formatError, formatFlops, formatPercent } from './format.js';

const list = (xs: readonly number[]) => (xs.length ? xs.join(', ') : 'none');

/** One line of fidelity figures: max |Δ|, cosine, top-1 agreement, accuracy. */
export function fidelityLine(f: Fidelity): string {
  const parts = [`max |Δ| ${formatError(f.maxAbsError)}`, `cosine ${f.cosine.toFixed(4)}`];
  if (f.top1Agreement !== undefined) parts.push(`top-1 agreement ${formatPercent(f.top1Agreement)}`);
  if (f.accuracy) parts.push(`accuracy ${formatPercent(f.accuracy.original)} → ${formatPercent(f.accuracy.converted)}`);
  return parts.join(', ');
}

/**
 * The pipeline's part of the report (blocks converted and skipped, exact fusion, FLOPs, calibration):
 * what the CLI prints and the web app shows for the same model and options. Browser-safe.
 */
export function formatConversion(
  o: ConvertOutcome, attention: string | undefined, linearAngularMode: string, highlight: (text: string) => string = (text) => text,
): string[] {
  const r = { attention, linearAngularMode };
  const unrecognised = o.unrecognised;
  const lines: string[] = [];
  const total = o.found.blocks.length;
  const what = r.attention === 'linear-angular' ? `linear-angular (${r.linearAngularMode})` : r.attention ?? '—';
  // Never "no attention" while Softmax nodes that no rule read remain in the result.
  if (total === 0 && unrecognised.length === 0) lines.push(`  blocks       the model has no softmax attention blocks`);
  else if (total === 0) lines.push(`  blocks       no attention block recognised; ${unrecognised.length} Softmax node${unrecognised.length === 1 ? '' : 's'} left as ${unrecognised.length === 1 ? 'it is' : 'they are'} (below)`);
  else if (!r.attention) lines.push(`  blocks       none of the ${total} softmax block${total === 1 ? '' : 's'} converted (--blocks none)`);
  else lines.push(`  blocks       ${o.converted.length} of ${total} softmax block${total === 1 ? '' : 's'} converted to ${what}${o.converted.length ? `: ${list(o.converted.map((b) => b.index))}` : ''}`);
  for (const s of o.skipped) lines.push(`  skipped      block ${s.index}: ${s.reason}`);
  for (const u of unrecognised) lines.push(`  ${highlight('unrecognised')} ${u.reason}`);
  if (!o.fusion.available) lines.push(`  exact fusion ${highlight('not available in this build yet')} (decomposed Hydra / linear-angular blocks are left as they are)`);
  else if (o.fusion.fused.length) {
    const kinds = [...new Set(o.fusion.fused.map((f) => `${f.kind} → ${f.opType}`))].join(', ');
    const dropped = o.fusion.fused.flatMap((f) => f.droppedBranches ?? []);
    lines.push(`  exact fusion ${o.fusion.fused.length} decomposed block${o.fusion.fused.length === 1 ? '' : 's'} fused (${kinds})${dropped.length ? `; zero-gated softmax branches dropped: ${dropped.length}` : ''}`);
  }
  for (const s of o.fusion.skipped) lines.push(`  not fused    decomposed block ${s.index}: ${s.reason}`);
  const { before, after } = o.flops;
  lines.push(`  FLOPs        ${formatFlops(before.total)} → ${formatFlops(after.total)} (${(after.total / (before.total || 1)).toFixed(3)}×); attention ${formatFlops(before.attention)} → ${formatFlops(after.attention)}`);
  const refit = refitReportOf(o.calibration);
  if (refit) {
    const [first, ...rest] = refitReportLines(refit, fidelityLine, (x) => formatPercent(x));
    lines.push(`  calibration  ${first}`, ...rest);
    const worse = refit.with.accuracy && refit.without.accuracy ? refit.with.accuracy.converted < refit.without.accuracy.converted : (refit.with.top1Agreement ?? 0) < (refit.without.top1Agreement ?? 0);
    if (worse) lines.push(`               ${highlight('note: the refit model agrees less with the original on the held-out inputs; convert without --calibration to keep the uncalibrated model')}`);
  } else if (o.calibration) {
    const c = o.calibration;
    lines.push(`  calibration  on ${c.inputs}; block output MSE vs softmax: ${c.blocks.map((b) => `#${b.index} ${b.mseBefore.toExponential(2)} → ${b.mseAfter.toExponential(2)}`).join(', ')}`);
    lines.push(`               without: ${fidelityLine(c.without)}`);
    lines.push(`               with:    ${fidelityLine(c.with)}`);
    const worse = (c.with.accuracy && c.without.accuracy ? c.with.accuracy.converted < c.without.accuracy.converted : (c.with.top1Agreement ?? 0) < (c.without.top1Agreement ?? 0));
    if (worse) lines.push(`               ${highlight('note: calibration matched each block better but the model agrees less with the original; convert without --calibration to keep the uncalibrated model')}`);
  }
  return lines;
}
