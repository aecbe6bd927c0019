/**
 * Calibration accuracy (not a test): a softmax Fashion-MNIST ViT with every block converted, fitted on the
 * first N training-split images of models/data/fashion-mnist-train-2000.npz, scored on the 1,000 test
 * images of models/data/fashion-mnist-test-1000.bin (never fitted on): no calibration, the fused op's own
 * coefficients (fitBlocks), the sequential output-projection refit, and its extended basis.
 *
 *   npx tsx bench/calibration-accuracy.ts models/fmnist_softmax6.onnx linear-angular 1500
 *   npx tsx bench/calibration-accuracy.ts models/fmnist_hfvit5.onnx linear-angular 1500   (the second family)
 * Any model with one `pixel_values` [batch, 1, 28, 28] input normalised like the sample works.
 *   (env: BASES=plain,extended; MODE=kernel_normalized|reference; WEIGHTING=readout|uniform (the refit's
 *   rows); FIT_FROM=500 fits on images 500 .. 500+N instead of 0 .. N, a second split; LAMBDA=1e-4 (ridge,
 *   relative to the mean diagonal); SHRINK=original|zero (what the ridge pulls toward))
 */
import { readFileSync } from 'node:fs';
import { loadModel } from '../src/model-io.js';
import { convertAttention, findAttentionBlocks } from '../graph-rewrite/attention/index.js';
import type { Model } from '../graph-rewrite/ir/model.js';
import { SequentialRefitter, fitBlocks, applyFits, type CalibrationBasis } from '../src/calibration/index.js';
import type { RowWeighting } from '../src/calibration/refit.js';
import { sliceInputs } from '../src/calibration/split.js';
import { parseSampleFile } from '../src/data/sample-file.js';
import { tensorFileInputs } from '../src/data/tensor-file.js';
import { sampleInputs } from '../src/eval/inputs.js';
import { fidelityOf } from '../src/eval/fidelity.js';
import { runOn } from '../src/eval/backend-evaluator.js';
import { nodeBackend } from '../src/runtime/node-backend.js';
const [file, att, nfit] = process.argv.slice(2);
const base = await loadModel(file!);
const sample = parseSampleFile(readFileSync(new URL('../models/data/fashion-mnist-test-1000.bin', import.meta.url)), 'x');
const from = Number(process.env.FIT_FROM ?? 0);
const train = tensorFileInputs(new URL('../models/data/fashion-mnist-train-2000.npz', import.meta.url).pathname, { inputShape: ['batch', 1, 28, 28], inputName: 'pixel_values' });
const fit = sliceInputs(train, from, Math.min(train.count, from + Number(nfit ?? 1500)), 'fitting');
const weighting = (process.env.WEIGHTING ?? 'readout') as RowWeighting;
const test = sampleInputs(sample, 'test', 0, 1000);
const opts = { attention: att as 'hydra', linearAngularMode: (process.env.MODE ?? 'kernel_normalized') as 'kernel_normalized' };
const convert = (blocks: readonly number[]) => { const r = convertAttention(base, { ...opts, blocks }); return { model: r.model, blocks: r.converted }; };
const run = (m: Model) => runOn({ backend: nodeBackend }, m, test, 'model');
const all = findAttentionBlocks(base).blocks.filter((b) => b.convertible).map((b) => b.index);
const baseRun = await run(base);
const acc = async (m: Model) => fidelityOf(baseRun, await run(m), test.labels).accuracy!;
const a0 = await acc(base); console.log('original', a0.original, `(fitting on training images ${fit.description})`);
console.log('uncalibrated', (await acc(convert(all).model)).converted);
const c = convertAttention(base, { ...opts, blocks: all });
const fits = await fitBlocks(base, c.model, c.converted.map((b) => ({ heads: b.heads, scale: b.scale.value })), fit, { attention: att as 'hydra', linearAngularMode: opts.linearAngularMode, backend: nodeBackend });
applyFits(c.model, fits);
console.log('coefficient fit', (await acc(c.model)).converted);
for (const basis of (process.env.BASES ?? 'plain,extended').split(',')) {
  const t0 = Date.now();
  const r = await new SequentialRefitter(base, convert, fit, { basis: basis as CalibrationBasis, weighting, backend: nodeBackend, lambda: Number(process.env.LAMBDA ?? 1e-4), shrinkToward: (process.env.SHRINK ?? 'original') as 'zero' }).model(all);
  console.log(basis, `refit (${weighting} rows)`, (await acc(r.model)).converted, `(${((Date.now() - t0) / 1000).toFixed(0)} s)`);
}
