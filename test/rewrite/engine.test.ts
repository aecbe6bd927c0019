/**
 * The rewrite engine on its own, with a small rule written the way an exact-fusion rule would be:
 * pattern (with firstOf alternatives) + check + rewrite; matching in graph order, the tracer's
 * furthest-failure explanation, committing with local dead-code removal, model functions and
 * overloads, and the typed validation of rewritten models.
 */
import { describe, expect, it } from 'vitest';
import { RewriteError } from '../../graph-rewrite/errors.js';
import { DataType, Graph, Model, Node, Tensor, Value, tensorType } from '../../graph-rewrite/ir/index.js';
import {
  MatchContext, MatchFailure, MatchTracer, commitRewrite, ensureModelFunction, matchRules, removeDeadNodesFrom, validateRewrittenModel,
  type RewriteRule,
} from '../../graph-rewrite/rewrite/index.js';
import { inferShapes } from '../../graph-rewrite/analysis/index.js';
import { opFunction, opFunctionKey } from '../../custom-ops/index.js';
import { runModel, toFloat32View } from './helpers.js';

/** x → Relu → (Relu | Clip(min 0)) → y, plus an unrelated dead Neg: the rule folds the double ReLU. */
function doubleReluModel(second: 'Relu' | 'Clip' | 'Sigmoid'): Model {
  const graph = new Graph({ name: 'g' });
  const x = new Value('x', { type: tensorType(DataType.FLOAT, [2, 3]) });
  graph.addInput(x);
  const first = new Node({ opType: 'Relu', name: 'first', inputs: [x], outputs: ['r1'] });
  const zero = graph.addInitializer(Tensor.fromFloat32Array([0], []), 'zero');
  const outer = new Node({ opType: second, name: 'second', inputs: second === 'Clip' ? [first.outputs[0]!, zero] : [first.outputs[0]!], outputs: ['y'] });
  const dead = new Node({ opType: 'Neg', name: 'unrelated_dead', inputs: [x], outputs: ['unused'] });
  graph.append([first, outer, dead]);
  outer.outputs[0]!.type = tensorType(DataType.FLOAT, [2, 3]);
  graph.addOutput(outer.outputs[0]!);
  return new Model({ graph, irVersion: 8, opsetImports: [['', 17]] });
}

interface DoubleRelu {
  readonly input: Value;
  readonly output: Value;
}

const foldDoubleRelu: RewriteRule<DoubleRelu, { readonly name: string }> = {
  name: 'fold-double-relu',
  anchor: { opType: 'Relu' },
  match(m: MatchContext, relu: Node): DoubleRelu {
    m.bind(relu, 'inner');
    const outer = m.firstOf('the consumer', [
      ['Relu', (c: MatchContext) => {
        const node = c.soleConsumer(relu.outputs[0]!, 'the ReLU output', relu);
        c.ensure(node.opType === 'Relu', () => `expected Relu, found ${node.opType}`, node);
        return c.bind(node, 'outer');
      }],
      ['Clip(min 0)', (c: MatchContext) => {
        const node = c.soleConsumer(relu.outputs[0]!, 'the ReLU output', relu);
        c.bind(node, 'outer');
        c.ensure(node.opType === 'Clip', () => `expected Clip, found ${node.opType}`, node);
        c.ensure(c.scalar(node.inputs[1]) === 0, 'the Clip minimum is not 0', node);
        return node;
      }],
    ]);
    return { input: relu.inputs[0]!, output: outer.outputs[0]! };
  },
  check(m: MatchContext, found: DoubleRelu) {
    m.ensure(m.elemTypeOf(found.input) === DataType.FLOAT, 'only float', m.anchor);
  },
  rewrite(context, found, options) {
    context.replace(found.output, context.op('Relu', [found.input], { name: options.name }));
  },
};

describe('matching', () => {
  it('firstOf: the alternative that matches wins; otherwise the one that got furthest explains', () => {
    const good = doubleReluModel('Clip');
    const result = matchRules(good.graph, [foldDoubleRelu], { opsets: good.opsetImports });
    expect(result.matches.map((match) => [match.anchor.name, [...match.nodes.values()]])).toEqual([['first', ['inner', 'outer']]]);
    expect(result.unmatched).toEqual([]);

    const bad = doubleReluModel('Sigmoid');
    const failed = matchRules(bad.graph, [foldDoubleRelu], { opsets: bad.opsetImports });
    expect(failed.matches).toEqual([]);
    expect(failed.unmatched.map((node) => node.name)).toEqual(['first']);
    // The Clip alternative bound the consumer before failing: it got furthest.
    expect(failed.tracer.explain(failed.unmatched[0]!)).toBe("Relu 'first': the consumer: expected Clip, found Sigmoid [rule fold-double-relu, stopped at Sigmoid 'second']");
  });

  it('restores the bound nodes of failed alternatives', () => {
    const model = doubleReluModel('Sigmoid');
    inferShapes(model.graph);
    const m = new MatchContext(model.graph, model.opsetImports, 'test', model.graph.nodes[0]!);
    m.bind(model.graph.nodes[0]!, 'anchor');
    expect(() => m.firstOf('x', [['binds then fails', (c) => { c.bind(model.graph.nodes[1]!, 'tmp'); c.fail('no'); }]])).toThrow(MatchFailure);
    expect([...m.bound.values()]).toEqual(['anchor']);
  });

  it('the tracer keeps every attempt and picks the furthest failure', () => {
    const tracer = new MatchTracer();
    const anchor = new Node({ opType: 'Softmax', name: 's' });
    tracer.record({ rule: 'a', anchor, outcome: 'failed', progress: 1, reason: 'one' });
    tracer.record({ rule: 'b', anchor, outcome: 'failed', progress: 3, reason: 'three' });
    tracer.record({ rule: 'c', anchor, outcome: 'rejected', progress: 3, reason: 'three again' });
    expect(tracer.furthestFailure(anchor)?.rule).toBe('b');
    expect(tracer.explain(anchor)).toBe("Softmax 's': three [rule b]");
    expect(tracer.attemptsAt(anchor)).toHaveLength(3);
  });
});

describe('committing a rewrite', () => {
  it('inserts, redirects, removes only what the match made dead, and the model still runs', async () => {
    const model = doubleReluModel('Relu');
    const [match] = matchRules(model.graph, [foldDoubleRelu], { opsets: model.opsetImports }).matches;
    commitRewrite(model, match!, { name: 'folded' });
    // New nodes are named after the anchor; with no node reading the replaced value (a graph output) they go last.
    expect(model.graph.nodes.map((node) => node.name)).toEqual(['unrelated_dead', 'first/folded']);
    expect(model.graph.outputs.map((value) => [value.name, value.producer()?.name])).toEqual([['y', 'first/folded']]);
    validateRewrittenModel(model);
    const { outputs, feeds } = await runModel(model);
    const x = toFloat32View(feeds['x']!).data;
    expect(Array.from(toFloat32View(outputs['y']!).data)).toEqual(Array.from(x, (v) => Math.max(v, 0)));
  });

  it('removeDeadNodesFrom removes initializers only the removed nodes read', () => {
    const model = doubleReluModel('Clip');
    model.graph.outputs[0]!.replaceAllUsesWith(model.graph.inputs[0]!);
    const removed = removeDeadNodesFrom(model.graph, [model.graph.nodes[1]!]);
    expect(removed).toEqual({ nodes: 2, initializers: 1 });
    expect(model.graph.initializers.size).toBe(0);
    expect(model.graph.nodes.map((node) => node.name)).toEqual(['unrelated_dead']);
  });
});

describe('model functions and validation', () => {
  const hydra = (opset: number, eps: number) => ({ opset, elemType: 'float' as const, attributes: { eps } });

  it('adds one function per specialisation; a second one gets an overload and IR 10', () => {
    const model = doubleReluModel('Relu');
    const key = opFunctionKey('HydraAttention', hydra(17, 1e-6));
    const build = (eps: number) => (overload: string | undefined) => opFunction('HydraAttention', { ...hydra(17, eps), ...(overload ? { overload } : {}) });
    expect(ensureModelFunction(model, 'ai.vitlin', 'HydraAttention', key, build(1e-6))).toBeUndefined();
    expect(ensureModelFunction(model, 'ai.vitlin', 'HydraAttention', key, build(1e-6))).toBeUndefined();
    expect(model.functions).toHaveLength(1);
    expect(model.irVersion).toBe(8);
    const other = opFunctionKey('HydraAttention', hydra(17, 1e-3));
    expect(ensureModelFunction(model, 'ai.vitlin', 'HydraAttention', other, build(1e-3))).toBe('k1');
    expect(model.functions.map((fn) => fn.overload ?? '')).toEqual(['', 'k1']);
    expect(model.irVersion).toBe(10);
  });

  it('validateRewrittenModel throws RewriteError naming the node, the domain or the function', () => {
    const model = doubleReluModel('Relu');
    const y = model.graph.outputs[0]!;
    const fused = new Node({ domain: 'ai.vitlin', opType: 'HydraAttention', name: 'fused', inputs: [y, y, y], outputs: ['z'] });
    model.graph.append(fused);
    expect(() => validateRewrittenModel(model)).toThrow(RewriteError);
    expect(() => validateRewrittenModel(model)).toThrow(/node 'fused' uses domain 'ai.vitlin', which the model does not import/);
    expect(() => validateRewrittenModel(model)).toThrow(/node 'fused' calls ai.vitlin::HydraAttention, but the model has no such function/);
    model.opsetImports.set('ai.vitlin', 1);
    ensureModelFunction(model, 'ai.vitlin', 'HydraAttention', 'k', () => opFunction('HydraAttention', hydra(13, 1e-6)));
    expect(() => validateRewrittenModel(model)).toThrow(/function 'ai.vitlin::HydraAttention' imports ai.onnx version 13, but the model imports version 17/);
    model.functions.length = 0;
    ensureModelFunction(model, 'ai.vitlin', 'HydraAttention', 'k', () => opFunction('HydraAttention', hydra(17, 1e-6)));
    fused.replaceInput(2, new Value('nowhere'));
    expect(() => validateRewrittenModel(model)).toThrow(/node 'fused' input 2 'nowhere' is not produced by any node/);
    fused.replaceInput(2, y);
    expect(() => validateRewrittenModel(model)).not.toThrow();
  });
});
