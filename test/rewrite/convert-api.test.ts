/**
 * convertAttention's contract: per-block selection, typed errors for bad options and out-of-range
 * indices, models with nothing convertible returned byte for byte, the input never modified, IR
 * version and opset imports raised as functions need, and several specialisations in one model
 * (distinct function overloads) loading in onnxruntime.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { convertAttention, findAttentionBlocks, type ConvertAttentionOptions } from '../../graph-rewrite/attention/index.js';
import { InvalidArgumentError, VitlinError } from '../../graph-rewrite/errors.js';
import { validateRewrittenModel } from '../../graph-rewrite/rewrite/index.js';
import { modelToBytes } from '../../src/model-io.js';
import { fixturePath, fusedNodes, loadFixture, loadManifest, opCounts, runModel, toFloat32View, type ManifestEntry } from './helpers.js';

const manifest = loadManifest();
const fixture = (name: string): ManifestEntry => {
  const entry = manifest.find((candidate) => candidate.name === name);
  if (entry === undefined) throw new Error(`fixture ${name} is missing from models/manifest.json`);
  return entry;
};

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

describe('per-block selection', () => {
  it.each([
    ['timm_vit', 'Softmax', ''],
    ['tv_vit_mha', 'Softmax', ''],
    ['ms_mha_vit', 'MultiHeadAttention', 'com.microsoft'],
  ])('%s: converting only block 1 leaves block 0 intact', async (name, anchorOp, domain) => {
    const original = await loadFixture(fixture(name));
    const { blocks } = findAttentionBlocks(original);
    const { model, converted, skipped } = convertAttention(original, { attention: 'hydra', blocks: [1] });
    expect(converted.map((block) => block.index)).toEqual([1]);
    expect(skipped).toEqual([]);
    const fused = fusedNodes(model);
    expect(fused).toHaveLength(1);
    const remaining = model.graph.nodes.filter((node) => node.opType === anchorOp && node.domain === domain);
    expect(remaining.map((node) => node.name)).toEqual([blocks[0]!.anchor]);
    // What is left is still one attention block: block 0, found as before.
    const after = findAttentionBlocks(model);
    expect(after.blocks.map((block) => [block.anchor, block.heads, block.headDim])).toEqual([[blocks[0]!.anchor, blocks[0]!.heads, blocks[0]!.headDim]]);

    const [originalRun, partialRun, fullRun] = await Promise.all([
      runModel(original),
      runModel(model),
      runModel(convertAttention(original, { attention: 'hydra' }).model),
    ]);
    const logits = (run: typeof originalRun): Float32Array => toFloat32View(Object.values(run.outputs)[0]!).data;
    expect(logits(partialRun)).not.toEqual(logits(originalRun));
    expect(logits(partialRun)).not.toEqual(logits(fullRun));
  });

  it('converts selected blocks in any order and ignores duplicates', async () => {
    const original = await loadFixture(fixture('hf_vit_op12'));
    const { converted } = convertAttention(original, { attention: 'linear-angular', blocks: [1, 0, 1] });
    expect(converted.map((block) => block.index)).toEqual([0, 1]);
  });

  it('lists selected blocks that cannot be converted in skipped, with the reason', async () => {
    const original = await loadFixture(fixture('swin_window_relpos'));
    const { converted, skipped } = convertAttention(original, { attention: 'hydra', blocks: [1] });
    expect(converted).toEqual([]);
    expect(skipped.map((entry) => entry.block.index)).toEqual([1]);
    expect(skipped[0]!.reason).toMatch(/Softmax '\/blocks\.1\/attn\/Softmax'.*Add '\/blocks\.1\/attn\/Add'.*relative-position bias/);
  });
});

describe('typed errors', () => {
  it.each([
    [[2], /index 2 out of range: the model has 2 attention blocks \(valid indices 0–1\)/],
    [[-1, 5, 0], /indices -1, 5 out of range: the model has 2 attention blocks \(valid indices 0–1\)/],
  ])('out-of-range blocks %j → InvalidArgumentError naming them and the valid range', async (blocks, message) => {
    const original = await loadFixture(fixture('timm_vit'));
    const error = thrown(() => convertAttention(original, { attention: 'hydra', blocks }));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as VitlinError).code).toBe('INVALID_ARGUMENT');
    expect((error as Error).message).toMatch(message);
  });

  it.each([
    [{ attention: 'softmax' }, /'options.attention' must be 'hydra' or 'linear-angular', got "softmax"/],
    [{ attention: 'hydra', blocks: [0.5] }, /'options.blocks' must be 'all' or an array of block indices/],
    [{ attention: 'hydra', blocks: 'first' }, /'options.blocks'/],
    [{ attention: 'hydra', eps: 0 }, /'options.eps' must be a positive number, got number 0/],
    [{ attention: 'linear-angular', linearAngularMode: 'exact' }, /'options.linearAngularMode' must be one of reference, kernel_normalized/],
  ])('bad options %j → InvalidArgumentError naming the option', async (options, message) => {
    const original = await loadFixture(fixture('timm_vit'));
    const error = thrown(() => convertAttention(original, options as unknown as ConvertAttentionOptions));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toMatch(message);
  });
});

describe('models with nothing to convert come back unchanged', () => {
  const leave = manifest.filter((entry) => entry.expect === 'leave');
  it.each(leave.map((entry) => [entry.name, entry] as const))('%s: byte-identical, every block skipped with its reason', async (_name, entry) => {
    const original = await loadFixture(entry);
    for (const attention of ['hydra', 'linear-angular'] as const) {
      const { model, converted, skipped } = convertAttention(original, { attention });
      expect(converted).toEqual([]);
      expect(skipped).toHaveLength(entry.attention_blocks);
      for (const { block, reason } of skipped) {
        expect(reason).toBe(block.reason);
        expect(reason).toContain(`Softmax '${block.anchor}'`);
      }
      expect(Buffer.from(modelToBytes(model)).equals(fs.readFileSync(fixturePath(entry)))).toBe(true);
    }
  });

  it('a converted model converts to itself (nothing left to find)', async () => {
    const { model } = convertAttention(await loadFixture(fixture('clip_vit')), { attention: 'hydra' });
    const again = convertAttention(model, { attention: 'hydra' });
    expect(again.converted).toEqual([]);
    expect(Buffer.from(modelToBytes(again.model)).equals(Buffer.from(modelToBytes(model)))).toBe(true);
  });
});

describe('the input model and the output model', () => {
  it('does not modify the input model', async () => {
    const original = await loadFixture(fixture('sdpa_vit'));
    const before = modelToBytes(original);
    convertAttention(original, { attention: 'linear-angular' });
    expect(Buffer.from(modelToBytes(original)).equals(Buffer.from(before))).toBe(true);
  });

  it('raises IR 7 to 8 (model-local functions) and imports ai.vitlin 1; keeps the ONNX opset', async () => {
    const original = await loadFixture(fixture('tv_vit_mha'));
    expect(original.irVersion).toBe(7);
    const { model } = convertAttention(original, { attention: 'hydra' });
    expect(model.irVersion).toBe(8);
    expect([...model.opsetImports]).toEqual([['', 14], ['ai.vitlin', 1]]);
    expect(model.functions.map((fn) => [fn.domain, fn.name, fn.overload ?? '', fn.opsetImports.get('')])).toEqual([['ai.vitlin', 'HydraAttention', '', 14]]);
  });

  it('removes the replaced nodes and the initializers only they used', async () => {
    const original = await loadFixture(fixture('timm_vit'));
    const { model } = convertAttention(original, { attention: 'hydra' });
    const counts = opCounts(model);
    const originalCounts = opCounts(original);
    // Per block: Transpose(qkv), Transpose(kᵀ), Transpose(out), Split, 3 Squeeze, Mul(scale), 2 MatMul, Softmax, Reshape(out) go;
    // 3 Slices and the fused node come; the packed Reshape stays only if something else reads it (nothing does).
    expect(counts['::Softmax'] ?? 0).toBe(0);
    expect(counts['::Split'] ?? 0).toBe(0);
    expect(counts['::Squeeze'] ?? 0).toBe(0);
    expect(counts['::Slice']).toBe((originalCounts['::Slice'] ?? 0) + 6);
    expect(counts['::MatMul']).toBe(originalCounts['::MatMul']! - 4);
    const used = new Set(model.graph.nodes.flatMap((node) => node.inputs.map((value) => value?.name)));
    for (const name of model.graph.initializers.keys()) expect(used.has(name), `initializer ${name} is used`).toBe(true);
  });

  it('holds several specialisations of one op as overloads (IR 10) that onnxruntime resolves', async () => {
    const original = await loadFixture(fixture('timm_vit'));
    const first = convertAttention(original, { attention: 'hydra', blocks: [0] });
    const second = convertAttention(first.model, { attention: 'hydra', blocks: [0], eps: 1e-4 });
    expect(second.converted).toHaveLength(1);
    const model = second.model;
    validateRewrittenModel(model);
    expect(model.functions.map((fn) => fn.overload ?? '')).toEqual(['', 'k1']);
    expect(fusedNodes(model).map((node) => [node.overload ?? '', node.getFloat('eps')])).toEqual([['', 1e-6], ['k1', expect.closeTo(1e-4, 10)]]);
    expect(model.irVersion).toBe(10);
    const { outputs } = await runModel(model);
    expect(toFloat32View(outputs['logits']!).data.every(Number.isFinite)).toBe(true);
  });

  it('mixes Hydra and linear-angular blocks in one model', async () => {
    const original = await loadFixture(fixture('deit_vit'));
    const first = convertAttention(original, { attention: 'hydra', blocks: [1] });
    const second = convertAttention(first.model, { attention: 'linear-angular' });
    expect(fusedNodes(second.model).map((node) => node.opType).sort()).toEqual(['HydraAttention', 'LinearAngularAttention']);
    const { outputs } = await runModel(second.model);
    expect(toFloat32View(outputs['logits']!).data.every(Number.isFinite)).toBe(true);
  });
});
