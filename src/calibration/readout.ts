/**
 * Which tokens of a block's residual stream the model's outputs read. A classifier ViT reads one token
 * (the class token, by a Gather on the token axis after the final norm): an error in the other tokens
 * of the *last* block costs nothing, and in earlier blocks it costs only through later token mixing.
 * The refit weighs its rows accordingly (refit.ts): readout tokens only when nothing mixes tokens after
 * the block, else readout tokens as much as all the others together.
 *
 * From the stream value, token-wise ops (elementwise, norms and reductions over the feature axis,
 * MatMul by a constant matrix) are followed; a Gather on axis 1 with constant indices is a readout.
 * Any other reader (attention, reshapes, pooling over tokens) mixes tokens and is not followed. The
 * readout holds only if every path from the stream to a graph output passes through a readout Gather;
 * otherwise (mean pooling, sequence outputs, anything unrecognised) every token counts the same.
 */
import { constantIntsOf, constantTensorOf } from '../../graph-rewrite/analysis/constants.js';
import type { Model } from '../../graph-rewrite/ir/model.js';
import type { Node } from '../../graph-rewrite/ir/node.js';
import type { Value } from '../../graph-rewrite/ir/value.js';

/** What the model's outputs read of a [B, N, D] stream: these token positions (0-based). */
export interface TokenReadout {
  readonly tokens: readonly number[];
  /** Whether a token-mixing op reads the stream (or what token-wise ops make of it) on the way. */
  readonly mixed: boolean;
}

const ELEMENTWISE = new Set([
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Sqrt', 'Erf', 'Tanh', 'Sigmoid', 'Relu', 'Gelu', 'FastGelu', 'Neg', 'Reciprocal',
  'Exp', 'Log', 'Abs', 'Clip', 'Max', 'Min', 'Cast', 'Identity', 'Dropout', 'HardSigmoid', 'HardSwish', 'LeakyRelu', 'Softplus', 'Where',
]);

/** Whether `node` maps each token of its [B, N, D] activation input to the same token of its output. */
function isTokenWise(node: Node): boolean {
  if (node.domain !== '' && node.domain !== 'com.microsoft') return false;
  if (ELEMENTWISE.has(node.opType)) return true;
  if (node.opType === 'LayerNormalization' || node.opType === 'SimplifiedLayerNormalization' || node.opType === 'SkipLayerNormalization') {
    return node.getInt('axis', -1) === -1 || node.getInt('axis', -1) === 2;
  }
  if (node.opType === 'MatMul') return constantTensorOf(node.inputs[1])?.dims.length === 2;
  if (node.opType === 'ReduceMean' || node.opType === 'ReduceSum') {
    const axes = node.inputs[1] ? constantIntsOf(node.inputs[1]) : node.getInts('axes', []);
    return !!axes && axes.length === 1 && (axes[0] === -1 || axes[0] === 2) && node.getInt('keepdims', 1) === 1;
  }
  return false;
}

/** The token indices a Gather on axis 1 with constant indices reads, else undefined. */
function readoutIndices(node: Node, tokens: number): number[] | undefined {
  if (node.domain !== '' || node.opType !== 'Gather' || node.getInt('axis', 0) !== 1) return undefined;
  const indices = constantIntsOf(node.inputs[1]);
  if (!indices || indices.length === 0) return undefined;
  const normalised = indices.map((i) => (i < 0 ? i + tokens : i));
  return normalised.every((i) => Number.isInteger(i) && i >= 0 && i < tokens) ? normalised : undefined;
}

/**
 * Visits every value reachable from `start` once: `next(value)` returns the values to go on to, or
 * `true` to stop the walk (which then returns true).
 */
function walkFrom(start: Value, next: (value: Value) => readonly Value[] | true): boolean {
  const seen = new Set<Value>();
  const queue: Value[] = [start];
  while (queue.length) {
    const value = queue.pop()!;
    if (seen.has(value)) continue;
    seen.add(value);
    const more = next(value);
    if (more === true) return true;
    queue.push(...more);
  }
  return false;
}

const outputsOf = (node: Node): Value[] => node.outputs.filter((o): o is Value => !!o);
/** Shape and Size read only a value's shape, never its contents. */
const readsShapeOnly = (node: Node): boolean => node.domain === '' && (node.opType === 'Shape' || node.opType === 'Size');

/**
 * The tokens of `stream` (a [B, `tokens`, D] value of `model`) that the model's outputs read, or
 * undefined when they read all of them (or the graph does not say).
 */
export function tokenReadout(model: Model, stream: Value, tokens: number): TokenReadout | undefined {
  const gathers = new Set<Node>();
  const picked = new Set<number>();
  let mixed = false;
  walkFrom(stream, (value) => value.uses().flatMap(({ node, index }) => {
    const indices = index === 0 ? readoutIndices(node, tokens) : undefined;
    if (indices) {
      gathers.add(node);
      for (const i of indices) picked.add(i);
      return [];
    }
    if (isTokenWise(node)) return outputsOf(node);
    if (!readsShapeOnly(node)) mixed = true;
    return [];
  }));
  if (!gathers.size || readsAround(model, stream, gathers)) return undefined;
  return { tokens: [...picked].sort((a, b) => a - b), mixed };
}

/** Whether a graph output (or a subgraph-holding node) is reachable from `stream` without passing `gathers`. */
function readsAround(model: Model, stream: Value, gathers: ReadonlySet<Node>): boolean {
  const outputs = new Set(model.graph.outputs);
  return walkFrom(stream, (value) => {
    if (outputs.has(value)) return true;
    const next: Value[] = [];
    for (const { node } of value.uses()) {
      if (gathers.has(node) || readsShapeOnly(node)) continue;
      // A node with a subgraph may read the stream from inside it: count it as reading everything.
      if (node.attributes.some((a) => a.kind === 'graph' || a.kind === 'graphs')) return true;
      next.push(...outputsOf(node));
    }
    return next;
  });
}

/**
 * Row weights for a refit whose rows are `perItem` consecutive tokens of each item: with a readout
 * and no mixing after, only readout tokens count; with mixing, readout tokens weigh as much as all the
 * other tokens together; without a readout, every token counts the same (undefined).
 */
export function readoutWeights(readout: TokenReadout | undefined, perItem: number): ((row: number) => number) | undefined {
  if (!readout || readout.tokens.length >= perItem) return undefined;
  const isReadout = new Array<boolean>(perItem).fill(false);
  for (const t of readout.tokens) isReadout[t] = true;
  const heavy = readout.mixed ? (perItem - readout.tokens.length) / readout.tokens.length : 1;
  const light = readout.mixed ? 1 : 0;
  return (row) => (isReadout[row % perItem] ? heavy : light);
}
