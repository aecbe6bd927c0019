/**
 * Whole-model benchmark (not a test): torchvision ViT-B/16 (random weights) at 224, 384, 512 and 1024 px
 * on onnxruntime-node CPU, batch 1 — the original (softmax attention), the same model with every block
 * converted to HydraAttention and to LinearAngularAttention, and the floor (attention removed:
 * attention output = out_proj(v), see models/scripts/export_vit_b16.py).
 *
 *   npx tsx bench/vit.ts [--sizes 224,384,512,1024] [--runs 7] [--warmup 1] [--threads 2]
 *                        [--budget-s 240] [--profile] [--chart docs/bench-vit.png]
 *   npx tsx bench/vit.ts --from-json [bench/out/vit.json] [chart.png]    (tables + chart of a saved run)
 *
 * Method: per size, one session per model (intra-op threads 2); `warmup` untimed runs each; then up to
 * `runs` rounds, each running every model once, interleaved (the order rotates every round) so that
 * load from other processes hits all models alike. A size stops early once `budget-s` is spent and 3
 * rounds are done (the 1024 px original takes tens of seconds a run). Reported: median and p90 wall
 * ms; speedup = original / converted; converted / floor; the attention share (original − floor) /
 * original. `--profile` records onnxruntime profiles of the timed runs and prints where the kernel time
 * goes (Gemm / attention's other nodes / the rest; the fused op's inlined nodes by body node), plus
 * ratios estimated from it with one Gemm time for all four models (they do identical Gemm work, so
 * differences there are load noise).
 * Exports are made on demand in bench/out/ (gitignored) and reused; conversions are made fresh.
 * Results: a table on stdout, bench/out/vit.json, and the chart (PNG via rsvg-convert, SVG next to
 * the JSON).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { createSession, randomFeeds, type Feeds, type RuntimeSession } from '../src/runtime/index.js';
import { writeChart, type ChartPoint } from './vit/chart.js';
import { convertVariant, CONVERTED, ensureExport, OUT_DIR, ROOT, tokensAt, VARIANTS, type PreparedVariant, type Variant } from './vit/models.js';
import { printProfile, readProfile, type ProfileSummary } from './vit/profile.js';

interface Options {
  sizes: number[];
  runs: number;
  warmup: number;
  threads: number;
  budgetS: number;
  profile: boolean;
  chart: string;
}

interface ModelResult {
  wallMs: number[];
  cpuMs: number[];
  medianMs?: number;
  p90Ms?: number;
  /** Process CPU ms per run (user + system, all threads; includes ORT's spin-waiting). */
  medianCpuMs?: number;
  sessionSeconds?: number;
  conversion?: PreparedVariant['conversion'];
  error?: string;
  profile?: ProfileSummary;
}

interface SizeResult {
  size: number;
  tokens: number;
  rounds: number;
  seconds: number;
  loadAverage: { before: number; after: number };
  models: Record<Variant, ModelResult>;
  attentionShare?: number;
  ratios: Partial<Record<Variant, Ratios>>;
  targets: string[];
  /** With --profile: per-model kernel time with one Gemm time for all (see {@link profileEstimate}). */
  estimate?: { commonGemmMs: number; totalMs: Record<Variant, number>; attentionShare: number; ratios: Partial<Record<Variant, Ratios>> };
}

interface Ratios {
  speedup: number;
  overFloor: number;
}

const TARGET_224 = 1.0;
const TARGET_1024 = 3.0;
const FLOOR_TOLERANCE = 1.1;

function parseArgs(argv: readonly string[]): Options {
  const options: Options = { sizes: [224, 384, 512, 1024], runs: 7, warmup: 1, threads: 2, budgetS: 240, profile: false, chart: join(ROOT, 'docs', 'bench-vit.png') };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '--profile') { options.profile = true; continue; }
    const value = argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    const int = (min: number): number => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < min) throw new Error(`${flag} must be an integer ≥ ${min}, got ${value}`);
      return n;
    };
    if (flag === '--sizes') {
      options.sizes = value.split(',').map(Number);
      if (options.sizes.some((s) => !Number.isInteger(s) || s <= 0 || s % 16 !== 0)) throw new Error(`--sizes: multiples of 16, got ${value}`);
    } else if (flag === '--runs') options.runs = int(1);
    else if (flag === '--warmup') options.warmup = int(0);
    else if (flag === '--threads') options.threads = int(1);
    else if (flag === '--budget-s') options.budgetS = int(0);
    else if (flag === '--chart') options.chart = value;
    else throw new Error(`unknown argument ${flag}; usage: npx tsx bench/vit.ts [--sizes 224,384] [--runs 7] [--warmup 1] [--threads 2] [--budget-s 240] [--profile] [--chart PATH]`);
  }
  return options;
}

/** Nearest-rank quantile: with a handful of runs, p90 is an observed run, not an interpolation. */
function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (q === 0.5 && sorted.length % 2 === 0) return (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

async function timedRun(session: RuntimeSession, feeds: Feeds): Promise<{ wall: number; cpu: number; outputs: Record<string, ort.Tensor> }> {
  const [start, cpuStart] = [performance.now(), process.cpuUsage()];
  const outputs = await session.run(feeds);
  const cpu = process.cpuUsage(cpuStart);
  return { wall: performance.now() - start, cpu: (cpu.user + cpu.system) / 1000, outputs };
}

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Prepares the four models of one size; a failing one carries its error and is left out of the timing. */
async function prepare(size: number): Promise<PreparedVariant[]> {
  const exported = async (variant: 'original' | 'floor'): Promise<PreparedVariant> => {
    try {
      return { variant, source: await ensureExport(size, variant === 'floor') };
    } catch (error) {
      return { variant, error: `export failed: ${message(error)}` };
    }
  };
  const original = await exported('original');
  const prepared: PreparedVariant[] = [original];
  for (const variant of CONVERTED) {
    const result = typeof original.source === 'string'
      ? await convertVariant(original.source, variant)
      : { variant, error: 'no original export to convert' };
    console.log(result.error
      ? `  ${variant}: ${result.error}`
      : `  ${variant}: converted ${result.conversion!.converted} blocks in ${result.conversion!.seconds.toFixed(1)} s` +
        (result.conversion!.skipped.length ? `; skipped ${result.conversion!.skipped.join('; ')}` : ''));
    prepared.push(result);
  }
  prepared.push(await exported('floor'));
  return prepared;
}

async function benchSize(size: number, options: Options): Promise<SizeResult> {
  const tokens = tokensAt(size);
  const started = performance.now();
  const loadBefore = loadavg()[0]!;
  console.log(`\nViT-B/16 at ${size} px (N = ${tokens} tokens), load average ${loadBefore.toFixed(1)}`);
  const models = Object.fromEntries(VARIANTS.map((v) => [v, { wallMs: [], cpuMs: [] } as ModelResult])) as Record<Variant, ModelResult>;
  const sessions = new Map<Variant, RuntimeSession>();
  let feeds: Feeds | undefined;
  for (const item of await prepare(size)) {
    const result = models[item.variant];
    if (item.conversion) result.conversion = item.conversion;
    if (item.error || item.source === undefined) { result.error = item.error ?? 'no model'; continue; }
    const t0 = performance.now();
    try {
      // --profile profiles the timed sessions themselves: the per-node events cost a few µs per node
      // (~500 nodes, < 0.2 % of a run) and the profile then comes from the same interleaved runs.
      const profileFilePrefix = options.profile ? join(tmpdir(), `vitlin-vit-${process.pid}-${size}-${item.variant}`) : undefined;
      const session = await createSession(item.source, { ep: 'cpu', intraOpThreads: options.threads, profileFilePrefix }, `${item.variant} ${size}px`);
      result.sessionSeconds = (performance.now() - t0) / 1000;
      sessions.set(item.variant, session);
      feeds ??= randomFeeds(session.inputs, { seed: 1 }); // one input, shared by all models
    } catch (error) {
      result.error = `session creation failed: ${message(error)}`;
      console.log(`  ${item.variant}: ${result.error}`);
    }
  }
  // Warm-up, and a sanity check: an untrained conversion changes the logits, but they must be finite.
  for (const [variant, session] of sessions) {
    try {
      for (let i = 0; i < options.warmup; i++) {
        const { wall, outputs } = await timedRun(session, feeds!);
        const logits = Object.values(outputs)[0]!.data as Float32Array;
        if (!logits.every(Number.isFinite)) throw new Error('non-finite logits');
        console.log(`  warm-up ${variant.padEnd(14)} ${wall.toFixed(0)} ms`);
      }
    } catch (error) {
      models[variant].error = `warm-up run failed: ${message(error)}`;
      console.log(`  ${variant}: ${models[variant].error}`);
      await session.release();
      sessions.delete(variant);
    }
  }
  const order = VARIANTS.filter((v) => sessions.has(v));
  const timingStart = performance.now();
  let rounds = 0;
  for (; rounds < options.runs; rounds++) {
    if (rounds >= 3 && (performance.now() - timingStart) / 1000 > options.budgetS) break;
    const cells: string[] = [];
    for (const variant of order.map((_, k) => order[(rounds + k) % order.length]!)) { // rotate: no model always follows the same one
      if (models[variant].error) continue;
      try {
        const { wall, cpu } = await timedRun(sessions.get(variant)!, feeds!);
        models[variant].wallMs.push(wall);
        models[variant].cpuMs.push(cpu);
        cells.push(`${variant} ${wall.toFixed(0)}`);
      } catch (error) {
        models[variant].error = `run ${rounds + 1} failed: ${message(error)}`; // e.g. out of memory: report, go on
        cells.push(`${variant} FAILED`);
      }
    }
    console.log(`  round ${rounds + 1}: ${cells.join(', ')} ms (load ${loadavg()[0]!.toFixed(1)})`);
  }
  if (options.profile) {
    console.log(`  profile (onnxruntime profiler over the timed rounds; per-node medians, ms per run):`);
    for (const [variant, session] of sessions) {
      const file = session.endProfiling();
      if (!file || models[variant].wallMs.length === 0) continue;
      models[variant].profile = readProfile(file, options.warmup);
      printProfile(variant, models[variant].profile!);
    }
  }
  for (const session of sessions.values()) await session.release();
  for (const result of Object.values(models)) {
    if (result.wallMs.length === 0) continue;
    result.medianMs = quantile(result.wallMs, 0.5);
    result.p90Ms = quantile(result.wallMs, 0.9);
    result.medianCpuMs = quantile(result.cpuMs, 0.5);
  }
  return summarize(size, tokens, rounds, models, loadBefore, (performance.now() - started) / 1000);
}

function summarize(size: number, tokens: number, rounds: number, models: Record<Variant, ModelResult>, loadBefore: number, seconds: number): SizeResult {
  const original = models.original.medianMs;
  const floor = models.floor.medianMs;
  const ratios: SizeResult['ratios'] = {};
  const targets: string[] = [];
  for (const variant of CONVERTED) {
    const ms = models[variant].medianMs;
    if (ms === undefined || original === undefined || floor === undefined) continue;
    const ratio = { speedup: original / ms, overFloor: ms / floor };
    ratios[variant] = ratio;
    const verdict = (ok: boolean): string => (ok ? 'met' : 'MISSED');
    if (size === 224) targets.push(`${variant}: ≥ ${TARGET_224}× the original at 224 px: ${ratio.speedup.toFixed(2)}× ${verdict(ratio.speedup >= TARGET_224)}`);
    if (size === 1024) targets.push(`${variant}: ≥ ${TARGET_1024}× the original at 1024 px: ${ratio.speedup.toFixed(2)}× ${verdict(ratio.speedup >= TARGET_1024)} (the floor itself: ${(original / floor).toFixed(2)}×)`);
    targets.push(`${variant}: within ${FLOOR_TOLERANCE}× of the floor at ${size} px: ${ratio.overFloor.toFixed(2)}× ${verdict(ratio.overFloor <= FLOOR_TOLERANCE)}`);
  }
  const attentionShare = original !== undefined && floor !== undefined ? (original - floor) / original : undefined;
  const estimate = profileEstimate(models);
  return { size, tokens, rounds, seconds, loadAverage: { before: loadBefore, after: loadavg()[0]! }, models, attentionShare, ratios, targets, ...(estimate ? { estimate } : {}) };
}

/**
 * Ratios from the profiles with the Gemm time (projections, MLP: ~90 % of the floor) set to the four
 * models' mean: their Gemm work is identical, so per-model differences there are load, not the model.
 * What remains per model is its own attention nodes and the rest — the part conversion changes.
 * Kernel sums leave out the time between kernels (a few µs per node).
 */
function profileEstimate(models: Record<Variant, ModelResult>): SizeResult['estimate'] {
  if (!VARIANTS.every((v) => models[v].profile)) return undefined;
  const commonGemmMs = VARIANTS.reduce((sum, v) => sum + models[v].profile!.byCategory.gemm, 0) / VARIANTS.length;
  const totalMs = Object.fromEntries(VARIANTS.map((v) => {
    const { attention, other } = models[v].profile!.byCategory;
    return [v, commonGemmMs + attention + other];
  })) as Record<Variant, number>;
  const ratios = Object.fromEntries(CONVERTED.map((v) => [v, { speedup: totalMs.original / totalMs[v], overFloor: totalMs[v] / totalMs.floor }]));
  return { commonGemmMs, totalMs, attentionShare: (totalMs.original - totalMs.floor) / totalMs.original, ratios };
}

function markdownTable(header: readonly string[], rows: readonly string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => (i < 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i < 1 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

const times = (value: number | undefined): string => (value === undefined ? '—' : `${value.toFixed(2)}×`);
const percent = (value: number | undefined): string => (value === undefined ? '—' : `${(100 * value).toFixed(0)} %`);

/** The --profile table: where each model's kernel time goes, and the ratios with a common Gemm time. */
function printDecomposition(results: readonly SizeResult[]): void {
  const rows = results.filter((r) => r.estimate).flatMap((r) => VARIANTS.map((v) => {
    const p = r.models[v].profile!;
    const ratio = r.estimate!.ratios[v];
    return [`${r.size} px`, v, p.byCategory.gemm.toFixed(0), p.byCategory.attention.toFixed(1), p.fusedMs ? p.fusedMs.toFixed(1) : '—',
      p.byCategory.other.toFixed(0), r.estimate!.totalMs[v].toFixed(0), times(ratio?.speedup), times(ratio?.overFloor),
      v === 'original' ? percent(r.estimate!.attentionShare) : ''];
  }));
  if (rows.length === 0) return;
  console.log('\nprofile (kernel ms per run, per-node medians over the timed rounds); est. = common Gemm time + the model\'s own attention + other');
  console.log(markdownTable(['size', 'model', 'Gemm', 'attention (non-Gemm)', 'fused op', 'other', 'est. total', 'est. speedup', 'est. / floor', 'est. attn share'], rows));
}

function printTable(results: readonly SizeResult[]): void {
  const ms = (r: ModelResult): string => (r.medianMs === undefined ? (r.error ? 'failed' : '—') : `${r.medianMs.toFixed(0)} (${r.p90Ms!.toFixed(0)})`);
  const header = ['size', 'N', 'original', 'Hydra', 'lin-angular', 'floor', 'attn share', 'Hydra speedup', 'Hydra/floor', 'LA speedup', 'LA/floor', 'orig/floor', 'rounds'];
  const rows = results.map((r) => [
    `${r.size} px`, String(r.tokens), ms(r.models.original), ms(r.models.hydra), ms(r.models['linear-angular']), ms(r.models.floor), percent(r.attentionShare),
    times(r.ratios.hydra?.speedup), times(r.ratios.hydra?.overFloor), times(r.ratios['linear-angular']?.speedup), times(r.ratios['linear-angular']?.overFloor),
    times(r.models.floor.medianMs && r.models.original.medianMs ? r.models.original.medianMs / r.models.floor.medianMs : undefined), String(r.rounds),
  ]);
  console.log('\nmedian wall ms per run (p90); speedup = original / converted; attn share = (original − floor) / original');
  console.log(markdownTable(header, rows));
  for (const r of results) {
    for (const target of r.targets) console.log(`  ${target}`);
    for (const variant of VARIANTS) if (r.models[variant].error) console.log(`  ${r.size} px ${variant}: ${r.models[variant].error}`);
  }
  printDecomposition(results);
}

interface Report {
  date: string;
  command: string;
  machine: { cpus: number; cpuModel: string | undefined; totalMemoryBytes: number; node: string; onnxruntime: string };
  options: Options;
  notes: string;
  results: SizeResult[];
}

function renderChart(report: Report, chartPath: string): void {
  const points: ChartPoint[] = report.results.map((r) => ({
    size: r.size, tokens: r.tokens,
    medianMs: Object.fromEntries(VARIANTS.filter((v) => r.models[v].medianMs !== undefined).map((v) => [v, r.models[v].medianMs!])),
  }));
  const subtitle = `ViT-B/16, random weights, onnxruntime-node ${report.machine.onnxruntime} CPU, ${report.options.threads} intra-op threads, batch 1, ` +
    `median of interleaved runs on a shared ${report.machine.cpus}-core machine (${report.date.slice(0, 10)})`;
  const chartError = writeChart(points, subtitle, join(OUT_DIR, 'vit.svg'), chartPath);
  console.log(chartError ?? `wrote ${chartPath}`);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--from-json') {
    // Re-prints the tables and redraws the chart of a saved run, without measuring.
    const report = JSON.parse(await readFile(argv[1] ?? join(OUT_DIR, 'vit.json'), 'utf8')) as Report;
    console.log(`${report.command} (${report.date})`);
    printTable(report.results);
    renderChart(report, argv[2] ?? report.options.chart);
    return;
  }
  const options = parseArgs(argv);
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model, totalMemoryBytes: totalmem(), node: process.version, onnxruntime: ort.env.versions.common };
  console.log(`ViT-B/16 on onnxruntime-node ${machine.onnxruntime} CPU, intra-op threads ${options.threads}, batch 1; ` +
    `${machine.cpus}× ${machine.cpuModel}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const results: SizeResult[] = [];
  for (const size of options.sizes) results.push(await benchSize(size, options));
  printTable(results);
  const report: Report = {
    date: new Date().toISOString(),
    command: `npx tsx bench/vit.ts ${argv.join(' ')}`.trim(),
    machine,
    options,
    notes: 'wall ms, median and nearest-rank p90 over interleaved rounds; cpuMs is process CPU time per run (both ORT threads, spin-waiting included)',
    results,
  };
  const jsonPath = join(OUT_DIR, 'vit.json');
  await writeFile(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nwrote ${jsonPath}`);
  renderChart(report, options.chart);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack ?? error.message : error);
  process.exitCode = 1;
});
