/**
 * The readout rule (readout.ts) on models it was not written for: today's exporters (torch 2 dynamo and
 * TorchScript, transformers' ViT / DeiT / CLIP / SigLIP). The class token is found however the export
 * spells the Gather, DeiT's two readout tokens (class + distillation) are both found, and SigLIP's
 * attention-pooling head (which mixes every token) gives no readout, so its rows stay uniform.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { convertAttention } from '../../graph-rewrite/attention/index.js';
import { findOutputProjection, newFusedNodes } from '../../src/calibration/index.js';
import { tokenReadout } from '../../src/calibration/readout.js';
import { loadModel } from '../../src/model-io.js';

const TODAY = join(import.meta.dirname, '..', '..', 'models', 'today');

const CASES: readonly { file: string; last: { tokens: number[]; mixed: boolean } | undefined; earlier: { tokens: number[]; mixed: boolean } | undefined }[] = [
  { file: 'hf_vit_sdpa_dynamo.onnx', last: { tokens: [0], mixed: false }, earlier: { tokens: [0], mixed: true } },
  { file: 'hf_vit_eager_ts17.onnx', last: { tokens: [0], mixed: false }, earlier: { tokens: [0], mixed: true } },
  { file: 'hf_deit_sdpa_dynamo.onnx', last: { tokens: [0, 1], mixed: false }, earlier: { tokens: [0, 1], mixed: true } },
  { file: 'hf_clip_sdpa_dynamo.onnx', last: { tokens: [0], mixed: false }, earlier: { tokens: [0], mixed: true } },
  { file: 'hf_siglip_sdpa_dynamo.onnx', last: undefined, earlier: undefined },
];

describe.each(CASES)('tokenReadout on $file', ({ file, last, earlier }) => {
  it('finds what the output reads after the first and the last converted block', async () => {
    const base = await loadModel(join(TODAY, file));
    const { model } = convertAttention(base, { attention: 'linear-angular', linearAngularMode: 'kernel_normalized' });
    const readouts = newFusedNodes(base, model).flatMap((node) => {
      const features = node.inputs[0]!.inferred?.shape?.at(-1);
      if (typeof features !== 'number') return [];
      const projection = findOutputProjection(node, features);
      if (typeof projection === 'string' || !projection.residual) return [];
      const tokens = projection.residual.sum.inferred?.shape?.[1];
      return typeof tokens === 'number' ? [tokenReadout(model, projection.residual.sum, tokens)] : [];
    });
    expect(readouts.length).toBeGreaterThanOrEqual(2);
    expect(readouts.at(-1)).toEqual(last);
    expect(readouts[0]).toEqual(earlier);
  });
});
