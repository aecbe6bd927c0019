/**
 * Calibration and block choice in the page, as `vitlin convert --calibration … [--calibration-basis …]
 * [--blocks auto --budget …]` offers them: the controls, which images fit, which select and which score
 * (never the same ones), progress, the trade-off curve of `--blocks auto` as a small SVG chart beside
 * its table.
 */
import type { AutoSelection } from '../../src/web/index.js';
import { formatFlops, formatPercent } from '../../src/cli/format.js';
import { heldOutCount, selectionShareFor } from '../../src/calibration/split.js';
import { byId, el } from './dom.js';

export type CalibrationMode = 'off' | 'plain' | 'extended';

export interface CalibrationSettings {
  readonly mode: CalibrationMode;
  /** Sample images 0 … count−1 are the calibration images (with dropped images: the selection images). */
  readonly count: number;
  /** `--blocks auto` with a maximum top-1 drop (a fraction), or the ticked blocks. */
  readonly auto?: { readonly maxTop1Drop: number };
}

/** The images the user dropped to fit on (unlabelled): fit only, never scored. Here only their names. */
export interface DroppedImages {
  readonly names: readonly string[];
}

/** Reads the controls; the error names the field and the range. */
export function readCalibrationSettings(sampleCount: number): CalibrationSettings {
  const mode = (document.querySelector<HTMLInputElement>('input[name="calibration"]:checked')?.value ?? 'off') as CalibrationMode;
  const auto = document.querySelector<HTMLInputElement>('input[name="block-choice"]:checked')?.value === 'auto';
  // Without calibration or block choice no image is used: the count field does not matter.
  if (mode === 'off' && !auto) return { mode, count: 0 };
  const count = Number(byId<HTMLInputElement>('calibration-count').value);
  if (!Number.isInteger(count) || count < 2 || count > sampleCount - 1) {
    throw new Error(`The number of calibration images must be a whole number from 2 to ${sampleCount - 1} (the rest are kept for scoring).`);
  }
  if (!auto) return { mode, count };
  const percent = Number(byId<HTMLInputElement>('budget').value);
  if (!(percent >= 0 && percent <= 100)) throw new Error('The top-1 drop budget must be a number of percent from 0 to 100.');
  return { mode, count, auto: { maxTop1Drop: percent / 100 } };
}

const range = (from: number, to: number) => (to - from === 1 ? `image ${from}` : `images ${from}–${to - 1}`);

/**
 * Which images do what, as the calibrator will split them (src/calibration/split.ts): the sample's
 * first `count` images fit (the first part) and select (the rest), as `--calibration <sample>
 * --calibration-count <count>` does; dropped images fit only, and the sample's first `count` select.
 * Accuracy below is scored from image `count` on.
 */
export function describeSplit(settings: CalibrationSettings, dropped: DroppedImages | undefined): string {
  if (settings.mode === 'off' && !settings.auto) return 'No calibration: the converted blocks keep their weights as they are.';
  const n = settings.count;
  const score = `Accuracy below is scored on sample images from ${n} on — never on an image that fitted or selected.`;
  if (dropped && settings.mode !== 'off') {
    return `Fit on the ${dropped.names.length} image${dropped.names.length === 1 ? '' : 's'} you dropped (unlabelled: used for fitting only); ` +
      `${settings.auto ? 'choose blocks and ' : ''}report on sample ${range(0, n)} (held out). ${score}`;
  }
  if (settings.mode === 'off') return `Measure only (no refit): choose blocks on sample ${range(0, n)}. ${score}`;
  const held = heldOutCount(n, selectionShareFor(settings.auto !== undefined));
  return `Fit on sample ${range(0, n - held)}; ${settings.auto ? 'choose blocks and ' : ''}report on sample ${range(n - held, n)} (held out). ${score}`;
}

export function renderSplit(settings: CalibrationSettings | string, dropped: DroppedImages | undefined): void {
  byId('calibration-split').textContent = typeof settings === 'string' ? settings : describeSplit(settings, dropped);
}

export function renderDropped(dropped: DroppedImages | undefined): void {
  const label = byId('calibration-dropped');
  label.textContent = dropped ? `${dropped.names.length} image${dropped.names.length === 1 ? '' : 's'} to fit on: ${dropped.names.slice(0, 3).join(', ')}${dropped.names.length > 3 ? ', …' : ''}` : '';
  byId('calibration-clear').hidden = !dropped;
}

/** The calibration's progress line while Convert runs, with its own Cancel. */
export function renderCalibrationProgress(text: string | undefined, done = 0, total = 0): void {
  const box = byId('calibration-progress');
  box.hidden = text === undefined;
  box.dataset.state = text === undefined ? 'idle' : 'running';
  if (text === undefined) {
    box.replaceChildren();
    return;
  }
  box.replaceChildren(el('span', { className: 'step' }, text, '…'), el('progress', { max: Math.max(total, 1), value: done }));
}

const list = (xs: readonly number[]) => (xs.length ? xs.join(', ') : 'none');

/** The trade-off of `--blocks auto`: a chart (FLOPs → top-1 drop, the budget as a line) and the CLI's table. */
export function renderTradeOff(auto: AutoSelection | undefined, budget: number | undefined): void {
  const box = byId('trade-off');
  if (!auto) {
    box.replaceChildren();
    return;
  }
  const labelled = auto.rows.some((r) => r.accuracy !== undefined);
  const isChosen = (blocks: readonly number[]) => blocks.length === auto.chosen.length && blocks.every((b, i) => b === auto.chosen[i]);
  const header = ['blocks', 'added', 'converted', ...(labelled ? ['accuracy'] : []), labelled ? 'top-1 drop' : 'top-1 changed', 'cosine', 'FLOPs', 'in budget', ''];
  const rows = auto.rows.map((r) => el('tr', { dataset: { blocks: r.blocks.join(',') } }, ...[
    String(r.blocks.length), r.added === undefined ? '—' : `+${r.added}`, list(r.blocks),
    ...(labelled ? [formatPercent(r.accuracy ?? NaN)] : []),
    formatPercent(r.top1Drop), r.cosine.toFixed(4), formatFlops(r.flops), r.withinBudget ? 'yes' : 'no', isChosen(r.blocks) ? '◀ chosen' : '',
  ].map((cell) => el('td', {}, cell))));
  const table = el('table', { className: 'trade-off-table' }, el('thead', {}, el('tr', {}, ...header.map((h) => el('th', {}, h)))), el('tbody', {}, ...rows));
  box.replaceChildren(
    el('h3', {}, `Trade-off (greedy, ${auto.evaluations} evaluations${budget === undefined ? '' : `; budget ${formatPercent(budget)} top-1 drop`})`),
    tradeOffChart(auto, budget, isChosen),
    el('div', { className: 'table-scroll' }, table));
}

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag: string, attributes: Record<string, string | number>, text?: string): SVGElement {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** FLOPs per image (x, fewer to the right as blocks are added) against top-1 drop (y), one point per greedy step. */
function tradeOffChart(auto: AutoSelection, budget: number | undefined, isChosen: (blocks: readonly number[]) => boolean): SVGElement {
  const width = 360;
  const height = 190;
  const pad = { left: 46, right: 14, top: 12, bottom: 34 };
  const flops = auto.rows.map((r) => r.flops);
  const drops = auto.rows.map((r) => r.top1Drop * 100);
  const [fMin, fMax] = [Math.min(...flops), Math.max(...flops)];
  const yMax = Math.max(1, ...drops, budget === undefined ? 0 : budget * 100) * 1.1;
  const yMin = Math.min(0, ...drops);
  const x = (f: number) => pad.left + (fMax === fMin ? 0.5 : (fMax - f) / (fMax - fMin)) * (width - pad.left - pad.right);
  const y = (d: number) => pad.top + (1 - (d - yMin) / (yMax - yMin)) * (height - pad.top - pad.bottom);
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', class: 'trade-off-chart',
    'aria-label': 'top-1 drop against FLOPs per image, one point per block added' });
  const axis = { stroke: '#8a94a1', 'stroke-width': 1 };
  chart.append(
    svg('line', { x1: pad.left, y1: height - pad.bottom, x2: width - pad.right, y2: height - pad.bottom, ...axis }),
    svg('line', { x1: pad.left, y1: pad.top, x2: pad.left, y2: height - pad.bottom, ...axis }),
    svg('text', { x: (width + pad.left) / 2, y: height - 4, 'text-anchor': 'middle', 'font-size': 11, fill: '#5b6573' }, `FLOPs per image (${formatFlops(fMax)} → ${formatFlops(fMin)})`),
    svg('text', { x: 12, y: (height - pad.bottom + pad.top) / 2, 'text-anchor': 'middle', 'font-size': 11, fill: '#5b6573',
      transform: `rotate(-90 12 ${(height - pad.bottom + pad.top) / 2})` }, 'top-1 drop (%)'),
    svg('text', { x: pad.left - 4, y: y(0) + 4, 'text-anchor': 'end', 'font-size': 10, fill: '#5b6573' }, '0'),
    svg('text', { x: pad.left - 4, y: pad.top + 8, 'text-anchor': 'end', 'font-size': 10, fill: '#5b6573' }, yMax.toFixed(1)));
  if (budget !== undefined) {
    chart.append(svg('line', { x1: pad.left, x2: width - pad.right, y1: y(budget * 100), y2: y(budget * 100), stroke: '#b07a35', 'stroke-dasharray': '4 3', class: 'budget' }),
      svg('text', { x: width - pad.right, y: y(budget * 100) - 3, 'text-anchor': 'end', 'font-size': 10, fill: '#b07a35' }, 'budget'));
  }
  chart.append(svg('polyline', { points: auto.rows.map((r) => `${x(r.flops)},${y(r.top1Drop * 100)}`).join(' '), fill: 'none', stroke: '#3572b0', 'stroke-width': 1.5 }));
  for (const r of auto.rows) {
    const chosen = isChosen(r.blocks);
    const point = svg('circle', { cx: x(r.flops), cy: y(r.top1Drop * 100), r: chosen ? 5 : 3.5, fill: chosen ? '#1d6b2f' : r.withinBudget ? '#3572b0' : '#fff',
      stroke: chosen ? '#1d6b2f' : '#3572b0', class: chosen ? 'point chosen' : 'point', 'data-blocks': r.blocks.join(',') });
    point.append(svg('title', {}, `${r.blocks.length} block${r.blocks.length === 1 ? '' : 's'} (${list(r.blocks)}): top-1 drop ${formatPercent(r.top1Drop)}, ${formatFlops(r.flops)}`));
    chart.append(point, svg('text', { x: x(r.flops), y: y(r.top1Drop * 100) - 7, 'text-anchor': 'middle', 'font-size': 10, fill: '#1d232b' }, r.added === undefined ? '∅' : `+${r.added}`));
  }
  return chart;
}
