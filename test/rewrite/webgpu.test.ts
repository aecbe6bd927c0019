/**
 * Converted fixtures on onnxruntime-node's WebGPU EP (SwiftShader's Vulkan on machines without a GPU,
 * chosen by src/runtime/webgpu-env.ts). A few fixtures only — SwiftShader is slow:
 * - each fused node's Y equals the reference kernel on its Q, K, V (≤ 1e-4);
 * - no node of an inlined function body runs on the CPU EP: with graph optimisations off, the nodes
 *   onnxruntime runs that are not in the model's graph are exactly the inlined body nodes, and each
 *   must be on WebGPU; with optimisations on (measureNodePlacement), what falls back to CPU is reported.
 * float16 is not run here: SwiftShader has no shader-f16.
 */
import { describe, expect, it } from 'vitest';
import { convertAttention, type ConvertAttentionOptions } from '../../graph-rewrite/attention/index.js';
import type { Model } from '../../graph-rewrite/ir/index.js';
import { modelToBytes } from '../../src/model-io.js';
import { createSession, randomFeeds } from '../../src/runtime/index.js';
import { expectInlinedBodiesOnWebGpu, webGpuUnavailableReason } from '../support/webgpu.js';
import { FEED_DIMS, exposeFusedNodes, loadFixture, loadManifest, maxAbsoluteError, referenceOutput, toFloat32View } from './helpers.js';

const manifest = loadManifest();

const CASES: readonly { fixture: string; options: ConvertAttentionOptions }[] = [
  { fixture: 'timm_vit', options: { attention: 'hydra' } },
  { fixture: 'tv_vit_mha', options: { attention: 'linear-angular' } },
  { fixture: 'hf_vit_op17_dyn', options: { attention: 'linear-angular', linearAngularMode: 'kernel_normalized' } },
  { fixture: 'ms_attention_vit', options: { attention: 'hydra' } },
];

async function converted(name: string, options: ConvertAttentionOptions): Promise<Model> {
  const entry = manifest.find((candidate) => candidate.name === name)!;
  return convertAttention(await loadFixture(entry), options).model;
}

const unavailable = await webGpuUnavailableReason(async () => modelToBytes(await converted('timm_vit', { attention: 'hydra' })));

const report: string[] = [];

describe.skipIf(unavailable !== undefined)('converted models on the WebGPU EP', () => {
  it.each(CASES)('$fixture → $options.attention $options.linearAngularMode: fused outputs equal the reference (≤ 1e-4)', async ({ fixture, options }) => {
    const { model, exposed } = exposeFusedNodes(await converted(fixture, options));
    const session = await createSession(modelToBytes(model), { ep: 'webgpu' });
    try {
      const outputs = await session.run(randomFeeds(session.inputs, { seed: 5, dims: FEED_DIMS }));
      expect(exposed.length).toBeGreaterThan(0);
      for (const node of exposed) {
        const error = maxAbsoluteError(toFloat32View(outputs[node.names.Y]!), referenceOutput(node, outputs));
        report.push(`${fixture} ${options.attention} ${node.node}: WebGPU max abs error ${error.toExponential(2)}`);
        expect(error, node.node).toBeLessThanOrEqual(1e-4);
      }
    } finally {
      await session.release();
    }
  });

  it.each(CASES)('$fixture → $options.attention: no inlined function node runs on the CPU EP', async ({ fixture, options }) => {
    const model = await converted(fixture, options);
    const placement = await expectInlinedBodiesOnWebGpu(model, (inputs) => randomFeeds(inputs, { seed: 3, dims: FEED_DIMS }));
    report.push(`${fixture} ${options.attention}: ${placement}`);
  });

  it('report', () => {
    console.log(report.join('\n'));
  });
});
