import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { decodeModelProto } from '../../graph-rewrite/serde/decode.js';
import { encodeModelProtoToBytes } from '../../graph-rewrite/serde/encode.js';
import { matMulAddModel, matMulAddReference, runModel, subgraphModel, tensorBits } from './fixtures.js';

describe('models we encode run in onnxruntime', () => {
  it('MatMul + Add (opset 17) built by hand gives the exact expected values', async () => {
    const bytes = encodeModelProtoToBytes(matMulAddModel());
    const x = [1, 2, 3, -1, 0.5, 4];
    const { Y } = await runModel(bytes, { X: new ort.Tensor('float32', Float32Array.from(x), [2, 3]) });
    expect(Y!.dims).toEqual([2, 4]);
    expect(Array.from(Y!.data as Float32Array)).toEqual(matMulAddReference(x, 2));
  });

  it.each([
    ['MatMul + Add', matMulAddModel, (): Record<string, ort.Tensor> => ({
      X: new ort.Tensor('float32', Float32Array.from([0.1, -7, 3e5, Math.PI, -0, 1e-30]), [2, 3]),
    })],
    ['Constant, attributes and If subgraphs', subgraphModel, (): Record<string, ort.Tensor> => ({
      X: new ort.Tensor('float32', Float32Array.from([0.3, -1.7, 2.9, 4.1, -5.5, 0.01]), [2, 3]),
      C: new ort.Tensor('bool', Uint8Array.from([0]), []),
    })],
  ])('%s: decode → encode gives identical bytes and bit-identical outputs', async (_, build, feeds) => {
    const bytes = encodeModelProtoToBytes(build());
    const reencoded = encodeModelProtoToBytes(decodeModelProto(bytes));
    expect(reencoded).toStrictEqual(bytes);
    const before = await runModel(bytes, feeds());
    const after = await runModel(reencoded, feeds());
    expect(Object.keys(after)).toEqual(Object.keys(before));
    for (const name of Object.keys(before)) {
      expect(after[name]!.dims).toEqual(before[name]!.dims);
      expect(tensorBits(after[name]!)).toStrictEqual(tensorBits(before[name]!));
    }
  });

  it('the If model takes the branch the condition selects (the subgraphs really ran)', async () => {
    const bytes = encodeModelProtoToBytes(subgraphModel());
    const x = [0.5, 1, 2, -3, 4, 8];
    const k = [1, -2, 3, -4, 5, -6];
    const leaky = x.map((v, i) => (v + k[i]! >= 0 ? v + k[i]! : (v + k[i]!) * 0.125));
    const transposed = [0, 3, 1, 4, 2, 5].map((i) => leaky[i]!);
    for (const [condition, scale] of [[1, 2], [0, -0.5]] as const) {
      const { Y } = await runModel(bytes, {
        X: new ort.Tensor('float32', Float32Array.from(x), [2, 3]),
        C: new ort.Tensor('bool', Uint8Array.from([condition]), []),
      });
      expect(Array.from(Y!.data as Float32Array)).toEqual(transposed.map((v) => v * scale));
    }
  });
});
