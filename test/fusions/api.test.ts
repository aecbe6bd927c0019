/**
 * fuseExactAttention / findExactFusions as an API: selecting blocks by index, argument errors naming
 * the argument and the valid range, models without decomposed linear attention left as they are.
 */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../graph-rewrite/errors.js';
import { findExactFusions, fuseExactAttention } from '../../graph-rewrite/fusions/index.js';
import { modelToBytes } from '../../src/model-io.js';
import { loadFixture, loadManifest } from '../rewrite/helpers.js';
import { expectedKinds, fuseEntries, loadEntry, maxAbsDifference, referenceOf, runFirstOutput } from './helpers.js';

/** The fixtures are committed: a missing one is a failure, not a skip. */
function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`models/manifest.json has no ${what}`);
  return value;
}

const entry = fuseEntries().find((candidate) => expectedKinds(candidate).length >= 2);

required(entry, 'fuse model with two or more fused blocks');

describe('selecting blocks', () => {
  it('fuses only the selected block; the others stay decomposed; outputs still equal', async () => {
    const model = await loadEntry(entry!);
    const { blocks } = findExactFusions(model);
    const { model: fused, fused: done, skipped } = fuseExactAttention(model, { blocks: [1] });
    expect(done.map((block) => block.index)).toEqual([1]);
    expect(done[0]!.anchor).toBe(blocks[1]!.anchor);
    expect(skipped).toEqual([]);
    expect(fused.graph.nodes.filter((node) => node.domain === 'ai.vitlin').length).toBe(1);
    expect(findExactFusions(fused).blocks.map((block) => block.anchor)).toEqual(blocks.filter((b) => b.index !== 1).map((b) => b.anchor));
    const { feeds } = referenceOf(entry!);
    expect(maxAbsDifference(await runFirstOutput(fused, feeds), await runFirstOutput(model, feeds))).toBeLessThanOrEqual(1e-5);
  });

  it('an empty selection returns an identical copy', async () => {
    const model = await loadEntry(entry!);
    const { model: copy, fused } = fuseExactAttention(model, { blocks: [] });
    expect(fused).toEqual([]);
    expect(copy).not.toBe(model);
    expect(Buffer.compare(modelToBytes(copy), modelToBytes(model))).toBe(0);
  });

  it('out-of-range and malformed selections throw InvalidArgumentError naming the valid range', async () => {
    const model = await loadEntry(entry!);
    const count = findExactFusions(model).blocks.length;
    expect(() => fuseExactAttention(model, { blocks: [count] })).toThrow(InvalidArgumentError);
    expect(() => fuseExactAttention(model, { blocks: [count, -1] })).toThrow(
      `'options.blocks' has indices ${count}, -1 out of range: the model has ${count} exact-fusion blocks (valid indices 0–${count - 1})`,
    );
    expect(() => fuseExactAttention(model, { blocks: 'some' as unknown as 'all' })).toThrow(/'options.blocks' must be 'all' or an array of block indices/);
    expect(() => fuseExactAttention(model, null as unknown as object)).toThrow(InvalidArgumentError);
  });
});

describe('models without decomposed linear attention', () => {
  it.each(['timm_vit', 'swin_window_relpos'])('%s: no blocks found, an identical copy returned', async (name) => {
    const model = await loadFixture(loadManifest().find((candidate) => candidate.name === name)!);
    expect(findExactFusions(model).blocks).toEqual([]);
    const { model: copy, fused, skipped } = fuseExactAttention(model);
    expect([fused, skipped]).toEqual([[], []]);
    expect(Buffer.compare(modelToBytes(copy), modelToBytes(model))).toBe(0);
  });
});
