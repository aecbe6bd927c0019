/**
 * Converted fixtures on onnxruntime-node's WebGPU EP (SwiftShader's Vulkan on machines without a GPU,
 * chosen by src/runtime/webgpu-env.ts). A few fixtures only — SwiftShader is slow:
 * - each fused node's Y equals the reference kernel on its Q, K, V (≤ 1e-4);
 * - no node of an inlined function body runs on the CPU EP: with graph optimisations off, the nodes
 *   onnxruntime runs that are not in the model's graph are exactly the inlined body nodes, and each
 *   must be on WebGPU; with optimisations on (measureNodePlacement), what falls back to CPU is reported.
 * float16 is not run here: SwiftShader has no shader-f16.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { convertAttention, type ConvertAttentionOptions } from '../../graph-rewrite/attention/index.js';
import type { Model } from '../../graph-rewrite/ir/index.js';
import { modelToBytes } from '../../src/model-io.js';
import { createSession, measureNodePlacement, parseProfile, randomFeeds, type Feeds, type NodePlacement } from '../../src/runtime/index.js';
import { FEED_DIMS, exposeFusedNodes, fusedNodes, loadFixture, loadManifest, maxAbsoluteError, referenceOutput, toFloat32View } from './helpers.js';

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

async function webGpuUnavailableReason(): Promise<string | undefined> {
  try {
    const session = await createSession(modelToBytes(await converted('timm_vit', { attention: 'hydra' })), { ep: 'webgpu' });
    await session.release();
    return undefined;
  } catch (error) {
    return String(error);
  }
}

const unavailable = await webGpuUnavailableReason();
if (unavailable !== undefined) console.warn(`WebGPU tests skipped: ${unavailable}`);

/** Node placement with graph optimisations off, so every node keeps its model or inlined identity. */
async function unoptimisedPlacement(bytes: Uint8Array): Promise<{ placement: NodePlacement; feeds: Feeds }> {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'vitlin-rewrite-webgpu-'));
  try {
    const session = await createSession(bytes, { ep: 'webgpu', graphOptimizationLevel: 'disabled', profileFilePrefix: path.join(folder, 'profile') });
    try {
      const feeds = randomFeeds(session.inputs, { seed: 3, dims: FEED_DIMS });
      await session.run(feeds);
      const file = session.endProfiling()!;
      return { placement: parseProfile(JSON.parse(fs.readFileSync(file, 'utf8')), 'webgpu'), feeds };
    } finally {
      await session.release();
    }
  } finally {
    fs.rmSync(folder, { recursive: true, force: true });
  }
}

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
    const bytes = modelToBytes(model);
    const graphNodes = new Set(model.graph.nodes.map((node) => node.name));
    const bodyOps = new Set(model.functions.flatMap((fn) => fn.nodes.map((node) => node.opType)));

    // onnxruntime names inlined body nodes `<OpType>_<n>` (Constants become initializers); the WebGPU EP's
    // layout transformation may still rename Transposes. So: every op of the bodies must appear among the
    // nodes that are not the model's (at least as often as the bodies hold it, Transposes aside), and
    // every such node must run on WebGPU.
    const expectedByOp = new Map<string, number>();
    for (const node of fusedNodes(model)) {
      for (const bodyNode of model.findFunction(node.domain, node.opType, node.overload)!.nodes) {
        if (bodyNode.opType !== 'Constant') expectedByOp.set(bodyNode.opType, (expectedByOp.get(bodyNode.opType) ?? 0) + 1);
      }
    }
    const { placement: plain, feeds } = await unoptimisedPlacement(bytes);
    const inlined = plain.nodes.filter((node) => !graphNodes.has(node.name) && bodyOps.has(node.opType));
    for (const [opType, count] of expectedByOp) {
      if (opType === 'Transpose') continue;
      expect(inlined.filter((node) => node.opType === opType).length, opType).toBeGreaterThanOrEqual(count);
    }
    expect(inlined.filter((node) => node.provider !== 'WebGpuExecutionProvider')).toEqual([]);

    const optimised = await measureNodePlacement(bytes, feeds, 'webgpu');
    const bodyFallbacks = optimised.fallbackNodes.filter((node) => !graphNodes.has(node.name) && bodyOps.has(node.opType));
    expect(bodyFallbacks).toEqual([]);
    const onCpu = optimised.fallbackNodes.map((node) => `${node.opType} '${node.name}'`);
    report.push(`${fixture} ${options.attention}: ${inlined.length} inlined body nodes, all on WebGPU; optimised run ${JSON.stringify(optimised.countByProvider)}; on CPU: ${onCpu.length === 0 ? 'nothing' : onCpu.join(', ')}`);
  });

  it('report', () => {
    console.log(report.join('\n'));
  });
});
