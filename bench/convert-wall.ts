/**
 * Wall time of `convert`'s pipeline (analysis, plan, conversion, FLOP counts; no onnxruntime check, no
 * file writing) on one model, median of several runs in one process. Each run converts a freshly
 * loaded model (the load is not timed), as `vitlin convert` does: a model analysed by an earlier run
 * keeps its shape facts (Value.inferred), which would spare the later runs an analysis a CLI run makes.
 * Run it on two checkouts to compare before / after a change (bench/convert-wall.sh does that against
 * a git revision and prints the ratio of the medians):
 *
 *   npx tsx bench/convert-wall.ts bench/out/vit_b16_224.onnx [runs=3] [attention=hydra]
 */
import { performance } from 'node:perf_hooks';
import { loadModel } from '../src/model-io.js';
import { convertModel } from '../src/cli/convert-model.js';

const [path, runsArg, attentionArg] = process.argv.slice(2);
if (!path) throw new Error('usage: convert-wall.ts <model.onnx> [runs] [hydra|linear-angular]');
const runs = Number(runsArg ?? 3);
const attention = (attentionArg ?? 'hydra') as 'hydra';
const times: number[] = [];
let converted = 0;
for (let i = 0; i < runs; i++) {
  const model = await loadModel(path);
  const start = performance.now();
  const outcome = await convertModel(model, { attention, selection: 'all', linearAngularMode: 'kernel_normalized', fuse: true, fit: false, inlineFunctions: false });
  times.push(performance.now() - start);
  converted = outcome.converted.length;
}
times.sort((a, b) => a - b);
console.log(JSON.stringify({ model: path, attention, converted, runs, medianMs: Math.round(times[Math.floor(runs / 2)]!), ms: times.map(Math.round) }));
