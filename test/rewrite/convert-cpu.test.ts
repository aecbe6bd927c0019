/**
 * convertAttention on every convertible fixture, to HydraAttention and to LinearAngularAttention (both
 * modes), run in real onnxruntime-node CPU sessions:
 * - the converted model validates, holds one fused node per block and no Softmax / fused attention op,
 *   imports ai.vitlin, and loads and runs with finite outputs of the original shapes;
 * - each fused node's Y equals the custom-ops reference kernel applied to the Q, K, V it received
 *   (exposed as extra graph outputs): fp32 ≤ 1e-5, fp16 ≤ 1e-3 relative;
 * - fixtures exported from the same weights in different styles convert to the same computation, which
 *   checks the q/k/v materialisation and the output reconnection end to end.
 */
import { describe, expect, it } from 'vitest';
import { convertAttention } from '../../graph-rewrite/attention/index.js';
import { validateRewrittenModel } from '../../graph-rewrite/rewrite/index.js';
import {
  exposeFusedNodes, fusedNodes, loadFixture, loadManifest, maxAbsoluteError, maxRelativeError, opCounts, referenceOutput, runModel, toFloat32View,
  type ManifestEntry,
} from './helpers.js';

const convertible = loadManifest().filter((entry) => entry.expect === 'convert');

const TARGETS = [
  { label: 'hydra', options: { attention: 'hydra' } },
  { label: 'linear-angular', options: { attention: 'linear-angular' } },
  { label: 'linear-angular kernel_normalized', options: { attention: 'linear-angular', linearAngularMode: 'kernel_normalized' } },
] as const;

const ATTENTION_OPS = ['::Softmax', '::Attention', 'com.microsoft::MultiHeadAttention', 'com.microsoft::Attention'];

/** Max errors per fixture and target, printed at the end for the report. */
const measured: string[] = [];

describe.each(convertible.map((entry) => [entry.name, entry] as const))('convertAttention: %s', (_name, entry: ManifestEntry) => {
  it.each(TARGETS)('$label: converts every block; the model validates, loads and runs on ORT CPU', async ({ options }) => {
    const original = await loadFixture(entry);
    const { model, converted, skipped } = convertAttention(original, options);
    expect(skipped).toEqual([]);
    expect(converted.map((block) => block.index)).toEqual(entry.blocks.map((_, i) => i));
    validateRewrittenModel(model);
    const counts = opCounts(model);
    for (const op of ATTENTION_OPS) expect(counts[op] ?? 0, op).toBe(0);
    const fused = fusedNodes(model);
    expect(fused).toHaveLength(entry.blocks.length);
    expect(new Set(fused.map((node) => node.opType))).toEqual(new Set([options.attention === 'hydra' ? 'HydraAttention' : 'LinearAngularAttention']));
    expect(model.opsetImports.get('ai.vitlin')).toBe(1);
    expect(model.functions.length).toBeGreaterThan(0);

    const before = await runModel(original);
    const after = await runModel(model);
    expect(Object.keys(after.outputs)).toEqual(Object.keys(before.outputs));
    for (const [name, tensor] of Object.entries(after.outputs)) {
      expect(tensor.dims, name).toEqual(before.outputs[name]!.dims);
      expect(toFloat32View(tensor).data.every(Number.isFinite), `${name} is finite`).toBe(true);
    }
  });

  it.each(TARGETS)("$label: every fused node's Y equals the reference kernel on its Q, K, V", async ({ label, options }) => {
    const { model } = convertAttention(await loadFixture(entry), options);
    const { model: exposedModel, exposed } = exposeFusedNodes(model);
    const { outputs } = await runModel(exposedModel);
    const tolerance = entry.dtype === 'float16' ? 1e-3 : 1e-5;
    for (const node of exposed) {
      const actual = toFloat32View(outputs[node.names.Y]!);
      const expected = referenceOutput(node, outputs);
      const error = entry.dtype === 'float16' ? maxRelativeError(actual, expected) : maxAbsoluteError(actual, expected);
      measured.push(`${entry.name} ${label} ${node.node}: max ${entry.dtype === 'float16' ? 'rel' : 'abs'} error ${error.toExponential(2)}`);
      expect(error, node.node).toBeLessThanOrEqual(tolerance);
      // Y must not be trivially zero: a broken wiring could still "match" a zero reference.
      expect(actual.data.some((y) => Math.abs(y) > 1e-3), `${node.node} Y is not all zeros`).toBe(true);
    }
  });
});

describe('fixtures with the same weights convert to the same computation', () => {
  const byName = new Map(convertible.map((entry) => [entry.name, entry]));
  const groups = [
    // The fused-op fixtures are built from timm_vit's weights; hf_vit_op17_dyn is hf_vit_op12 at another opset.
    ['timm_vit', 'ms_mha_vit', 'ms_attention_vit', 'onnx_attention23_vit'],
    ['hf_vit_op12', 'hf_vit_op17_dyn'],
  ].map((names) => names.filter((name) => byName.has(name)));

  it.each(groups.flatMap((names) => TARGETS.map((target) => [names.join(' = '), target.label, names, target.options] as const)))(
    '%s (%s)',
    async (_label, _target, names, options) => {
      const logits: Float32Array[] = [];
      for (const name of names) {
        const { model } = convertAttention(await loadFixture(byName.get(name)!), options);
        const { outputs } = await runModel(model, 'cpu', 11);
        // Batch sizes differ (1, or the dynamic 'batch' = 2); the seeded feeds fill the first image
        // identically either way, so the first row of logits must agree.
        const first = toFloat32View(Object.values(outputs)[0]!);
        logits.push(first.data.slice(0, first.dims[first.dims.length - 1]));
      }
      for (const row of logits.slice(1)) {
        let worst = 0;
        row.forEach((value, i) => (worst = Math.max(worst, Math.abs(value - logits[0]![i]!))));
        expect(worst).toBeLessThanOrEqual(1e-4);
      }
    },
  );
});

describe('report', () => {
  it('prints the measured errors', () => {
    console.log(measured.join('\n'));
  });
});
