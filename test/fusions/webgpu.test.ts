/**
 * Exactly fused fixtures on onnxruntime-node's WebGPU EP (SwiftShader's Vulkan on machines without a
 * GPU — slow, so one Hydra, one linear-angular (reference) and one kernel-normalised Castling fixture):
 * outputs within 1e-4 of the CPU EP's, and
 * no node of the inlined function bodies runs on the CPU EP (measureNodePlacement, plus a run with
 * graph optimisations off, where every inlined body node keeps its identity).
 */
import { describe, expect, it } from 'vitest';
import { fuseExactAttention } from '../../graph-rewrite/fusions/index.js';
import { modelToBytes } from '../../src/model-io.js';
import { expectInlinedBodiesOnWebGpu, webGpuUnavailableReason } from '../support/webgpu.js';
import { fuseEntries, loadEntry, maxAbsDifference, runFirstOutput, seededFeeds, type FuseEntry } from './helpers.js';

const entries = fuseEntries();
const chosen = [
  entries.find((entry) => entry.blocks.some((block) => block.kind === 'hydra')),
  entries.find((entry) => entry.blocks.some((block) => block.kind.startsWith('linear-angular'))),
  // the kernel-normalised form with the grid conv and the Mul-by-0 gate (the fused op's other mode)
  entries.find((entry) => entry.blocks.some((block) => block.form === 'kernel-normalized' && block.conv === 'grid' && block.gate_form === 'mul0')),
].filter((entry): entry is FuseEntry => entry !== undefined);

const unavailable = await webGpuUnavailableReason(chosen.length === 0 ? 'no fuse fixtures' : async () => modelToBytes(fuseExactAttention(await loadEntry(chosen[0]!)).model));
const report: string[] = [];

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
    report.push(`${name}: ${await expectInlinedBodiesOnWebGpu(fused, await seededFeeds(fused, 3, 2))}`);
  }, 300_000);
});

it('report', () => {
  console.log(report.join('\n'));
});
