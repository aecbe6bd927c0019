/**
 * `vitlin demo` (what `npm start` runs): the main job on the bundled Fashion-MNIST ViTs. Today it loads
 * each trained model through vitlin's IR, writes it back, and checks on the bundled test sample that the
 * round-tripped model computes exactly what the original does; the attention rewrite joins it when it lands.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseSampleFile } from '../data/sample-file.js';
import { classifySample } from '../eval/classify.js';
import { loadModel, modelToBytes } from '../model-io.js';
import { compareOutputs } from '../runtime/compare.js';
import { createSession } from '../runtime/session.js';
import { parseCommandArgs } from './args.js';
import type { Command } from './commands.js';

interface ManifestEntry {
  readonly name: string;
  readonly file: string;
  readonly trained?: unknown;
}

interface DemoRow {
  readonly model: string;
  readonly nodes: number;
  readonly softmax: number;
  readonly accuracy: number;
  readonly roundTripAccuracy: number;
  readonly maxAbsError: number;
}

function formatTable(rows: readonly DemoRow[]): string {
  const header = ['model', 'nodes', 'Softmax', 'accuracy', 'after IR round trip', 'max |Δ logits|'];
  const body = rows.map((r) => [r.model, String(r.nodes), String(r.softmax), `${(r.accuracy * 100).toFixed(1)} %`,
    `${(r.roundTripAccuracy * 100).toFixed(1)} %`, r.maxAbsError.toExponential(1)]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

async function runDemo(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, { 'models-dir': { type: 'string' }, json: { type: 'boolean' } }, 'demo');
  const folder = resolve(values['models-dir'] ?? 'models');
  const manifest = JSON.parse(readFileSync(join(folder, 'manifest.json'), 'utf8')) as { sample: { file: string }; models: ManifestEntry[] };
  const sample = parseSampleFile(readFileSync(join(folder, manifest.sample.file)), manifest.sample.file);
  const rows: DemoRow[] = [];
  for (const entry of manifest.models.filter((m) => m.trained)) {
    const path = join(folder, entry.file);
    const model = await loadModel(path);
    const original = await classifySample(await createSession(path, {}, entry.file), sample);
    const roundTripped = await classifySample(await createSession(modelToBytes(model), {}, `${entry.file} (round trip)`), sample);
    rows.push({
      model: entry.name,
      nodes: model.graph.nodes.length,
      softmax: model.graph.nodes.filter((n) => n.opType === 'Softmax').length,
      accuracy: original.accuracy,
      roundTripAccuracy: roundTripped.accuracy,
      maxAbsError: compareOutputs(original.logits, roundTripped.logits).maxAbsError,
    });
  }
  process.stdout.write(values.json ? JSON.stringify(rows, null, 2) + '\n'
    : `Fashion-MNIST ViTs (${sample.header.count} test images), onnxruntime CPU\n\n${formatTable(rows)}\n`);
  return rows.every((r) => r.maxAbsError === 0) ? 0 : 1;
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'the main job on the bundled Fashion-MNIST ViTs (what `npm start` runs)',
  help: ['Usage: vitlin demo [--models-dir DIR] [--json]', '',
    'Loads each bundled trained ViT through vitlin, runs it on the bundled test sample, and prints one table.'].join('\n'),
  run: runDemo,
};
