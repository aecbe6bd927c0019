/**
 * `vitlin inspect <model>`: what a model is (opset, size, parameters, inputs and outputs), its attention
 * blocks (style, heads, head dim, tokens, scale, convertible or why not), and its FLOPs split into
 * attention and the rest — as it is, and as it would be with each linear attention.
 */
import { findAttentionBlocks, type AttentionBlock, type AttentionBlocksReport } from '../../graph-rewrite/attention/index.js';
import { findExactFusions, type ExactFusionBlock } from '../../graph-rewrite/fusions/index.js';
import { VITLIN_DOMAIN } from '../../custom-ops/index.js';
import { concreteShapes, countFlops, fusedAttentionDims, modelAttentionCores, projectFlops, type FlopSplit } from '../eval/flops.js';
import { formatSignature, summarizeModel, type ModelSummary } from './model-summary.js';
import { loadModel } from '../model-io.js';
import { UsageError, intOption, parseCommandArgs, positionalArgs } from './args.js';
import type { Command } from './commands.js';
import { resolveModelArg } from './paths.js';
import { formatBytes, formatFlops, formatPercent, style, table, writeJson } from './ui.js';

const OPTIONS = {
  batch: { type: 'string' },
  dims: { type: 'string' },
  json: { type: 'boolean' },
} as const;

const HELP = `Usage: vitlin inspect <model> [options]

Describes a model: opset, size, parameters, inputs and outputs; its attention blocks (style, heads,
head dim, tokens, scale) and, for every Softmax that cannot be converted, why; and its FLOPs split into
attention and the rest — as it is (softmax) and with each linear attention in place of the convertible blocks.
A model is an .onnx file or a Hugging Face folder (onnx/model.onnx).

FLOPs count 2 per multiply-accumulate of MatMul / Gemm / Conv, 1 per Softmax exponential, and the fused
attention ops by the cost model (Hydra ≈ 4·N·D, linear-angular ≈ 4·N·d²·H); element-wise ops are left out.

Options:
  --batch <n>   batch size for models with a dynamic batch axis (default 1)
  --dims <name=n,…>  values of other symbolic dims, e.g. sequence=128 (default 1)
  --json        machine-readable output
  --verbose     stack traces on errors`;

/** FLOPs of the model as it is and with every convertible block replaced by each linear attention. */
export interface FlopTable {
  readonly softmax: FlopSplit & { readonly attentionShare: number };
  readonly hydra: FlopSplit & { readonly attentionShare: number };
  readonly 'linear-angular': FlopSplit & { readonly attentionShare: number };
  readonly byOpType: Readonly<Record<string, number>>;
  readonly uncounted: readonly string[];
}

/** A decomposed Hydra / linear-angular block (a model trained with it): fused exactly by convert. */
export type DecomposedBlock = ExactFusionBlock & { readonly tokens: number; readonly flops: number };

/** A fused `ai.vitlin` attention op already in the graph (a model vitlin converted). */
export interface FusedOp {
  readonly node: string;
  readonly opType: string;
  readonly heads?: number;
  readonly headDim?: number;
  readonly tokens?: number;
  /** LinearAngularAttention's `mode`. */
  readonly mode?: string;
  /** Whether calibration coefficients are wired into its optional inputs. */
  readonly calibrated: boolean;
  readonly flops: number;
}

export interface InspectReport extends ModelSummary {
  readonly model: string;
  /** The softmax attention blocks: what convert's --blocks numbers. */
  readonly blocks: readonly (AttentionBlock & { readonly flops: number })[];
  readonly decomposed: readonly DecomposedBlock[];
  /** The fused ai.vitlin ops of a converted model. */
  readonly fused: readonly FusedOp[];
  readonly unmatched: AttentionBlocksReport['unmatched'];
  readonly flops: FlopTable;
  readonly batch: number;
}

const withShare = (s: FlopSplit) => ({ ...s, attentionShare: s.total ? s.attention / s.total : 0 });

/** Inspects a model file; the same report backs the text and the `--json` output. */
export async function inspectModel(path: string, label: string, batch = 1, dims: Readonly<Record<string, number>> = {}): Promise<InspectReport> {
  const model = await loadModel(path);
  const summary = summarizeModel(model, path);
  const { blocks, unmatched } = findAttentionBlocks(model);
  const exact = findExactFusions(model).blocks;
  // The batch axis is the first input's first dim, whatever the exporter named it.
  const batchName = model.graph.inputs.find((v) => !v.isInitializer())?.type;
  const batchDim = batchName?.kind === 'tensor' ? batchName.shape?.[0] : undefined;
  const facts = concreteShapes(model, { dims: { ...(typeof batchDim === 'string' ? { [batchDim]: batch } : {}), ...dims } });
  // Castling's gated softmax branches (and any other Softmax no rule matched) are attention work too.
  const cores = modelAttentionCores(model, { blocks, unmatched }, exact, facts).map((core) => ({ ...core, dims: { ...core.dims, batch } }));
  const counted = countFlops(model, cores, facts);
  const coreOf = (list: 'softmax' | 'exact', index: number) => cores.findIndex((c) => c.source?.list === list && c.source.index === index);
  const flopsOf = (list: 'softmax' | 'exact', index: number) => (coreOf(list, index) >= 0 ? counted.coreFlops[coreOf(list, index)]! : 0);
  const fused = model.graph.nodes.filter((node) => node.domain === VITLIN_DOMAIN).map((node): FusedOp => {
    const dims = fusedAttentionDims(node, facts);
    const core = cores.findIndex((c) => c.nodes.length === 1 && c.nodes[0] === node);
    return {
      node: node.name ?? '', opType: node.opType,
      ...(dims ? { heads: dims.heads, headDim: dims.headDim, tokens: dims.tokens } : {}),
      ...(node.opType === 'LinearAngularAttention' ? { mode: node.getString('mode', 'reference') } : {}),
      calibrated: node.inputs.slice(3).some((input) => input !== undefined && input !== null),
      flops: core >= 0 ? counted.coreFlops[core]! : 0,
    };
  });
  return {
    model: label,
    ...summary,
    batch,
    blocks: blocks.map((block, i) => ({ ...block, flops: flopsOf('softmax', i) })),
    decomposed: exact.map((block, i) => ({ ...block, tokens: coreOf('exact', i) >= 0 ? cores[coreOf('exact', i)]!.dims.tokens : 0, flops: flopsOf('exact', i) })),
    fused,
    unmatched,
    flops: {
      softmax: withShare(counted.current),
      hydra: withShare(projectFlops(counted, cores, 'hydra')),
      'linear-angular': withShare(projectFlops(counted, cores, 'linear-angular')),
      byOpType: counted.byOpType,
      uncounted: counted.uncounted,
    },
  };
}

function formatScale(block: AttentionBlock): string {
  const s = block.scale;
  const value = Math.abs(s.value - s.expected) < 1e-9 ? `1/√${block.headDim}` : s.value.toPrecision(4);
  return `${value} (${s.placement})`;
}

/** The human-readable report. */
export function formatInspect(r: InspectReport): string {
  const out: string[] = [];
  const opsets = Object.entries(r.opsets).map(([d, v]) => `${d} ${v}`).join(', ');
  const dtypes = Object.entries(r.parameterDtypes).map(([d, n]) => `${n.toLocaleString('en-US')} ${d}`).join(', ');
  out.push(style.bold(r.model), '');
  const rows: [string, string][] = [
    ['size', `${formatBytes(r.bytes)}${r.irVersion !== undefined ? `, IR ${r.irVersion}` : ''}${r.producer ? `, from ${r.producer}` : ''}`],
    ['opsets', opsets],
    ['nodes', `${r.nodes}${r.functions.length ? ` (+ functions ${r.functions.join(', ')})` : ''}`],
    ['parameters', `${r.parameters.toLocaleString('en-US')}${dtypes ? ` (${dtypes})` : ''}, ${formatBytes(r.parameterBytes)}`],
    ...r.inputs.map((s, i): [string, string] => [i === 0 ? 'inputs' : '', `${s.name}  ${formatSignature(s)}`]),
    ...r.outputs.map((s, i): [string, string] => [i === 0 ? 'outputs' : '', `${s.name}  ${formatSignature(s)}`]),
  ];
  out.push(...rows.map(([k, v]) => `  ${k.padEnd(10)}  ${v}`), '');
  if (r.fused.length) {
    const kinds = [...new Set(r.fused.map((f) => f.opType))].map((op) => `${r.fused.filter((f) => f.opType === op).length} ${op}`).join(', ');
    out.push(style.bold(`fused attention ops (${VITLIN_DOMAIN}): ${r.fused.length}`) + ` (${kinds})`, '');
    out.push(table(['#', 'op', 'node', 'heads', 'head dim', 'tokens', 'mode', 'calibrated', 'FLOPs'], r.fused.map((f, i) => [
      String(i), f.opType, f.node, f.heads === undefined ? '—' : String(f.heads), f.headDim === undefined ? '—' : String(f.headDim),
      f.tokens === undefined ? '—' : String(f.tokens), f.mode ?? '—', f.calibrated ? 'yes' : 'no', formatFlops(f.flops),
    ])), '');
  }
  out.push(style.bold(`${r.fused.length ? 'softmax ' : ''}attention blocks: ${r.blocks.length}`) + (r.blocks.length ? ` (${r.blocks.filter((b) => b.convertible).length} convertible)` : ''));
  if (r.blocks.length) {
    out.push('', table(['#', 'style', 'heads', 'head dim', 'tokens', 'scale', 'dtype', 'FLOPs', 'convertible'], r.blocks.map((b) => [
      String(b.index), b.style, String(b.heads), String(b.headDim), String(b.tokens), formatScale(b), b.dtype, formatFlops(b.flops), b.convertible ? 'yes' : 'no',
    ])));
  }
  if (r.decomposed.length) {
    out.push('', style.bold(`decomposed linear attention: ${r.decomposed.length}`) + ` (${r.decomposed.filter((b) => b.fusable).length} fusable exactly by convert)`, '');
    out.push(table(['#', 'kind', 'heads', 'head dim', 'tokens', 'FLOPs', 'fusable'], r.decomposed.map((b) => [
      String(b.index), b.form === undefined ? b.kind : `${b.kind} (${b.form})`, String(b.heads), String(b.headDim), String(b.tokens), formatFlops(b.flops), b.fusable ? 'yes' : 'no',
    ])));
  }
  // A Softmax that is Castling's zero-gated branch is explained by its decomposed block, not by why no rule matched.
  const branchOf = (node: string) => r.decomposed.find((b) => b.droppedBranches?.includes(node));
  const reasons = [
    ...r.decomposed.filter((b) => !b.fusable).map((b) => `decomposed block ${b.index}: ${b.reason}`),
    ...r.blocks.filter((b) => !b.convertible).map((b) => `block ${b.index}: ${b.reason}`),
    ...r.unmatched.map((u) => (branchOf(u.node) ? `Softmax '${u.node}': the auxiliary softmax branch of decomposed block ${branchOf(u.node)!.index}, gated by 0; exact fusion drops it` : u.reason)),
  ];
  if (reasons.length) out.push('', 'not convertible:', ...reasons.map((line) => `  - ${line}`));
  const notes = r.blocks.flatMap((b) => b.notes.map((n) => `block ${b.index}: ${n}`));
  if (notes.length) out.push('', 'notes:', ...notes.map((line) => `  - ${line}`));
  out.push('', style.bold(`FLOPs per inference (batch ${r.batch})`), '');
  // With nothing convertible the projections equal "as is": one row says it.
  const kinds = r.blocks.some((b) => b.convertible)
    ? [['as is', r.flops.softmax], ['hydra', r.flops.hydra], ['linear-angular', r.flops['linear-angular']]] as const
    : [['as is', r.flops.softmax]] as const;
  out.push(table(['attention', 'attention FLOPs', 'rest', 'total', 'attention share', 'vs as is'], kinds.map(([name, f]) => [
    name, formatFlops(f.attention), formatFlops(f.rest), formatFlops(f.total), formatPercent(f.attentionShare), `${(f.total / (r.flops.softmax.total || 1)).toFixed(3)}×`,
  ])));
  if (r.flops.uncounted.length) out.push('', style.yellow(`${r.flops.uncounted.length} node(s) not counted (shapes unknown): ${r.flops.uncounted.slice(0, 5).join(', ')}`));
  return out.join('\n');
}

/** `--dims sequence=128,height=384` → { sequence: 128, height: 384 }. */
function parseDims(text: string | undefined): Record<string, number> {
  const dims: Record<string, number> = {};
  for (const part of (text ?? '').split(',').filter((p) => p.trim())) {
    const match = /^\s*([^=\s]+)\s*=\s*(\d+)\s*$/.exec(part);
    if (!match || Number(match[2]) < 1) throw new UsageError(`--dims: expected name=positive integer, got '${part.trim()}'`);
    dims[match[1]!] = Number(match[2]);
  }
  return dims;
}

async function runInspect(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, OPTIONS, 'inspect');
  const [arg] = positionalArgs(positionals, 'inspect', ['model']);
  const batch = intOption(values.batch, '--batch', 1, 1);
  const dims = parseDims(values.dims);
  const model = resolveModelArg(arg!);
  const report = await inspectModel(model.path, model.arg, batch, dims);
  if (values.json) writeJson(report);
  else process.stdout.write(formatInspect(report) + '\n');
  return 0;
}

export const inspectCommand: Command = {
  name: 'inspect',
  help: HELP,
  run: runInspect,
};
