/**
 * `vitlin convert` on big models (not a test): inspect, convert with and without the quick check, and a
 * pure re-save, for ViT-B/16 and ViT-L/16 at 224 and 1024 px, next to the codec's own load + save of the
 * same file and to one onnxruntime session running that file once.
 *
 *     npx tsx bench/convert.ts [--models b16-224,b16-1024,l16-224,l16-1024] [--runs 1] [--steps inspect,codec,…]
 *
 * Every measurement is its own process, run as a user runs it (`node bin/vitlin.mjs …` on the compiled
 * dist/, built first), under GNU time: wall time and peak RSS are the whole process's, start-up included.
 * Ratios: wall time / the codec's load + save, peak RSS / the file size. The convert with the check is held
 * to peak ≤ 1.5× the file plus one onnxruntime session (the larger peak of the `session` rows, the original's
 * and the converted model's). Models are exported on
 * demand into bench/out/ (gitignored) with models/scripts/export_vit_b16.py (Debian's torch 1.13) and
 * reused when present. Results: a table on stdout and bench/out/convert.json.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT_DIR = join(ROOT, 'bench', 'out');
const PYTHON = '/usr/bin/python3';
const EXPORT_SCRIPT = join(ROOT, 'models', 'scripts', 'export_vit_b16.py');
const CLI = join(ROOT, 'bin', 'vitlin.mjs');
const TIME_LIMIT = 2; // convert --no-check: ≤ 2× the codec's load + save
const RSS_LIMIT = 1.5; // peak ≤ 1.5× the file (+ one session with the check)

const MODELS = {
  'b16-224': { label: 'ViT-B/16 224 px', large: false, size: 224 },
  'b16-1024': { label: 'ViT-B/16 1024 px', large: false, size: 1024 },
  'l16-224': { label: 'ViT-L/16 224 px', large: true, size: 224 },
  'l16-1024': { label: 'ViT-L/16 1024 px', large: true, size: 1024 },
} as const;
type ModelKey = keyof typeof MODELS;

// The codec alone and one onnxruntime session, on the same compiled code the CLI runs.
const CODEC_CHILD = `
const { loadModel, saveModel } = await import(${JSON.stringify(join(ROOT, 'dist/src/model-io.js'))});
await saveModel(await loadModel(process.argv[1]), process.argv[2]);`;
const SESSION_CHILD = `
const { createSession } = await import(${JSON.stringify(join(ROOT, 'dist/src/runtime/session.js'))});
const { randomInputs } = await import(${JSON.stringify(join(ROOT, 'dist/src/eval/inputs.js'))});
const { runModel } = await import(${JSON.stringify(join(ROOT, 'dist/src/eval/fidelity.js'))});
const session = await createSession(process.argv[1]);
await runModel(session, randomInputs(1, 1));
await session.release();`;

interface Step {
  readonly name: string;
  readonly what: string;
  /** An unmeasured command run first (it writes `output`). */
  prepare?(model: string, output: string): string[];
  args(model: string, output: string): string[];
}

const node = (script: string) => (model: string, output: string) => [process.execPath, '--input-type=module', '-e', script, model, output];
const vitlin = (...rest: string[]) => (model: string, output: string) => [process.execPath, CLI, ...rest.map((a) => a.replace('{model}', model).replace('{out}', output))];

const STEPS: readonly Step[] = [
  { name: 'codec', what: 'codec loadModel + saveModel', args: node(CODEC_CHILD) },
  { name: 'inspect', what: 'vitlin inspect --json', args: vitlin('inspect', '{model}', '--json') },
  { name: 'resave', what: 'convert --blocks none --no-fuse', args: vitlin('convert', '{model}', '-o', '{out}', '--blocks', 'none', '--no-fuse', '--json') },
  { name: 'nocheck', what: 'convert --attention hydra --no-check', args: vitlin('convert', '{model}', '-o', '{out}', '--attention', 'hydra', '--no-check', '--json') },
  { name: 'session', what: 'one onnxruntime session, 1 input', args: node(SESSION_CHILD) },
  {
    name: 'session-converted', what: 'the same, on the converted model',
    prepare: vitlin('convert', '{model}', '-o', '{out}', '--attention', 'hydra', '--no-check'),
    args: (model, output) => node(SESSION_CHILD)(output, model),
  },
  { name: 'check', what: 'convert --attention hydra (check: 1 input)', args: vitlin('convert', '{model}', '-o', '{out}', '--attention', 'hydra', '--json') },
];

interface Measured { seconds: number; peakBytes: number }
interface Row extends Measured { model: ModelKey; step: string; what: string; fileBytes: number; runs: Measured[] }

let runCount = 0;

function run(argv: string[]): Promise<Measured> {
  const timeFile = join(OUT_DIR, `.time-${process.pid}-${runCount++}`);
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', '%e %M', '-o', timeFile, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', async (code) => {
      const text = await readFile(timeFile, 'utf8').catch(() => '');
      await rm(timeFile, { force: true });
      if (code !== 0 || text === '') reject(new Error(`${argv.slice(1, 3).join(' ')} … exited with ${code}:\n${stderr.slice(-3000)}`));
      const [seconds, kib] = text.trim().split('\n').at(-1)!.split(' ').map(Number);
      resolve({ seconds: seconds!, peakBytes: kib! * 1024 });
    });
  });
}

async function ensureModel(key: ModelKey): Promise<string> {
  const { large, size } = MODELS[key];
  const path = join(OUT_DIR, `vit_${large ? 'l16' : 'b16'}_${size}.onnx`);
  if (existsSync(path)) return path;
  console.log(`exporting ${MODELS[key].label} → ${path} (minutes, several GB of RAM) …`);
  const r = spawnSync(PYTHON, [EXPORT_SCRIPT, path, '--image-size', String(size), ...(large ? ['--large'] : [])],
    { stdio: 'inherit', env: { ...process.env, OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? '2' } });
  if (r.status !== 0) throw new Error(`export of ${key} failed`);
  return path;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

async function benchModel(key: ModelKey, steps: readonly Step[], runs: number): Promise<Row[]> {
  const path = await ensureModel(key);
  const fileBytes = (await stat(path)).size;
  const output = join(OUT_DIR, `.convert-${process.pid}.onnx`);
  console.log(`${MODELS[key].label}: ${path} (${mib(fileBytes)}), load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  await run(STEPS[0]!.args(path, output)); // warm-up: the file in the page cache, not measured
  const rows: Row[] = [];
  for (const step of steps) {
    const measured: Measured[] = [];
    for (let i = 0; i < runs; i++) {
      if (step.prepare) await run(step.prepare(path, output));
      measured.push(await run(step.args(path, output)));
      await rm(output, { force: true });
      console.log(`  ${step.what.padEnd(44)} ${measured.at(-1)!.seconds.toFixed(1).padStart(6)} s  ${mib(measured.at(-1)!.peakBytes).padStart(9)}`);
    }
    rows.push({ model: key, step: step.name, what: step.what, fileBytes, runs: measured, seconds: median(measured.map((m) => m.seconds)), peakBytes: Math.max(...measured.map((m) => m.peakBytes)) });
  }
  return rows;
}

/** The rows as a markdown table with the ratios, and the "Done means" verdicts per model. */
function report(rows: readonly Row[]): string {
  const lines = ['| model | file | command | wall | ÷ codec load+save | peak RSS | ÷ file |', '|---|---|---|---|---|---|---|'];
  const verdicts: string[] = [];
  for (const key of [...new Set(rows.map((r) => r.model))]) {
    const of = (step: string) => rows.find((r) => r.model === key && r.step === step);
    const codec = of('codec');
    for (const r of rows.filter((x) => x.model === key)) {
      lines.push(`| ${MODELS[key].label} | ${mib(r.fileBytes)} | ${r.what} | ${r.seconds.toFixed(1)} s | ${codec ? `${(r.seconds / codec.seconds).toFixed(2)}×` : '—'} | ${mib(r.peakBytes)} | ${(r.peakBytes / r.fileBytes).toFixed(2)}× |`);
    }
    const nocheck = of('nocheck');
    const check = of('check');
    // onnxruntime's peak varies from run to run (by ±40 % at 224 px): the larger of the two models' sessions.
    const sessions = [of('session'), of('session-converted')].filter((r): r is Row => r !== undefined);
    const session = sessions.length ? sessions.reduce((a, b) => (a.peakBytes >= b.peakBytes ? a : b)) : undefined;
    if (nocheck && codec) {
      const t = nocheck.seconds / codec.seconds;
      const m = nocheck.peakBytes / nocheck.fileBytes;
      verdicts.push(`${MODELS[key].label}: --no-check ${t.toFixed(2)}× the codec's time (≤ ${TIME_LIMIT}×: ${t <= TIME_LIMIT ? 'met' : 'MISSED'}), peak ${m.toFixed(2)}× the file (≤ ${RSS_LIMIT}×: ${m <= RSS_LIMIT ? 'met' : 'MISSED'})`);
    }
    if (check && session) {
      const over = (check.peakBytes - session.peakBytes) / check.fileBytes;
      verdicts.push(`${MODELS[key].label}: with the check, peak = one session (${mib(session.peakBytes)}) + ${over.toFixed(2)}× the file (≤ ${RSS_LIMIT}×: ${over <= RSS_LIMIT ? 'met' : 'MISSED'})`);
    }
  }
  return [...lines, '', ...verdicts].join('\n');
}

function parseArgs(argv: string[]): { models: ModelKey[]; steps: Step[]; runs: number; build: boolean } {
  let models = Object.keys(MODELS) as ModelKey[];
  let steps = [...STEPS];
  let runs = 1;
  let build = true;
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const value = () => inline ?? argv[++i] ?? '';
    if (flag === '--models') models = value().split(',').map((m) => { if (!(m in MODELS)) throw new Error(`--models: unknown '${m}' (${Object.keys(MODELS).join(', ')})`); return m as ModelKey; });
    else if (flag === '--steps') steps = value().split(',').map((s) => { const step = STEPS.find((x) => x.name === s); if (!step) throw new Error(`--steps: unknown '${s}' (${STEPS.map((x) => x.name).join(', ')})`); return step; });
    else if (flag === '--runs') { runs = Number(value()); if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be an integer ≥ 1'); }
    else if (flag === '--no-build') build = false;
    else throw new Error(`unknown argument ${flag}; usage: npx tsx bench/convert.ts [--models b16-224,…] [--steps codec,inspect,resave,nocheck,session,session-converted,check] [--runs 1] [--no-build]`);
  }
  return { models, steps, runs, build };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const { models, steps, runs, build } = parseArgs(argv);
  await mkdir(OUT_DIR, { recursive: true });
  if (build && spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' }).status !== 0) {
    throw new Error('the build (tsc -p tsconfig.build.json) failed');
  }
  const rows: Row[] = [];
  for (const key of models) rows.push(...await benchModel(key, steps, runs));
  const text = report(rows);
  console.log(`\n${text}`);
  const document = {
    date: new Date().toISOString(),
    command: `npx tsx bench/convert.ts ${argv.join(' ')}`.trim(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, totalMemoryBytes: totalmem(), loadAverageAtEnd: loadavg(), node: process.version },
    notes: 'wall and peak RSS of the whole process (GNU time), start-up included; median wall and highest peak over the runs',
    rows,
  };
  await writeFile(join(OUT_DIR, 'convert.json'), `${JSON.stringify(document, null, 2)}\n`);
  console.log(`\nwrote ${join(OUT_DIR, 'convert.json')}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack ?? error.message : error);
  process.exitCode = 1;
});
