/**
 * Exactly fused fixtures on onnxruntime-node's WebGPU EP (SwiftShader's Vulkan on machines without a
 * GPU — slow, so one Hydra and one linear-angular fixture): outputs within 1e-4 of the CPU EP's, and
 * no node of the inlined function bodies runs on the CPU EP (measureNodePlacement, plus a run with
 * graph optimisations off, where every inlined body node keeps its identity).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fuseExactAttention } from '../../graph-rewrite/fusions/index.js';
import type { Model } from '../../graph-rewrite/ir/index.js';
import { modelToBytes } from '../../src/model-io.js';
import { createSession, measureNodePlacement, parseProfile, type NodePlacement } from '../../src/runtime/index.js';
import { fuseEntries, loadEntry, maxAbsDifference, runFirstOutput, seededFeeds, type FuseEntry } from './helpers.js';

const entries = fuseEntries();
const chosen = [
  entries.find((entry) => entry.blocks.some((block) => block.kind === 'hydra')),
  entries.find((entry) => entry.blocks.some((block) => block.kind.startsWith('linear-angular'))),
].filter((entry): entry is FuseEntry => entry !== undefined);

async function webGpuUnavailableReason(): Promise<string | undefined> {
  if (chosen.length === 0) return 'no fuse fixtures';
  try {
    const session = await createSession(modelToBytes(fuseExactAttention(await loadEntry(chosen[0]!)).model), { ep: 'webgpu' });
    await session.release();
    return undefined;
  } catch (error) {
    return String(error);
  }
}

const unavailable = await webGpuUnavailableReason();
if (unavailable !== undefined) console.warn(`WebGPU tests skipped: ${unavailable}`);
const report: string[] = [];

/** Placement with graph optimisations off: onnxruntime's inlined body nodes are the nodes not in the model's graph. */
async function unoptimisedPlacement(bytes: Uint8Array, model: Model): Promise<NodePlacement> {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'vitlin-fusions-webgpu-'));
  try {
    const session = await createSession(bytes, { ep: 'webgpu', graphOptimizationLevel: 'disabled', profileFilePrefix: path.join(folder, 'profile') });
    try {
      await session.run(await seededFeeds(model, 3, 2));
      return parseProfile(JSON.parse(fs.readFileSync(session.endProfiling()!, 'utf8')), 'webgpu');
    } finally {
      await session.release();
    }
  } finally {
    fs.rmSync(folder, { recursive: true, force: true });
  }
}

(unavailable === undefined ? describe : describe.skip).each(chosen.map((entry) => [entry.name, entry] as const))('%s fused, on the WebGPU EP', (name, entry) => {
  it('gives the CPU EP\'s outputs (≤ 1e-4) and the original\'s', async () => {
    const original = await loadEntry(entry);
    const fused = fuseExactAttention(original).model;
    const feeds = await seededFeeds(original, 5, 2);
    const gpu = await runFirstOutput(fused, feeds, 'webgpu');
    const [cpu, reference] = [await runFirstOutput(fused, feeds, 'cpu'), await runFirstOutput(original, feeds, 'cpu')];
    const [error, vsOriginal] = [maxAbsDifference(gpu, cpu), maxAbsDifference(gpu, reference)];
    report.push(`${name}: WebGPU vs CPU max abs ${error.toExponential(2)}, vs the original on CPU ${vsOriginal.toExponential(2)}`);
    expect(error).toBeLessThanOrEqual(1e-4);
    expect(vsOriginal).toBeLessThanOrEqual(1e-4);
  }, 300_000);

  it('runs no node of the inlined function bodies on the CPU EP', async () => {
    const original = await loadEntry(entry);
    const fused = fuseExactAttention(original).model;
    const bytes = modelToBytes(fused);
    const graphNodes = new Set(fused.graph.nodes.map((node) => node.name));
    const bodyOps = new Set(fused.functions.flatMap((fn) => fn.nodes.map((node) => node.opType)));

    const plain = await unoptimisedPlacement(bytes, fused);
    const inlined = plain.nodes.filter((node) => !graphNodes.has(node.name) && bodyOps.has(node.opType));
    // Every op of the bodies appears among the nodes that are not the model's, at least as often as the
    // bodies hold it (Constants become initializers; the layout pass may rename Transposes).
    const expectedByOp = new Map<string, number>();
    for (const node of fused.graph.nodes.filter((n) => n.domain === 'ai.vitlin')) {
      for (const bodyNode of fused.findFunction(node.domain, node.opType, node.overload)!.nodes) {
        if (bodyNode.opType !== 'Constant' && bodyNode.opType !== 'Transpose') expectedByOp.set(bodyNode.opType, (expectedByOp.get(bodyNode.opType) ?? 0) + 1);
      }
    }
    expect(expectedByOp.size).toBeGreaterThan(0);
    for (const [opType, count] of expectedByOp) expect(inlined.filter((node) => node.opType === opType).length, opType).toBeGreaterThanOrEqual(count);
    expect(inlined.filter((node) => node.provider !== 'WebGpuExecutionProvider')).toEqual([]);

    const optimised = await measureNodePlacement(bytes, await seededFeeds(fused, 3, 2), 'webgpu');
    const bodyFallbacks = optimised.fallbackNodes.filter((node) => !graphNodes.has(node.name) && bodyOps.has(node.opType));
    expect(bodyFallbacks).toEqual([]);
    const onCpu = optimised.fallbackNodes.map((node) => `${node.opType} '${node.name}'`);
    report.push(`${name}: ${inlined.length} inlined body nodes, all on WebGPU; optimised ${JSON.stringify(optimised.countByProvider)}; on CPU: ${onCpu.length === 0 ? 'nothing' : onCpu.join(', ')}`);
  }, 300_000);
});

it('report', () => {
  console.log(report.join('\n'));
});
