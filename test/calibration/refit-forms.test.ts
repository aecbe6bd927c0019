/**
 * The refit finds each block's output projection by meaning, whatever the exporter wrote: every
 * convertible fixture (torchvision's Gemm after a Reshape, Hugging Face, timm, SDPA, CLIP, DeiT, the
 * com.microsoft and ONNX Attention-23 fused ops, float16) refits with both bases on a few seeded random
 * inputs, lowers every block's error against its target, and the written model loads and runs.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { convertAttention, findAttentionBlocks } from '../../graph-rewrite/attention/index.js';
import { SequentialRefitter } from '../../src/calibration/index.js';
import { fidelityOf, runModel } from '../../src/eval/fidelity.js';
import { randomInputs } from '../../src/eval/inputs.js';
import { loadModel, modelToBytes } from '../../src/model-io.js';
import { createSession } from '../../src/runtime/session.js';
import { manifest } from '../cli/helpers.js';

const MODELS = join(import.meta.dirname, '..', '..', 'models');
const fixtures = manifest().models.filter((m) => m.expect === 'convert' && !m.trained).map((m) => m.name);

describe.each(fixtures)('%s', (name) => {
  it.each(['plain', 'extended'] as const)('refits every block (%s basis)', async (basis) => {
    const base = await loadModel(join(MODELS, `${name}.onnx`));
    const convert = (blocks: readonly number[]) => {
      const r = convertAttention(base, { attention: 'linear-angular', linearAngularMode: 'kernel_normalized', blocks });
      return { model: r.model, blocks: r.converted };
    };
    const all = findAttentionBlocks(base).blocks.filter((b) => b.convertible);
    const inputs = randomInputs(6, 3);
    const { model, fits } = await new SequentialRefitter(base, convert, inputs, { basis }).model(all.map((b) => b.index));
    expect(fits).toHaveLength(all.length);
    for (const f of fits) {
      expect(f.mseAfter).toBeLessThan(f.mseBefore);
      expect(f.basis).toBe(basis);
      // torchvision reshapes the projection's output back to [N, B, E] and transposes it before the
      // residual Add: the target is then the branch output alone, and the report says so.
      expect(f.driftCorrected).toBe(name !== 'tv_vit_mha');
      expect(f.notes).toEqual(f.driftCorrected ? [] : ['no drift correction: no residual Add reads the projection\'s output directly']);
    }
    const session = await createSession(modelToBytes(model));
    try {
      const run = await runModel(session, inputs);
      expect(run.output.every(Number.isFinite)).toBe(true);
      expect(fidelityOf(run, run).items).toBe(6);
    } finally {
      await session.release();
    }
  }, 120_000);
});
