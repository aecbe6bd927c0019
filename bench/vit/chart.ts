/**
 * The chart of bench/vit.ts as an SVG, rendered to PNG with `rsvg-convert` (Debian's librsvg2-bin): no
 * browser, no plotting library. Left: latency per size relative to the original model (grouped bars).
 * Right: speedup over the original vs token count N (log axis), with the floor's speedup as the bound a
 * converted model could reach, and the targets.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { VARIANTS, type Variant } from './models.js';

export interface ChartPoint {
  readonly size: number;
  readonly tokens: number;
  /** Median ms per variant (undefined: the variant failed at this size). */
  readonly medianMs: Partial<Record<Variant, number>>;
}

const COLORS: Record<Variant, string> = { original: '#7f7f7f', hydra: '#1f77b4', 'linear-angular': '#ff7f0e', floor: '#2ca02c' };
const LABELS: Record<Variant, string> = { original: 'original (softmax)', hydra: 'Hydra (all blocks)', 'linear-angular': 'linear-angular (all blocks)', floor: 'floor (attention removed)' };
const WIDTH = 1000;
const HEIGHT = 470;
const TOP = 60;
const BOTTOM = 390; // plot area's bottom edge; labels below

const text = (x: number, y: number, content: string, extra = ''): string =>
  `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${extra}>${content}</text>`;
const line = (x1: number, y1: number, x2: number, y2: number, extra = ''): string =>
  `<line x1="${x1.toFixed(1)}" y1="${y1.toFixed(1)}" x2="${x2.toFixed(1)}" y2="${y2.toFixed(1)}" ${extra}/>`;

function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`;
}

/** Grouped bars: each variant's median / the original's, per size. */
function relativeBars(points: readonly ChartPoint[], left: number, right: number): string[] {
  const parts: string[] = [];
  const ratios = points.flatMap((p) => VARIANTS.map((v) => (p.medianMs[v] ?? 0) / (p.medianMs.original ?? Infinity)));
  const yMax = Math.max(1.1, Math.ceil(Math.max(...ratios.filter(Number.isFinite)) * 5 + 0.5) / 5);
  const y = (value: number): number => BOTTOM - ((BOTTOM - TOP) * value) / yMax;
  parts.push(text((left + right) / 2, TOP - 22, 'Latency relative to the original (lower is better)', 'text-anchor="middle" font-size="15" font-weight="bold"'));
  for (let tick = 0; tick <= yMax + 1e-9; tick += 0.2) {
    parts.push(line(left, y(tick), right, y(tick), `stroke="${Math.abs(tick - 1) < 1e-9 ? '#444' : '#ddd'}" stroke-width="1"`));
    parts.push(text(left - 6, y(tick) + 4, tick.toFixed(1), 'text-anchor="end" font-size="11"'));
  }
  const group = (right - left) / Math.max(1, points.length);
  const bar = (group * 0.8) / VARIANTS.length;
  points.forEach((point, index) => {
    const x0 = left + index * group + group * 0.1;
    const original = point.medianMs.original;
    VARIANTS.forEach((variant, k) => {
      const ms = point.medianMs[variant];
      const x = x0 + k * bar;
      if (ms === undefined || original === undefined) {
        parts.push(text(x + bar / 2, BOTTOM - 4, '×', `text-anchor="middle" font-size="12" fill="${COLORS[variant]}"`));
        return;
      }
      const ratio = ms / original;
      parts.push(`<rect x="${(x + 1).toFixed(1)}" y="${y(ratio).toFixed(1)}" width="${(bar - 2).toFixed(1)}" height="${(BOTTOM - y(ratio)).toFixed(1)}" fill="${COLORS[variant]}"/>`);
      parts.push(text(x + bar / 2, y(ratio) - 3, ratio.toFixed(2), 'text-anchor="middle" font-size="9"'));
    });
    const cx = left + (index + 0.5) * group;
    parts.push(text(cx, BOTTOM + 16, `${point.size} px`, 'text-anchor="middle" font-size="12" font-weight="bold"'));
    parts.push(text(cx, BOTTOM + 30, `N = ${point.tokens}`, 'text-anchor="middle" font-size="11"'));
    if (original !== undefined) parts.push(text(cx, BOTTOM + 44, `orig. ${formatMs(original)}`, 'text-anchor="middle" font-size="11" fill="#555"'));
  });
  parts.push(line(left, TOP, left, BOTTOM, 'stroke="#444"'));
  return parts;
}

/** Speedup (original / variant) vs N on a log axis. */
function speedupLines(points: readonly ChartPoint[], left: number, right: number): string[] {
  const parts: string[] = [];
  const series: Variant[] = ['hydra', 'linear-angular', 'floor'];
  const speedups = points.flatMap((p) => series.map((v) => (p.medianMs.original ?? NaN) / (p.medianMs[v] ?? NaN)));
  const yMax = Math.max(3.5, Math.ceil(Math.max(...speedups.filter(Number.isFinite)) * 2 + 0.5) / 2);
  const [nMin, nMax] = [150, 5500];
  const x = (tokens: number): number => left + ((right - left) * Math.log(tokens / nMin)) / Math.log(nMax / nMin);
  const y = (value: number): number => BOTTOM - ((BOTTOM - TOP) * value) / yMax;
  parts.push(text((left + right) / 2, TOP - 22, 'Speedup over the original vs tokens N', 'text-anchor="middle" font-size="15" font-weight="bold"'));
  for (let tick = 0; tick <= yMax + 1e-9; tick += 0.5) {
    parts.push(line(left, y(tick), right, y(tick), `stroke="${Math.abs(tick - 1) < 1e-9 ? '#444' : '#ddd'}" stroke-width="1"`));
    parts.push(text(left - 6, y(tick) + 4, `${tick.toFixed(1)}×`, 'text-anchor="end" font-size="11"'));
  }
  for (const point of points) {
    parts.push(line(x(point.tokens), BOTTOM, x(point.tokens), BOTTOM + 4, 'stroke="#444"'));
    parts.push(text(x(point.tokens), BOTTOM + 16, String(point.tokens), 'text-anchor="middle" font-size="11"'));
    parts.push(text(x(point.tokens), BOTTOM + 30, `${point.size} px`, 'text-anchor="middle" font-size="10" fill="#555"'));
  }
  parts.push(text((left + right) / 2, BOTTOM + 48, 'tokens N (log scale)', 'text-anchor="middle" font-size="12"'));
  // Targets: ≥ 1.0× at 224 px (N = 197), ≥ 3× at 1024 px (N = 4097).
  for (const [tokens, target] of [[197, 1], [4097, 3]] as const) {
    parts.push(`<path d="M ${(x(tokens) - 7).toFixed(1)} ${y(target).toFixed(1)} l 7 -7 l 7 7 l -7 7 z" fill="none" stroke="#d62728" stroke-width="2"/>`);
    // Below the marker at 1×, where the curves start above it; left of the marker at 3×.
    const [dx, dy, anchor] = tokens > 1000 ? [-10, -9, 'end'] : [0, 22, 'middle'];
    parts.push(text(x(tokens) + dx, y(target) + dy, `target ${target}×`, `text-anchor="${anchor}" font-size="11" fill="#d62728"`));
  }
  for (const variant of series) {
    const valid = points.filter((p) => p.medianMs.original !== undefined && p.medianMs[variant] !== undefined);
    const coords = valid.map((p) => [x(p.tokens), y(p.medianMs.original! / p.medianMs[variant]!)] as const);
    const dash = variant === 'floor' ? ' stroke-dasharray="6 4"' : '';
    if (coords.length > 1) parts.push(`<polyline points="${coords.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(' ')}" fill="none" stroke="${COLORS[variant]}" stroke-width="2.5"${dash}/>`);
    valid.forEach((p, i) => {
      const [cx, cy] = coords[i]!;
      parts.push(`<circle cx="${cx.toFixed(1)}" cy="${cy.toFixed(1)}" r="4" fill="${COLORS[variant]}"/>`);
    });
    // Values only at the largest N, listed in the empty top-left corner: the curves crowd together at
    // small N (the bars on the left give those ratios).
    const last = valid.at(-1);
    if (last) {
      const row = series.indexOf(variant);
      const label = `${(last.medianMs.original! / last.medianMs[variant]!).toFixed(2)}× ${variant === 'floor' ? 'floor (the bound)' : variant}`;
      if (row === 0) parts.push(text(left + 12, TOP + 14, `at N = ${last.tokens}:`, 'font-size="11" fill="#333"'));
      parts.push(text(left + 20, TOP + 30 + 15 * row, label, `font-size="11" fill="${COLORS[variant]}"`));
    }
  }
  parts.push(line(left, TOP, left, BOTTOM, 'stroke="#444"'));
  return parts;
}

export function chartSvg(points: readonly ChartPoint[], subtitle: string): string {
  const legend = VARIANTS.map((variant, i) => {
    const x = 70 + i * 225;
    return `<rect x="${x}" y="${HEIGHT - 22}" width="14" height="14" fill="${COLORS[variant]}"/>` +
      text(x + 20, HEIGHT - 10, LABELS[variant], 'font-size="12"');
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="DejaVu Sans, sans-serif">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    text(WIDTH / 2, 16, subtitle, 'text-anchor="middle" font-size="11" fill="#555"'),
    ...relativeBars(points, 55, 510),
    ...speedupLines(points, 590, 975),
    ...legend,
    '</svg>',
  ].join('\n');
}

/** Writes `svgPath` and renders `pngPath` from it; returns an error message instead of throwing. */
export function writeChart(points: readonly ChartPoint[], subtitle: string, svgPath: string, pngPath: string): string | undefined {
  writeFileSync(svgPath, chartSvg(points, subtitle));
  const result = spawnSync('rsvg-convert', ['-o', pngPath, svgPath], { encoding: 'utf8' });
  if (result.error) return `rsvg-convert not available (${result.error.message}); apt-get install librsvg2-bin — SVG at ${svgPath}`;
  if (result.status !== 0) return `rsvg-convert failed: ${result.stderr}`;
  return undefined;
}
