/**
 * findAttentionBlocks on every fixture of models/manifest.json: the blocks found agree with the
 * manifest (count, heads, head dim, scale placement, tokens, dtype), convertible models have every
 * block convertible and no unexplained Softmax, and `leave` models have none convertible, each with the
 * manifest's reason category and the node it is about.
 */
import { describe, expect, it } from 'vitest';
import { findAttentionBlocks, type AttentionStyle } from '../../graph-rewrite/attention/index.js';
import { loadFixture, loadManifest } from './helpers.js';

const manifest = loadManifest();

/** The style each known fixture is exported in. */
const EXPECTED_STYLE: Readonly<Record<string, AttentionStyle>> = {
  tv_vit_mha: 'torch-mha',
  hf_vit_op12: 'hf',
  hf_vit_op17_dyn: 'hf',
  timm_vit: 'timm-packed',
  sdpa_vit: 'sdpa',
  clip_vit: 'clip-bmm',
  deit_vit: 'timm-packed',
  timm_vit_fp16: 'timm-packed',
  onnx_attention23_vit: 'onnx.Attention',
  ms_mha_vit: 'com.microsoft.MultiHeadAttention',
  ms_attention_vit: 'com.microsoft.Attention',
  swin_window_relpos: 'timm-packed',
  bert_mask: 'hf',
  fmnist_softmax: 'timm-packed',
};

/** What a `leave` block's reason must say, per manifest block kind. */
const REASON_CATEGORY: Readonly<Record<string, RegExp>> = {
  'softmax+relpos-bias': /additive input \(Add '[^']+' with a constant \[[^\]]+\] bias\).*relative-position bias/,
  'softmax+mask': /additive input \(Add '[^']+' with a \[[^\]]+\] mask computed from graph input '[^']+'\).*attention mask/,
};

/**
 * Manifest blocks the softmax / fused-op rules find. Decomposed Hydra and linear-angular blocks belong to
 * the exact-fusion rules, and so does Castling's gated auxiliary softmax branch: it is not a softmax block
 * of its own, and must be explained as unmatched instead (checked below).
 */
const FOUND_KINDS = new Set(['softmax', 'onnx-attention', 'ms-multiheadattention', 'ms-attention', 'softmax+relpos-bias', 'softmax+mask']);
const GATED_AUX_KIND = 'linear-angular+softmax-aux';

describe('findAttentionBlocks on the fixtures', () => {
  it('has fixtures to test', () => {
    expect(manifest.length).toBeGreaterThanOrEqual(13);
  });

  describe.each(manifest.map((entry) => [entry.name, entry] as const))('%s', (_name, entry) => {
    const expectedBlocks = entry.blocks.filter((block) => FOUND_KINDS.has(block.kind));

    it('finds the manifest blocks in graph order (heads, head dim, scale, tokens, dtype)', async () => {
      const { blocks } = findAttentionBlocks(await loadFixture(entry));
      expect(blocks.map((block) => block.index)).toEqual(expectedBlocks.map((_, i) => i));
      expect(blocks.map((block) => [block.heads, block.headDim])).toEqual(expectedBlocks.map((block) => [block.heads, block.head_dim]));
      blocks.forEach((block, i) => {
        const manifestBlock = expectedBlocks[i]!;
        if (manifestBlock.scale !== undefined) expect(block.scale.placement).toBe(manifestBlock.scale);
        expect(block.scale.matchesHeadDim).toBe(true);
        expect(block.embedDim).toBe(block.heads * block.headDim);
        expect(block.tokens).toBe(entry.tokens);
        expect(block.dtype).toBe(entry.dtype);
        expect(block.nodes).toContain(block.anchor);
        if (EXPECTED_STYLE[entry.name] !== undefined) expect(block.style).toBe(EXPECTED_STYLE[entry.name]);
      });
    });

    if (entry.expect === 'convert') {
      it('has every block convertible and no unexplained anchor', async () => {
        const { blocks, unmatched } = findAttentionBlocks(await loadFixture(entry));
        expect(blocks.filter((block) => !block.convertible).map((block) => block.reason)).toEqual([]);
        expect(unmatched).toEqual([]);
      });
    }

    const gatedBranches = entry.blocks.filter((block) => block.kind === GATED_AUX_KIND);
    if (gatedBranches.length > 0) {
      it('explains each gated auxiliary Softmax as unmatched: its output is multiplied by a constant-0 gate', async () => {
        const { unmatched } = findAttentionBlocks(await loadFixture(entry));
        expect(unmatched).toHaveLength(gatedBranches.length);
        for (const anchor of unmatched) {
          expect(anchor.opType).toBe('Softmax');
          expect(anchor.reason).toMatch(/^Softmax '[^']+': the attention output .* is multiplied by a constant-0 gate \(Mul '[^']+'\): a switched-off branch/);
        }
      });
    }

    if (entry.expect === 'leave') {
      it("has no convertible block, each with the manifest's reason naming the node", async () => {
        const { blocks } = findAttentionBlocks(await loadFixture(entry));
        expect(blocks.filter((block) => block.convertible)).toEqual([]);
        blocks.forEach((block, i) => {
          const kind = expectedBlocks[i]!.kind;
          expect(REASON_CATEGORY[kind], `a reason category for kind ${kind}`).toBeDefined();
          expect(block.reason).toMatch(REASON_CATEGORY[kind]!);
          expect(block.reason).toContain(`Softmax '${block.anchor}'`);
        });
      });
    }
  });
});
