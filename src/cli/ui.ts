/**
 * Terminal conventions of the CLI: colour only on a TTY and never with NO_COLOR (https://no-color.org),
 * progress bars on stderr only when stderr is a TTY (so pipes, logs and tests see clean output), and
 * small formatting helpers shared by the commands' reports.
 */

type Stream = NodeJS.WriteStream | { isTTY?: boolean };

/** Whether to colour text written to `stream`. */
export function colourEnabled(stream: Stream = process.stdout, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return stream.isTTY === true;
}

const wrap = (open: number, close: number) => (text: string, on = colourEnabled()) => (on ? `\x1b[${open}m${text}\x1b[${close}m` : text);

export const style = {
  bold: wrap(1, 22),
  dim: wrap(2, 22),
  red: wrap(31, 39),
  green: wrap(32, 39),
  yellow: wrap(33, 39),
  cyan: wrap(36, 39),
};

/** A progress bar on stderr; does nothing unless stderr is a TTY. */
export interface Progress {
  /** Advance by `n` steps (default 1). */
  tick(n?: number): void;
  /** Erase the bar. */
  done(): void;
}

/** Bars appear only for work that lasts: short steps never flash one. */
const SHOW_AFTER_MS = 400;
const REDRAW_EVERY_MS = 80;

/** Starts a progress bar for `total` steps of work named `label`. */
export function progress(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY || total <= 0) return { tick() {}, done() {} };
  const started = Date.now();
  let count = 0;
  let lastDraw = 0;
  let drawn = false;
  const draw = () => {
    const now = Date.now();
    if (now - started < SHOW_AFTER_MS || now - lastDraw < REDRAW_EVERY_MS) return;
    lastDraw = now;
    const width = Math.max(10, Math.min(30, (stream.columns ?? 80) - label.length - 20));
    const filled = Math.round((count / total) * width);
    const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
    stream.write(`\r${label} ${bar} ${count}/${total}\x1b[K`);
    drawn = true;
  };
  return {
    tick(n = 1) {
      count = Math.min(total, count + n);
      draw();
    },
    done() {
      if (drawn) stream.write('\r\x1b[K');
    },
  };
}

/** A named sequence of long steps (load, rewrite, …): the current one and its elapsed time, on a TTY only. */
export interface StepProgress {
  /** Starts the named step (one of those given), ending the one before. */
  step(name: string): void;
  /** Erase the line. */
  done(): void;
}

/**
 * Shows `label [i/n] step  12.3 s` on stderr while the command runs, once it has lasted SHOW_AFTER_MS.
 * Synchronous steps (decoding, rewriting) block the redraw timer: the line then updates between steps.
 */
export function stepProgress(label: string, steps: readonly string[], stream: NodeJS.WriteStream = process.stderr): StepProgress {
  if (!stream.isTTY) return { step() {}, done() {} };
  const started = Date.now();
  let current = '';
  let stepStarted = started;
  let drawn = false;
  const draw = () => {
    const now = Date.now();
    if (now - started < SHOW_AFTER_MS || current === '') return;
    const index = steps.indexOf(current) + 1;
    stream.write(`\r${label} [${index}/${steps.length}] ${current} ${((now - stepStarted) / 1000).toFixed(1)} s\x1b[K`);
    drawn = true;
  };
  const timer = setInterval(draw, 250);
  timer.unref();
  return {
    step(name) {
      current = name;
      stepStarted = Date.now();
      draw();
    },
    done() {
      clearInterval(timer);
      if (drawn) stream.write('\r\x1b[K');
    },
  };
}

/** Runs `work` with a spinner-free progress line: a one-step bar, for single slow steps. */
export async function withProgress<T>(label: string, total: number, work: (p: Progress) => Promise<T>): Promise<T> {
  const bar = progress(label, total);
  try {
    return await work(bar);
  } finally {
    bar.done();
  }
}

/** A plain text table: columns padded, numbers right-aligned. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], options: { colour?: boolean } = {}): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  // A column is numeric (right-aligned) when every non-empty cell is a number with an optional unit.
  const numeric = header.map((_, i) => {
    const cells = rows.map((row) => row[i] ?? '').filter((c) => c !== '');
    return cells.length > 0 && cells.every((c) => /^[-+−]?[\d.,]+(e[-+]?\d+)?\s*(%|×|ms|[kMGT]?FLOPs|[kMG]?B|\/s)?$|^—$/.test(c));
  });
  const line = (cells: readonly string[]) => cells.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const head = line(header);
  return [options.colour ? style.bold(head, true) : head, widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export { formatBytes, formatCount, formatError, formatFlops, formatMs, formatPercent } from './format.js';

/** Writes a JSON document to stdout (the `--json` contract: one document, nothing else on stdout). */
export function writeJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? Number(v) : v), 2) + '\n');
}
