/**
 * The README's library example, run as written through the package root: load, convert every block to
 * Hydra, save, and check onnxruntime runs the saved model and the fused op replaced every Softmax.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { convertAttention, createSession, loadModel, randomFeeds, saveModel, VITLIN_DOMAIN } from '../../src/index.js';

const folder = mkdtempSync(join(tmpdir(), 'vitlin-readme-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

it('load → convertAttention(hydra) → save → run, through the package root', async () => {
  const model = await loadModel('models/tv_vit_mha.onnx');
  const { model: converted, converted: blocks } = convertAttention(model, { attention: 'hydra', blocks: 'all' });
  const path = join(folder, 'tv_vit_hydra.onnx');
  await saveModel(converted, path);

  expect(blocks.map((block) => block.index)).toEqual([0, 1]);
  const reloaded = await loadModel(path);
  expect(reloaded.graph.nodes.filter((node) => node.opType === 'Softmax')).toHaveLength(0);
  expect(reloaded.graph.nodes.filter((node) => node.domain === VITLIN_DOMAIN && node.opType === 'HydraAttention')).toHaveLength(2);
  const session = await createSession(path);
  try {
    const outputs = await session.run(randomFeeds(session.inputs, { seed: 1 }));
    const logits = outputs[session.outputs[0]!.name]!.data as Float32Array;
    expect(logits).toHaveLength(10);
    expect(logits.every(Number.isFinite)).toBe(true);
  } finally {
    await session.release();
  }
});
