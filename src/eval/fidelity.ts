/**
 * Runs models over an input set and measures how far a converted model is from its original: max and
 * mean absolute error, cosine similarity, top-1 agreement, and accuracy when the inputs are labelled.
 * These are the figures `verify`, `convert`'s quick check, `--blocks auto` and the demo report.
 */
import { argmaxRows, compareOutputs } from '../runtime/compare.js';
import { tensorToFloat32 } from '../runtime/float16.js';
import type { Fidelity } from '../../graph-rewrite/plan/evaluator.js';
import type { BackendSession } from '../runtime/backend.js';
import { batchSizeFor, type InputSet } from './inputs.js';

/** A model's outputs over an input set: the first output, [items, …] row-major as float32. */
export interface ModelRun {
  readonly output: Float32Array;
  /** Elements per item (classes for a classifier). */
  readonly perItem: number;
  readonly items: number;
}

/**
 * Runs `session` (any backend's) on every item of `inputs` (batched when the batch axis is dynamic) and returns its
 * first output. `onBatch` reports progress in items.
 */
export async function runModel(session: BackendSession, inputs: InputSet, options: { maxBatch?: number; onBatch?: (items: number) => void } = {}): Promise<ModelRun> {
  const batch = batchSizeFor(session.inputs, options.maxBatch ?? 64);
  const fixedBatch = batchSizeFor(session.inputs, 0) > 0;
  const outputName = session.outputs[0]!.name;
  const chunks: Float32Array[] = [];
  let items = 0;
  for (let start = 0; start < inputs.count; start += batch) {
    const size = Math.min(batch, inputs.count - start);
    if (size !== batch && fixedBatch) break; // a fixed batch axis: drop the ragged tail
    const outputs = await session.run(inputs.feeds(session.inputs, start, size));
    chunks.push(tensorToFloat32(outputs[outputName]!));
    items += size;
    options.onBatch?.(size);
  }
  const output = new Float32Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    output.set(chunk, offset);
    offset += chunk.length;
  }
  return { output, perItem: items ? output.length / items : 0, items };
}

/** Share of items whose arg-max equals the label. */
export function accuracyOf(run: ModelRun, labels: ArrayLike<number>): number {
  const predictions = argmaxRows(run.output, run.perItem);
  let correct = 0;
  predictions.forEach((p, i) => { if (p === labels[i]) correct++; });
  return predictions.length ? correct / predictions.length : NaN;
}

/** The figures (graph-rewrite/plan/evaluator.ts: the planner's evaluators return them too). */
export type { Fidelity };

/** Compares the converted model's run against the original's on the same items. */
export function fidelityOf(original: ModelRun, converted: ModelRun, labels?: ArrayLike<number>): Fidelity {
  const items = Math.min(original.items, converted.items);
  const a = original.output.subarray(0, items * original.perItem);
  const b = converted.output.subarray(0, items * converted.perItem);
  const cmp = compareOutputs(a, b, original.perItem > 1 ? original.perItem : undefined);
  const result: Fidelity = { items, maxAbsError: cmp.maxAbsError, meanAbsError: cmp.meanAbsError, cosine: cmp.cosine, top1Agreement: cmp.top1Agreement };
  if (!labels || labels.length < items || original.perItem < 2) return result;
  const trimmed = Array.from({ length: items }, (_, i) => labels[i]!);
  return { ...result, accuracy: { original: accuracyOf({ ...original, items }, trimmed), converted: accuracyOf({ ...converted, items }, trimmed) } };
}

/** Per-item cosine similarity is dominated by large logits; this is the mean over items instead. */
export function meanItemCosine(original: ModelRun, converted: ModelRun): number {
  let sum = 0;
  const n = Math.min(original.items, converted.items);
  for (let i = 0; i < n; i++) {
    const a = original.output.subarray(i * original.perItem, (i + 1) * original.perItem);
    const b = converted.output.subarray(i * converted.perItem, (i + 1) * converted.perItem);
    sum += compareOutputs(a, b).cosine;
  }
  return n ? sum / n : NaN;
}
