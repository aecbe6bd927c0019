/**
 * The committed Fashion-MNIST sample is well formed, and the trained models reach, in onnxruntime-node, the
 * accuracies recorded in models/accuracy.json (within 0.5 points), which the table of models/README.md shows.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { argmaxRows, loadManifest, MODELS_DIR, modelPath, readJson, readSample, sampleBatch } from './helpers.js';

interface Accuracy {
  sample: string;
  count: number;
  models: Record<string, { correct: number; total: number; accuracy: number }>;
}

const manifest = loadManifest();
const recorded = readJson<Accuracy>('accuracy.json');
const sample = readSample(manifest.sample.file);
const trained = manifest.models.filter((m) => m.trained);

describe('Fashion-MNIST sample', () => {
  it('has 1,000 28x28 images and labels, with the normalisation of the manifest', () => {
    const { header } = sample;
    expect(header.format).toBe('vitlin-fmnist-sample-v1');
    expect([header.count, header.height, header.width]).toEqual([1000, 28, 28]);
    expect(header.normalization.mean).toBe(manifest.sample.normalization.mean);
    expect(header.normalization.std).toBe(manifest.sample.normalization.std);
    const size = fs.statSync(path.join(MODELS_DIR, manifest.sample.file)).size;
    expect(size).toBe(header.labelOffset + header.count);
    expect(header.labelOffset).toBe(header.pixelOffset + 1000 * 28 * 28);
    expect(Math.max(...sample.labels)).toBe(9);
    const perClass = new Array(10).fill(0);
    for (const l of sample.labels) perClass[l]++;
    expect(Math.min(...perClass)).toBeGreaterThan(50); // all ten classes are there
    expect(sample.pixels.reduce((a, b) => a + b, 0) / sample.pixels.length).toBeGreaterThan(40); // not blank
  });

  it('gives the recorded reference input for its first two images', () => {
    for (const m of trained) {
      const ref = readJson<{ inputs: { data: number[] }[] }>(m.reference);
      const x = sampleBatch(sample, 0, 2).data as Float32Array;
      const want = ref.inputs[0]!.data;
      expect(want.length).toBe(x.length);
      let worst = 0;
      for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - want[i]!));
      expect(worst).toBeLessThan(1e-5);
    }
  });
});

describe('trained models', () => {
  it('are all in accuracy.json and the README table', () => {
    expect(Object.keys(recorded.models).sort()).toEqual(trained.map((m) => m.name).sort());
    const readme = fs.readFileSync(path.join(MODELS_DIR, 'README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('<!-- accuracy-table:begin'), readme.indexOf('<!-- accuracy-table:end'));
    for (const [name, a] of Object.entries(recorded.models)) {
      const row = table.split('\n').find((l) => l.startsWith(`| \`${name}\` |`));
      expect(row, name).toBeDefined();
      expect(row).toContain(`${a.accuracy.toFixed(2)} % (${a.correct}/${a.total})`);
      expect(a.accuracy).toBeGreaterThan(75);
    }
  });

  it.each(trained.map((m) => [m.name, m] as const))('%s reproduces its accuracy on the sample', async (name, m) => {
    const session = await ort.InferenceSession.create(modelPath(m), { intraOpNumThreads: 1 });
    let correct = 0;
    const B = 100;
    try {
      for (let s = 0; s < sample.header.count; s += B) {
        const out = await session.run({ [m.inputs[0]!.name]: sampleBatch(sample, s, B) });
        const pred = argmaxRows(out[m.outputs[0]!.name]!.data as Float32Array, B);
        pred.forEach((p, i) => (correct += p === sample.labels[s + i] ? 1 : 0));
      }
    } finally {
      await session.release();
    }
    const acc = (100 * correct) / sample.header.count;
    expect(Math.abs(acc - recorded.models[name]!.accuracy)).toBeLessThanOrEqual(0.5);
  });
});
