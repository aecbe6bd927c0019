/**
 * The analyses the rules check with: symbolic dim arithmetic, shape inference with folded shape
 * subgraphs (on hand-built graphs), and the layout algebra's reading of q / kᵀ / v operands as heads of
 * their projections — including the failures, whose messages users end up reading.
 */
import { describe, expect, it } from 'vitest';
import {
  Layout, LayoutError, describeHeadView, dimArithmetic, dimsEqual, divideDims, inferShapes, mergedHeadsOrder, mulDims, roleLayout, type Dim,
} from '../../graph-rewrite/analysis/index.js';
import { Attr, DataType, Tensor } from '../../graph-rewrite/ir/index.js';
import { GraphBuilder } from './helpers.js';

describe('symbolic dims', () => {
  it('multiplies and divides canonical products', () => {
    expect(mulDims('batch', 4)).toBe('4*batch');
    expect(mulDims(4, 'batch')).toBe('4*batch');
    expect(mulDims('sequence', 'batch')).toBe('batch*sequence');
    expect(divideDims('4*batch', 4)).toBe('batch');
    expect(divideDims('4*batch', 'batch')).toBe(4);
    expect(divideDims('batch', 2)).toBeUndefined();
    expect(divideDims(17, 2)).toBeUndefined();
    expect(dimsEqual('batch*4', '4 * batch')).toBe(true);
    expect(dimsEqual(undefined, undefined)).toBe(false);
    expect(dimArithmetic('Div', 98, 3)).toBe(32);
    expect(dimArithmetic('Add', 'batch', 1)).toBeUndefined();
  });
});

const Builder = GraphBuilder;

describe('shape inference', () => {
  it('folds Shape → Gather → Unsqueeze → Concat into a symbolic Reshape target', () => {
    const b = new Builder();
    const x = b.input('x', ['batch', 17, 48]);
    const [shape] = b.node('Shape', [x]);
    const [batch] = b.node('Gather', [shape, b.ints('zero', [0], [])], [Attr.int('axis', 0)]);
    const [tokens] = b.node('Gather', [shape, b.ints('one', [1], [])], [Attr.int('axis', 0)]);
    const [b1] = b.node('Unsqueeze', [batch, b.ints('axis0', [0])]);
    const [n1] = b.node('Unsqueeze', [tokens, b.ints('axis0b', [0])]);
    const [target] = b.node('Concat', [b1, n1, b.ints('heads', [3]), b.ints('headDim', [16])], [Attr.int('axis', 0)]);
    const [split] = b.node('Reshape', [x, target]);
    const [heads] = b.node('Transpose', [split], [Attr.ints('perm', [0, 2, 1, 3])]);
    const [merged] = b.node('Reshape', [x, b.ints('merge', [-1, 48])]);
    const [copied] = b.node('Reshape', [x, b.ints('copy', [0, -1, 16])]);
    const info = inferShapes(b.graph);
    expect(info.intValues(target)).toEqual(['batch', 17, 3, 16]);
    expect(info.shapeOf(split)).toEqual(['batch', 17, 3, 16]);
    expect(info.shapeOf(heads)).toEqual(['batch', 3, 17, 16]);
    expect(info.shapeOf(merged)).toEqual(['17*batch', 48]);
    expect(info.shapeOf(copied)).toEqual(['batch', 51, 16]);
    expect(info.elemTypeOf(heads)).toBe(DataType.FLOAT);
  });

  it('folds the integer arithmetic of torch MultiheadAttention slice bounds', () => {
    const b = new Builder();
    const qkv = b.input('qkv', [17, 1, 96]);
    const [shape] = b.node('Shape', [qkv]);
    const [last] = b.node('Gather', [shape, b.ints('minus1', [-1])], [Attr.int('axis', 0)]);
    const [plus] = b.node('Add', [last, b.ints('two', [2])]);
    const [third] = b.node('Div', [plus, b.ints('three', [3])]);
    const [end] = b.node('Mul', [third, b.ints('twice', [2])]);
    const [k] = b.node('Slice', [qkv, third, end, b.ints('lastAxis', [-1])]);
    const info = inferShapes(b.graph);
    expect(info.intValues(third)).toEqual([32]);
    expect(info.intValues(end)).toEqual([64]);
    expect(info.shapeOf(k)).toEqual([17, 1, 32]);
  });

  it('folds Equal / Where on symbolic dims (the class-token Expand) and broadcasts', () => {
    const b = new Builder();
    const x = b.input('x', ['batch', 16, 48]);
    const [shape] = b.node('Shape', [x]);
    const [batch] = b.node('Slice', [shape, b.ints('s0', [0]), b.ints('s1', [1])]);
    const [wanted] = b.node('Concat', [batch, b.ints('m1', [-1, -1])], [Attr.int('axis', 0)]);
    const [isMinusOne] = b.node('Equal', [wanted, b.ints('minus', [-1], [])]);
    const [target] = b.node('Where', [isMinusOne, b.ints('ones', [1, 1, 1]), wanted]);
    const token = b.graph.addInitializer(Tensor.fromFloat32Array(new Float32Array(48), [1, 1, 48]), 'cls');
    const [expanded] = b.node('Expand', [token, target]);
    const [tokens] = b.node('Concat', [expanded, x], [Attr.int('axis', 1)]);
    const [sum] = b.node('Add', [tokens, b.graph.addInitializer(Tensor.fromFloat32Array(new Float32Array(17 * 48), [1, 17, 48]), 'pos')]);
    const info = inferShapes(b.graph);
    expect(info.intValues(target)).toEqual(['batch', 1, 1]);
    expect(info.shapeOf(expanded)).toEqual(['batch', 1, 48]);
    expect(info.shapeOf(sum)).toEqual(['batch', 17, 48]);
  });

  it('infers Conv, Flatten, MatMul, Gemm, Split, Slice to a symbolic end, Squeeze, Cast and LayerNormalization', () => {
    const b = new Builder();
    const pixels = b.input('pixels', ['batch', 3, 32, 32]);
    const ids = b.input('ids', ['batch', 'sequence'], DataType.INT64);
    const weight = b.graph.addInitializer(Tensor.fromFloat32Array(new Float32Array(64 * 3 * 8 * 8), [64, 3, 8, 8]), 'w');
    const [patches] = b.node('Conv', [pixels, weight], [Attr.ints('kernel_shape', [8, 8]), Attr.ints('strides', [8, 8])]);
    const [flat] = b.node('Reshape', [patches, b.ints('flatten', [0, 0, -1])]);
    const [matrix] = b.node('Flatten', [patches], [Attr.int('axis', 2)]);
    const [tokens] = b.node('Transpose', [flat], [Attr.ints('perm', [0, 2, 1])]);
    const [normed] = b.node('LayerNormalization', [tokens, b.graph.addInitializer(Tensor.fromFloat32Array(new Float32Array(64), [64]), 'g')]);
    const projection = b.graph.addInitializer(Tensor.fromFloat32Array(new Float32Array(64 * 192), [64, 192]), 'wqkv');
    const [qkv] = b.node('MatMul', [normed, projection]);
    const [q, k, v] = b.node('Split', [qkv, b.ints('sizes', [64, 64, 64])], [Attr.int('axis', -1)], 3);
    const [scores] = b.node('MatMul', [q, b.node('Transpose', [k], [Attr.ints('perm', [0, 2, 1])])[0]]);
    const [seq] = b.node('Gather', [b.node('Shape', [ids])[0], b.ints('one', [1], [])]);
    const [positions] = b.node('Slice', [b.ints('table', Array.from({ length: 32 }, (_, i) => i), [1, 32]), b.ints('z', [0]), b.node('Unsqueeze', [seq, b.ints('a0', [0])])[0], b.ints('a1', [1])]);
    const [squeezed] = b.node('Squeeze', [positions, b.ints('sq', [0])]);
    const [half] = b.node('Cast', [v], [Attr.int('to', DataType.FLOAT16)]);
    const [logits] = b.node('Gemm', [b.node('Flatten', [half])[0], b.graph.addInitializer(Tensor.fromFloat32Array(new Float32Array(10 * 1024), [10, 1024]), 'head')], [Attr.int('transB', 1)]);
    const info = inferShapes(b.graph);
    expect(info.shapeOf(patches)).toEqual(['batch', 64, 4, 4]);
    expect(info.shapeOf(matrix)).toEqual(['64*batch', 16]);
    expect(info.shapeOf(tokens)).toEqual(['batch', 16, 64]);
    expect(info.shapeOf(v)).toEqual(['batch', 16, 64]);
    expect(info.shapeOf(scores)).toEqual(['batch', 16, 16]);
    expect(info.shapeOf(positions)).toEqual([1, 'sequence']);
    expect(info.shapeOf(squeezed)).toEqual(['sequence']);
    expect(info.typeOf(half)).toEqual({ elemType: DataType.FLOAT16, shape: ['batch', 16, 64] });
    expect(info.shapeOf(logits)).toEqual(['batch', 10]);
  });
});

/** Replays ops on a source layout. */
function layoutOf(source: readonly Dim[], ...ops: ((layout: Layout) => void)[]): Layout {
  const layout = Layout.ofSource(source);
  for (const op of ops) op(layout);
  return layout;
}

describe('the layout algebra reads operands as heads of their projection', () => {
  it('timm packed qkv: Reshape(B,N,3,H,d) → Transpose(2,0,3,1,4) → Split → Squeeze', () => {
    const view = describeHeadView(layoutOf(['batch', 17, 192],
      (l) => l.reshape(['batch', 17, 3, 4, 16]),
      (l) => l.transpose([2, 0, 3, 1, 4]),
      (l) => l.select(0, 2, 1, true),
      (l) => l.squeeze([0])), 'v');
    expect(view).toMatchObject({ heads: 4, headDim: 16, tokens: 17, batch: 'batch', packed: { part: 2, parts: 3 } });
    expect(view.axes).toEqual([['B'], ['H'], ['N'], ['d']]);
    expect(view.sourceAxes).toEqual({ batch: 0, tokens: 1, features: 2 });
  });

  it('torch MultiheadAttention: (N, B, 3E) sliced, Reshape(N, B·H, d), Transpose → (B·H, N, d)', () => {
    const view = describeHeadView(layoutOf([17, 2, 96],
      (l) => l.select(2, 32, 32, true),
      (l) => l.reshape([17, 4, 16]),
      (l) => l.transpose([1, 0, 2])), 'q');
    expect(view).toMatchObject({ heads: 2, headDim: 16, batch: 2, packed: { part: 1, parts: 3 } });
    expect(view.axes).toEqual([['B', 'H'], ['N'], ['d']]);
    expect(view.sourceAxes).toEqual({ batch: 1, tokens: 0, features: 2 });
  });

  it('CLIP bmm with a symbolic batch: (B, N, D) → (B, H, N, d) → (B·H, N, d), and kᵀ pre-transposed', () => {
    const q = describeHeadView(layoutOf(['batch', 17, 32],
      (l) => l.reshape(['batch', 17, 4, 8]),
      (l) => l.transpose([0, 2, 1, 3]),
      (l) => l.reshape(['4*batch', 17, 8])), 'q');
    expect(q.axes).toEqual([['B', 'H'], ['N'], ['d']]);
    const k = describeHeadView(layoutOf(['batch', 17, 48],
      (l) => l.reshape(['batch', 17, 3, 16]),
      (l) => l.transpose([0, 2, 3, 1])), 'kT');
    expect(k.axes).toEqual([['B'], ['H'], ['d'], ['N']]);
  });

  it('refuses reshapes that mix tokens and features, and a head dim that is not minor-most', () => {
    expect(() => layoutOf([1, 17, 48], (l) => l.reshape([1, 3, 17, 16]))).toThrow(LayoutError);
    expect(() => layoutOf([1, 17, 48], (l) => l.reshape([1, 3, 17, 16]))).toThrow(/does not split along whole factors/);
    const swapped = layoutOf([1, 17, 48], (l) => l.reshape([1, 17, 3, 16]), (l) => l.transpose([0, 3, 1, 2]));
    expect(() => describeHeadView(swapped, 'q')).toThrow(/head dim is not the minor-most factor/);
    expect(() => layoutOf([1, 17, 96], (l) => l.select(2, 10, 20, true))).toThrow(/not one part of a major factor/);
    const tokensPicked = layoutOf([1, 17, 48], (l) => l.reshape([1, 17, 3, 16]), (l) => l.select(1, 0, 1, true), (l) => l.transpose([0, 2, 1, 3]));
    expect(() => describeHeadView(tokensPicked, 'q')).toThrow(LayoutError);
  });

  it('follows an output forward until its heads are merged, in (N·B, E) order for torch', () => {
    const { layout, atoms } = roleLayout([['B', 'H'], ['N'], ['d']], { batch: 2, tokens: 17, heads: 2, headDim: 16 });
    expect(mergedHeadsOrder(layout, atoms)).toBeUndefined();
    layout.transpose([1, 0, 2]);
    expect(mergedHeadsOrder(layout, atoms)).toBeUndefined();
    layout.reshape([34, 32]);
    expect(mergedHeadsOrder(layout, atoms)).toEqual(['N', 'B']);
  });
});
