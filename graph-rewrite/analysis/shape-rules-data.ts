/**
 * Shape rules of the ops that move data without computing on it (Reshape, Transpose, Split, Slice,
 * Pad, Gather, Concat, …) and of the shape-subgraph ops (Shape, Size, Range, Constant, ConstantOfShape), with folding
 * of small integer contents. The table is keyed `domain::opType`.
 */

import { DataType } from '../ir/dtypes.js';
import { constantNodeTensor, integerTensorToNumbers } from './constants.js';
import { dimArithmetic, divideDims, productOfDims, type Dim } from './dims.js';
import type { ShapeRule, ShapeRuleContext } from './shape-inference.js';

/** `axis` normalised into [0, rank); throws when out of range (the rule then gives up). */
export function normalizeAxis(axis: number, rank: number): number {
  const normalized = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(normalized) || normalized < 0 || normalized >= rank) throw new RangeError(`axis ${axis} out of range for rank ${rank}`);
  return normalized;
}

/** Integer list given as input `index` (newer opsets) or attribute `name` (older ones); undefined when absent or unknown. */
export function intsFromInputOrAttribute(context: ShapeRuleContext, index: number, name: string): number[] | undefined {
  const input = context.node.inputs[index];
  if (input !== undefined) {
    const values = context.values(index);
    return values !== undefined && values.every((v): v is number => typeof v === 'number') ? [...values] : undefined;
  }
  return context.node.attribute(name) === undefined ? undefined : context.node.getInts(name);
}

function numbersOnly(values: readonly Dim[] | undefined): number[] | undefined {
  return values !== undefined && values.every((v): v is number => typeof v === 'number') ? [...values] : undefined;
}

/**
 * Folds small N-D contents: output element (i₀, i₁, …) of `outShape` is the input element at
 * `source([i₀, i₁, …])`. Transposes and reversing slices of shape tensors (torch's F.pad) use it.
 */
function gatherValues(data: readonly Dim[] | undefined, shape: readonly Dim[], outShape: readonly Dim[], source: (index: readonly number[]) => readonly number[]): Dim[] | undefined {
  const inDims = numbersOnly(shape);
  const outDims = numbersOnly(outShape);
  if (data === undefined || inDims === undefined || outDims === undefined) return undefined;
  const count = outDims.reduce((a, b) => a * b, 1);
  if (data.length !== inDims.reduce((a, b) => a * b, 1) || count > 64) return undefined; // contents are folded up to 64 elements
  const strides = inDims.map((_, axis) => inDims.slice(axis + 1).reduce((a, b) => a * b, 1));
  const index = new Array<number>(outDims.length).fill(0);
  const out: Dim[] = [];
  for (let flat = 0; flat < count; flat++) {
    let rest = flat;
    for (let axis = outDims.length - 1; axis >= 0; axis--) {
      index[axis] = rest % outDims[axis]!;
      rest = Math.floor(rest / outDims[axis]!);
    }
    out.push(data[source(index).reduce((offset, i, axis) => offset + i * strides[axis]!, 0)]);
  }
  return out;
}

const passThrough: ShapeRule = (c) => c.output(0, c.input(0), c.values(0));

const reshape: ShapeRule = (c) => {
  const input = c.shape(0);
  const target = c.values(1);
  if (target === undefined) return c.output(0, { elemType: c.input(0).elemType, shape: undefined });
  const allowZero = c.node.getInt('allowzero', 0) === 1;
  const shape: Dim[] = target.map((dim, i) => (dim === 0 && !allowZero ? input?.[i] : dim));
  const inferAt = shape.findIndex((dim) => dim === -1);
  if (inferAt >= 0) {
    const known = shape.filter((_, i) => i !== inferAt);
    shape[inferAt] = input === undefined ? undefined : divideDims(productOfDims(input), productOfDims(known));
  }
  c.output(0, { elemType: c.input(0).elemType, shape }, c.values(0));
};

const transpose: ShapeRule = (c) => {
  const input = c.shape(0);
  if (input === undefined) return c.output(0, { elemType: c.input(0).elemType, shape: undefined });
  const perm = c.node.getInts('perm', input.map((_, i) => input.length - 1 - i));
  const shape = perm.map((axis) => input[axis]);
  // Output axis a walks input axis perm[a].
  const values = gatherValues(c.values(0), input, shape, (index) => {
    const source = new Array<number>(index.length);
    perm.forEach((axis, a) => { source[axis] = index[a]!; });
    return source;
  });
  c.output(0, { elemType: c.input(0).elemType, shape }, values);
};

const squeeze: ShapeRule = (c) => {
  const input = c.shape(0);
  if (input === undefined) return;
  const axes = intsFromInputOrAttribute(c, 1, 'axes');
  const drop = axes === undefined
    ? (input.some((dim) => dim === undefined) ? undefined : input.map((dim, i) => (dim === 1 ? i : -1)).filter((i) => i >= 0))
    : axes.map((axis) => normalizeAxis(axis, input.length));
  if (drop === undefined) return;
  c.output(0, { elemType: c.input(0).elemType, shape: input.filter((_, i) => !drop.includes(i)) }, c.values(0));
};

const unsqueeze: ShapeRule = (c) => {
  const input = c.shape(0);
  const axes = intsFromInputOrAttribute(c, 1, 'axes');
  if (input === undefined || axes === undefined) return;
  const rank = input.length + axes.length;
  const inserted = new Set(axes.map((axis) => normalizeAxis(axis, rank)));
  const shape: Dim[] = [];
  let next = 0;
  for (let i = 0; i < rank; i++) shape.push(inserted.has(i) ? 1 : input[next++]);
  c.output(0, { elemType: c.input(0).elemType, shape }, c.values(0));
};

const concat: ShapeRule = (c) => {
  const shapes = c.node.inputs.map((_, i) => c.shape(i));
  const first = shapes.find((shape) => shape !== undefined);
  if (first === undefined || shapes.some((shape) => shape === undefined || shape.length !== first.length)) return;
  const axis = normalizeAxis(c.node.getInt('axis'), first.length);
  const shape = first.map((_, i) => (i === axis ? undefined : shapes.map((s) => s![i]).find((d) => d !== undefined)));
  shape[axis] = shapes.reduce<Dim>((sum, s) => {
    const dim = s![axis];
    return typeof sum === 'number' && typeof dim === 'number' ? sum + dim : sum === 0 ? dim : dim === 0 ? sum : undefined;
  }, 0);
  const parts = c.node.inputs.map((_, i) => c.values(i));
  const values = first.length === 1 && parts.every((part) => part !== undefined) ? parts.flatMap((part) => [...part!]) : undefined;
  c.output(0, { elemType: c.input(0).elemType, shape }, values);
};

const split: ShapeRule = (c) => {
  const input = c.shape(0);
  if (input === undefined) return;
  const axis = normalizeAxis(c.node.getInt('axis', 0), input.length);
  const count = c.node.outputs.length;
  const sizes = intsFromInputOrAttribute(c, 1, 'split');
  const total = input[axis];
  // Without sizes, equal chunks; opset 18's num_outputs lets the last one be smaller.
  const chunk = typeof total === 'number' ? Math.ceil(total / count) : undefined;
  c.node.outputs.forEach((_, i) => {
    const size: Dim = sizes !== undefined ? sizes[i] : chunk !== undefined ? Math.max(0, Math.min(chunk, (total as number) - i * chunk)) : divideDims(total, count);
    c.output(i, { elemType: c.input(0).elemType, shape: input.map((dim, a) => (a === axis ? size : dim)) });
  });
};

/** First index and element count of [start, end) with `step` over a dim of `dim` elements, ONNX Slice clamping. */
function sliceRange(dim: number, start: number, end: number, step: number): { first: number; count: number } {
  const clamp = (v: number, lo: number, hi: number): number => Math.min(Math.max(v, lo), hi);
  const s = start < 0 ? start + dim : start;
  const e = end < 0 ? end + dim : end;
  const [first, last] = step > 0 ? [clamp(s, 0, dim), clamp(e, 0, dim)] : [clamp(s, 0, dim - 1), clamp(e, -1, dim - 1)];
  return { first, count: Math.max(0, Math.ceil((last - first) / step)) };
}

/** Elements [start, end) with `step` of a dim, ONNX Slice clamping; undefined when not decidable. */
export function slicedLength(dim: Dim, start: number, end: number, step: number): Dim {
  if (typeof dim !== 'number') {
    return start === 0 && step === 1 && end >= Number.MAX_SAFE_INTEGER ? dim : undefined;
  }
  return sliceRange(dim, start, end, step).count;
}

const slice: ShapeRule = (c) => {
  const input = c.shape(0);
  const elemType = c.input(0).elemType;
  if (input === undefined) return c.output(0, { elemType, shape: undefined });
  const bounds = (index: number, name: string): readonly Dim[] | undefined =>
    c.node.inputs[index] !== undefined ? c.values(index) : c.node.attribute(name) === undefined ? undefined : c.node.getInts(name);
  const starts = bounds(1, 'starts');
  const ends = bounds(2, 'ends');
  const axes = intsFromInputOrAttribute(c, 3, 'axes') ?? starts?.map((_, i) => i);
  const steps = numbersOnly(c.node.inputs[4] === undefined ? starts?.map(() => 1) : c.values(4));
  if (starts === undefined || ends === undefined || axes === undefined || steps === undefined) {
    return c.output(0, { elemType, shape: input.map(() => undefined) });
  }
  const shape = [...input];
  // Where each output axis starts and steps in the input, while every sliced axis is static.
  let walk: { first: number; step: number }[] | undefined = input.map(() => ({ first: 0, step: 1 }));
  axes.forEach((axis, i) => {
    const a = normalizeAxis(axis, input.length);
    const [start, end, step, dim] = [starts[i], ends[i], steps[i]!, input[a]];
    // A symbolic end from a shape subgraph (`x[:, :seq_len]`) slices to that length (the model is assumed valid).
    if (start === 0 && step === 1 && typeof end === 'string') shape[a] = end;
    else shape[a] = typeof start === 'number' && typeof end === 'number' ? slicedLength(dim, start, end, step) : undefined;
    if (walk !== undefined && typeof dim === 'number' && typeof start === 'number' && typeof end === 'number') walk[a] = { first: sliceRange(dim, start, end, step).first, step };
    else walk = undefined;
  });
  const values = walk === undefined ? undefined : gatherValues(c.values(0), input, shape, (index) => index.map((i, a) => walk![a]!.first + i * walk![a]!.step));
  c.output(0, { elemType, shape }, values);
};

/** Pad (pads as input, or the attribute before opset 11; optional axes from opset 18). */
const pad: ShapeRule = (c) => {
  const input = c.shape(0);
  const elemType = c.input(0).elemType;
  if (input === undefined) return c.output(0, { elemType, shape: undefined });
  const pads = intsFromInputOrAttribute(c, 1, 'pads');
  const axes = c.node.inputs[3] === undefined ? input.map((_, i) => i) : numbersOnly(c.values(3));
  if (pads === undefined || axes === undefined) return c.output(0, { elemType, shape: input.map(() => undefined) });
  const shape = [...input];
  axes.forEach((axis, i) => {
    const a = normalizeAxis(axis, input.length);
    shape[a] = dimArithmetic('Add', input[a], pads[i]! + pads[i + axes.length]!);
  });
  c.output(0, { elemType, shape });
};

const gather: ShapeRule = (c) => {
  const data = c.shape(0);
  const indices = c.shape(1);
  if (data === undefined || indices === undefined) return;
  const axis = normalizeAxis(c.node.getInt('axis', 0), data.length);
  const shape = [...data.slice(0, axis), ...indices, ...data.slice(axis + 1)];
  const dataValues = c.values(0);
  const indexValues = numbersOnly(c.values(1));
  let values: Dim[] | undefined;
  if (dataValues !== undefined && indexValues !== undefined && data.length === 1) {
    values = indexValues.map((i) => dataValues[i < 0 ? i + dataValues.length : i]);
  }
  c.output(0, { elemType: c.input(0).elemType, shape }, values);
};

const flatten: ShapeRule = (c) => {
  const input = c.shape(0);
  if (input === undefined) return;
  const axis = c.node.getInt('axis', 1);
  const at = axis < 0 ? axis + input.length : axis;
  c.output(0, { elemType: c.input(0).elemType, shape: [productOfDims(input.slice(0, at)), productOfDims(input.slice(at))] }, c.values(0));
};

const shapeOf: ShapeRule = (c) => {
  const input = c.shape(0);
  if (input === undefined) return c.output(0, { elemType: DataType.INT64, shape: [undefined] });
  const rank = input.length;
  const bound = (v: number): number => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
  const start = bound(c.node.getInt('start', 0));
  const end = bound(c.node.getInt('end', rank));
  const values = input.slice(start, Math.max(start, end));
  c.output(0, { elemType: DataType.INT64, shape: [values.length] }, values);
};

const size: ShapeRule = (c) => {
  const input = c.shape(0);
  c.output(0, { elemType: DataType.INT64, shape: [] }, input === undefined ? undefined : [productOfDims(input)]);
};

const range: ShapeRule = (c) => {
  const [start, limit, delta] = [0, 1, 2].map((i) => c.values(i)?.[0]);
  const elemType = c.input(0).elemType;
  if (typeof start !== 'number' || typeof limit !== 'number' || typeof delta !== 'number' || delta === 0) return c.output(0, { elemType, shape: [undefined] });
  const count = Math.max(0, Math.ceil((limit - start) / delta));
  c.output(0, { elemType, shape: [count] }, Array.from({ length: count }, (_, i) => start + i * delta));
};

const constant: ShapeRule = (c) => {
  const tensor = constantNodeTensor(c.node);
  if (tensor === undefined) return;
  const readable = tensor.storage !== 'external' && tensor.elementCount <= 64;
  const ints = readable && tensor.dataType !== DataType.FLOAT && tensor.dataType !== DataType.FLOAT16 && tensor.dataType !== DataType.DOUBLE;
  let values: number[] | undefined;
  try {
    values = ints ? integerTensorToNumbers(tensor) : undefined;
  } catch {
    values = undefined;
  }
  c.output(0, { elemType: tensor.dataType, shape: tensor.dims }, values);
};

const constantOfShape: ShapeRule = (c) => {
  const shape = c.values(0);
  const attr = c.node.attribute('value');
  const tensor = attr?.kind === 'tensor' ? attr.value : undefined;
  const elemType = tensor?.dataType ?? DataType.FLOAT;
  let fill: number | undefined;
  try {
    fill = tensor === undefined ? 0 : integerTensorToNumbers(tensor)[0];
  } catch {
    fill = undefined;
  }
  const count = shape === undefined ? undefined : productOfDims(shape);
  const values = fill !== undefined && typeof count === 'number' && count <= 64 ? new Array<number>(count).fill(fill) : undefined;
  c.output(0, { elemType, shape: shape === undefined ? undefined : [...shape] }, values);
};

const cast: ShapeRule = (c) => c.output(0, { elemType: c.node.getInt('to'), shape: c.shape(0) }, c.values(0));

const castLike: ShapeRule = (c) => c.output(0, { elemType: c.input(1).elemType, shape: c.shape(0) }, c.values(0));

/** QDQ-quantised weights (onnxruntime's quantiser): the shape of x, the type of the scale (or output_dtype, opset 21+). */
const dequantizeLinear: ShapeRule = (c) => c.output(0, { elemType: c.node.getInt('output_dtype', 0) || c.input(1).elemType, shape: c.shape(0) });

export const DATA_MOVEMENT_RULES: ReadonlyArray<readonly [string, ShapeRule]> = [
  ['::Identity', passThrough],
  ['::Reshape', reshape],
  ['::Transpose', transpose],
  ['::Squeeze', squeeze],
  ['::Unsqueeze', unsqueeze],
  ['::Concat', concat],
  ['::Split', split],
  ['::Slice', slice],
  ['::Pad', pad],
  ['::Size', size],
  ['::Range', range],
  ['::Gather', gather],
  ['::Flatten', flatten],
  ['::Shape', shapeOf],
  ['::Constant', constant],
  ['::ConstantOfShape', constantOfShape],
  ['::Cast', cast],
  ['::CastLike', castLike],
  ['::DequantizeLinear', dequantizeLinear],
];
