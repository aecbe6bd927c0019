/**
 * The one node builder vitlin writes ONNX nodes with, in the spirit of onnxscript's tape: a tiny
 * interface (`NodeTape`) that the IR implements twice in graph-rewrite — over a model's graph
 * (`RewriteContext`: constants become initializers) and over a function body (`buildFunction`:
 * constants become Constant nodes) — plus the operators whose signature changed across opsets 11–23,
 * written once here on top of it. custom-ops describes function bodies against the interface, so it
 * needs nothing from the layer above (see docs/architecture.md, "One node builder").
 */

/**
 * The attribute kinds bodies and fused nodes use: a subset of the IR's `Attr` union (same fields, so
 * every TapeAttr is an `Attr`).
 */
export type TapeAttr = { readonly name: string } & (
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'int'; readonly value: bigint }
  | { readonly kind: 'string'; readonly value: Uint8Array }
  | { readonly kind: 'ints'; readonly value: readonly bigint[] }
);

export const tapeAttr = {
  float: (name: string, value: number): TapeAttr => Object.freeze({ name, kind: 'float', value }),
  int: (name: string, value: number | bigint): TapeAttr => Object.freeze({ name, kind: 'int', value: BigInt(value) }),
  string: (name: string, value: string): TapeAttr => Object.freeze({ name, kind: 'string', value: new TextEncoder().encode(value) }),
  ints: (name: string, values: readonly (number | bigint)[]): TapeAttr =>
    Object.freeze({ name, kind: 'ints', value: Object.freeze(values.map((value) => BigInt(value))) }),
} as const;

export interface TapeNodeOptions {
  readonly attributes?: readonly TapeAttr[];
  /** Name hint of the node and its output; each tape adds its own prefix / suffixes. */
  readonly name?: string;
  readonly domain?: string;
}

/** What builds nodes: `V` is the tape's value handle (an IR `Value` in both of graph-rewrite's tapes). */
export interface NodeTape<V> {
  /** The default-domain (ONNX) opset the nodes are written for. */
  readonly opset: number;
  /** Appends `opType(inputs)` (undefined: an omitted optional input) and returns its only output. */
  op(opType: string, inputs: readonly (V | undefined)[], options?: TapeNodeOptions): V;
  /** An int64 vector constant (Reshape shapes, axes, slice bounds). */
  int64(values: readonly number[], hint: string): V;
  /** A float32 constant; `dims` [] for a scalar. */
  float32(values: readonly number[], dims: readonly number[], hint: string): V;
}

/** Operators that take `axes` as an attribute before the listed opset and as an input from it on. */
const AXES_INPUT_SINCE = {
  ReduceSum: 13,
  ReduceL2: 18,
  ReduceSumSquare: 18,
  ReduceMean: 18,
  Unsqueeze: 13,
  Squeeze: 13,
} as const;

export type ReductionOp = 'ReduceSum' | 'ReduceL2' | 'ReduceSumSquare' | 'ReduceMean';

/** `opType(input)` over `axes`, as an attribute or an input depending on the tape's opset. */
function withAxes<V>(
  tape: NodeTape<V>,
  opType: keyof typeof AXES_INPUT_SINCE,
  input: V,
  axes: readonly number[],
  hint: string,
  extra: readonly TapeAttr[],
): V {
  if (tape.opset >= AXES_INPUT_SINCE[opType]) {
    return tape.op(opType, [input, tape.int64(axes, `${hint}_axes`)], { name: hint, attributes: extra });
  }
  return tape.op(opType, [input], { name: hint, attributes: [tapeAttr.ints('axes', axes), ...extra] });
}

/** `reduction(input)` over `axes` with keepdims = 1. */
export function reduce<V>(tape: NodeTape<V>, reduction: ReductionOp, input: V, axes: readonly number[], hint: string): V {
  return withAxes(tape, reduction, input, axes, hint, [tapeAttr.int('keepdims', 1)]);
}

export function unsqueeze<V>(tape: NodeTape<V>, input: V, axes: readonly number[], hint: string): V {
  return withAxes(tape, 'Unsqueeze', input, axes, hint, []);
}

export function reshape<V>(tape: NodeTape<V>, input: V, shape: readonly number[], hint: string): V {
  return tape.op('Reshape', [input, tape.int64(shape, `${hint}_shape`)], { name: hint });
}

export function transpose<V>(tape: NodeTape<V>, input: V, permutation: readonly number[], hint: string): V {
  return tape.op('Transpose', [input], { name: hint, attributes: [tapeAttr.ints('perm', permutation)] });
}

export function cast<V>(tape: NodeTape<V>, input: V, dataType: number, hint: string): V {
  return tape.op('Cast', [input], { name: hint, attributes: [tapeAttr.int('to', dataType)] });
}

/**
 * max(‖x‖₂, eps) over `axis` (keepdims): the denominator of F.normalize. Clip(min = eps) rather
 * than Max, because onnxruntime-web's JSEP WebGPU backend has no Max kernel (it would run on CPU).
 */
export function clampedNorm<V>(tape: NodeTape<V>, input: V, axis: number, eps: V, hint: string): V {
  const norm = reduce(tape, 'ReduceL2', input, [axis], `${hint}_l2`);
  return tape.op('Clip', [norm, eps], { name: hint });
}
