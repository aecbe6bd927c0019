/**
 * Load + save benchmark (not a test): vitlin `loadModel` + `saveModel` (bytes → ModelProto → IR → ModelProto
 * → bytes) against Python `onnx.load` + `onnx.save` (Debian's python3-onnx), on ViT-B/16 and ViT-L/16
 * with random weights at 224 px.
 *
 *     npx tsx bench/serde.ts [--sizes b16,l16] [--runs 3]
 *
 * Every run is its own child process, so the peak RSS reported is that process's own
 * (`process.resourceUsage().maxRSS` / `getrusage(RUSAGE_SELF).ru_maxrss`); the wall time is measured
 * inside the child around load + save only (interpreter start-up and imports excluded). One warm-up run
 * of each side fills the page cache first. Models are exported on demand into bench/out/ (gitignored)
 * and reused when present. Results: a table on stdout and bench/out/serde.json.
 *
 * Targets: peak RSS ≤ 1.5× the file size, and faster than Python.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel, saveModel } from '../src/model-io.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT_DIR = join(ROOT, 'bench', 'out');
const PYTHON = '/usr/bin/python3'; // Debian's python3-onnx, not a pyenv python
const EXPORT_SCRIPT = join(ROOT, 'models', 'scripts', 'export_vit_b16.py');
const RSS_TARGET = 1.5;

const SIZES = {
  b16: { label: 'ViT-B/16 224px', file: 'vit_b16_224.onnx', exportArgs: [] as string[] },
  l16: { label: 'ViT-L/16 224px', file: 'vit_l16_224.onnx', exportArgs: ['--large'] },
} as const;
type SizeKey = keyof typeof SIZES;
type Side = 'vitlin' | 'python';

/** What one child reports. */
interface RunResult {
  seconds: number;
  /** Peak RSS of the child process, bytes. */
  maxRssBytes: number;
  /** RSS after start-up and imports, before loading: the interpreter's own share of the peak. */
  baselineRssBytes: number;
}

interface SideSummary {
  runs: RunResult[];
  medianSeconds: number;
  /** The highest peak over the measured runs. */
  peakRssBytes: number;
  baselineRssBytes: number;
  rssOverFileSize: number;
}

interface SizeSummary {
  model: string;
  file: string;
  fileBytes: number;
  vitlin: SideSummary;
  python: SideSummary;
  /** vitlin's median time / Python's (< 1: vitlin is faster). */
  timeRatio: number;
  targets: { rssWithin1_5x: boolean; fasterThanPython: boolean };
}

// Python side: the same shape of report as the Node child. ru_maxrss is KiB on Linux.
const PYTHON_CHILD = `
import json, os, resource, sys, time
import onnx
page = os.sysconf('SC_PAGE_SIZE')
with open('/proc/self/statm') as f:
    baseline = int(f.read().split()[1]) * page
t0 = time.perf_counter()
model = onnx.load(sys.argv[1])
onnx.save(model, sys.argv[2])
seconds = time.perf_counter() - t0
print(json.dumps({'seconds': seconds, 'maxRssBytes': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  'baselineRssBytes': baseline, 'onnx': onnx.__version__}))
`;

/** The Node child: load + save through the IR, then report on stdout. */
async function childMain(input: string, output: string): Promise<void> {
  const baselineRssBytes = process.memoryUsage().rss;
  const t0 = performance.now();
  const model = await loadModel(input);
  await saveModel(model, output);
  const seconds = (performance.now() - t0) / 1000;
  const result: RunResult = { seconds, maxRssBytes: process.resourceUsage().maxRSS * 1024, baselineRssBytes };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function runChild(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`${command} ${args.join(' ')} exited with ${code}:\n${stderr.slice(-4000)}`));
    });
  });
}

async function runOnce(side: Side, input: string): Promise<RunResult & { onnx?: string }> {
  const output = join(OUT_DIR, `.serde-${side}-${process.pid}.onnx`);
  try {
    const stdout = side === 'vitlin'
      // Same node and loader flags (tsx) as this process, so the child runs this file's TypeScript.
      ? await runChild(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', input, output])
      : await runChild(PYTHON, ['-c', PYTHON_CHILD, input, output]);
    const last = stdout.trim().split('\n').at(-1) ?? '';
    return JSON.parse(last) as RunResult & { onnx?: string };
  } finally {
    await rm(output, { force: true });
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function summarize(runs: RunResult[], fileBytes: number): SideSummary {
  const peakRssBytes = Math.max(...runs.map((r) => r.maxRssBytes));
  return {
    runs,
    medianSeconds: median(runs.map((r) => r.seconds)),
    peakRssBytes,
    baselineRssBytes: median(runs.map((r) => r.baselineRssBytes)),
    rssOverFileSize: peakRssBytes / fileBytes,
  };
}

/** Exports the model unless a previous export is there (a ViT-L export takes minutes and GBs of RAM). */
async function ensureModel(key: SizeKey): Promise<string> {
  const path = join(OUT_DIR, SIZES[key].file);
  if (existsSync(path)) return path;
  console.log(`exporting ${SIZES[key].label} → ${path} …`);
  await runChild(PYTHON, [EXPORT_SCRIPT, ...SIZES[key].exportArgs, path]);
  return path;
}

let onnxVersion: string | undefined;

async function benchSize(key: SizeKey, runs: number): Promise<SizeSummary> {
  const path = await ensureModel(key);
  const fileBytes = (await stat(path)).size;
  console.log(`${SIZES[key].label}: ${path} (${mib(fileBytes)})`);
  // Warm-up: puts the file in the page cache (and both sides' code on disk cache); not measured.
  await runOnce('vitlin', path);
  await runOnce('python', path);
  const results: Record<Side, RunResult[]> = { vitlin: [], python: [] };
  for (let i = 0; i < runs; i++) { // interleaved, so drift (thermal, page cache) hits both sides alike
    for (const side of ['vitlin', 'python'] as const) {
      const result = await runOnce(side, path);
      if (result.onnx !== undefined) onnxVersion = result.onnx;
      results[side].push({ seconds: result.seconds, maxRssBytes: result.maxRssBytes, baselineRssBytes: result.baselineRssBytes });
      console.log(`  run ${i + 1} ${side.padEnd(6)} ${result.seconds.toFixed(2)} s, peak RSS ${mib(result.maxRssBytes)}`);
    }
  }
  const vitlin = summarize(results.vitlin, fileBytes);
  const python = summarize(results.python, fileBytes);
  return {
    model: SIZES[key].label,
    file: path,
    fileBytes,
    vitlin,
    python,
    timeRatio: vitlin.medianSeconds / python.medianSeconds,
    targets: { rssWithin1_5x: vitlin.rssOverFileSize <= RSS_TARGET, fasterThanPython: vitlin.medianSeconds < python.medianSeconds },
  };
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

function printTable(summaries: SizeSummary[]): void {
  const header = ['model', 'file', 'side', 'median time', 'peak RSS', 'RSS/file', 'start-up RSS', 'time vs Python'];
  const rows = summaries.flatMap((s) => (['vitlin', 'python'] as const).map((side) => [
    s.model, mib(s.fileBytes), side === 'vitlin' ? 'vitlin load+save' : 'onnx.load+save',
    `${s[side].medianSeconds.toFixed(2)} s`, mib(s[side].peakRssBytes), `${s[side].rssOverFileSize.toFixed(2)}×`,
    mib(s[side].baselineRssBytes), side === 'vitlin' ? `${s.timeRatio.toFixed(2)}×` : '1.00×',
  ]));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(`\n${line(header)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows) console.log(line(row));
  for (const s of summaries) {
    console.log(`${s.model}: peak RSS ≤ ${RSS_TARGET}× file: ${s.targets.rssWithin1_5x ? 'met' : 'MISSED'}; ` +
      `faster than Python: ${s.targets.fasterThanPython ? 'met' : 'MISSED'}`);
  }
}

function parseArgs(argv: string[]): { sizes: SizeKey[]; runs: number } {
  let sizes: SizeKey[] = ['b16', 'l16'];
  let runs = 3;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const v = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg.startsWith('--sizes')) {
      sizes = value().split(',').map((s) => {
        if (!(s in SIZES)) throw new Error(`--sizes: unknown size '${s}' (known: ${Object.keys(SIZES).join(', ')})`);
        return s as SizeKey;
      });
    } else if (arg.startsWith('--runs')) {
      runs = Number(value());
      if (!Number.isInteger(runs) || runs < 3) throw new Error('--runs must be an integer ≥ 3');
    } else {
      throw new Error(`unknown argument ${arg}; usage: npx tsx bench/serde.ts [--sizes b16,l16] [--runs 3]`);
    }
  }
  return { sizes, runs };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') return childMain(argv[1]!, argv[2]!);
  const { sizes, runs } = parseArgs(argv);
  await mkdir(OUT_DIR, { recursive: true });
  const summaries: SizeSummary[] = [];
  for (const key of sizes) summaries.push(await benchSize(key, runs));
  printTable(summaries);
  const report = {
    date: new Date().toISOString(),
    command: `npx tsx bench/serde.ts ${argv.join(' ')}`.trim(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, totalMemoryBytes: totalmem(), node: process.version, onnx: onnxVersion },
    notes: 'times are medians of load+save inside each child; RSS is the child process\'s own peak (including the ' +
      'interpreter); vitlin\'s save is atomic (temp file + fsync + rename), onnx.save writes in place without fsync',
    results: summaries,
  };
  const jsonPath = join(OUT_DIR, 'serde.json');
  await writeFile(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nwrote ${jsonPath}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack ?? error.message : error);
  process.exitCode = 1;
});
