/**
 * The refit finds each block's output projection by meaning, whatever the exporter wrote: every
 * convertible fixture (torchvision's Gemm after a Reshape, Hugging Face, timm, SDPA, CLIP, DeiT, the
 * com.microsoft and ONNX Attention-23 fused ops, float16) refits with both bases on a few seeded random
 * inputs, lowers every block's error against its target, and the written model loads and runs.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { convertAttention, findAttentionBlocks } from '../../graph-rewrite/attention/index.js';
import { Node } from '../../graph-rewrite/ir/node.js';
import { findOutputProjection, newFusedNodes, SequentialRefitter } from '../../src/calibration/index.js';
import { fidelityOf, runModel } from '../../src/eval/fidelity.js';
import { randomInputs } from '../../src/eval/inputs.js';
import { loadModel, modelToBytes } from '../../src/model-io.js';
import { nodeBackend } from '../../src/runtime/node-backend.js';
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
    const { model, fits } = await new SequentialRefitter(base, convert, inputs, { basis, backend: nodeBackend }).model(all.map((b) => b.index));
    expect(fits).toHaveLength(all.length);
    for (const f of fits) {
      expect(f.mseAfter).toBeLessThan(f.mseBefore);
      expect(f.basis).toBe(basis);
      // torchvision reshapes the projection's output back to [N, B, E] and transposes it before the
      // residual Add: the target is then the branch output alone, and the report says so.
      expect(f.driftCorrected).toBe(name !== 'tv_vit_mha');
      const driftNotes = f.notes.filter((n) => n.includes('drift'));
      expect(driftNotes).toEqual(f.driftCorrected ? [] : ['no drift correction: no residual Add reads the projection\'s output directly']);
    }
    const session = await nodeBackend.createSession(modelToBytes(model));
    try {
      const run = await runModel(session, inputs);
      expect(run.output.every(Number.isFinite)).toBe(true);
      expect(fidelityOf(run, run).items).toBe(6);
    } finally {
      await session.release();
    }
  }, 120_000);
});

describe('constants behind Identity nodes', () => {
  it('finds a projection bias torch shares through an Identity (as ViT-B/16 exports its zero biases)', async () => {
    const base = await loadModel(join(MODELS, 'timm_vit.onnx'));
    // Route every projection bias through an Identity node, as torch's initializer deduplication writes it.
    const convert0 = convertAttention(base, { attention: 'linear-angular', linearAngularMode: 'kernel_normalized' });
    const names = newFusedNodes(base, convert0.model).map((n) => findOutputProjection(n, convert0.converted[0]!.embedDim))
      .map((p) => (typeof p === 'string' ? '' : p.biasAdd!.node.name!));
    for (const node of base.graph.nodes.filter((n) => names.includes(n.name!))) {
      const index = node.inputs.findIndex((v) => v?.constValue);
      const identity = new Node({ opType: 'Identity', inputs: [node.inputs[index]!], outputs: 1, name: `${node.name}/shared_bias` });
      base.graph.insertBefore(node, identity);
      node.replaceInput(index, identity.outputs[0]!);
    }
    const convert = (blocks: readonly number[]) => {
      const r = convertAttention(base, { attention: 'linear-angular', linearAngularMode: 'kernel_normalized', blocks });
      return { model: r.model, blocks: r.converted };
    };
    const converted = convert([0, 1]);
    for (const node of newFusedNodes(base, converted.model)) {
      const p = findOutputProjection(node, converted.blocks[0]!.embedDim);
      if (typeof p === 'string') throw new Error(p);
      expect(p.biasAdd?.node.name).toMatch(/proj/); // the bias, not mistaken for the residual stream
      expect(p.residual?.stream.producer()?.opType).not.toBe('Identity');
    }
    const { fits } = await new SequentialRefitter(base, convert, randomInputs(4, 5), { backend: nodeBackend }).model([0, 1]);
    expect(fits.map((f) => f.mseAfter < f.mseBefore)).toEqual([true, true]);
  }, 120_000);
});
