/**
 * Preprocessing is said: `classify` and `verify --inputs <images>` print the recipe and where it and the
 * labels came from (the model's <name>.vitlin.json), warn when they are the default guess, and the
 * config really is what runs — PNGs of the bundled sample classify exactly as the sample file's tensors do.
 */
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argmaxRows } from '../../src/runtime/compare.js';
import { parseSampleFile } from '../../src/data/sample-file.js';
import { nodeBackend } from '../../src/runtime/node-backend.js';
import { sampleInputs } from '../../src/eval/inputs.js';
import { runModel } from '../../src/eval/fidelity.js';
import { MODELS, SAMPLE, BUILD_TIMEOUT_MS, ensureBuilt, expectOneLineError, tempFolder, vitlin, writeText } from './helpers.js';

const PNGS = join(MODELS, 'data', 'fashion-mnist-png');
const MODEL = join(MODELS, 'fmnist_softmax.onnx');
const CONFIG = join(MODELS, 'fmnist_softmax.vitlin.json');
const tmp = tempFolder('vitlin-classify-');
beforeAll(() => ensureBuilt(), BUILD_TIMEOUT_MS);
afterAll(() => tmp.cleanup());

describe('vitlin classify', () => {
  it('says the preprocessing and labels from the model config, and predicts what the sample file\'s tensors give', async () => {
    const r = await vitlin(['classify', MODEL, PNGS, '--top', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(''); // nothing guessed, nothing to warn about
    expect(r.stdout).toContain('preprocessing: resize 28×28 (bilinear), ×1/255, mean 0.286, std 0.353, 1 channel (from models/fmnist_softmax.vitlin.json)');
    expect(r.stdout).toContain('labels: 10 classes from models/fmnist_softmax.vitlin.json');
    const json = JSON.parse((await vitlin(['classify', MODEL, PNGS, '--json'])).stdout);
    expect(json.preprocessing).toEqual({ description: expect.stringContaining('mean 0.286'), source: 'models/fmnist_softmax.vitlin.json', labelsSource: 'models/fmnist_softmax.vitlin.json' });
    // The same images as tensors from the sample file (normalised with the same statistics): same classes.
    const sample = parseSampleFile(readFileSync(SAMPLE));
    const session = await nodeBackend.createSession(MODEL);
    const run = await runModel(session, sampleInputs(sample, 'sample', 0, json.results.length));
    await session.release();
    const expected = argmaxRows(run.output, run.perItem).map((i) => sample.header.classes[i]);
    expect(json.results.map((r: { top: { label: string }[] }) => r.top[0]!.label)).toEqual(expected);
    // And the table names them.
    expect(r.stdout).toMatch(new RegExp(`000\\.png\\s+${expected[0]} [\\d.]+ %`));
  });

  it('warns on stderr when the preprocessing and labels are the default guess', async () => {
    const bare = join(tmp.path, 'bare.onnx');
    copyFileSync(MODEL, bare);
    const r = await vitlin(['classify', bare, join(PNGS, '000.png'), '--top', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('preprocessing: resize 28×28 (bilinear), ×1/255, mean 0.5, std 0.5, 1 channel (defaults: no preprocessing config)');
    expect(r.stdout).toContain('labels: none (classes shown as LABEL_i)');
    expect(r.stdout).toMatch(/000\.png\s+LABEL_\d/);
    const warnings = r.stderr.trimEnd().split('\n');
    expect(warnings).toEqual([
      expect.stringMatching(/^vitlin classify: warning: bare: no preprocessing config \(.*bare\.vitlin\.json\); using the standard recipe, mean = std = 0\.5/),
      expect.stringMatching(/^vitlin classify: warning: bare: no class labels \(add "labels" to .*bare\.vitlin\.json\)/),
    ]);
  });

  it('a broken config is an error naming the file and field', async () => {
    const model = join(tmp.path, 'typo.onnx');
    copyFileSync(MODEL, model);
    writeText(join(tmp.path, 'typo.vitlin.json'), JSON.stringify({ preprocess: { mean: [0.3], std: [-1] } }));
    const r = await vitlin(['classify', model, PNGS]);
    expect(r.code).toBe(1);
    expect(expectOneLineError(r)).toMatch(/^vitlin classify: .*typo\.vitlin\.json: 'preprocess\.std' must be a positive number/);
  });
});

describe('vitlin verify --inputs <images>', () => {
  it('prints the preprocessing in use, and convert passes the config on to its output', async () => {
    const out = join(tmp.path, 'fm-hydra.onnx');
    expect((await vitlin(['convert', MODEL, '-o', out, '--attention', 'hydra', '--check-count', '1'])).code).toBe(0);
    expect(readFileSync(join(tmp.path, 'fm-hydra.vitlin.json'), 'utf8')).toBe(readFileSync(CONFIG, 'utf8'));
    const r = await vitlin(['verify', MODEL, out, '--inputs', PNGS, '--labels', join(PNGS, 'labels.txt')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('preprocessing: resize 28×28 (bilinear), ×1/255, mean 0.286, std 0.353, 1 channel (from models/fmnist_softmax.vitlin.json)');
    expect(r.stdout).toMatch(/accuracy\s+[\d.]+ % → [\d.]+ %/);
    const json = JSON.parse((await vitlin(['verify', MODEL, out, '--inputs', SAMPLE, '--count', '8', '--json'])).stdout);
    expect(json.preprocessing).toEqual({
      description: '28×28, ×1/255, mean 0.286, std 0.353, 1 channel', source: 'fashion-mnist-test-1000.bin', applied: true, labelsSource: 'fashion-mnist-test-1000.bin',
    });
  });
});
