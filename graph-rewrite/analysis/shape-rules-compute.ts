/**
 * Shape rules of the computing ops of ViT exports: elementwise ops with multidirectional broadcasting
 * (folding integer arithmetic of shape subgraphs), MatMul / Gemm / Conv, pooling, reductions, normalisations,
 * Softmax, and the fused attention ops (ONNX Attention, com.microsoft MultiHeadAttention / Attention).
 */

import { DataType } from '../ir/dtypes.js';
import { dimArithmetic, dimsEqual, divideDims, mulDims, productOfDims, type Dim } from './dims.js';
import type { ShapeRule, ShapeRuleContext } from './shape-inference.js';
import { intsFromInputOrAttribute, normalizeAxis } from './shape-rules-data.js';

/** Broadcast of two dims (ONNX multidirectional): equal, or one of them 1. */
function broadcastDim(a: Dim, b: Dim): Dim {
  if (a === 1) return b;
  if (b === 1) return a;
  if (dimsEqual(a, b)) return a;
  // A known non-1 size wins over an unknown or symbolic one (the model is assumed valid).
  if (typeof a === 'number') return a;
  if (typeof b === 'number') return b;
  return a ?? b;
}

export function broadcastShapes(shapes: readonly (readonly Dim[] | undefined)[]): Dim[] | undefined {
  if (shapes.some((shape) => shape === undefined)) return undefined;
  const rank = Math.max(...shapes.map((shape) => shape!.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let dim: Dim = 1;
    for (const shape of shapes) {
      const at = shape!.length - rank + i;
      dim = broadcastDim(dim, at >= 0 ? shape![at] : 1);
    }
    out.push(dim);
  }
  return out;
}

/** Folds an elementwise op over small 1-D/scalar integer contents. */
function foldElementwise(c: ShapeRuleContext, count: number, apply: (values: Dim[]) => Dim): Dim[] | undefined {
  const inputs = c.node.inputs.map((_, i) => c.values(i));
  if (inputs.some((values) => values === undefined)) return undefined;
  const out: Dim[] = [];
  for (let i = 0; i < count; i++) out.push(apply(inputs.map((values) => values![values!.length === 1 ? 0 : i])));
  return inputs.every((values) => values!.length === 1 || values!.length === count) ? out : undefined;
}

function elementwise(outputType?: number, fold?: (values: Dim[]) => Dim): ShapeRule {
  return (c) => {
    const shape = broadcastShapes(c.node.inputs.map((_, i) => c.shape(i)));
    // Where's data type is that of its second input; other ops take their first input's.
    const elemType = outputType ?? (c.node.opType === 'Where' ? c.input(1).elemType : c.input(0).elemType);
    const count = shape === undefined ? undefined : productOfDims(shape);
    const values = fold !== undefined && typeof count === 'number' && count <= 64 ? foldElementwise(c, count, fold) : undefined;
    c.output(0, { elemType, shape }, values);
  };
}

const arithmetic = (op: 'Add' | 'Sub' | 'Mul' | 'Div'): ShapeRule => elementwise(undefined, ([a, b]) => dimArithmetic(op, a, b));

/** Folds on numbers only: a symbolic or unknown operand leaves the result unknown. */
const numeric = (fn: (...args: number[]) => number) => (values: Dim[]): Dim =>
  (values.every((v): v is number => typeof v === 'number') ? fn(...values) : undefined);

/** Equal on dims: a symbolic size is never negative, so it differs from any negative number. */
function equalDims([a, b]: Dim[]): Dim {
  if (dimsEqual(a, b)) return 1;
  if (typeof a === 'number' && typeof b === 'number') return 0;
  if ((typeof a === 'string' && typeof b === 'number' && b < 0) || (typeof b === 'string' && typeof a === 'number' && a < 0)) return 0;
  return undefined;
}

const where = elementwise(undefined, ([condition, whenTrue, whenFalse]) =>
  condition === undefined ? undefined : condition !== 0 ? whenTrue : whenFalse);

/** Y has the first input's shape and type (also the rule of every registered attention kernel: Y has Q's). */
export const unary: ShapeRule = (c) => c.output(0, c.input(0));

const dropout: ShapeRule = (c) => {
  c.output(0, c.input(0));
  c.output(1, { elemType: DataType.BOOL, shape: c.shape(0) });
};

const expand: ShapeRule = (c) => {
  const target = c.values(1);
  c.output(0, { elemType: c.input(0).elemType, shape: target === undefined ? undefined : broadcastShapes([c.shape(0), target]) });
};

/** Tile: each dim times its repeat count (torch's `probe.repeat(batch, 1, 1)`). */
const tile: ShapeRule = (c) => {
  const input = c.shape(0);
  const repeats = c.values(1);
  const shape = input === undefined || repeats === undefined || repeats.length !== input.length ? undefined : input.map((dim, i) => mulDims(dim, repeats[i]));
  c.output(0, { elemType: c.input(0).elemType, shape });
};

/** The last two dims swapped (com.microsoft FusedMatMul's transA / transB). */
const swapLast = (shape: readonly Dim[]): readonly Dim[] => (shape.length < 2 ? shape : [...shape.slice(0, -2), shape[shape.length - 1], shape[shape.length - 2]]);

/** MatMul, MatMulInteger (int32 out) and com.microsoft FusedMatMul (optionally transposed operands). */
const matMul: ShapeRule = (c) => {
  const fused = c.node.opType === 'FusedMatMul';
  const a = fused && c.node.getInt('transA', 0) && c.shape(0) ? swapLast(c.shape(0)!) : c.shape(0);
  const b = fused && c.node.getInt('transB', 0) && c.shape(1) ? swapLast(c.shape(1)!) : c.shape(1);
  const elemType = c.node.opType === 'MatMulInteger' ? DataType.INT32 : c.input(0).elemType;
  if (a === undefined || b === undefined) return c.output(0, { elemType, shape: undefined });
  const left = a.length === 1 ? [1, a[0]] : a;
  const right = b.length === 1 ? [b[0], 1] : b;
  const batch = broadcastShapes([left.slice(0, -2), right.slice(0, -2)])!;
  const shape: Dim[] = [...batch, left[left.length - 2], right[right.length - 1]];
  if (a.length === 1) shape.splice(shape.length - 2, 1);
  if (b.length === 1) shape.splice(shape.length - 1, 1);
  c.output(0, { elemType, shape });
};

const gemm: ShapeRule = (c) => {
  const a = c.shape(0);
  const b = c.shape(1);
  const rows = a === undefined ? undefined : a[c.node.getInt('transA', 0) ? 1 : 0];
  const cols = b === undefined ? undefined : b[c.node.getInt('transB', 0) ? 0 : 1];
  c.output(0, { elemType: c.input(0).elemType, shape: [rows, cols] });
};

/** Spatial output dims of a windowed op (Conv, pooling): kernel, strides, dilations, pads or auto_pad, ceil_mode. */
function windowedDims(c: ShapeRuleContext, x: readonly Dim[], kernel: readonly number[]): Dim[] {
  const spatial = x.length - 2;
  const strides = c.node.getInts('strides', new Array<number>(spatial).fill(1));
  const dilations = c.node.getInts('dilations', new Array<number>(spatial).fill(1));
  const pads = c.node.getInts('pads', new Array<number>(2 * spatial).fill(0));
  const autoPad = c.node.getString('auto_pad', 'NOTSET');
  const round = c.node.getInt('ceil_mode', 0) === 1 ? Math.ceil : Math.floor;
  const out: Dim[] = [];
  for (let i = 0; i < spatial; i++) {
    const size = x[i + 2];
    if (typeof size !== 'number' || !(kernel[i]! >= 0)) {
      out.push(undefined);
    } else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      out.push(Math.ceil(size / strides[i]!));
    } else {
      const padded = autoPad === 'VALID' ? size : size + pads[i]! + pads[i + spatial]!;
      out.push(round((padded - dilations[i]! * (kernel[i]! - 1) - 1) / strides[i]!) + 1);
    }
  }
  return out;
}

const conv: ShapeRule = (c) => {
  const x = c.shape(0);
  const w = c.shape(1);
  if (x === undefined || w === undefined) return c.output(0, { elemType: c.input(0).elemType, shape: undefined });
  const kernel = c.node.getInts('kernel_shape', w.slice(2).map((d) => (typeof d === 'number' ? d : -1)));
  c.output(0, { elemType: c.input(0).elemType, shape: [x[0], w[0], ...windowedDims(c, x, kernel)] });
};

/** AveragePool / MaxPool (MaxPool's optional second output holds int64 indices of the same shape). */
const pool: ShapeRule = (c) => {
  const x = c.shape(0);
  const shape = x === undefined ? undefined : [x[0], x[1], ...windowedDims(c, x, c.node.getInts('kernel_shape'))];
  c.output(0, { elemType: c.input(0).elemType, shape });
  if (c.node.opType === 'MaxPool') c.output(1, { elemType: DataType.INT64, shape });
};

const globalPool: ShapeRule = (c) => {
  const x = c.shape(0);
  c.output(0, { elemType: c.input(0).elemType, shape: x === undefined ? undefined : x.map((dim, i) => (i < 2 ? dim : 1)) });
};

const reduce: ShapeRule = (c) => {
  const input = c.shape(0);
  if (input === undefined) return c.output(0, { elemType: c.input(0).elemType, shape: undefined });
  const axes = intsFromInputOrAttribute(c, 1, 'axes');
  const keepDims = c.node.getInt('keepdims', 1) === 1;
  const noopWithEmpty = c.node.getInt('noop_with_empty_axes', 0) === 1;
  const reduced = axes === undefined || axes.length === 0
    ? (noopWithEmpty ? [] : input.map((_, i) => i))
    : axes.map((axis) => normalizeAxis(axis, input.length));
  const shape = keepDims ? input.map((dim, i) => (reduced.includes(i) ? 1 : dim)) : input.filter((_, i) => !reduced.includes(i));
  c.output(0, { elemType: c.input(0).elemType, shape });
};

const argReduce: ShapeRule = (c) => {
  const input = c.shape(0);
  if (input === undefined) return c.output(0, { elemType: DataType.INT64, shape: undefined });
  const axis = normalizeAxis(c.node.getInt('axis', 0), input.length);
  const keepDims = c.node.getInt('keepdims', 1) === 1;
  c.output(0, { elemType: DataType.INT64, shape: keepDims ? input.map((dim, i) => (i === axis ? 1 : dim)) : input.filter((_, i) => i !== axis) });
};

const layerNormalization: ShapeRule = (c) => {
  const input = c.shape(0);
  c.output(0, c.input(0));
  if (input === undefined) return;
  const axis = normalizeAxis(c.node.getInt('axis', -1), input.length);
  const statistics = input.map((dim, i) => (i < axis ? dim : 1));
  c.output(1, { elemType: DataType.FLOAT, shape: statistics });
  c.output(2, { elemType: DataType.FLOAT, shape: statistics });
};

/** ONNX Attention (opset 23): Y is [B, Nq, Hq·dv] for 3-D inputs, [B, Hq, Nq, dv] for 4-D ones. */
const onnxAttention: ShapeRule = (c) => {
  const q = c.shape(0);
  const v = c.shape(2);
  if (q === undefined || v === undefined) return c.output(0, { elemType: c.input(0).elemType, shape: undefined });
  if (q.length === 4) return c.output(0, { elemType: c.input(0).elemType, shape: [q[0], q[1], q[2], v[3]] });
  const qHeads = c.node.getInt('q_num_heads', 0);
  const kvHeads = c.node.getInt('kv_num_heads', 0);
  const valueHidden = v.length === 3 ? mulDims(divideDims(v[2], kvHeads), qHeads) : mulDims(v[1], v[3]);
  c.output(0, { elemType: c.input(0).elemType, shape: [q[0], q[1], valueHidden] });
};

/** com.microsoft MultiHeadAttention: Y is [B, Nq, Dv] (Dv from the 3-D value input). */
const msMultiHeadAttention: ShapeRule = (c) => {
  const q = c.shape(0);
  const v = c.shape(2);
  const valueHidden = v !== undefined && v.length === 3 ? v[2] : undefined;
  c.output(0, { elemType: c.input(0).elemType, shape: q === undefined || q.length !== 3 ? undefined : [q[0], q[1], valueHidden ?? q[2]] });
};

/** com.microsoft Attention: Y is [B, N, v_hidden] (qkv_hidden_sizes[2], or a third of the packed weight's columns). */
const msAttention: ShapeRule = (c) => {
  const x = c.shape(0);
  const w = c.shape(1);
  const sizes = c.node.attribute('qkv_hidden_sizes') === undefined ? undefined : c.node.getInts('qkv_hidden_sizes');
  const valueHidden = sizes !== undefined ? sizes[2] : w === undefined ? undefined : divideDims(w[1], 3);
  c.output(0, { elemType: c.input(0).elemType, shape: x === undefined ? undefined : [x[0], x[1], valueHidden] });
};

const UNARY_OPS = ['Relu', 'Sigmoid', 'Tanh', 'Erf', 'Sqrt', 'Exp', 'Log', 'Abs', 'Reciprocal', 'Softmax', 'LogSoftmax',
  'Gelu', 'HardSigmoid', 'LeakyRelu', 'Clip', 'Floor', 'Ceil', 'Round', 'Sign', 'Sin', 'Cos', 'Not', 'Softplus', 'Elu', 'Selu',
  'HardSwish', 'Mish', 'LpNormalization', 'BatchNormalization', 'InstanceNormalization',
  // onnxruntime's contrib op in the default domain.
  'SimplifiedLayerNormalization'];
/** onnxruntime contrib ops whose first output has the first input's shape and type. */
const MS_UNARY_OPS = ['Gelu', 'FastGelu', 'QuickGelu', 'BiasGelu', 'SkipLayerNormalization'];
const BROADCAST_OPS = ['Sum', 'Mean', 'PRelu', 'BitShift'];
const COMPARISON_OPS = ['And', 'Or', 'Xor'];
const REDUCE_OPS = ['ReduceMean', 'ReduceSum', 'ReduceL2', 'ReduceL1', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceSumSquare', 'ReduceLogSumExp'];

export const COMPUTE_RULES: ReadonlyArray<readonly [string, ShapeRule]> = [
  ['::Add', arithmetic('Add')],
  ['::Sub', arithmetic('Sub')],
  ['::Mul', arithmetic('Mul')],
  ['::Div', arithmetic('Div')],
  ['::Equal', elementwise(DataType.BOOL, equalDims)],
  ['::Where', where],
  ['::Neg', elementwise(undefined, numeric((a) => -a))],
  ['::Max', elementwise(undefined, numeric(Math.max))],
  ['::Min', elementwise(undefined, numeric(Math.min))],
  ['::Pow', elementwise(undefined, numeric((a, b) => a ** b))],
  // Integer Mod (fmod = 0): the result takes the divisor's sign.
  ['::Mod', elementwise(undefined, numeric((a, b) => a - b * Math.floor(a / b)))],
  ['::Less', elementwise(DataType.BOOL, numeric((a, b) => Number(a < b)))],
  ['::Greater', elementwise(DataType.BOOL, numeric((a, b) => Number(a > b)))],
  ['::LessOrEqual', elementwise(DataType.BOOL, numeric((a, b) => Number(a <= b)))],
  ['::GreaterOrEqual', elementwise(DataType.BOOL, numeric((a, b) => Number(a >= b)))],
  ['::IsNaN', elementwise(DataType.BOOL)],
  ['::Expand', expand],
  ['::Tile', tile],
  ['::Dropout', dropout],
  ['::MatMul', matMul],
  ['::MatMulInteger', matMul],
  ['com.microsoft::FusedMatMul', matMul],
  ['::Gemm', gemm],
  ['::Conv', conv],
  ['::AveragePool', pool],
  ['::MaxPool', pool],
  ['::GlobalAveragePool', globalPool],
  ['::GlobalMaxPool', globalPool],
  ['::ArgMax', argReduce],
  ['::ArgMin', argReduce],
  ['::LayerNormalization', layerNormalization],
  ['::Attention', onnxAttention],
  ['com.microsoft::MultiHeadAttention', msMultiHeadAttention],
  ['com.microsoft::Attention', msAttention],
  ...UNARY_OPS.map((op) => [`::${op}`, unary] as const),
  ...MS_UNARY_OPS.map((op) => [`com.microsoft::${op}`, unary] as const),
  ...BROADCAST_OPS.map((op) => [`::${op}`, elementwise()] as const),
  ...COMPARISON_OPS.map((op) => [`::${op}`, elementwise(DataType.BOOL)] as const),
  ...REDUCE_OPS.map((op) => [`::${op}`, reduce] as const),
];
