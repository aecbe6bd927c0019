/**
 * The real fixture models (models/*.onnx and those models/manifest.json lists): decode →
 * modelFromProto → validateGraph → modelToProto deep-equals the decoded proto.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { modelFromProto, modelToProto } from '../../graph-rewrite/ir/index.js';
import { topologicalSort, validateModel } from '../../graph-rewrite/passes/index.js';
import { decodeModelProto } from '../../graph-rewrite/serde/decode.js';

const MODELS = join(import.meta.dirname, '../../models');

function fixtureFiles(): string[] {
  const files = new Set<string>();
  if (existsSync(MODELS)) for (const file of readdirSync(MODELS)) if (file.endsWith('.onnx')) files.add(file);
  const manifestPath = join(MODELS, 'manifest.json');
  if (existsSync(manifestPath)) {
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { models?: { file?: unknown }[] };
    for (const entry of manifest.models ?? []) {
      if (typeof entry.file === 'string' && existsSync(join(MODELS, entry.file))) files.add(entry.file);
    }
  }
  return [...files].sort();
}

const files = fixtureFiles();

test('finds the committed fixture models (models/*.onnx)', () => expect(files.length).toBeGreaterThan(0));

test.each(files)('%s round-trips through the IR and validates', (file) => {
  const bytes = new Uint8Array(readFileSync(join(MODELS, file)));
  const model = modelFromProto(decodeModelProto(bytes, { source: file }));
  validateModel(model);
  expect(modelToProto(model)).toStrictEqual(decodeModelProto(bytes, { source: file }));
  // Exported models are already sorted: a stable sort must not move anything.
  const before = model.graph.nodes;
  topologicalSort(model.graph);
  expect(model.graph.nodes).toEqual(before);
});
