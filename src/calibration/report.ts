/**
 * The sequential refit's report (pipeline.ts) and its text lines, browser-safe (the CLI prints them,
 * the web app may show them). The planner's CalibrationReport carries these fields when the refit ran.
 */
import type { CalibrationReport, Fidelity } from '../../graph-rewrite/plan/index.js';
import type { CalibrationBasis } from './basis.js';

export interface BlockCalibrationReport {
  readonly index: number;
  readonly basis: CalibrationBasis;
  /** Mean squared error of the block's branch against its target on the fitting part: original projection, refitted. */
  readonly mseBefore: number;
  readonly mseAfter: number;
  readonly targetPower: number;
  readonly driftCorrected: boolean;
  /** On the selection part, with this block and those before it converted and refitted: accuracy (labels) or top-1 agreement. */
  readonly selectionTop1: number;
  /** Why the block's own output projection could not be refitted, when a new MatMul + Add was added and fitted instead. */
  readonly addedProjection?: string;
  readonly notes: readonly string[];
}

export interface RefitCalibrationReport {
  readonly inputs: string;
  readonly basis: CalibrationBasis;
  readonly fitting: string;
  readonly selection: string;
  readonly blocks: readonly BlockCalibrationReport[];
  /** Fidelity against the original on the selection part: converted without and with the refit. */
  readonly without: Fidelity;
  readonly with: Fidelity;
}

/** The refit's report, when `report` is one (it has the basis and the two parts of the inputs). */
export function refitReportOf(report: CalibrationReport | undefined): RefitCalibrationReport | undefined {
  const r = report as Partial<RefitCalibrationReport> | undefined;
  return r && typeof r.basis === 'string' && typeof r.fitting === 'string' && typeof r.selection === 'string' ? (r as RefitCalibrationReport) : undefined;
}

/** Report lines (indented to follow a `  calibration  ` label): the parts, one line a block, without / with. */
export function refitReportLines(c: RefitCalibrationReport, fidelityLine: (f: Fidelity) => string, percent: (x: number) => string): string[] {
  const pad = '               ';
  const lines = [`${c.basis === 'extended' ? 'extended-basis' : 'output-projection'} refit, sequential, on ${c.inputs}`,
    `${pad}fitted on ${c.fitting}; measured on ${c.selection} (held out)`];
  for (const b of c.blocks) {
    const rel = (x: number) => (x / (b.targetPower || 1)).toExponential(2);
    lines.push(`${pad}#${b.index} ${b.basis}: branch error (relative) ${rel(b.mseBefore)} → ${rel(b.mseAfter)}; top-1 on the held-out part ${percent(b.selectionTop1)}` +
      `${b.driftCorrected ? '' : ' (no drift correction)'}${b.notes.length ? ` — ${b.notes.join('; ')}` : ''}`);
  }
  lines.push(`${pad}without: ${fidelityLine(c.without)}`, `${pad}with:    ${fidelityLine(c.with)}`);
  return lines;
}
