/**
 * `vitlin convert` never reports "no attention" while Softmax nodes it could not read remain: it lists
 * them with the matcher's reasons, fails (exit 1, nothing written) when nothing matched at all, and
 * writes the model anyway with --allow-partial. A partial conversion lists what it left unrecognised.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Node, Tensor, type Model } from '../../graph-rewrite/ir/index.js';
import { loadModel, saveModel } from '../../src/model-io.js';
import { BUILD_TIMEOUT_MS, MODELS, ensureBuilt, expectOneLineError, tempFolder, vitlin } from './helpers.js';

const tmp = tempFolder();
const out = (name: string) => join(tmp.path, name);

/**
 * Reweights the attention weights of the given blocks per key (weights ⊙ w, w a constant [17] vector)
 * before they meet v: no longer softmax attention, so the matcher cannot read those blocks.
 */
async function withReweightedKeys(blocks: readonly number[], path: string): Promise<void> {
  const model: Model = await loadModel(join(MODELS, 'timm_vit.onnx'));
  const softmaxes = model.graph.nodes.filter((node) => node.opType === 'Softmax');
  for (const index of blocks) {
    const softmax = softmaxes[index]!;
    const reader = softmax.outputs[0]!.uses()[0]!.node;
    const weights = Tensor.fromFloat32Array(Float32Array.from({ length: 17 }, (_, i) => 1 + 0.1 * Math.sin(i)), [17]);
    const w = model.graph.addInitializer(weights, `reweight_${index}_w`);
    const mul = new Node({ opType: 'Mul', name: `reweight_${index}/Mul`, inputs: [softmax.outputs[0]!, w] });
    model.graph.insertBefore(reader, mul);
    reader.replaceInput(0, mul.outputs[0]!);
  }
  await saveModel(model, path);
}

beforeAll(async () => {
  ensureBuilt();
  await withReweightedKeys([0, 1], out('none.onnx'));
  await withReweightedKeys([0], out('partial.onnx'));
}, BUILD_TIMEOUT_MS);
afterAll(() => tmp.cleanup());

describe('vitlin convert with Softmax nodes it does not recognise', () => {
  it('nothing matched: exit 1, the nodes and reasons on one line, no file written', async () => {
    const r = await vitlin(['convert', out('none.onnx'), '-o', out('none-hydra.onnx'), '--attention', 'hydra']);
    expect(r.code).toBe(1);
    const line = expectOneLineError(r);
    expect(line).toMatch(/2 Softmax \/ attention nodes were not recognised as attention and no block was converted; nothing written \(--allow-partial/);
    expect(line).toMatch(/Softmax '\/blocks\.0\/attn\/Softmax': expected the attention weights .* found Mul 'reweight_0\/Mul'/);
    expect(existsSync(out('none-hydra.onnx'))).toBe(false);
  });

  it('--allow-partial writes the model and lists each unrecognised node instead of "no attention"', async () => {
    const r = await vitlin(['convert', out('none.onnx'), '-o', out('none-partial.onnx'), '--attention', 'hydra', '--allow-partial']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/no softmax attention blocks/);
    expect(r.stdout).toMatch(/no attention block recognised; 2 Softmax nodes left as they are/);
    expect(r.stdout.match(/unrecognised.*Softmax '\/blocks\.\d\/attn\/Softmax'/g)).toHaveLength(2);
    expect(existsSync(out('none-partial.onnx'))).toBe(true);
  });

  it('a partial match converts what it can and lists the rest (exit 0)', async () => {
    const r = await vitlin(['convert', out('partial.onnx'), '-o', out('partial-hydra.onnx'), '--attention', 'hydra', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.converted).toHaveLength(1);
    expect(report.unrecognised.map((u: { node: string }) => u.node)).toEqual(['/blocks.0/attn/Softmax']);
  });

  it('--blocks none only re-saves: no failure for unrecognised nodes', async () => {
    const r = await vitlin(['convert', out('none.onnx'), '-o', out('none-resaved.onnx'), '--blocks', 'none']);
    expect(r.code, r.stderr).toBe(0);
  });
});
