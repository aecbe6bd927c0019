/** Number formatting shared by the CLI's reports and the web app (browser-safe: no Node globals). */

/** 1234567 → "1.23 MFLOPs"-style text with a unit. */
export function formatCount(n: number, unit: string): string {
  const prefixes = ['', 'k', 'M', 'G', 'T'];
  let i = 0;
  let value = n;
  while (Math.abs(value) >= 1000 && i < prefixes.length - 1) {
    value /= 1000;
    i++;
  }
  return `${value.toFixed(value >= 100 || i === 0 ? 0 : value >= 10 ? 1 : 2)} ${prefixes[i]}${unit}`;
}

export const formatFlops = (n: number): string => formatCount(n, 'FLOPs');

/** Bytes as "1.2 MB" (decimal units, like file managers). */
export const formatBytes = (n: number): string => formatCount(n, 'B');

/** 0.1234 → "12.3 %". */
export const formatPercent = (x: number, digits = 1): string => `${(x * 100).toFixed(digits)} %`;

/** Small errors in scientific notation, "0" for exact zero. */
export const formatError = (x: number): string => (x === 0 ? '0' : Number.isNaN(x) ? 'NaN' : x.toExponential(2));

export const formatMs = (x: number): string => `${x < 10 ? x.toFixed(2) : x.toFixed(1)} ms`;
