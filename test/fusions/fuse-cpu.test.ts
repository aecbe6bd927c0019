/**
 * Exact fusion on every manifest entry with `expect: "fuse"` (real onnxruntime-node sessions, CPU EP):
 * the fused blocks are exactly the manifest's Hydra / linear-angular blocks, no decomposed attention
 * is left, and the fused model computes what the original does (≤ 1e-5) on the recorded reference
 * input and on random inputs.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { findExactFusions, fuseExactAttention, type FuseExactAttentionResult } from '../../graph-rewrite/fusions/index.js';
import type { Model } from '../../graph-rewrite/ir/index.js';
import { modelToBytes } from '../../src/model-io.js';
import {
  countOps, expectedKinds, fuseEntries, loadEntry, maxAbsDifference, referenceOf, runFirstOutput, seededFeeds, softmaxBlocks, type FuseEntry,
} from './helpers.js';

const entries = fuseEntries();
const report: string[] = [];

const OP_OF_KIND = { hydra: 'HydraAttention', 'linear-angular': 'LinearAngularAttention', 'castling-switch': 'LinearAngularAttention' } as const;

/** Ops of decomposed attention: norms (ReduceL2, or Mul/ReduceSum/Sqrt), their Clip, token sums. */
const DECOMPOSED_MARKERS = ['ReduceL2', 'Sqrt', 'ReduceSum', 'Clip'] as const;

it('the manifest has fuse fixtures of every exact-fusion kind', () => {
  const kinds = new Set(entries.flatMap(expectedKinds));
  expect([...kinds].sort()).toEqual(['castling-switch', 'hydra', 'linear-angular']);
});

describe.each(entries.map((entry) => [entry.name, entry] as const))('%s', (name, entry: FuseEntry) => {
  let original: Model;
  let result: FuseExactAttentionResult;

  beforeAll(async () => {
    original = await loadEntry(entry);
    result = fuseExactAttention(original);
  });

  it('fuses exactly the manifest blocks of Hydra / linear-angular kind, skipping none', () => {
    const expected = expectedKinds(entry);
    expect(expected.length).toBeGreaterThan(0);
    expect(result.skipped).toEqual([]);
    expect(result.fused.map((block) => block.kind)).toEqual(expected);
    const manifestBlocks = entry.blocks.filter((block) => block.kind !== 'softmax');
    expect(result.fused.map((block) => [block.heads, block.headDim])).toEqual(manifestBlocks.map((block) => [block.heads, block.head_dim]));
    const fusedNodes = result.model.graph.nodes.filter((node) => node.domain === 'ai.vitlin');
    expect(fusedNodes.map((node) => node.opType)).toEqual(expected.map((kind) => OP_OF_KIND[kind]));
    expect(fusedNodes.map((node) => node.name)).toEqual(result.fused.map((block) => block.fusedNode));
  });

  it('leaves no decomposed attention: no norms, token sums or clamps; Softmax only in softmax blocks; the depthwise convs kept', () => {
    const [before, after] = [countOps(original), countOps(result.model)];
    const markersBefore = DECOMPOSED_MARKERS.reduce((n, op) => n + (before[op] ?? 0), 0);
    expect(markersBefore).toBeGreaterThanOrEqual(2 * expectedKinds(entry).length);
    for (const op of DECOMPOSED_MARKERS) expect(after[op] ?? 0, op).toBe(0);
    expect(after['Softmax'] ?? 0).toBe(softmaxBlocks(entry));
    expect(after['Conv'] ?? 0).toBe(before['Conv'] ?? 0);
    expect(result.model.functions.length).toBeGreaterThan(0);
  });

  it('computes what the original does on the reference input (≤ 1e-5), and the PyTorch output within 1e-4', async () => {
    const { feeds, output } = referenceOf(entry);
    const [expected, actual] = await Promise.all([runFirstOutput(original, feeds), runFirstOutput(result.model, feeds)]);
    const error = maxAbsDifference(actual, expected);
    report.push(`${name}: ${result.fused.length} fused (${result.fused.map((b) => b.kind).join(', ')}), reference input max abs ${error.toExponential(2)}`);
    expect(error).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDifference(actual, output)).toBeLessThanOrEqual(1e-4);
  });

  it('computes what the original does on random inputs, batch 3 (≤ 1e-5)', async () => {
    for (const seed of [1, 2]) {
      const feeds = await seededFeeds(original, seed);
      const error = maxAbsDifference(await runFirstOutput(result.model, feeds), await runFirstOutput(original, feeds));
      report.push(`${name}: random inputs (seed ${seed}) max abs ${error.toExponential(2)}`);
      expect(error).toBeLessThanOrEqual(1e-5);
    }
  });

  it('findExactFusions reports the same blocks, all fusable, without changing the model', () => {
    const before = modelToBytes(original);
    const { blocks } = findExactFusions(original);
    expect(blocks.map((block) => [block.index, block.kind, block.fusable])).toEqual(result.fused.map((block) => [block.index, block.kind, true]));
    expect(Buffer.compare(modelToBytes(original), before)).toBe(0);
  });
});

it('report', () => {
  console.log(report.join('\n'));
});
