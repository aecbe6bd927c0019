/**
 * Fashion-MNIST accuracy on the bundled 1,000-image sample is unchanged by exact fusion — stated as
 * the stronger property: every image gets the identical top-1 prediction (so the accuracy is equal
 * to the last image), and the logits differ by at most 1e-5.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fuseExactAttention } from '../../graph-rewrite/fusions/index.js';
import { parseSampleFile } from '../../src/data/sample-file.js';
import { classifySample, type SampleRun } from '../../src/eval/classify.js';
import { modelToBytes } from '../../src/model-io.js';
import { argmaxRows } from '../../src/runtime/index.js';
import { nodeBackend } from '../../src/runtime/node-backend.js';
import type { Model } from '../../graph-rewrite/ir/index.js';
import { MODELS_DIR, fuseEntries, loadEntry, loadManifestEntries, maxAbsDifference } from './helpers.js';

const trained = fuseEntries().filter((entry) => entry.trained !== undefined);
const samplePath = path.join(MODELS_DIR, loadManifestEntries().sample);
const sample = parseSampleFile(new Uint8Array(fs.readFileSync(samplePath)), samplePath);
const report: string[] = [];

async function classify(model: Model): Promise<SampleRun> {
  const session = await nodeBackend.createSession(modelToBytes(model));
  try {
    return await classifySample(session, sample);
  } finally {
    await session.release();
  }
}

it('there are trained fuse fixtures to measure', () => {
  expect(trained.length).toBeGreaterThan(0);
});

describe.each(trained.map((entry) => [entry.name, entry] as const))('%s on the 1,000-image sample', (name, entry) => {
  it('gives identical top-1 predictions (hence equal accuracy) after fusion; logits within 1e-5', async () => {
    const original = await loadEntry(entry);
    const { model: fused, fused: blocks } = fuseExactAttention(original);
    expect(blocks.length).toBeGreaterThan(0);
    const [before, after] = [await classify(original), await classify(fused)];
    expect(before.logits.length).toBe(sample.labels.length * before.classes);
    const error = maxAbsDifference(after.logits, before.logits);
    report.push(`${name}: accuracy ${(100 * before.accuracy).toFixed(1)}% → ${(100 * after.accuracy).toFixed(1)}%, logits max abs ${error.toExponential(2)}`);
    expect(argmaxRows(after.logits, after.classes)).toEqual(argmaxRows(before.logits, before.classes));
    expect(after.accuracy).toBe(before.accuracy);
    expect(before.accuracy).toBeGreaterThan(0.6); // a trained model, not noise
    expect(error).toBeLessThanOrEqual(1e-5);
  }, 180_000);
});

it('report', () => {
  console.log(report.join('\n'));
});
