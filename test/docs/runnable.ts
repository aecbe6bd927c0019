/**
 * Runnable docs blocks (runnable.test.ts says what the markers mean): finding them in Markdown, turning
 * their commands into vitlin arguments, and normalising output for comparison. Shared by the test and
 * by update-docs.ts.
 */
export type Mode = 'exact' | 'shape' | 'exit-code';
export interface Step { readonly command: string; readonly expected: string[] }
export interface Block { readonly file: string; readonly line: number; readonly mode: Mode; readonly steps: Step[] }

export const MARKER = /^<!--\s*runnable(?::\s*(shape|exit-code))?\s*-->\s*$/;

/** The runnable blocks of one Markdown file. */
export function runnableBlocks(file: string, text: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const marker = MARKER.exec(lines[i]!);
    if (!marker) continue;
    if (!/^```/.test(lines[i + 1] ?? '')) throw new Error(`${file}:${i + 1}: a runnable marker must be followed by a fenced block`);
    const body: string[] = [];
    let j = i + 2;
    for (; j < lines.length && !/^```\s*$/.test(lines[j]!); j++) body.push(lines[j]!);
    const mode = (marker[1] ?? 'exact') as Mode;
    blocks.push({ file, line: i + 1, mode, steps: mode === 'exit-code' ? commandList(body) : transcript(body, `${file}:${i + 1}`) });
    i = j;
  }
  return blocks;
}

/** Joins `\` continuations and drops trailing `# comments`. */
function joinContinued(lines: readonly string[]): string[] {
  const out: string[] = [];
  let pending = '';
  for (const line of lines) {
    const text = pending + line.trimStart();
    if (text.endsWith('\\')) pending = text.slice(0, -1).trimEnd() + ' ';
    else { out.push(text); pending = ''; }
  }
  return out;
}

function commandList(body: readonly string[]): Step[] {
  return joinContinued(body).map((line) => line.replace(/\s+#.*$/, '').trim()).filter((line) => line && !line.startsWith('#')).map((command) => ({ command, expected: [] }));
}

/** `$ command` lines (with continuations) and the output lines after each. */
function transcript(body: readonly string[], where: string): Step[] {
  const steps: { command: string; expected: string[] }[] = [];
  for (let k = 0; k < body.length; k++) {
    const line = body[k]!;
    if (line.startsWith('$ ')) {
      const parts = [line.slice(2)];
      while (parts.at(-1)!.endsWith('\\')) parts.push(body[++k]!);
      steps.push({ command: joinContinued(parts)[0]!, expected: [] });
    } else if (steps.length === 0) {
      throw new Error(`${where}: a runnable transcript starts with a '$ command' line`);
    } else {
      steps.at(-1)!.expected.push(line);
    }
  }
  return steps;
}

/** A command line as node arguments: vitlin / npx vitlin / npm start only. */
export function argvOf(command: string, tmp: string): string[] {
  const words = command.replaceAll('/tmp/', `${tmp}/`).match(/'[^']*'|"[^"]*"|\S+/g)!.map((w) => w.replace(/^(['"])(.*)\1$/, '$2'));
  if (words[0] === 'npx') words.shift();
  if (words[0] === 'npm' && words[1] === 'start' && words.length === 2) return ['demo'];
  if (words[0] !== 'vitlin') throw new Error(`runnable blocks run vitlin commands only, got '${command}'`);
  return words.slice(1);
}

/** Lines as compared: no colour, timings masked, column padding and rule lengths ignored; in shape mode, numbers masked. */
/** A line of just `…` in a block's output stands for any number of lines (output that varies in length). */
export const ELLIPSIS = '…';

/** The actual lines cut to the expected shape: lines where the expected output has `…` are dropped. */
export function fitToEllipsis(actual: readonly string[], expected: readonly string[]): string[] {
  const at = expected.indexOf(ELLIPSIS);
  if (at < 0) return [...actual];
  const tail = expected.length - at - 1;
  return [...actual.slice(0, at), ELLIPSIS, ...(tail ? actual.slice(-tail) : [])];
}

export function normalise(text: string, mode: Mode, tmp?: string): string[] {
  let out = text.replace(/\x1b\[[\d;]*m/g, '');
  if (tmp) out = out.replaceAll(`${tmp}/`, '/tmp/');
  out = out.replace(/\d+(?:\.\d+)? ?ms\b/g, '<ms>').replace(/\b\d+ \/s\b/g, '<rate>').replace(/\b\d+(?:\.\d+)? s\b/g, '<s>');
  if (mode === 'shape') out = out.replace(/[-+−]?\d+(?:[.,]\d+)*(?:e[-+]?\d+)?/g, '#');
  return out.split('\n').map((line) => (/^[-\s]+$/.test(line) && line.includes('--') ? '---' : line.replace(/\s+/g, ' ').trim()))
    .join('\n').trim().split('\n');
}
