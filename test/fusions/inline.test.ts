/**
 * inlineFunctions: the inlined model (plain ONNX: no function, no `ai.vitlin` node or import) computes
 * what the model with functions computes (≤ 1e-6, real onnxruntime-node sessions) — on the exactly
 * fused fixtures and on converted softmax fixtures — and attribute references, defaults, nested calls
 * and pass-through outputs are resolved as ONNX defines them (a hand-built model checked against
 * values computed here).
 */
import { describe, expect, it } from 'vitest';
import ort from 'onnxruntime-node';
import { convertAttention, type ConvertAttentionOptions } from '../../graph-rewrite/attention/index.js';
import { InvalidArgumentError } from '../../graph-rewrite/errors.js';
import { fuseExactAttention } from '../../graph-rewrite/fusions/index.js';
import { Attr, DataType, Function, Graph, Model, Node, Value, tensorType } from '../../graph-rewrite/ir/index.js';
import { inlineFunctions } from '../../graph-rewrite/passes/index.js';
import { validateRewrittenModel } from '../../graph-rewrite/rewrite/index.js';
import { modelToBytes } from '../../src/model-io.js';
import { createSession } from '../../src/runtime/index.js';
import { loadFixture, loadManifest, runModel, toFloat32View } from '../rewrite/helpers.js';
import { fuseEntries, loadEntry, maxAbsDifference } from './helpers.js';

const converted: readonly { fixture: string; options: ConvertAttentionOptions }[] = [
  { fixture: 'timm_vit', options: { attention: 'hydra' } },
  { fixture: 'tv_vit_mha', options: { attention: 'linear-angular' } },
  { fixture: 'hf_vit_op17_dyn', options: { attention: 'linear-angular', linearAngularMode: 'kernel_normalized' } },
  { fixture: 'ms_attention_vit', options: { attention: 'hydra' } },
  { fixture: 'timm_vit_fp16', options: { attention: 'linear-angular' } },
];

interface Case {
  readonly label: string;
  readonly model: () => Promise<Model>;
}

const cases: Case[] = [
  ...fuseEntries().map((entry) => ({ label: `${entry.name} (exact fusion)`, model: async () => fuseExactAttention(await loadEntry(entry)).model })),
  ...converted.map(({ fixture, options }) => ({
    label: `${fixture} → ${options.attention}${options.linearAngularMode ? ` ${options.linearAngularMode}` : ''}`,
    model: async () => convertAttention(await loadFixture(loadManifest().find((entry) => entry.name === fixture)!), options).model,
  })),
];

describe.each(cases.map((c) => [c.label, c] as const))('%s', (_, { model: make }) => {
  it('inlined: no function, no ai.vitlin node or import, valid, and the same outputs (≤ 1e-6)', async () => {
    const model = await make();
    const fusedCount = model.graph.nodes.filter((node) => node.domain === 'ai.vitlin').length;
    expect(fusedCount).toBeGreaterThan(0);
    const bodyNodes = model.graph.nodes.filter((node) => node.domain === 'ai.vitlin')
      .reduce((n, node) => n + model.findFunction(node.domain, node.opType, node.overload)!.nodes.length, 0);
    const inlined = inlineFunctions(model);

    expect(inlined.functions).toEqual([]);
    expect(inlined.graph.nodes.filter((node) => node.domain !== '')).toEqual([]);
    expect(inlined.opsetImports.has('ai.vitlin')).toBe(false);
    expect(inlined.graph.nodes.length).toBe(model.graph.nodes.length - fusedCount + bodyNodes);
    validateRewrittenModel(inlined);
    expect(model.functions.length).toBeGreaterThan(0); // the input is not modified

    const withFunctions = await runModel(model, 'cpu', 11);
    const session = await createSession(modelToBytes(inlined));
    try {
      const outputs = await session.run(withFunctions.feeds);
      for (const [name, tensor] of Object.entries(withFunctions.outputs)) {
        expect(maxAbsDifference(toFloat32View(outputs[name]!).data, toFloat32View(tensor).data), name).toBeLessThanOrEqual(1e-6);
      }
    } finally {
      await session.release();
    }
  });
});

/** A function of domain 'test.fn' whose body `build` makes from its inputs. */
function makeFunction(name: string, inputNames: readonly string[], build: (inputs: Value[], body: Node[]) => Value[], defaults: readonly Attr[] = []): Function {
  const inputs = inputNames.map((n) => new Value(n));
  const body: Node[] = [];
  const outputs = build(inputs, body);
  const fn = new Function({ domain: 'test.fn', name, inputs, outputs, attributeDefaults: defaults, opsetImports: [['', 17], ['test.fn', 1]] });
  fn.body.append(body);
  return fn;
}

function node(body: Node[], opType: string, inputs: Value[], name: string, options: { domain?: string; attributes?: Attr[] } = {}): Value {
  const created = new Node({ opType, inputs, name, outputs: [`${name}_out`], ...options });
  body.push(created);
  return created.outputs[0]!;
}

describe('hand-built functions: references, defaults, nesting, pass-through', () => {
  // ScaleAdd(x, y; alpha = 2) = alpha·x + y.   Twice(x, y; beta) = ScaleAdd(ScaleAdd(x, y; alpha = beta), y).
  const scaleAdd = makeFunction('ScaleAdd', ['x', 'y'], ([x, y], body) => {
    const alpha = node(body, 'Constant', [], 'alpha', { attributes: [Attr.ref('value_float', 'alpha', 'float')] });
    return [node(body, 'Add', [node(body, 'Mul', [x!, alpha], 'scaled'), y!], 'sum')];
  }, [Attr.float('alpha', 2)]);
  const twice = makeFunction('Twice', ['x', 'y'], ([x, y], body) => {
    const first = node(body, 'ScaleAdd', [x!, y!], 'first', { domain: 'test.fn', attributes: [Attr.ref('alpha', 'beta', 'float')] });
    return [node(body, 'ScaleAdd', [first, y!], 'second', { domain: 'test.fn' })];
  });

  function build(withPassThrough: boolean): Model {
    const graph = new Graph({ name: 'functions' });
    const [x, y] = ['X', 'Y'].map((n) => new Value(n, { type: tensorType(DataType.FLOAT, [2, 3]) }));
    graph.addInput(x!);
    graph.addInput(y!);
    const nodes: Node[] = [];
    const z = node(nodes, 'Twice', [x!, y!], 'twice', { domain: 'test.fn', attributes: [Attr.float('beta', 3)] });
    const w = node(nodes, 'ScaleAdd', [x!, y!], 'scale_add', { domain: 'test.fn' });
    const functions = [scaleAdd, twice];
    const outputs = [z, w];
    if (withPassThrough) {
      const pass = new Function({ domain: 'test.fn', name: 'Pass', inputs: [new Value('p')], outputs: [], opsetImports: [['', 17]] });
      pass.body.addOutput(pass.inputs[0]!);
      functions.push(pass);
      outputs.push(node(nodes, 'Pass', [x!], 'pass', { domain: 'test.fn' }));
    }
    graph.append(nodes);
    for (const output of outputs) {
      output.type = tensorType(DataType.FLOAT, [2, 3]);
      graph.addOutput(output);
    }
    return new Model({ graph, irVersion: 8, opsetImports: [['', 17], ['test.fn', 1]], functions });
  }

  const X = Float32Array.from([1, -2, 3, 0.5, 4, -1]);
  const Y = Float32Array.from([0.25, 1, -3, 2, 0, 7]);
  const feeds = { X: new ort.Tensor('float32', X, [2, 3]), Y: new ort.Tensor('float32', Y, [2, 3]) };
  const expected = {
    twice_out: X.map((x, i) => (3 * x + Y[i]!) * 2 + Y[i]!),
    scale_add_out: X.map((x, i) => 2 * x + Y[i]!),
    pass_out: X,
  };

  async function outputsOf(model: Model): Promise<Record<string, Float32Array>> {
    const session = await createSession(modelToBytes(model));
    try {
      const outputs = await session.run(feeds);
      return Object.fromEntries(Object.entries(outputs).map(([name, tensor]) => [name, tensor.data as Float32Array]));
    } finally {
      await session.release();
    }
  }

  it('onnxruntime computes the values of this test on the model with functions (the oracle holds)', async () => {
    const outputs = await outputsOf(build(false));
    expect(maxAbsDifference(outputs['twice_out']!, expected.twice_out)).toBe(0);
    expect(maxAbsDifference(outputs['scale_add_out']!, expected.scale_add_out)).toBe(0);
  });

  it('inlined: the same values, no function, the test.fn import gone, graph output names kept', async () => {
    const inlined = inlineFunctions(build(true));
    expect(inlined.functions).toEqual([]);
    expect(inlined.opsetImports.has('test.fn')).toBe(false);
    expect(inlined.graph.nodes.every((n) => n.domain === '')).toBe(true);
    expect(inlined.graph.outputs.map((v) => v.name)).toEqual(['twice_out', 'scale_add_out', 'pass_out']);
    // alpha resolved: beta (3) in the first nested call, the default (2) in the others.
    const alphas = inlined.graph.nodes.filter((n) => n.opType === 'Constant').map((n) => n.getFloat('value_float'));
    expect(alphas.sort()).toEqual([2, 2, 3]);
    const names = inlined.graph.nodes.map((n) => n.name);
    expect(new Set(names).size).toBe(names.length);
    validateRewrittenModel(inlined);
    const outputs = await outputsOf(inlined);
    for (const [name, values] of Object.entries(expected)) expect(maxAbsDifference(outputs[name]!, values), name).toBe(0);
  });

  it('refuses a body written for another opset version than the model\'s', () => {
    const model = build(false);
    model.functions[0]!.opsetImports.set('', 13);
    expect(() => inlineFunctions(model)).toThrow(InvalidArgumentError);
    expect(() => inlineFunctions(model)).toThrow(/function 'test\.fn::ScaleAdd' uses ai\.onnx version 13, but the model imports version 17/);
  });
});
