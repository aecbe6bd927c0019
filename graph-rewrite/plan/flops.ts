/**
 * A small FLOP counter over the IR with inferred shapes. It counts what dominates a ViT's cost:
 * MatMul / Gemm / Conv (2 FLOPs per multiply-accumulate), one FLOP per Softmax exponential, and the
 * fused attention ops by the cost model of docs/reference.md. Element-wise ops (bias adds,
 * LayerNorm, GELU) are left out: they are O(N·D) and memory-bound, and leaving them out keeps the
 * figures comparable with the papers' MAC counts.
 */
import { getKernel, kernelForOp } from '../../custom-ops/index.js';
import { ensureShapes, resolveShape } from '../analysis/index.js';
import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';

/** Concrete shapes of a model's values; a value whose shape is not known is absent. */
export type ConcreteShapes = ReadonlyMap<Value, readonly number[]>;

export interface ConcreteShapeOptions {
  /** Values for symbolic dims by name, e.g. { batch: 1 }; others take `defaultDim`. */
  readonly dims?: Readonly<Record<string, number>>;
  readonly defaultDim?: number;
}

/**
 * The main graph's shapes as graph-rewrite's (symbolic) shape inference finds them, with symbolic
 * dims bound to numbers (`options.dims`, default 1): the sizes for one concrete input. The graph is
 * inferred unless its facts are current.
 */
export function concreteShapes(model: Model, options: ConcreteShapeOptions = {}): Map<Value, readonly number[]> {
  const info = ensureShapes(model.graph);
  const shapes = new Map<Value, readonly number[]>();
  const values = [...model.graph.inputs, ...model.graph.initializers.values(), ...model.graph.nodes.flatMap((node) => node.outputs)];
  for (const value of values) {
    const shape = resolveShape(info.shapeOf(value), options.dims, options.defaultDim);
    if (shape !== undefined) shapes.set(value, shape);
  }
  return shapes;
}

/** 'softmax', or a registered kernel's name (custom-ops/kernels): each is costed by its descriptor. */
export type AttentionKind = string;

export interface AttentionDims {
  readonly batch: number;
  readonly tokens: number;
  readonly heads: number;
  readonly headDim: number;
}

/**
 * FLOPs of one attention block's core (after the q/k/v projections, before the output projection),
 * per docs/reference.md: softmax ≈ 2·N²·D MACs + N²·H exps; Hydra ≈ 4·N·D operations; linear-angular
 * ≈ 2·N·d²·H MACs. FLOPs = 2 × MACs; an exponential or a Hydra operation counts 1.
 */
export function attentionFlops(kind: AttentionKind, dims: AttentionDims): number {
  const { batch, tokens: n, heads: h, headDim: d } = dims;
  if (kind === 'softmax') return batch * (2 * 2 * n * n * h * d + n * n * h);
  return getKernel(kind).flops(dims);
}

const product = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

/** FLOPs of one node given the inferred shapes, or undefined when a needed shape is unknown. */
export function nodeFlops(node: Node, facts: ConcreteShapes): number | undefined {
  const shape = (i: number): readonly number[] | undefined => {
    const v = node.inputs[i];
    return v === undefined ? undefined : facts.get(v);
  };
  const out = node.outputs[0] ? facts.get(node.outputs[0]) : undefined;
  switch (node.opType) {
    case 'MatMul': case 'FusedMatMul': {
      const a = shape(0);
      if (!a || !out) return undefined;
      return 2 * product(out) * a.at(-1)!;
    }
    case 'Gemm': {
      const a = shape(0);
      if (!a || !out) return undefined;
      const k = node.getInt('transA', 0) ? a[0]! : a[1]!;
      return 2 * product(out) * k;
    }
    case 'Conv': {
      const w = shape(1);
      if (!w || !out) return undefined;
      return 2 * product(out) * product(w.slice(1)); // w = [Cout, Cin/group, k…]
    }
    case 'Softmax':
      return out ? product(out) : undefined;
    case 'Attention': case 'MultiHeadAttention': {
      const dims = fusedAttentionDims(node, facts);
      if (!dims) return undefined;
      let projection = 0;
      if (node.opType === 'Attention' && node.domain === 'com.microsoft') {
        const x = shape(0);
        const w = shape(1);
        if (!x || !w) return undefined;
        projection = 2 * product(x.slice(0, -1)) * w[0]! * w[1]!; // the fused qkv projection
      }
      return projection + attentionFlops('softmax', dims);
    }
    default: {
      const kernel = kernelForOp(node.domain, node.opType);
      if (!kernel) return 0;
      const dims = fusedAttentionDims(node, facts);
      return dims ? attentionFlops(kernel.name, dims) : undefined;
    }
  }
}

/** Batch, tokens, heads and head dim of a fused attention node ([B, N, D] inputs). */
export function fusedAttentionDims(node: Node, facts: ConcreteShapes): AttentionDims | undefined {
  const q = node.inputs[0] ? facts.get(node.inputs[0]) : undefined;
  const out = node.outputs[0] ? facts.get(node.outputs[0]) : undefined;
  if (!q || !out) return undefined;
  if (q.length === 4) return { batch: q[0]!, heads: q[1]!, tokens: q[2]!, headDim: q[3]! }; // ONNX Attention, 4-D
  const [batch, tokens, D] = [out[0]!, out[1]!, out[2]!];
  const kernel = kernelForOp(node.domain, node.opType);
  const heads = kernel ? kernel.headsOf((name, fallback) => node.getInt(name, fallback), D)
    : node.opType === 'Attention' && node.domain !== 'com.microsoft' ? node.getInt('q_num_heads', 1)
      : node.getInt('num_heads', 1);
  return { batch, tokens, heads, headDim: D / heads };
}

/** One attention block as the FLOP counter sees it. */
export interface AttentionCore {
  /** The nodes whose FLOPs are attention (scores MatMul, Softmax, AV MatMul, or a fused node). */
  readonly nodes: readonly Node[];
  readonly dims: AttentionDims;
  /** Whether `vitlin convert` can replace it (a masked or biased softmax stays softmax). */
  readonly convertible: boolean;
  /** The block's mechanism as it is now; decomposed Hydra / linear-angular blocks are costed by the model. */
  readonly kind: AttentionKind;
  /** Which block it is: index into the softmax blocks or the decomposed (exact-fusion) blocks. */
  readonly source?: { readonly list: 'softmax' | 'exact'; readonly index: number };
}

export interface FlopSplit {
  readonly attention: number;
  readonly rest: number;
  readonly total: number;
}

export interface FlopReport {
  /** The model as it is. */
  readonly current: FlopSplit;
  /** FLOPs by op type (`domain::op` for non-default domains). */
  readonly byOpType: Readonly<Record<string, number>>;
  /** Nodes whose cost could not be counted (shape unknown). */
  readonly uncounted: readonly string[];
  /** Per attention core, its FLOPs now. */
  readonly coreFlops: readonly number[];
}

/** The attention part of a fused attention node's FLOPs (com.microsoft Attention also projects q, k, v inside). */
function attentionPart(node: Node, facts: ConcreteShapes, total: number): number {
  if (node.opType !== 'Attention' || node.domain !== 'com.microsoft') return total;
  const dims = fusedAttentionDims(node, facts);
  return dims ? attentionFlops('softmax', dims) : total;
}

/** Counts the model's FLOPs and splits them into attention (the given cores) and the rest. */
export function countFlops(model: Model, cores: readonly AttentionCore[], facts?: ConcreteShapes, options?: ConcreteShapeOptions): FlopReport {
  const shapes = facts ?? concreteShapes(model, options);
  const byOpType: Record<string, number> = {};
  const uncounted: string[] = [];
  const perNode = new Map<Node, number>();
  let total = 0;
  for (const node of model.graph.nodes) {
    const flops = nodeFlops(node, shapes);
    if (flops === undefined) {
      uncounted.push(node.name ?? node.opType);
      continue;
    }
    perNode.set(node, flops);
    if (flops === 0) continue;
    const key = node.domain ? `${node.domain}::${node.opType}` : node.opType;
    byOpType[key] = (byOpType[key] ?? 0) + flops;
    total += flops;
  }
  const measured = cores.map((core) => core.nodes.reduce((sum, node) => sum + attentionPart(node, shapes, perNode.get(node) ?? 0), 0));
  // A decomposed Hydra block is an element-wise chain the counter skips: cost it by the model.
  const coreFlops = cores.map((core, i) => (measured[i]! > 0 ? measured[i]! : attentionFlops(core.kind, core.dims)));
  const attention = coreFlops.reduce((a, b) => a + b, 0);
  const rest = total - measured.reduce((a, b) => a + b, 0);
  return { current: { attention, rest, total: rest + attention }, byOpType, uncounted, coreFlops };
}

/** The FLOPs the model would have with every convertible softmax core replaced by `kind`. */
export function projectFlops(report: FlopReport, cores: readonly AttentionCore[], kind: AttentionKind): FlopSplit {
  let attention = 0;
  cores.forEach((core, i) => {
    attention += core.convertible && core.kind === 'softmax' ? attentionFlops(kind, core.dims) : report.coreFlops[i]!;
  });
  return { attention, rest: report.current.rest, total: report.current.rest + attention };
}

/**
 * The attention core around a Softmax: the scores MatMul above it (through scale / bias / mask
 * element-wise ops) and the MatMul that applies it to V. Used for models the rewriter does not
 * describe node by node.
 */
export function softmaxCoreNodes(softmax: Node): Node[] {
  const nodes = [softmax];
  const PASS = new Set(['Div', 'Mul', 'Add', 'Sub', 'Where', 'Cast', 'Identity']);
  let cursor: Node | undefined = softmax.inputs[0]?.producer();
  for (let steps = 0; cursor && steps < 6; steps++) {
    if (cursor.opType === 'MatMul' || cursor.opType === 'FusedMatMul') {
      nodes.push(cursor);
      break;
    }
    if (!PASS.has(cursor.opType)) break;
    nodes.push(cursor);
    // Follow the operand that carries the [.., N, N] scores, i.e. the one produced by a node.
    cursor = cursor.inputs.map((v) => v?.producer()).find((p) => p && p.opType !== 'Constant');
  }
  const queue = softmax.outputs[0]?.uses().map((u) => u.node) ?? [];
  for (let steps = 0; queue.length && steps < 4; steps++) {
    const next = queue.shift()!;
    if (next.opType === 'MatMul') {
      nodes.push(next);
      break;
    }
    if (next.opType === 'Cast' || next.opType === 'Dropout' || next.opType === 'Identity') queue.push(...next.outputs[0]!.uses().map((u) => u.node));
  }
  return nodes.filter((n) => n.opType === 'MatMul' || n.opType === 'FusedMatMul' || n.opType === 'Softmax');
}

/** What the FLOP counter needs of a block found by graph-rewrite/attention's findAttentionBlocks. */
export interface BlockLike {
  readonly nodes: readonly string[];
  readonly heads: number;
  readonly headDim: number;
  readonly tokens: number | string | undefined;
  readonly convertible: boolean;
  readonly anchor?: string;
}

/** What it needs of a decomposed Hydra / linear-angular block found by graph-rewrite/fusions' findExactFusions. */
export interface ExactBlockLike {
  readonly nodes: readonly string[];
  readonly heads: number;
  readonly headDim: number;
  /** 'hydra', 'linear-angular' or 'castling-switch'. */
  readonly kind: string;
}

/** The token count of a decomposed block: the longest axis −2 among its [.., N, D or d] outputs. */
function tokensOf(nodes: readonly Node[], facts: ConcreteShapes, widths: readonly number[]): number {
  let tokens = 1;
  for (const node of nodes) {
    for (const out of node.outputs) {
      const shape = facts.get(out);
      if (shape && shape.length >= 3 && widths.includes(shape.at(-1)!)) tokens = Math.max(tokens, shape.at(-2)!);
    }
  }
  return tokens;
}

/**
 * The attention cores of a model: one per softmax block (its nodes by name), one per decomposed
 * linear-attention block, and one per vitlin fused node already in the graph (a converted model).
 * Symbolic token counts take the inferred value.
 */
export function attentionCores(model: Model, blocks: readonly BlockLike[], facts: ConcreteShapes, exact: readonly ExactBlockLike[] = []): AttentionCore[] {
  const byName = new Map(model.graph.nodes.filter((n) => n.name).map((n) => [n.name!, n]));
  const nodesOf = (names: readonly string[]) => names.map((name) => byName.get(name)).filter((n): n is Node => n !== undefined);
  // Castling's training form: its gated softmax branch is found as a softmax block too; count it once, in the decomposed block.
  const inExact = new Set(exact.flatMap((b) => b.nodes));
  const cores: AttentionCore[] = blocks.flatMap((block, index) => {
    if (block.anchor && inExact.has(block.anchor)) return [];
    const nodes = nodesOf(block.nodes);
    const inferredTokens = nodes.map((n) => (n.opType === 'Softmax' && n.outputs[0] ? facts.get(n.outputs[0])?.at(-1) : undefined)).find((t) => t !== undefined);
    const tokens = typeof block.tokens === 'number' ? block.tokens : inferredTokens ?? 1;
    return [{ nodes, dims: { batch: 1, tokens, heads: block.heads, headDim: block.headDim }, convertible: block.convertible, kind: 'softmax' as const, source: { list: 'softmax' as const, index } }];
  });
  for (const [index, block] of exact.entries()) {
    const nodes = nodesOf(block.nodes);
    const tokens = tokensOf(nodes, facts, [block.heads * block.headDim, block.headDim]);
    cores.push({ nodes, dims: { batch: 1, tokens, heads: block.heads, headDim: block.headDim }, convertible: false, kind: block.kind === 'hydra' ? 'hydra' : 'linear-angular', source: { list: 'exact', index } });
  }
  for (const node of model.graph.nodes) {
    const kernel = kernelForOp(node.domain, node.opType);
    if (!kernel) continue;
    const dims = fusedAttentionDims(node, facts);
    if (!dims) continue;
    cores.push({ nodes: [node], dims, convertible: false, kind: kernel.name });
  }
  return cores;
}

/**
 * Cores for Softmax nodes no block describes (a masked softmax the rules stopped at, Castling's gated
 * branch): the scores MatMul, the Softmax and the AV MatMul around each, sized from inferred shapes.
 */
export function softmaxAnchorCores(model: Model, softmaxNames: readonly string[], facts: ConcreteShapes): AttentionCore[] {
  const wanted = new Set(softmaxNames);
  return model.graph.nodes.filter((n) => n.opType === 'Softmax' && n.name && wanted.has(n.name)).flatMap((softmax) => {
    const nodes = softmaxCoreNodes(softmax);
    const scores = softmax.outputs[0] ? facts.get(softmax.outputs[0]) : undefined;
    const av = nodes.find((n) => n.opType === 'MatMul' && n.inputs[0] === softmax.outputs[0]);
    const headDim = av?.outputs[0] ? facts.get(av.outputs[0])?.at(-1) : undefined;
    if (!scores || scores.length < 2 || headDim === undefined) return [];
    const tokens = scores.at(-1)!;
    const heads = product(scores.slice(0, -2));
    return [{ nodes, dims: { batch: 1, tokens, heads, headDim }, convertible: false, kind: 'softmax' as const }];
  });
}

/** Everything a model spends on attention: its blocks, its decomposed blocks, fused nodes and any other Softmax. */
export function modelAttentionCores(model: Model, found: { blocks: readonly BlockLike[]; unmatched: readonly { node: string; opType: string }[] }, exact: readonly ExactBlockLike[], facts: ConcreteShapes): AttentionCore[] {
  const loose = softmaxAnchorCores(model, found.unmatched.filter((u) => u.opType === 'Softmax').map((u) => u.node), facts);
  return [...attentionCores(model, found.blocks, facts, exact), ...loose];
}
