/**
 * The function bodies on onnxruntime-node's native WebGPU execution provider (float32). Without a GPU
 * this runs on SwiftShader (Vulkan on the CPU), chosen by src/runtime/webgpu-env.ts. Checks outputs
 * against the reference kernels (≤ 1e-4) and, from onnxruntime's profiler, that every node of the
 * inlined body is placed on the WebGPU EP (none falls back to CPU).
 * float16 is not covered here: SwiftShader has no shader-f16, so Cast to/from f16 cannot compile.
 */
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { encodeModelProtoToBytes } from '../../graph-rewrite/serde/encode.js';
import type { ModelProto } from '../../graph-rewrite/serde/onnx-schema.js';
import { hydraAttentionReference, linearAngularAttentionReference, type LinearAngularMode } from '../../custom-ops/index.js';
import { randomFeeds, seededRandom } from '../../src/runtime/random-feeds.js';
import { expectAllNodesOnWebGpu, webGpuUnavailableReason } from '../support/webgpu.js';
import { buildOpModel, createSession, maxAbsDifference, randomTensor, runOp } from './harness.js';

const unavailableReason = await webGpuUnavailableReason(() => encodeModelProtoToBytes(buildOpModel('HydraAttention', { opset: 17, elemType: 'float' })));

describe.skipIf(unavailableReason !== undefined)('function bodies on the WebGPU EP (float32)', () => {
  const rows = [
    { opType: 'HydraAttention', opset: 11, mode: undefined, numHeads: undefined },
    { opType: 'HydraAttention', opset: 18, mode: undefined, numHeads: undefined },
    { opType: 'LinearAngularAttention', opset: 13, mode: 'reference', numHeads: 4 },
    { opType: 'LinearAngularAttention', opset: 21, mode: 'reference', numHeads: 2 },
    { opType: 'LinearAngularAttention', opset: 17, mode: 'kernel_normalized', numHeads: 4 },
    { opType: 'LinearAngularAttention', opset: 23, mode: 'kernel_normalized', numHeads: 3 },
  ] as const;

  const modelOf = (row: (typeof rows)[number]): ModelProto =>
    row.opType === 'HydraAttention'
      ? buildOpModel('HydraAttention', { opset: row.opset, elemType: 'float', optionalInputs: ['scale'] })
      : buildOpModel('LinearAngularAttention', {
          opset: row.opset,
          elemType: 'float',
          attributes: { num_heads: row.numHeads, mode: row.mode as LinearAngularMode },
        });

  it.each(rows)('$opType $mode opset $opset matches the reference (≤ 1e-4)', async (row) => {
    const random = seededRandom(600 + row.opset);
    const features = 48;
    const [query, key, value] = [0, 1, 2].map(() => randomTensor([2, 29, features], random)) as [never, never, never];
    const scale = Array.from({ length: features }, (_, index) => 0.5 + (index % 3) * 0.5);
    const session = await createSession(modelOf(row), 'webgpu');
    const actual = await runOp(session, 'float', {
      Q: query,
      K: key,
      V: value,
      ...(row.opType === 'HydraAttention' ? { scale: { data: Float32Array.from(scale), dims: [features] } } : {}),
    });
    const expected =
      row.opType === 'HydraAttention'
        ? hydraAttentionReference(query, key, value, { scale })
        : linearAngularAttentionReference(query, key, value, { numHeads: row.numHeads, mode: row.mode as LinearAngularMode });
    expect(maxAbsDifference(actual, expected)).toBeLessThanOrEqual(1e-4);
    await session.release();
  });

  it.each(rows.filter((_, index) => index % 2 === 0 || index === 5))(
    '$opType $mode opset $opset: every node placed on the WebGPU EP',
    async (row) => {
      // Q, K, V are [B, N, D]; Hydra's optional scale is [D].
      const feeds = (inputs: readonly ort.InferenceSession.ValueMetadata[]) => ({
        ...randomFeeds(inputs.filter((input) => input.name !== 'scale_in'), { seed: 7, dims: { B: 2, Nq: 29, Nkv: 29, D: 48 } }),
        ...(inputs.some((input) => input.name === 'scale_in') ? { scale_in: new ort.Tensor('float32', new Float32Array(48).fill(1), [48]) } : {}),
      });
      await expectAllNodesOnWebGpu(encodeModelProtoToBytes(modelOf(row)), feeds);
    },
  );
});
