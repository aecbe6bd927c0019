/**
 * Latency measurement and onnxruntime-profiler breakdowns for `vitlin bench` and the demo: median / p90
 * latency over timed runs after warm-up, and the time per op type with the share spent in attention.
 *
 * Attention time is attributed by node name, as onnxruntime's profiler reports it:
 *  - nodes of a softmax block keep their graph names (fusions append, e.g. `…/MatMul/MatMulScaleFusion/`);
 *  - a vitlin fused op is inlined from its model-local function, and its nodes are named
 *    `_inlfunc_<function name>_<unique>_<body node name>` — when the body's nodes have names, as vitlin
 *    writes them (custom-ops' functionBodyNodeName). Unnamed body nodes (models converted before vitlin
 *    named them, or written by other tools) get generic names (`Mul_5`) that point nowhere, so
 *    {@link nameFunctionBodyNodes} names them first.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Model } from '../../graph-rewrite/ir/model.js';
import { VITLIN_DOMAIN, functionBodyNodeName } from '../../custom-ops/index.js';
import { softmaxCoreNodes } from '../../graph-rewrite/plan/flops.js';
import type { BackendSession, Feeds } from './backend.js';
import { nodeBackend } from './node-backend.js';
import { profileKernels, type ProfileEvent } from './profile-events.js';
import type { ExecutionProvider } from './session.js';

export interface LatencyStats {
  readonly runs: number;
  readonly medianMs: number;
  readonly p90Ms: number;
  readonly meanMs: number;
  readonly minMs: number;
  /** Items per second at the median latency. */
  readonly throughput: number;
}

/** The q-th quantile (0…1) of sorted values, linearly interpolated. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

/** Summarises per-run latencies in milliseconds; `batch` items per run. */
export function latencyStats(samples: readonly number[], batch: number): LatencyStats {
  const sorted = [...samples].sort((a, b) => a - b);
  const median = quantile(sorted, 0.5);
  return {
    runs: samples.length,
    medianMs: median,
    p90Ms: quantile(sorted, 0.9),
    meanMs: samples.reduce((a, b) => a + b, 0) / (samples.length || 1),
    minMs: sorted[0] ?? NaN,
    throughput: (batch * 1000) / median,
  };
}

/** Times `runs` runs of `session` on `feeds` after `warmup` untimed ones. */
export async function measureLatency(session: BackendSession, feeds: Feeds, options: { warmup: number; runs: number; batch: number; onRun?: () => void }): Promise<LatencyStats> {
  for (let i = 0; i < options.warmup; i++) {
    await session.run(feeds);
    options.onRun?.();
  }
  const samples: number[] = [];
  for (let i = 0; i < options.runs; i++) {
    const start = performance.now();
    await session.run(feeds);
    samples.push(performance.now() - start);
    options.onRun?.();
  }
  return latencyStats(samples, options.batch);
}

/**
 * Times several sessions in turn — one run of each per round — so that load from other processes
 * hits all of them alike and their ratios stay meaningful on a busy machine.
 */
export async function measureInterleaved(entries: readonly { session: BackendSession; feeds: Feeds; batch: number }[], options: { warmup: number; runs: number; onRun?: () => void }): Promise<LatencyStats[]> {
  for (let i = 0; i < options.warmup; i++) {
    for (const e of entries) {
      await e.session.run(e.feeds);
      options.onRun?.();
    }
  }
  const samples = entries.map(() => [] as number[]);
  for (let i = 0; i < options.runs; i++) {
    for (const [k, e] of entries.entries()) {
      const start = performance.now();
      await e.session.run(e.feeds);
      samples[k]!.push(performance.now() - start);
      options.onRun?.();
    }
  }
  return samples.map((s, k) => latencyStats(s, entries[k]!.batch));
}

/**
 * Gives every unnamed node of the model's vitlin function bodies the name vitlin writes today
 * (`<function>/<output>`), so that onnxruntime's inlined copies are recognisable in profiles. Bodies
 * vitlin writes are named already; returns how many were named (0: the model can be used as it is).
 */
export function nameFunctionBodyNodes(model: Model): number {
  let named = 0;
  for (const fn of model.functions) {
    if (fn.domain !== VITLIN_DOMAIN) continue;
    fn.body.nodes.forEach((node, i) => {
      if (node.name) return;
      node.name = functionBodyNodeName(String(fn.name), node.outputs[0]?.name ?? String(i));
      named++;
    });
  }
  return named;
}

/** Decides from a profiled node's name whether its time is attention. */
export type AttentionMatcher = (nodeName: string) => boolean;

/**
 * The attention matcher for a model: its softmax cores (scores MatMul, Softmax, AV MatMul), fused
 * attention ops (ONNX / com.microsoft Attention, MultiHeadAttention), extra node names (decomposed
 * Hydra / linear-angular blocks), and inlined vitlin function nodes.
 */
export function attentionMatcher(model: Model, extraNames: Iterable<string> = []): AttentionMatcher {
  const names = new Set<string>(extraNames);
  for (const node of model.graph.nodes) {
    if (node.opType === 'Softmax') for (const n of softmaxCoreNodes(node)) if (n.name) names.add(n.name);
    if ((node.opType === 'Attention' || node.opType === 'MultiHeadAttention') && node.name) names.add(node.name);
  }
  const functions = model.functions.filter((f) => f.domain === VITLIN_DOMAIN).map((f) => `_inlfunc_${f.name}`);
  return (name) => {
    if (names.has(name)) return true;
    if (functions.some((prefix) => name.startsWith(prefix))) return true;
    // onnxruntime's fusions keep the original name as a prefix: '<name>/<FusionName>/'.
    const slash = name.indexOf('/', 1);
    for (let at = slash; at > 0; at = name.indexOf('/', at + 1)) if (names.has(name.slice(0, at))) return true;
    return false;
  };
}

export interface OpTime {
  readonly opType: string;
  /** Mean milliseconds per run. */
  readonly ms: number;
  readonly nodes: number;
}

export interface OpBreakdown {
  /** By op type, slowest first. */
  readonly ops: readonly OpTime[];
  /** Mean kernel milliseconds per run (sum over nodes; excludes time between kernels). */
  readonly kernelMs: number;
  readonly attentionMs: number;
  readonly attentionShare: number;
  readonly runs: number;
}

/** Aggregates an onnxruntime profile; the first `skipRuns` runs (warm-up) are dropped. */
export function breakdownFromProfile(events: readonly ProfileEvent[], isAttention: AttentionMatcher, skipRuns = 1): OpBreakdown {
  const { runs: profiled, kernels } = profileKernels(events, skipRuns);
  const counted = Math.max(1, profiled);
  const byOp = new Map<string, { us: number; nodes: Set<string> }>();
  let total = 0;
  let attention = 0;
  for (const { name, opType, durationUs } of kernels) {
    const entry = byOp.get(opType) ?? { us: 0, nodes: new Set<string>() };
    entry.us += durationUs;
    entry.nodes.add(name);
    byOp.set(opType, entry);
    total += durationUs;
    if (isAttention(name)) attention += durationUs;
  }
  const ops = [...byOp].map(([opType, e]) => ({ opType, ms: e.us / 1000 / counted, nodes: e.nodes.size })).sort((a, b) => b.ms - a.ms);
  return { ops, kernelMs: total / 1000 / counted, attentionMs: attention / 1000 / counted, attentionShare: total ? attention / total : 0, runs: counted };
}

/** Profiles `runs` runs (plus one warm-up) of a model and breaks the kernel time down by op type. */
export async function profileOps(model: string | Uint8Array, feeds: Feeds, options: { ep: ExecutionProvider; threads?: number; runs: number; isAttention: AttentionMatcher; label?: string }): Promise<OpBreakdown> {
  const folder = mkdtempSync(join(tmpdir(), 'vitlin-bench-'));
  try {
    const session = await nodeBackend.createSession(model, {
      ep: options.ep, intraOpThreads: options.threads, profileFilePrefix: join(folder, 'profile'), ...(options.label ? { label: options.label } : {}),
    });
    try {
      for (let i = 0; i < options.runs + 1; i++) await session.run(feeds);
      const file = session.endProfiling();
      if (!file) throw new Error('onnxruntime wrote no profile file');
      return breakdownFromProfile(JSON.parse(readFileSync(file, 'utf8')) as ProfileEvent[], options.isAttention, 1);
    } finally {
      await session.release();
    }
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}
