/**
 * `vitlin bench <model…>`: latency (median, p90), throughput, speed ratios between the models measured
 * in the same run, and a per-op breakdown from onnxruntime's profiler with the share of time spent in
 * attention (softmax blocks' MatMul/Softmax vs the fused ops' inlined nodes).
 */
import { findAttentionBlocks } from '../../graph-rewrite/attention/index.js';
import { findExactFusions } from '../../graph-rewrite/fusions/index.js';
import { attentionMatcher, measureInterleaved, nameFunctionBodyNodes, profileOps, type LatencyStats, type OpBreakdown } from '../runtime/bench.js';
import { randomInputs } from '../eval/inputs.js';
import { loadModel, modelToBytes } from '../model-io.js';
import type { BackendSession, Feeds } from '../runtime/backend.js';
import { nodeBackend } from '../runtime/node-backend.js';
import { EXECUTION_PROVIDERS, type ExecutionProvider } from '../runtime/session.js';
import { choiceListOption, intOption, parseCommandArgs, positionalArgs } from './args.js';
import type { Command } from './commands.js';
import { resolveModelArg, type ModelArg } from './paths.js';
import { formatMs, formatPercent, progress, style, table, writeJson } from './ui.js';

const OPTIONS = {
  ep: { type: 'string' },
  runs: { type: 'string' },
  warmup: { type: 'string' },
  threads: { type: 'string' },
  batch: { type: 'string' },
  'profile-runs': { type: 'string' },
  json: { type: 'boolean' },
} as const;

const HELP = `Usage: vitlin bench <model…> [options]

Times each model with onnxruntime on seeded random inputs and profiles where the time goes.
The models run in turn (one run of each per round), so load from other processes hits them alike;
ratios compare every model with the first one, on the same execution provider, in the same run.

Options:
  --ep cpu[,webgpu]    execution providers to measure (default cpu)
  --runs <n>           timed runs per model (default 30)
  --warmup <n>         untimed runs first (default 5)
  --threads <n>        intra-op threads (default: onnxruntime's choice)
  --batch <n>          batch size for models with a dynamic batch axis (default 1)
  --profile-runs <n>   runs under onnxruntime's profiler for the per-op breakdown (default 10; 0: none)
  --json               machine-readable output
  --verbose            stack traces on errors`;

/** One (model, ep) measurement; also an entry of the `--json` document. */
export interface BenchRow {
  readonly model: string;
  readonly ep: ExecutionProvider;
  readonly batch: number;
  readonly latency?: LatencyStats;
  /** The first model's median latency divided by this one's (same ep): > 1 is faster. */
  readonly speedup?: number;
  readonly profile?: OpBreakdown;
  /** Why this model could not be measured on this ep. */
  readonly error?: string;
}

export interface BenchOptions {
  readonly eps: readonly ExecutionProvider[];
  readonly runs: number;
  readonly warmup: number;
  readonly threads?: number;
  readonly batch: number;
  readonly profileRuns: number;
}

/** Measures every model on every ep; a model that fails on an ep gets a row with `error`. */
export async function benchModels(models: readonly ModelArg[], options: BenchOptions): Promise<BenchRow[]> {
  const prepared = await Promise.all(models.map(async (m) => {
    const model = await loadModel(m.path);
    // Unnamed function-body nodes (models converted before vitlin named them) would show up in profiles
    // as 'Mul_5': name them so attention is attributable. Bodies vitlin writes now are named already.
    const source = nameFunctionBodyNodes(model) > 0 ? modelToBytes(model) : m.path;
    // Attention nodes by name: softmax blocks (all their nodes, from the scores to the merged heads) and decomposed linear blocks.
    const names = [...findAttentionBlocks(model).blocks.flatMap((b) => b.nodes), ...findExactFusions(model).blocks.flatMap((b) => b.nodes)];
    return { arg: m, source, isAttention: attentionMatcher(model, names) };
  }));
  const names = models.map((m) => (models.filter((o) => o.name === m.name).length > 1 ? m.arg : m.name));
  const rows: BenchRow[] = [];
  const perModel = options.warmup + options.runs + (options.profileRuns ? options.profileRuns + 1 : 0);
  const bar = progress('bench', models.length * options.eps.length * perModel);
  try {
    for (const ep of options.eps) {
      // Open every model first; one that fails to load gets its row and is left out of the timing.
      const open: { i: number; session: BackendSession; feeds: Feeds; batch: number }[] = [];
      const failed = new Map<number, string>();
      for (const [i, { arg, source }] of prepared.entries()) {
        try {
          const session = await nodeBackend.createSession(source, { ep, intraOpThreads: options.threads, label: arg.arg });
          const batch = batchOf(session, options.batch);
          open.push({ i, session, feeds: randomInputs(1, 0, { batch }).feeds(session.inputs, 0, batch), batch });
        } catch (error) {
          failed.set(i, (error as Error).message.split('\n')[0]!);
        }
      }
      let stats: LatencyStats[] = [];
      try {
        stats = await measureInterleaved(open, { warmup: options.warmup, runs: options.runs, onRun: () => bar.tick() });
      } catch (error) {
        for (const o of open) failed.set(o.i, (error as Error).message.split('\n')[0]!);
      } finally {
        for (const o of open) await o.session.release();
      }
      const firstMedian = failed.has(0) ? undefined : stats[0]?.medianMs;
      for (const [i, { arg, source, isAttention }] of prepared.entries()) {
        const row = { model: names[i]!, ep, batch: options.batch };
        const k = open.findIndex((o) => o.i === i);
        if (failed.has(i) || k < 0) {
          rows.push({ ...row, error: failed.get(i) ?? 'not measured' });
          continue;
        }
        try {
          const profile = options.profileRuns > 0
            ? await profileOps(source, open[k]!.feeds, { ep, threads: options.threads, runs: options.profileRuns, isAttention, label: arg.arg })
            : undefined;
          bar.tick(options.profileRuns ? options.profileRuns + 1 : 0);
          const latency = stats[k]!;
          rows.push({ ...row, batch: open[k]!.batch, latency, ...(firstMedian !== undefined ? { speedup: firstMedian / latency.medianMs } : {}), ...(profile ? { profile } : {}) });
        } catch (error) {
          rows.push({ ...row, error: (error as Error).message.split('\n')[0]! });
        }
      }
    }
  } finally {
    bar.done();
  }
  return rows;
}

/** The batch actually run: the model's fixed batch when it has one. */
function batchOf(session: { inputs: readonly { isTensor: boolean; shape?: readonly (number | string)[] }[] }, requested: number): number {
  const input = session.inputs[0];
  const dim = input?.isTensor ? input.shape?.[0] : undefined;
  return typeof dim === 'number' && dim > 0 ? dim : requested;
}

/** A failure's first line, cut to fit a table cell; the whole line is printed under the table. */
const SHORT_REASON_CHARS = 48;
export function shortReason(error: string): string {
  const line = error.split('\n')[0]!.trim();
  return line.length <= SHORT_REASON_CHARS ? line : `${line.slice(0, SHORT_REASON_CHARS - 1).trimEnd()}…`;
}

/** The latency table and the per-op table, as text. A failed measurement keeps the table's shape: '—' cells, the reason in the last column. */
export function formatBench(rows: readonly BenchRow[], options: BenchOptions): string {
  const anyFailed = rows.some((r) => r.error !== undefined);
  const header = ['model', 'ep', 'median', 'p90', 'throughput', 'vs first', 'attention', ...(anyFailed ? ['note'] : [])];
  const latency = table(header, rows.map((r) => r.latency
    ? [r.model, r.ep, formatMs(r.latency.medianMs), formatMs(r.latency.p90Ms), `${r.latency.throughput.toFixed(0)} /s`,
      r.speedup === undefined ? '—' : `${r.speedup.toFixed(2)}×`, r.profile ? formatPercent(r.profile.attentionShare) : '—', ...(anyFailed ? [''] : [])]
    : [r.model, r.ep, '—', '—', '—', '—', '—', `failed: ${shortReason(r.error ?? 'not measured')}`]));
  const failures = rows.filter((r) => r.error !== undefined).map((r) => `  ${r.model} on ${r.ep}: ${r.error!.split('\n')[0]}`);
  const parts = [`${style.bold('bench')} ${style.dim(`batch ${options.batch}, ${options.runs} runs after ${options.warmup} warm-up, ${options.threads ?? 'default'} threads`)}`, '', latency];
  if (failures.length) parts.push('', style.red('failed:'), ...failures);
  const profiled = rows.filter((r) => r.profile);
  if (profiled.length) {
    // The slowest op types, plus the attention ops wherever they rank, so the comparison is always visible.
    const always = new Set(['Softmax', 'Attention', 'MultiHeadAttention']);
    const ops = [...new Set(profiled.flatMap((r) => r.profile!.ops.filter((o, i) => i < 8 || always.has(o.opType)).map((o) => o.opType)))];
    const body = ops.map((op) => [op, ...profiled.map((r) => {
      const t = r.profile!.ops.find((o) => o.opType === op);
      return t ? `${t.ms.toFixed(3)} ms` : '—';
    })]);
    body.push(['(attention)', ...profiled.map((r) => `${r.profile!.attentionMs.toFixed(3)} ms`)]);
    body.push(['(all kernels)', ...profiled.map((r) => `${r.profile!.kernelMs.toFixed(3)} ms`)]);
    parts.push('', `per-op kernel time per run (onnxruntime profiler, mean of ${profiled[0]!.profile!.runs} runs):`, '',
      table(['op', ...profiled.map((r) => (options.eps.length > 1 ? `${r.model} (${r.ep})` : r.model))], body));
  }
  return parts.join('\n');
}

async function runBench(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, OPTIONS, 'bench');
  const args = positionalArgs(positionals, 'bench', ['model'], { variadic: true });
  const options: BenchOptions = {
    eps: choiceListOption(values.ep, '--ep', EXECUTION_PROVIDERS, ['cpu']),
    runs: intOption(values.runs, '--runs', 30, 1),
    warmup: intOption(values.warmup, '--warmup', 5, 0),
    threads: values.threads === undefined ? undefined : intOption(values.threads, '--threads', 1, 1, 1024),
    batch: intOption(values.batch, '--batch', 1, 1),
    profileRuns: intOption(values['profile-runs'], '--profile-runs', 10, 0),
  };
  const models = args.map(resolveModelArg);
  const rows = await benchModels(models, options);
  if (values.json) writeJson({ options, rows });
  else process.stdout.write(formatBench(rows, options) + '\n');
  const failed = rows.filter((r) => r.error);
  if (failed.length) process.stderr.write(`vitlin bench: ${failed.length} of ${rows.length} measurements failed: ${failed[0]!.model} on ${failed[0]!.ep}: ${failed[0]!.error}\n`);
  return failed.length ? 1 : 0;
}

export const benchCommand: Command = {
  name: 'bench',
  help: HELP,
  run: runBench,
};
