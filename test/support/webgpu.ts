/**
 * Shared setup of the WebGPU EP tests (custom-ops, fusions, rewrite): whether onnxruntime-node's WebGPU
 * EP works on this machine — SwiftShader's Vulkan where there is no GPU, chosen by
 * src/runtime/webgpu-env.ts before the first WebGPU session — and assertions on where onnxruntime ran
 * each node, read from its profiler by measureNodePlacement.
 */
import { expect } from 'vitest';
import type { Model } from '../../graph-rewrite/ir/index.js';
import { modelToBytes } from '../../src/model-io.js';
import { createSession, measureNodePlacement, type Feeds, type RuntimeSession } from '../../src/runtime/index.js';

type FeedsFor = Feeds | ((inputs: RuntimeSession['inputs']) => Feeds);

/**
 * Why the WebGPU tests must be skipped here, or undefined when a WebGPU session on the probe model
 * loads. `probe` is the model's bytes, or already a reason (nothing to probe with). A reason is printed.
 */
export async function webGpuUnavailableReason(probe: string | (() => Promise<Uint8Array> | Uint8Array)): Promise<string | undefined> {
  let reason: string | undefined;
  if (typeof probe === 'string') {
    reason = probe;
  } else {
    try {
      const session = await createSession(await probe(), { ep: 'webgpu' });
      await session.release();
    } catch (error) {
      reason = String(error);
    }
  }
  // CI installs chromium + libvulkan1 (.ci/run), so WebGPU must work there: a skip would hide a regression.
  if (reason !== undefined && process.env.CI) throw new Error(`WebGPU must work in CI (SwiftShader from chromium + libvulkan1): ${reason}`);
  if (reason !== undefined) console.warn(`WebGPU tests skipped: ${reason}`);
  return reason;
}

/** Every node onnxruntime runs for `model` is on the WebGPU EP: none falls back to the CPU. */
export async function expectAllNodesOnWebGpu(model: Uint8Array, feeds: FeedsFor): Promise<void> {
  const placement = await measureNodePlacement(model, feeds, 'webgpu');
  expect(placement.nodes.length).toBeGreaterThan(0);
  expect(placement.fallbackNodes).toEqual([]);
}

/**
 * No node of `model`'s inlined function bodies (the vitlin fused ops) runs on the CPU EP. With graph
 * optimisations off, the nodes onnxruntime runs that are not in the model's graph are the inlined body
 * nodes: every op of the bodies must be among them, at least as often as the bodies hold it (Constants
 * become initializers; the WebGPU EP's layout pass may rename Transposes), and each must be on WebGPU.
 * With optimisations on, no body node may fall back. Returns a line for the test's report.
 */
export async function expectInlinedBodiesOnWebGpu(model: Model, feeds: FeedsFor): Promise<string> {
  const bytes = modelToBytes(model);
  const graphNodes = new Set(model.graph.nodes.map((node) => node.name));
  const bodyOps = new Set(model.functions.flatMap((fn) => fn.nodes.map((node) => node.opType)));
  const expectedByOp = new Map<string, number>();
  for (const node of model.graph.nodes.filter((n) => n.domain === 'ai.vitlin')) {
    for (const bodyNode of model.findFunction(node.domain, node.opType, node.overload)!.nodes) {
      if (bodyNode.opType !== 'Constant' && bodyNode.opType !== 'Transpose') expectedByOp.set(bodyNode.opType, (expectedByOp.get(bodyNode.opType) ?? 0) + 1);
    }
  }
  expect(expectedByOp.size).toBeGreaterThan(0);

  const plain = await measureNodePlacement(bytes, feeds, 'webgpu', { graphOptimizationLevel: 'disabled' });
  const inlined = plain.nodes.filter((node) => !graphNodes.has(node.name) && bodyOps.has(node.opType));
  for (const [opType, count] of expectedByOp) expect(inlined.filter((node) => node.opType === opType).length, opType).toBeGreaterThanOrEqual(count);
  expect(inlined.filter((node) => node.provider !== 'WebGpuExecutionProvider')).toEqual([]);

  const optimised = await measureNodePlacement(bytes, feeds, 'webgpu');
  const bodyFallbacks = optimised.fallbackNodes.filter((node) => !graphNodes.has(node.name) && bodyOps.has(node.opType));
  expect(bodyFallbacks).toEqual([]);
  const onCpu = optimised.fallbackNodes.map((node) => `${node.opType} '${node.name}'`);
  return `${inlined.length} inlined body nodes, all on WebGPU; optimised run ${JSON.stringify(optimised.countByProvider)}; on CPU: ${onCpu.length === 0 ? 'nothing' : onCpu.join(', ')}`;
}
