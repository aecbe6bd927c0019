/** `vitlin inspect` on every fixture: blocks agree with the manifest, FLOPs follow the cost model. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODELS, BUILD_TIMEOUT_MS, ensureBuilt, expectOneLineError, manifest, tempFolder, vitlin } from './helpers.js';

const tmp = tempFolder();
beforeAll(() => {
  ensureBuilt();
  writeFileSync(join(tmp.path, 'garbage.onnx'), Buffer.from([0xff, 0xff, 0xff, 0x0f, 1, 2, 3]));
}, BUILD_TIMEOUT_MS);
afterAll(() => tmp.cleanup());

const fixtures = manifest().models.filter((m) => !m.trained);

describe('vitlin inspect', () => {
  it.each(fixtures.map((m) => [m.name, m] as const))('%s: blocks and FLOPs match the manifest', async (_, entry) => {
    const r = await vitlin(['inspect', join(MODELS, entry.file), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.blocks).toHaveLength(entry.attention_blocks);
    report.blocks.forEach((block: Record<string, unknown>, i: number) => {
      expect(block).toMatchObject({ index: i, heads: entry.blocks[i]!.heads, headDim: entry.blocks[i]!.head_dim, convertible: entry.expect !== 'leave' });
      expect(typeof block.style).toBe('string');
      if (typeof entry.tokens === 'number') expect(block.tokens).toBe(entry.tokens);
      if (entry.expect === 'leave') expect(block.reason).toMatch(/bias|mask/);
      else expect(block.reason).toBeUndefined();
    });
    const { softmax, hydra } = report.flops;
    expect(softmax.total).toBeCloseTo(softmax.attention + softmax.rest, 6);
    expect(report.flops.uncounted).toEqual([]);
    if (entry.expect === 'convert') {
      // Per block: softmax = 4·N²·D + N²·H; Hydra = 4·N·D (docs/reference.md cost model, FLOPs = 2·MACs).
      const n = entry.tokens as number;
      const D = entry.heads * entry.head_dim;
      expect(softmax.attention).toBe(entry.attention_blocks * (4 * n * n * D + n * n * entry.heads));
      expect(hydra.attention).toBe(entry.attention_blocks * 4 * n * D);
      expect(hydra.rest).toBe(softmax.rest);
      expect(hydra.total).toBeLessThan(softmax.total);
    } else {
      expect(hydra.total).toBe(softmax.total); // nothing convertible: nothing changes
    }
    expect(report.parameters).toBeGreaterThan(1000);
    expect(report.inputs[0].dtype).toBe(entry.file.includes('fp16') ? 'float16' : entry.name === 'bert_mask' ? 'int64' : 'float32');
  });

  it('prints the summary, the block table, the reasons and the FLOP table', async () => {
    const r = await vitlin(['inspect', join(MODELS, 'swin_window_relpos.onnx')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/opsets\s+ai\.onnx 17/);
    expect(r.stdout).toMatch(/parameters\s+[\d,]+ \(/);
    expect(r.stdout).toMatch(/inputs\s+pixel_values\s+float32 \[1, 3, 32, 32\]/);
    expect(r.stdout).toMatch(/attention blocks: 2 \(0 convertible\)/);
    expect(r.stdout).toMatch(/block 0: Softmax '\/blocks\.0\/attn\/Softmax': .*relative-position bias/);
    expect(r.stdout).toMatch(/as is\s+[\d.]+ kFLOPs/);
    expect(r.stdout).not.toMatch(/\x1b\[/); // no colour when stdout is not a TTY
  });

  it.each([['timm_vit', 'hydra', 'HydraAttention'], ['tv_vit_mha', 'linear-angular', 'LinearAngularAttention']] as const)(
    'lists the fused ops of %s converted to %s', async (name, attention, opType) => {
      const entry = manifest().models.find((m) => m.name === name)!;
      const out = join(tmp.path, `${name}-${attention}.onnx`);
      expect((await vitlin(['convert', join(MODELS, entry.file), '-o', out, '--attention', attention, '--check-count', '1'])).code).toBe(0);
      const report = JSON.parse((await vitlin(['inspect', out, '--json'])).stdout);
      expect(report.blocks).toEqual([]);
      expect(report.fused).toHaveLength(entry.attention_blocks);
      const n = entry.tokens as number;
      const D = entry.heads * entry.head_dim;
      for (const op of report.fused) {
        expect(op).toMatchObject({ opType, tokens: n, calibrated: false });
        expect(op.heads * op.headDim).toBe(D);
        // The cost model (FLOPs = 2·MACs): Hydra 4·N·D, linear-angular 4·N·d²·H.
        expect(op.flops).toBe(attention === 'hydra' ? 4 * n * D : 4 * n * entry.head_dim * entry.head_dim * entry.heads);
      }
      const text = (await vitlin(['inspect', out])).stdout;
      expect(text).toContain(`fused attention ops (ai.vitlin): ${entry.attention_blocks} (${entry.attention_blocks} ${opType})`);
      expect(text).toMatch(new RegExp(`^0\\s+${opType}\\s+\\S+\\s+${report.fused[0].heads}\\s+${report.fused[0].headDim}\\s+${n}\\s`, 'm'));
      expect(text).toMatch(/^softmax attention blocks: 0$/m);
    });

  it('counts a dynamic model at the batch asked for', async () => {
    const one = JSON.parse((await vitlin(['inspect', join(MODELS, 'hf_vit_op17_dyn.onnx'), '--json'])).stdout);
    const four = JSON.parse((await vitlin(['inspect', join(MODELS, 'hf_vit_op17_dyn.onnx'), '--json', '--batch', '4'])).stdout);
    expect(four.flops.softmax.total).toBe(4 * one.flops.softmax.total);
  });

  const bad: [string, string[], number, RegExp][] = [
    ['a missing file', ['inspect', join(tmp.path, 'missing.onnx')], 1, /missing\.onnx: no such file/],
    ['a non-ONNX file', ['inspect', join(tmp.path, 'garbage.onnx')], 1, /garbage\.onnx/],
    ['two models', ['inspect', join(MODELS, 'timm_vit.onnx'), join(MODELS, 'timm_vit.onnx')], 2, /unexpected argument/],
    ['a bad --dims', ['inspect', join(MODELS, 'bert_mask.onnx'), '--dims', 'sequence'], 2, /--dims: expected name=positive integer/],
  ];
  it.each(bad)('fails on %s with a one-line error and the right exit code', async (_, args, code, message) => {
    const r = await vitlin(args);
    expect(r.code).toBe(code);
    expect(expectOneLineError(r)).toMatch(message);
    expect(r.stdout).toBe('');
  });
});
