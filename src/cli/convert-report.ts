/** The text report of `vitlin convert`: what was converted, FLOPs before/after, calibration, the check, and `--blocks auto`'s trade-off table. */
import type { AutoSelection } from '../eval/auto-select.js';
import type { Fidelity } from '../eval/fidelity.js';
import type { ConvertCheck } from './check.js';
import type { ConvertOutcome } from './convert-model.js';
import { fidelityLine, formatConversion } from './conversion-report.js';
import { formatBytes, formatFlops, formatPercent, style, table } from './ui.js';

export interface ConvertReport {
  readonly input: string;
  readonly output: string;
  readonly bytes: number;
  readonly attention?: string;
  readonly linearAngularMode: string;
  /** Its `unrecognised`: Softmax nodes left in the result that no rule recognised as attention. */
  readonly outcome: ConvertOutcome;
  /** The quick check on random inputs, or why it did not run. */
  readonly check: ConvertCheck;
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



export function formatConvert(r: ConvertReport, budget = ''): string {
  const o = r.outcome;
  const lines: string[] = [`${style.bold('convert')} ${r.input} → ${r.output}`, '', ...formatConversion(o, r.attention, r.linearAngularMode, style.yellow)];
  const check = r.check;
  lines.push('skipped' in check ? `  check        ${check.skipped}`
    : `  check        ${check.inputs}: ${fidelityLine(check)} (${check.seconds.toFixed(1)} s, ${check.sessions} onnxruntime sessions)`);
  if (o.inlined) lines.push(`  inlined      the fused ops were replaced by their function bodies`);
  lines.push(`  wrote        ${r.output} (${formatBytes(r.bytes)})`);
  if (o.auto) lines.push('', formatTradeOff(o.auto, budget));
  return lines.join('\n');
}
