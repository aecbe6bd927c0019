/**
 * Static shape inference over the IR for the ops Vision Transformers are made of, with constant
 * folding of the small integer tensors that compute shapes (Shape → Gather → Concat → Reshape), so
 * that models exported with dynamic reshapes still get concrete shapes. Symbolic dims (batch) are
 * bound to numbers first. Used by the FLOP counter; unknown ops simply leave their outputs unknown.
 */
import { isIntegerType } from '../../graph-rewrite/ir/dtypes.js';
import type { Model } from '../../graph-rewrite/ir/model.js';
import type { Node } from '../../graph-rewrite/ir/node.js';
import type { Tensor } from '../../graph-rewrite/ir/tensor.js';
import type { Value } from '../../graph-rewrite/ir/value.js';

/** What inference knows about a value: its shape and, for small tensors, its elements. */
export interface ValueFacts {
  readonly shape?: readonly number[];
  /** Elements (row-major) of small tensors: shape computations, axes, constants. */
  readonly data?: readonly number[];
}

export interface ShapeInferenceOptions {
  /** Values for symbolic dims by name, e.g. { batch: 1 }; others take `defaultDim`. */
  readonly dims?: Readonly<Record<string, number>>;
  readonly defaultDim?: number;
}

/** Tensors up to this many elements have their data folded (shape arithmetic, never weights). */
const MAX_FOLDED = 64;

const SAME_SHAPE = new Set([
  'Relu', 'Sigmoid', 'Erf', 'Sqrt', 'Tanh', 'Exp', 'Log', 'Neg', 'Abs', 'Reciprocal', 'Softmax', 'LogSoftmax',
  'Clip', 'Gelu', 'FastGelu', 'QuickGelu', 'BiasGelu', 'Dropout', 'LayerNormalization', 'SkipLayerNormalization',
  'SimplifiedLayerNormalization', 'BatchNormalization', 'InstanceNormalization', 'LpNormalization', 'Not', 'IsNaN',
  'Floor', 'Ceil', 'Round', 'Sign', 'HardSigmoid', 'HardSwish', 'LeakyRelu', 'Elu', 'Selu', 'Softplus', 'Cast',
  'CastLike', 'Identity', 'Sin', 'Cos', 'Mish', 'PRelu', 'HydraAttention', 'LinearAngularAttention',
]);
const BROADCAST = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual',
  'And', 'Or', 'Xor', 'Max', 'Min', 'Mod', 'Where', 'Sum', 'Mean', 'BitShift']);
const FOLD_BINARY: Record<string, (a: number, b: number) => number> = {
  Add: (a, b) => a + b, Sub: (a, b) => a - b, Mul: (a, b) => a * b, Div: (a, b) => (Number.isInteger(a) && Number.isInteger(b) ? Math.trunc(a / b) : a / b),
  Equal: (a, b) => Number(a === b), Less: (a, b) => Number(a < b), Greater: (a, b) => Number(a > b),
  Max: Math.max, Min: Math.min, Pow: (a, b) => a ** b, Mod: (a, b) => a % b,
};

const product = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);
const normAxis = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);

/** Numpy-style broadcast of shapes; undefined when any is unknown or they do not broadcast. */
export function broadcastShapes(shapes: readonly (readonly number[] | undefined)[]): number[] | undefined {
  if (shapes.some((s) => s === undefined)) return undefined;
  const rank = Math.max(0, ...shapes.map((s) => s!.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let dim = 1;
    for (const s of shapes) {
      const d = s![s!.length - rank + i] ?? 1;
      if (d !== 1) {
        if (dim !== 1 && dim !== d) return undefined;
        dim = d;
      }
    }
    out.push(dim);
  }
  return out;
}

const clampToSafe = (v: bigint): number =>
  v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : v < BigInt(Number.MIN_SAFE_INTEGER) ? Number.MIN_SAFE_INTEGER : Number(v);

function tensorFacts(tensor: Tensor): ValueFacts {
  const shape = [...tensor.dims];
  if (tensor.elementCount > MAX_FOLDED || tensor.storage === 'external') return { shape };
  try {
    // Slice ends are often INT64_MAX ("to the end"): clamped, they keep their meaning.
    if (isIntegerType(tensor.dataType)) return { shape, data: Array.from(tensor.toBigInt64Array(), clampToSafe) };
    return { shape, data: Array.from(tensor.toFloat32Array()) };
  } catch {
    return { shape };
  }
}

function constantFacts(node: Node): ValueFacts | undefined {
  const attr = node.attributes[0];
  if (!attr) return undefined;
  switch (attr.kind) {
    case 'tensor': return tensorFacts(attr.value);
    case 'float': return { shape: [], data: [attr.value] };
    case 'int': return { shape: [], data: [Number(attr.value)] };
    case 'floats': return { shape: [attr.value.length], data: [...attr.value] };
    case 'ints': return { shape: [attr.value.length], data: attr.value.map(Number) };
    default: return undefined;
  }
}

/** Axes given as an attribute (older opsets) or as input `inputIndex` (newer ones). */
function axesOf(node: Node, facts: (v: Value | undefined) => ValueFacts | undefined, inputIndex: number): number[] | undefined {
  const attr = node.attribute('axes');
  if (attr?.kind === 'ints') return attr.value.map(Number);
  const input = node.inputs[inputIndex];
  if (input === undefined) return [];
  return facts(input)?.data?.map(Number);
}

function fold(shape: readonly number[], data: readonly number[] | undefined): ValueFacts {
  return data !== undefined && data.length === product(shape) && data.length <= MAX_FOLDED ? { shape, data } : { shape };
}

/** Gather along `axis` of folded data (only for 1-D data and scalar/1-D indices: shape arithmetic). */
function foldGather(data: ValueFacts, indices: ValueFacts, axis: number): readonly number[] | undefined {
  if (data.data === undefined || indices.data === undefined || data.shape!.length !== 1 || axis !== 0) return undefined;
  const n = data.shape![0]!;
  return indices.data.map((i) => data.data![i < 0 ? i + n : i]!);
}

/** Infers one node's outputs from its inputs' facts; `undefined` entries stay unknown. */
function inferNode(node: Node, get: (v: Value | undefined) => ValueFacts | undefined): (ValueFacts | undefined)[] {
  const op = node.opType;
  const ins = node.inputs.map(get);
  const s0 = ins[0]?.shape;
  if (op === 'Constant') return [constantFacts(node)];
  if (SAME_SHAPE.has(op)) {
    const data = op === 'Cast' || op === 'Identity' || op === 'Floor' || op === 'Ceil' ? ins[0]?.data : op === 'Neg' && ins[0]?.data ? ins[0].data.map((x) => -x) : undefined;
    return s0 ? [fold(s0, data), ...node.outputs.slice(1).map(() => undefined)] : [];
  }
  if (BROADCAST.has(op)) {
    const shape = broadcastShapes(ins.map((f) => f?.shape));
    if (!shape) return [];
    let data: number[] | undefined;
    const fn = FOLD_BINARY[op];
    if (fn && ins.length === 2 && ins[0]?.data && ins[1]?.data && product(shape) <= MAX_FOLDED) {
      const [a, b] = [ins[0].data, ins[1].data];
      if (a.length === product(shape) || a.length === 1) {
        if (b.length === product(shape) || b.length === 1) data = Array.from({ length: product(shape) }, (_, i) => fn(a[a.length === 1 ? 0 : i]!, b[b.length === 1 ? 0 : i]!));
      }
    } else if (op === 'Where' && ins.every((f) => f?.data) && ins.every((f) => f!.data!.length === product(shape))) {
      data = ins[0]!.data!.map((c, i) => (c ? ins[1]!.data![i]! : ins[2]!.data![i]!));
    }
    return [fold(shape, data)];
  }
  switch (op) {
    case 'MatMul': case 'MatMulInteger': case 'FusedMatMul': {
      const [a, b] = [s0, ins[1]?.shape];
      if (!a || !b) return [];
      const aa = a.length === 1 ? [1, a[0]!] : a;
      const bb = b.length === 1 ? [b[0]!, 1] : b;
      const batch = broadcastShapes([aa.slice(0, -2), bb.slice(0, -2)]);
      if (!batch) return [];
      const out = [...batch, aa.at(-2)!, bb.at(-1)!];
      if (a.length === 1) out.splice(-2, 1);
      if (b.length === 1) out.splice(-1, 1);
      return [{ shape: out }];
    }
    case 'Gemm': {
      const [a, b] = [s0, ins[1]?.shape];
      if (!a || !b) return [];
      const m = node.getInt('transA', 0) ? a[1]! : a[0]!;
      const n = node.getInt('transB', 0) ? b[0]! : b[1]!;
      return [{ shape: [m, n] }];
    }
    case 'Conv': case 'AveragePool': case 'MaxPool': {
      const w = ins[1]?.shape;
      if (!s0) return [];
      const spatial = s0.length - 2;
      const kernel = op === 'Conv' ? (w ? w.slice(2) : undefined) : node.getInts('kernel_shape', []);
      if (!kernel || kernel.length !== spatial) return [];
      const strides = node.getInts('strides', new Array(spatial).fill(1));
      const dil = node.getInts('dilations', new Array(spatial).fill(1));
      const pads = node.getInts('pads', new Array(2 * spatial).fill(0));
      const autoPad = node.attribute('auto_pad') ? node.getString('auto_pad') : 'NOTSET';
      const dims = kernel.map((k, i) => {
        const x = s0[2 + i]!;
        if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return Math.ceil(x / strides[i]!);
        const eff = (k - 1) * dil[i]! + 1;
        const pad = autoPad === 'VALID' ? 0 : pads[i]! + pads[i + spatial]!;
        return Math.floor((x + pad - eff) / strides[i]!) + 1;
      });
      return [{ shape: [s0[0]!, op === 'Conv' ? w![0]! : s0[1]!, ...dims] }];
    }
    case 'GlobalAveragePool': case 'GlobalMaxPool':
      return s0 ? [{ shape: [s0[0]!, s0[1]!, ...s0.slice(2).map(() => 1)] }] : [];
    case 'Reshape': {
      const target = ins[1]?.data;
      if (!s0 || !target) return [];
      const allowZero = node.getInt('allowzero', 0) === 1;
      const out = target.map((d, i) => (d === 0 && !allowZero ? s0[i]! : d));
      const known = product(out.filter((d) => d !== -1));
      const at = out.indexOf(-1);
      if (at >= 0) out[at] = known === 0 ? 0 : product(s0) / known;
      return [fold(out, ins[0]?.data)];
    }
    case 'Flatten': {
      if (!s0) return [];
      const axis = normAxis(node.getInt('axis', 1), s0.length);
      return [{ shape: [product(s0.slice(0, axis)), product(s0.slice(axis))] }];
    }
    case 'Transpose': {
      if (!s0) return [];
      const perm = node.getInts('perm', s0.map((_, i) => s0.length - 1 - i));
      const shape = perm.map((p) => s0[p]!);
      // Output axis a walks input axis perm[a]: gather with the inverse mapping.
      const data = ins[0]?.data ? gatherTransposed(ins[0].data, s0, perm) : undefined;
      return [fold(shape, data)];
    }
    case 'Shape': {
      if (!s0) return [];
      const start = normAxis(node.getInt('start', 0), s0.length);
      const end = node.attribute('end') ? normAxis(node.getInt('end'), s0.length) : s0.length;
      const data = s0.slice(Math.max(0, start), Math.min(s0.length, end));
      return [{ shape: [data.length], data }];
    }
    case 'Size':
      return s0 ? [{ shape: [], data: [product(s0)] }] : [];
    case 'Gather': {
      const idx = ins[1];
      if (!s0 || !idx?.shape) return [];
      const axis = normAxis(node.getInt('axis', 0), s0.length);
      const shape = [...s0.slice(0, axis), ...idx.shape, ...s0.slice(axis + 1)];
      return [fold(shape, foldGather(ins[0]!, idx, axis))];
    }
    case 'Unsqueeze': {
      const axes = axesOf(node, get, 1);
      if (!s0 || !axes) return [];
      const rank = s0.length + axes.length;
      const set = new Set(axes.map((a) => normAxis(a, rank)));
      const out: number[] = [];
      let j = 0;
      for (let i = 0; i < rank; i++) out.push(set.has(i) ? 1 : s0[j++]!);
      return [fold(out, ins[0]?.data)];
    }
    case 'Squeeze': {
      const axes = axesOf(node, get, 1);
      if (!s0 || !axes) return [];
      const set = new Set(axes.length ? axes.map((a) => normAxis(a, s0.length)) : s0.flatMap((d, i) => (d === 1 ? [i] : [])));
      return [fold(s0.filter((_, i) => !set.has(i)), ins[0]?.data)];
    }
    case 'Concat': {
      if (ins.some((f) => !f?.shape)) return [];
      const rank = ins[0]!.shape!.length;
      const axis = normAxis(node.getInt('axis'), rank);
      const shape = [...ins[0]!.shape!];
      shape[axis] = ins.reduce((n, f) => n + f!.shape![axis]!, 0);
      const data = rank === 1 && ins.every((f) => f!.data) ? ins.flatMap((f) => f!.data!) : undefined;
      return [fold(shape, data)];
    }
    case 'Slice': return [inferSlice(node, ins)];
    case 'Split': {
      if (!s0) return [];
      const axis = normAxis(node.getInt('axis', 0), s0.length);
      const total = s0[axis]!;
      let sizes = node.attribute('split')?.kind === 'ints' ? node.getInts('split') : ins[1]?.data?.map(Number);
      if (!sizes) {
        const n = node.outputs.length;
        const chunk = Math.ceil(total / n);
        sizes = Array.from({ length: n }, (_, i) => Math.max(0, Math.min(chunk, total - i * chunk)));
      }
      return sizes.map((size) => ({ shape: s0.map((d, i) => (i === axis ? size : d)) }));
    }
    case 'ConstantOfShape': {
      const shape = ins[0]?.data;
      if (!shape) return [];
      const attr = node.attribute('value');
      const fill = attr?.kind === 'tensor' ? attr.value.toNumberArray()[0] ?? 0 : 0;
      return [fold(shape, new Array(product(shape)).fill(fill))];
    }
    case 'Expand': {
      const shape = ins[1]?.data;
      if (!s0 || !shape) return [];
      const out = broadcastShapes([s0, shape]);
      return out ? [fold(out, ins[0]?.data?.length === 1 ? new Array(product(out)).fill(ins[0].data[0]) : undefined)] : [];
    }
    case 'Range': {
      const [start, limit, delta] = ins.map((f) => f?.data?.[0]);
      if (start === undefined || limit === undefined || delta === undefined) return [];
      const n = Math.max(0, Math.ceil((limit - start) / delta));
      return [fold([n], Array.from({ length: n }, (_, i) => start + i * delta))];
    }
    case 'ReduceMean': case 'ReduceSum': case 'ReduceL2': case 'ReduceL1': case 'ReduceMax': case 'ReduceMin':
    case 'ReduceProd': case 'ReduceSumSquare': case 'ReduceLogSumExp': case 'ArgMax': case 'ArgMin': {
      if (!s0) return [];
      const arg = op.startsWith('Arg');
      const axes = arg ? [node.getInt('axis', 0)] : axesOf(node, get, 1);
      if (!axes) return [];
      const keep = node.getInt('keepdims', 1) === 1;
      const set = new Set((axes.length || node.getInt('noop_with_empty_axes', 0) ? axes : s0.map((_, i) => i)).map((a) => normAxis(a, s0.length)));
      return [{ shape: s0.flatMap((d, i) => (set.has(i) ? (keep ? [1] : []) : [d])) }];
    }
    case 'Pad': {
      const pads = node.attribute('pads') ? node.getInts('pads') : ins[1]?.data;
      if (!s0 || !pads) return [];
      const axes = ins[3]?.data ?? s0.map((_, i) => i);
      const out = [...s0];
      axes.forEach((a, i) => { out[normAxis(a, s0.length)]! += pads[i]! + pads[i + axes.length]!; });
      return [{ shape: out }];
    }
    case 'Attention': return [inferAttention(node, ins)];
    case 'MultiHeadAttention': {
      const v = ins[2]?.shape;
      return s0 && v ? [{ shape: [s0[0]!, s0[1]!, v.at(-1)!] }] : [];
    }
  }
  return [];
}

function inferSlice(node: Node, ins: (ValueFacts | undefined)[]): ValueFacts | undefined {
  const s0 = ins[0]?.shape;
  if (!s0) return undefined;
  const fromAttrs = node.attribute('starts') !== undefined;
  const starts = fromAttrs ? node.getInts('starts') : ins[1]?.data;
  const ends = fromAttrs ? node.getInts('ends') : ins[2]?.data;
  if (!starts || !ends) return undefined;
  const axes = (fromAttrs ? node.getInts('axes', starts.map((_, i) => i)) : ins[3]?.data ?? starts.map((_, i) => i)).map((a) => normAxis(a, s0.length));
  const steps = fromAttrs ? starts.map(() => 1) : ins[4]?.data ?? starts.map(() => 1);
  const out = [...s0];
  const ranges: [number, number, number][] = s0.map((d) => [0, d, 1]);
  axes.forEach((axis, i) => {
    const dim = s0[axis]!;
    const step = steps[i]!;
    const clamp = (x: number, lo: number, hi: number) => Math.min(Math.max(x < 0 ? x + dim : x, lo), hi);
    const start = step > 0 ? clamp(starts[i]!, 0, dim) : clamp(starts[i]!, -1, dim - 1);
    const end = step > 0 ? clamp(ends[i]!, 0, dim) : clamp(ends[i]!, -1, dim - 1);
    out[axis] = Math.max(0, Math.ceil((end - start) / step));
    ranges[axis] = [start, end, step];
  });
  const data = ins[0]?.data ? gatherND(ins[0].data, s0, out, (axis, i) => ranges[axis]![0] + i * ranges[axis]![2]) : undefined;
  return fold(out, data);
}

function gatherTransposed(data: readonly number[], shape: readonly number[], perm: readonly number[]): number[] | undefined {
  if (data.length > MAX_FOLDED) return undefined;
  const inStrides = strides(shape);
  const outShape = perm.map((p) => shape[p]!);
  const outStrides = strides(outShape);
  return Array.from({ length: data.length }, (_, flat) => {
    let offset = 0;
    outShape.forEach((_, axis) => { offset += (Math.floor(flat / outStrides[axis]!) % outShape[axis]!) * inStrides[perm[axis]!]!; });
    return data[offset]!;
  });
}

/** Row-major strides of a shape. */
function strides(shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) out[i] = out[i + 1]! * shape[i + 1]!;
  return out;
}

/**
 * Folds small N-D data: output element at index (i₀, i₁, …) of `outShape` is the source element at
 * (source(0, i₀), source(1, i₁), …). Slices and transposes of shape tensors (torch's F.pad) use it.
 */
function gatherND(data: readonly number[], shape: readonly number[], outShape: readonly number[], source: (axis: number, i: number) => number): number[] | undefined {
  const count = product(outShape);
  if (count > MAX_FOLDED) return undefined;
  const inStrides = strides(shape);
  const outStrides = strides(outShape);
  return Array.from({ length: count }, (_, flat) => {
    let offset = 0;
    outShape.forEach((_, axis) => { offset += source(axis, Math.floor(flat / outStrides[axis]!) % outShape[axis]!) * inStrides[axis]!; });
    return data[offset]!;
  });
}

/** ONNX Attention (opset 23) and com.microsoft Attention: [B, N, hidden] in, same layout out. */
function inferAttention(node: Node, ins: (ValueFacts | undefined)[]): ValueFacts | undefined {
  const s0 = ins[0]?.shape;
  if (!s0) return undefined;
  if (node.domain === 'com.microsoft') {
    const w = ins[1]?.shape;
    const sizes = node.attribute('qkv_hidden_sizes') ? node.getInts('qkv_hidden_sizes') : undefined;
    const hidden = sizes ? sizes[2]! : w ? w[1]! / 3 : undefined;
    return hidden === undefined ? undefined : { shape: [s0[0]!, s0[1]!, hidden] };
  }
  const v = ins[2]?.shape;
  if (!v) return undefined;
  if (s0.length === 4) return { shape: [s0[0]!, s0[1]!, s0[2]!, v[3]!] };
  const qHeads = node.getInt('q_num_heads', 1);
  const kvHeads = node.getInt('kv_num_heads', 1);
  return { shape: [s0[0]!, s0[1]!, (v[2]! / kvHeads) * qHeads] };
}

/**
 * Infers shapes for every value of the model's main graph. Graph inputs' symbolic dims take values
 * from `options.dims` (default 1), so results are for one concrete input size.
 */
export function inferShapes(model: Model, options: ShapeInferenceOptions = {}): Map<Value, ValueFacts> {
  const facts = new Map<Value, ValueFacts>();
  const graph = model.graph;
  for (const [, value] of graph.initializers) if (value.constValue) facts.set(value, tensorFacts(value.constValue));
  for (const input of graph.inputs) {
    if (facts.has(input) || input.type?.kind !== 'tensor' || input.type.shape === undefined) continue;
    facts.set(input, { shape: input.type.shape.map((d) => (typeof d === 'number' ? d : (typeof d === 'string' ? options.dims?.[d] : undefined) ?? options.defaultDim ?? 1)) });
  }
  const get = (value: Value | undefined): ValueFacts | undefined => (value === undefined ? undefined : facts.get(value));
  for (const node of graph.nodes) {
    let outs: (ValueFacts | undefined)[] = [];
    try {
      outs = inferNode(node, get);
    } catch {
      outs = []; // a malformed attribute: leave this node's outputs unknown rather than fail inspection
    }
    node.outputs.forEach((output, i) => {
      const inferred = outs[i];
      if (inferred?.shape && inferred.shape.every((d) => Number.isFinite(d) && d >= 0)) facts.set(output, inferred);
    });
  }
  return facts;
}
