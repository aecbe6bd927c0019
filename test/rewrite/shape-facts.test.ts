/**
 * Shapes on Value across a conversion: facts stay current until the graph is edited, a clone carries
 * them, and a convert infers shapes once per model it analyses (the model as given, a fused base, the
 * result) — not once per `--blocks auto` candidate, whose conversions work on clones of the base.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureShapes, inferShapes, shapeInferenceRuns, shapesCurrent } from '../../graph-rewrite/analysis/index.js';
import { convertAttention, findAttentionBlocks } from '../../graph-rewrite/attention/index.js';
import { findExactFusions } from '../../graph-rewrite/fusions/index.js';
import { Attr } from '../../graph-rewrite/ir/attributes.js';
import type { Model } from '../../graph-rewrite/ir/model.js';
import { Node } from '../../graph-rewrite/ir/node.js';
import { Tensor } from '../../graph-rewrite/ir/tensor.js';
import type { Value } from '../../graph-rewrite/ir/value.js';
import { concreteShapes, runConversion, type Fidelity, type FidelityEvaluator, type PipelineRequest } from '../../graph-rewrite/plan/index.js';
import { loadModel } from '../../src/model-io.js';
import { MODELS_DIR } from './helpers.js';

const load = (name: string) => loadModel(join(MODELS_DIR, `${name}.onnx`));
const valuesOf = (model: Model): Value[] => [...model.graph.inputs, ...model.graph.initializers.values(), ...model.graph.nodes.flatMap((n) => n.outputs)];
const request = (selection: PipelineRequest['selection'], more: Partial<PipelineRequest> = {}): PipelineRequest =>
  ({ attention: 'hydra', selection, linearAngularMode: 'reference', fuse: true, fit: false, inlineFunctions: false, ...more });

/** Shape inferences `run` makes. */
async function inferencesOf<T>(run: () => Promise<T> | T): Promise<{ result: T; inferences: number }> {
  const before = shapeInferenceRuns();
  const result = await run();
  return { result, inferences: shapeInferenceRuns() - before };
}

/**
 * An evaluator that scores a candidate by how many fused attention nodes it has (each costs cosine
 * 0.01): enough for the greedy search to walk every step, with no runtime involved.
 */
function fusedNodeCounter(): FidelityEvaluator<number> & { runs: number } {
  const evaluator = {
    description: 'fused-node count', count: 1, runs: 0,
    async run(model: Model): Promise<number> {
      evaluator.runs++;
      return model.graph.nodes.filter((n) => n.domain === 'ai.vitlin').length;
    },
    compare(reference: number, candidate: number): Fidelity {
      return { items: 1, maxAbsError: 0, meanAbsError: 0, cosine: 1 - 0.01 * (candidate - reference) };
    },
  };
  return evaluator;
}

describe('shape facts on the values of a graph', () => {
  it('stay current until an IR edit; ensureShapes infers only then', async () => {
    const model = await load('fmnist_softmax');
    expect(shapesCurrent(model.graph)).toBe(false);
    expect((await inferencesOf(() => ensureShapes(model.graph))).inferences).toBe(1);
    expect(shapesCurrent(model.graph)).toBe(true);
    expect((await inferencesOf(() => ensureShapes(model.graph))).inferences).toBe(0);
    const softmax = model.graph.nodes.find((n) => n.opType === 'Softmax')!;
    softmax.replaceInput(0, softmax.inputs[0]!); // the same input: not an edit
    expect(shapesCurrent(model.graph)).toBe(true);
    softmax.setAttribute(Attr.int('axis', -1));
    expect(shapesCurrent(model.graph)).toBe(false);
    expect((await inferencesOf(() => ensureShapes(model.graph))).inferences).toBe(1);
  });

  const someInitializer = (model: Model) => [...model.graph.initializers.values()].find((v) => v.constValue !== undefined)!;
  it.each<[string, (model: Model) => void]>([
    ['a node inserted', (m) => m.graph.append(new Node({ opType: 'Identity', inputs: [m.graph.inputs[0]!], outputs: ['extra'] }))],
    ['the input of a node re-wired', (m) => m.graph.nodes.find((n) => n.opType === 'Softmax')!.replaceInput(0, m.graph.inputs[0]!)],
    ['an attribute removed', (m) => m.graph.nodes.find((n) => n.opType === 'Softmax')!.removeAttribute('axis')],
    ['an input appended to a node', (m) => m.graph.nodes.find((n) => n.opType === 'Softmax')!.appendInput(undefined)],
    ['an initializer added', (m) => m.graph.addInitializer(Tensor.fromInt64Array([1], [1]), 'spare')],
    ['the data of an initializer replaced', (m) => { const v = someInitializer(m); v.constValue = v.constValue!; }],
  ])('are no longer current after an edit: %s', async (_, edit) => {
    const model = await load('fmnist_softmax');
    inferShapes(model.graph);
    edit(model);
    expect(shapesCurrent(model.graph)).toBe(false);
  });

  it('Model.clone() carries them, current, equal to what inference of the copy finds', async () => {
    const model = await load('fmnist_hydra_last2');
    inferShapes(model.graph);
    const copy = model.clone();
    expect(shapesCurrent(copy.graph)).toBe(true);
    const carried = valuesOf(copy).map((v) => v.inferred);
    expect(carried.filter((f) => f !== undefined).length).toBeGreaterThan(valuesOf(copy).length / 2);
    inferShapes(copy.graph);
    expect(valuesOf(copy).map((v) => v.inferred)).toEqual(carried);
    // Not current when the original's were not (an edit after inference): the copy is inferred again.
    model.graph.addInitializer(Tensor.fromInt64Array([1], [1]), 'spare');
    expect(shapesCurrent(model.clone().graph)).toBe(false);
  });

  it('convertAttention does not infer a model whose facts are current again', async () => {
    const model = await load('fmnist_softmax6');
    inferShapes(model.graph);
    const { result, inferences } = await inferencesOf(() => convertAttention(model, { attention: 'hydra' }));
    expect(result.converted.length).toBe(6);
    expect(inferences).toBe(0);
  });
});

describe('shape inferences per convert', () => {
  it('one for the analyses of a model as given (what inspect and the web app show)', async () => {
    const model = await load('fmnist_hydra_last2');
    const { inferences } = await inferencesOf(() => [findAttentionBlocks(model), findExactFusions(model), concreteShapes(model)]);
    expect(inferences).toBe(1);
  });

  it('two for softmax blocks: the model as given and the result', async () => {
    const model = await load('fmnist_softmax6');
    const { result, inferences } = await inferencesOf(() => runConversion(model, request('all')));
    expect(result.converted.length).toBe(6);
    expect(inferences).toBe(2);
  });

  it('one with --blocks none (the result is an unedited clone)', async () => {
    const model = await load('fmnist_softmax6');
    expect((await inferencesOf(() => runConversion(model, request('none', { attention: undefined })))).inferences).toBe(1);
  });

  it('three when decomposed blocks are fused: the model as given, the fused base, the result', async () => {
    const model = await load('fmnist_hydra_last2');
    const { result, inferences } = await inferencesOf(() => runConversion(model, request('all')));
    expect(result.fusion.fused.length).toBeGreaterThan(0);
    expect(result.converted.length).toBeGreaterThan(0);
    expect(inferences).toBe(3);
  });

  it('still two under --blocks auto, however many candidates are measured', async () => {
    const model = await load('fmnist_softmax6');
    const evaluator = fusedNodeCounter();
    const { result, inferences } = await inferencesOf(() => runConversion(model, request('auto', { budget: { minCosine: 0.97 } }), { evaluator }));
    expect(result.auto?.chosen.length).toBe(3);
    expect(evaluator.runs).toBeGreaterThan(6);
    expect(inferences).toBe(2);
  });
});
