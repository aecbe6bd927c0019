/**
 * `--profile`: where a model's time goes, from onnxruntime's profiler — kernel time per op type, per part
 * of the model (Gemm / attention's other nodes / the rest), and for converted models the inlined
 * fused-op nodes (`_inlfunc_<function>_<n>_<body node>`) summed over all layers per body node, which
 * says what the fused op costs and which of its nodes dominate.
 */
import { readFileSync, rmSync } from 'node:fs';
import { profileKernels, type ProfileEvent } from '../../src/runtime/profile-events.js';

export interface Entry {
  readonly name: string;
  /** Kernel ms per run (sum over its nodes of each node's median). */
  readonly ms: number;
  /** Nodes (over all layers). */
  readonly nodes: number;
}

export interface ProfileSummary {
  readonly runs: number;
  /** Per run: all kernels, and the kernels of inlined vitlin functions (sums of per-node medians). */
  readonly kernelMs: number;
  readonly fusedMs: number;
  /** gemm: every Gemm (projections, MLP); attention: the other nodes of the attention blocks; other: the rest. */
  readonly byCategory: Readonly<Record<Category, number>>;
  readonly byOpType: readonly Entry[];
  /** Inlined function nodes by body node name (e.g. `HydraAttention/key_times_value`), slowest first. */
  readonly byBodyNode: readonly Entry[];
}

export type Category = 'gemm' | 'attention' | 'other';

// onnxruntime names an inlined body node `_inlfunc_<function>_[token_<n>_]<body node name>`.
const INLINED = /^_inlfunc_([A-Za-z]+)_(?:token_\d+_)?(.*)$/;

/**
 * Which part of the model a node belongs to. Attention: the inlined fused-op nodes, the exported
 * blocks' non-Gemm nodes (softmax core, head split/merge, layout Transposes) and the Transposes that
 * onnxruntime's transpose optimizer inserts (`Transpose_token_<n>`; these come from the attention blocks'
 * seq-first layout, as no other part of the graph has any).
 */
function categoryOf(node: string, opType: string): Category {
  if (opType === 'Gemm') return 'gemm';
  if (INLINED.test(node) || node.includes('/self_attention/') || /^Transpose_token_\d+$/.test(node)) return 'attention';
  return 'other';
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Sums per-node medians over the profiled runs: on a loaded machine a preempted thread stalls one
 * kernel of one run by milliseconds, and a mean would charge that to whatever op was running.
 */
export function summarizeProfile(events: readonly ProfileEvent[], skipRuns: number): ProfileSummary {
  const { runs, kernels } = profileKernels(events, skipRuns);
  const perNode = new Map<string, { opType: string; us: number[] }>();
  for (const { name, opType, durationUs } of kernels) {
    const entry = perNode.get(name) ?? { opType, us: [] };
    entry.us.push(durationUs);
    perNode.set(name, entry);
  }
  const byOp = new Map<string, { ms: number; nodes: number }>();
  const byBody = new Map<string, { ms: number; nodes: number }>();
  const byCategory: Record<Category, number> = { gemm: 0, attention: 0, other: 0 };
  const add = (map: Map<string, { ms: number; nodes: number }>, key: string, ms: number): void => {
    const entry = map.get(key) ?? { ms: 0, nodes: 0 };
    map.set(key, { ms: entry.ms + ms, nodes: entry.nodes + 1 });
  };
  let [total, fused] = [0, 0];
  for (const [node, { opType, us }] of perNode) {
    const ms = median(us) / 1000;
    total += ms;
    add(byOp, opType, ms);
    byCategory[categoryOf(node, opType)] += ms;
    const inlined = INLINED.exec(node);
    if (inlined) {
      fused += ms;
      // Body node names are `<function>/<output>` (custom-ops names them), and onnxruntime's fusions
      // append `/<Fusion>/`: keep the output name.
      const parts = inlined[2]!.split('/');
      add(byBody, `${parts.length > 1 ? parts[1] : parts[0]} (${opType})`, ms);
    }
  }
  const entries = (map: Map<string, { ms: number; nodes: number }>): Entry[] =>
    [...map].map(([name, e]) => ({ name, ms: e.ms, nodes: e.nodes })).sort((a, b) => b.ms - a.ms);
  return { runs, kernelMs: total, fusedMs: fused, byCategory, byOpType: entries(byOp), byBodyNode: entries(byBody) };
}

/** Reads and deletes a profile file that onnxruntime wrote, and summarises it; the first `skipRuns` runs are warm-up. */
export function readProfile(file: string, skipRuns: number): ProfileSummary {
  try {
    return summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as ProfileEvent[], skipRuns);
  } finally {
    rmSync(file, { force: true });
  }
}

export function printProfile(label: string, summary: ProfileSummary, top = 8): void {
  const share = (ms: number): string => `${((100 * ms) / summary.kernelMs).toFixed(1)} %`;
  const { gemm, attention, other } = summary.byCategory;
  console.log(`    ${label}: kernels ${summary.kernelMs.toFixed(1)} ms/run: Gemm ${gemm.toFixed(1)}, ` +
    `attention non-Gemm ${attention.toFixed(1)} (${share(attention)})` +
    (summary.fusedMs > 0 ? ` of which inlined fused-op nodes ${summary.fusedMs.toFixed(1)}` : '') + `, other ${other.toFixed(1)}`);
  const ops = summary.byOpType.slice(0, top).map((e) => `${e.name} ${e.ms.toFixed(1)} (${share(e.ms)})`);
  console.log(`      by op type: ${ops.join(', ')}`);
  if (summary.byBodyNode.length > 0) {
    const body = summary.byBodyNode.slice(0, top).map((e) => `${e.name} ${e.ms.toFixed(1)}`);
    console.log(`      fused op by body node (ms/run, all layers): ${body.join(', ')}`);
  }
}
