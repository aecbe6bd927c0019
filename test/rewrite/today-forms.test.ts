/**
 * The analyses behind today's exporters, on hand-built graphs (models/today/ has the real exports):
 * scalars computed from shapes (TorchScript's SDPA scale), Tile's shape (SigLIP's repeated probe), a
 * one-token query read as heads, and values proven all-True / all-zero through Expand / Where / Cast.
 */
import { describe, expect, it } from 'vitest';
import { Layout, describeHeadView, evaluateScalar, inferShapes } from '../../graph-rewrite/analysis/index.js';
import { distinctValues, graphInputsReaching } from '../../graph-rewrite/attention/index.js';
import { Attr, DataType, Tensor, type Value } from '../../graph-rewrite/ir/index.js';
import { GraphBuilder } from './helpers.js';

/** One-output nodes. */
class Builder extends GraphBuilder {
  one(opType: string, inputs: readonly (Value | undefined)[], attributes: readonly Attr[] = []): Value {
    return this.node(opType, inputs, attributes)[0]!;
  }
}

describe('scalars computed from shapes', () => {
  it("reads TorchScript's SDPA scale Sqrt(Cast(1 / Sqrt(Cast(Shape(q)[-1])))) as a number", () => {
    const b = new Builder();
    const q = b.input('q', ['batch', 2, 17, 16]);
    const last = b.one('Slice', [b.one('Shape', [q]), b.constant('start', Tensor.fromInt64Array([-1], [1])), b.constant('end', Tensor.fromInt64Array([2 ** 40], [1]))]);
    const d = b.one('Cast', [last], [Attr.int('to', DataType.FLOAT)]);
    const inverse = b.one('Div', [b.constant('one', Tensor.fromFloat32Array([1], [])), b.one('Sqrt', [d])]);
    const scale = b.one('Sqrt', [b.one('Cast', [inverse], [Attr.int('to', DataType.FLOAT)])]);
    const shapes = inferShapes(b.graph);
    expect(evaluateScalar(scale, (v) => shapes.intValues(v))).toBeCloseTo(0.5, 7);
    // A value that depends on the data is no number.
    expect(evaluateScalar(b.one('ReduceMax', [q]), (v) => shapes.intValues(v))).toBeUndefined();
  });

  it('infers Tile: each dim times its repeat count, symbolic repeats included', () => {
    const b = new Builder();
    const x = b.input('x', ['batch', 16, 32]);
    const probe = b.constant('probe', Tensor.fromFloat32Array(new Float32Array(32), [1, 1, 32]));
    const batch = b.one('Gather', [b.one('Shape', [x]), b.constant('zero', Tensor.fromInt64Array([0], [1]))], [Attr.int('axis', 0)]);
    const repeats = b.one('Concat', [batch, b.constant('ones', Tensor.fromInt64Array([1, 1], [2]))], [Attr.int('axis', 0)]);
    const tiled = b.one('Tile', [probe, repeats]);
    expect(inferShapes(b.graph).shapeOf(tiled)).toEqual(['batch', 1, 32]);
  });
});

describe('a one-token query (a learned probe) read as heads', () => {
  it.each([
    ['[N, B, F] with B = 1', [1, 1, 32], [[1, 2, 16], [1, 0, 2]]],
    ['[B, N, F] with B = 3', [3, 1, 32], [[3, 1, 2, 16], [0, 2, 1, 3]]],
  ] as const)('%s', (_name, source, [shape, perm]) => {
    const layout = Layout.ofSource(source);
    layout.reshape(shape);
    layout.transpose(perm);
    const view = describeHeadView(layout, 'q');
    expect(view).toMatchObject({ heads: 2, headDim: 16, tokens: 1 });
    expect(view.batch).toBe(source[0] === 3 ? 3 : 1);
  });
});

describe('masks that mask nothing, whatever their shape', () => {
  const build = (condition: Uint8Array) => {
    const b = new Builder();
    const x = b.input('pixel_values', ['batch', 3, 32, 32]);
    const mask = b.constant('ge', Tensor.fromRawData(DataType.BOOL, [1, 1, 17, 1], condition));
    const batch = b.one('Gather', [b.one('Shape', [x]), b.constant('zero', Tensor.fromInt64Array([0], [1]))], [Attr.int('axis', 0)]);
    const target = b.one('Concat', [batch, b.constant('rest', Tensor.fromInt64Array([1, 17, 17], [3]))], [Attr.int('axis', 0)]);
    const expanded = b.one('Expand', [mask, target]);
    const bias = b.one('Where', [expanded, b.constant('zero_f', Tensor.fromFloat32Array([0], [])), b.constant('min', Tensor.fromFloat32Array([-3.4e38], []))]);
    return { expanded, bias };
  };

  it("dynamo's Where(Expand(all-True, batch), 0, −max) is all zero, and reads no graph input's values", () => {
    const { expanded, bias } = build(new Uint8Array(17).fill(1));
    expect([...distinctValues(expanded)!]).toEqual([1]);
    expect([...distinctValues(bias)!]).toEqual([0]);
    expect(graphInputsReaching(bias)).toEqual([]); // only pixel_values' shape
  });

  it('one False entry brings the fill back', () => {
    const { bias } = build(Uint8Array.from({ length: 17 }, (_, i) => Number(i !== 4)));
    expect([...distinctValues(bias)!].sort((a, c) => a - c)).toEqual([-3.4e38, 0].map(Math.fround));
  });
});
