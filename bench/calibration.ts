/**
 * Calibration benchmark (not a test): time and peak memory of the sequential output-projection refit
 * (src/calibration/refit.ts) on torchvision ViT-B/16 (random weights) at 224 px — 12 blocks, 197 tokens,
 * 768 features — every block converted to linear-angular attention, calibrated on N seeded random images.
 *
 *   npx tsx bench/calibration.ts [--images 256] [--size 224] [--basis plain|extended] [--batch 8] [--blocks 12] [--model path.onnx]
 *
 * `--blocks n` refits only the first n blocks (each block's step runs the model up to that block, so the
 * first ones are the cheapest; on a busy machine a few blocks give the per-block cost and the memory).
 *
 * The export is made on demand in bench/out/ (gitignored; models/scripts/export_vit_b16.py, Debian's torch)
 * and reused. Reported: wall seconds in total and per block, and the process's peak resident memory
 * (getrusage maxRSS) with the memory before calibration started, so that the growth is visible: it must
 * not grow with the number of images (normal equations are accumulated batch by batch). Per block, the
 * phases: prepare (convert, probe copies, onnxruntime sessions: a fixed cost per block, large for a 330 MB
 * model), run + accumulate (the probes on every batch, XᵀX and XᵀT), solve. Results also go to
 * bench/out/calibration-<size>-<basis>-<images>-<n>blocks.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { convertAttention, findAttentionBlocks } from '../graph-rewrite/attention/index.js';
import { SequentialRefitter, type CalibrationBasis, type RefitPhase } from '../src/calibration/index.js';
import { randomInputs } from '../src/eval/inputs.js';
import { loadModel } from '../src/model-io.js';
import { nodeBackend } from '../src/runtime/node-backend.js';
import { ensureExport, OUT_DIR } from './vit/models.js';

const { values } = parseArgs({
  options: {
    images: { type: 'string', default: '256' }, size: { type: 'string', default: '224' }, basis: { type: 'string', default: 'plain' },
    batch: { type: 'string', default: '8' }, blocks: { type: 'string' }, model: { type: 'string' },
  },
});
const images = Number(values.images);
const size = Number(values.size);
const basis = values.basis as CalibrationBasis;
const peakMb = () => process.resourceUsage().maxRSS / 1024;
const rssMb = () => process.memoryUsage().rss / 2 ** 20;

const path = values.model ?? (await ensureExport(size, false));
const loadStart = performance.now();
const base = await loadModel(path);
const blocks = findAttentionBlocks(base).blocks.filter((b) => b.convertible).map((b) => b.index).slice(0, values.blocks ? Number(values.blocks) : undefined);
console.log(`calibration bench: ${path}, ${blocks.length} blocks, ${images} random images, basis ${basis}, batch ${values.batch}; ` +
  `${cpus().length} CPUs, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}; model loaded in ${((performance.now() - loadStart) / 1000).toFixed(1)} s`);
const convert = (selected: readonly number[]) => {
  const r = convertAttention(base, { attention: 'linear-angular', linearAngularMode: 'kernel_normalized', blocks: selected });
  return { model: r.model, blocks: r.converted };
};
const rssBefore = rssMb();
const peakBefore = peakMb();
const phases: Record<RefitPhase, number>[] = [];
const started = performance.now();
const refitter = new SequentialRefitter(base, convert, randomInputs(images, 7), {
  backend: nodeBackend, basis, maxBatch: Number(values.batch),
  onPhase: (block, phase, seconds) => {
    const row = (phases[blocks.indexOf(block)] ??= { prepare: 0, accumulate: 0, solve: 0 });
    row[phase] = seconds;
    if (phase !== 'solve') return;
    const total = row.prepare + row.accumulate + row.solve;
    console.log(`  block ${block}: ${total.toFixed(1)} s (prepare ${row.prepare.toFixed(1)}, run + accumulate ${row.accumulate.toFixed(1)}, ` +
      `solve ${row.solve.toFixed(1)}), rss ${rssMb().toFixed(0)} MB, peak ${peakMb().toFixed(0)} MB`);
  },
});
const { fits } = await refitter.model(blocks);
const total = (performance.now() - started) / 1000;
const sum = (phase: RefitPhase) => phases.reduce((n, row) => n + row[phase], 0);
const result = {
  model: path, size, images, basis, blocks: blocks.length, batch: Number(values.batch), totalSeconds: total, blockPhases: phases,
  phaseSeconds: { prepare: sum('prepare'), accumulate: sum('accumulate'), solve: sum('solve') },
  rssBeforeMb: rssBefore, peakBeforeMb: peakBefore, peakMb: peakMb(),
  relativeErrorAfter: fits.map((f) => f.mseAfter / (f.targetPower || 1)),
  cpus: cpus().length, load: loadavg(),
};
console.log(`total ${total.toFixed(1)} s (${(total / blocks.length).toFixed(1)} s a block): prepare ${result.phaseSeconds.prepare.toFixed(1)} s, ` +
  `run + accumulate ${result.phaseSeconds.accumulate.toFixed(1)} s, solve ${result.phaseSeconds.solve.toFixed(1)} s, writing the refits ${(total - sum('prepare') - sum('accumulate') - sum('solve')).toFixed(1)} s; ` +
  `memory: ${rssBefore.toFixed(0)} MB before, peak ${result.peakMb.toFixed(0)} MB; CPU ${((process.cpuUsage().user + process.cpuUsage().system) / 1e6).toFixed(0)} s`);
mkdirSync(OUT_DIR, { recursive: true });
writeFileSync(join(OUT_DIR, `calibration-${size}-${basis}-${images}-${blocks.length}blocks.json`), JSON.stringify(result, null, 2) + '\n');
