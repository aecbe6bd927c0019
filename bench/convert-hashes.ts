/**
 * Byte-identity harness for the conversion pipeline: converts every fixture in models/ with a few option
 * sets and prints (or compares against) the SHA-256 of each output model and of its report (the report
 * without the model). Used to prove a restructuring changed no output.
 *
 *   npx tsx bench/convert-hashes.ts write /tmp/hashes.json   # record
 *   npx tsx bench/convert-hashes.ts check /tmp/hashes.json   # compare (exit 1 on any difference)
 *   npx tsx bench/convert-hashes.ts golden                    # rewrite test/architecture/convert-hashes.json
 *
 * test/architecture/convert-golden.test.ts checks the variants that do not run onnxruntime (those are
 * pure JavaScript, the same on every machine) against test/architecture/convert-hashes.json.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseSampleFile } from '../src/data/sample-file.js';
import { sampleInputs } from '../src/eval/inputs.js';
import { loadModel, modelToBytes } from '../src/model-io.js';
import { convertModel, type ConvertRequest } from '../src/cli/convert-model.js';

const MODELS = join(import.meta.dirname, '..', 'models');
const SAMPLE = join(MODELS, 'data', 'fashion-mnist-test-1000.bin');
export const GOLDEN = join(import.meta.dirname, '..', 'test', 'architecture', 'convert-hashes.json');

type Variant = { readonly name: string; readonly request: Omit<ConvertRequest, 'calibration'>; readonly calibrated?: 'fit' | 'measure' | 'auto'; readonly only?: RegExp };
const base = { linearAngularMode: 'kernel_normalized', fuse: true, fit: true, inlineFunctions: false } as const;
export const VARIANTS: readonly Variant[] = [
  { name: 'hydra', request: { ...base, attention: 'hydra', selection: 'all' } },
  { name: 'linear-angular', request: { ...base, attention: 'linear-angular', selection: 'all' } },
  { name: 'linear-angular-reference', request: { ...base, attention: 'linear-angular', selection: 'all', linearAngularMode: 'reference' } },
  { name: 'none', request: { ...base, selection: 'none' } },
  { name: 'none-no-fuse', request: { ...base, selection: 'none', fuse: false } },
  { name: 'hydra-inline', request: { ...base, attention: 'hydra', selection: 'all', inlineFunctions: true } },
  { name: 'hydra-block0', request: { ...base, attention: 'hydra', selection: '0' }, only: /^(fmnist_softmax|timm_vit|fmnist_hydra_last2)/ },
  { name: 'hydra-calibrated', request: { ...base, attention: 'hydra', selection: 'all' }, calibrated: 'fit', only: /^fmnist_/ },
  { name: 'la-calibrated', request: { ...base, attention: 'linear-angular', selection: 'all' }, calibrated: 'fit', only: /^fmnist_/ },
  { name: 'hydra-measured', request: { ...base, attention: 'hydra', selection: 'all', fit: false }, calibrated: 'measure', only: /^fmnist_softmax/ },
  { name: 'hydra-auto', request: { ...base, attention: 'hydra', selection: 'auto', budget: { maxTop1Drop: 0.02 } }, calibrated: 'auto', only: /^fmnist_(softmax|hydra_last2)/ },
];

const sha = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex').slice(0, 16);

/**
 * A report without the model and without timings, as stable JSON. `unrecognised` (added to the
 * outcome after the hashes were recorded; the CLI's report listed it before) is left out, so the
 * recorded hashes still prove every other field unchanged.
 */
function reportJson(outcome: Record<string, unknown>): string {
  const { model: _model, fusion, unrecognised: _unrecognised, ...rest } = outcome as { model: unknown; fusion: { model: unknown }; unrecognised: unknown };
  void _model;
  void _unrecognised;
  const { model: _fusionModel, ...fusionRest } = fusion;
  void _fusionModel;
  return JSON.stringify({ ...rest, fusion: fusionRest });
}

/** Hashes of every fixture × variant (`runtime: false` leaves out the variants that run onnxruntime: calibration, auto). */
export async function convertHashes(filter?: RegExp, options: { runtime?: boolean } = {}): Promise<Record<string, string>> {
  const sample = parseSampleFile(readFileSync(SAMPLE), 'fashion-mnist-test-1000.bin');
  const out: Record<string, string> = {};
  const files = readdirSync(MODELS).filter((f) => f.endsWith('.onnx')).sort();
  for (const file of files) {
    const original = await loadModel(join(MODELS, file));
    for (const variant of VARIANTS) {
      if (variant.only && !variant.only.test(file)) continue;
      if (options.runtime === false && variant.calibrated) continue;
      const key = `${basename(file, '.onnx')}/${variant.name}`;
      if (filter && !filter.test(key)) continue;
      const calibration = variant.calibrated ? sampleInputs(sample, 'fashion-mnist-test-1000.bin', 0, 32) : undefined;
      try {
        const outcome = await convertModel(original, { ...variant.request, ...(calibration ? { calibration } : {}) });
        out[key] = `${sha(modelToBytes(outcome.model))} ${sha(reportJson(outcome as unknown as Record<string, unknown>))}`;
      } catch (error) {
        out[key] = `error ${(error as Error).name}: ${(error as Error).message}`;
      }
    }
  }
  return out;
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const [mode, path, filter] = process.argv.slice(2);
  if (mode === 'golden') {
    writeFileSync(GOLDEN, JSON.stringify(await convertHashes(undefined, { runtime: false }), null, 1) + '\n');
    console.log(`wrote ${GOLDEN}`);
    process.exit(0);
  }
  const hashes = await convertHashes(filter ? new RegExp(filter) : undefined);
  if (mode === 'write') {
    writeFileSync(path!, JSON.stringify(hashes, null, 1));
    console.log(`${Object.keys(hashes).length} outputs recorded in ${path}`);
  } else {
    const expected = JSON.parse(readFileSync(path!, 'utf8')) as Record<string, string>;
    let bad = 0;
    for (const [key, value] of Object.entries(hashes)) {
      if (expected[key] !== value) { bad++; console.log(`DIFF ${key}\n  was ${expected[key]}\n  now ${value}`); }
    }
    console.log(`${Object.keys(hashes).length} outputs compared, ${bad} differ`);
    process.exitCode = bad ? 1 : 0;
  }
}
