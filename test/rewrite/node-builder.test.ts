/**
 * The one node builder (custom-ops' NodeTape, implemented on the IR by RewriteContext and
 * buildFunction) and the shapes shape inference writes on values.
 */
import { describe, expect, it } from 'vitest';
import { cast, reduce, tapeAttr, unsqueeze, type FunctionSpec, type NodeTape } from '../../custom-ops/index.js';
import { DataType, Graph, Model, Node, Value, tensorType } from '../../graph-rewrite/ir/index.js';
import { nodeToProto } from '../../graph-rewrite/ir/to-proto.js';
import { RewriteContext, buildFunction } from '../../graph-rewrite/rewrite/index.js';
import { clearInferredTypes, inferShapes } from '../../graph-rewrite/analysis/index.js';
import { modelToBytes } from '../../src/model-io.js';

/** x [2, 3] float → Relu → y. */
function reluModel(opset: number): Model {
  const graph = new Graph({ name: 'g' });
  const x = new Value('x', { type: tensorType(DataType.FLOAT, [2, 3]) });
  graph.addInput(x);
  const relu = new Node({ opType: 'Relu', name: 'relu', inputs: [x], outputs: ['y'] });
  graph.append(relu);
  graph.addOutput(relu.outputs[0]!);
  return new Model({ graph, irVersion: 8, opsetImports: [['', opset]] });
}

function spec(opset: number, body: FunctionSpec['body']): FunctionSpec {
  return { name: 'Toy', domain: 'test.toy', inputs: ['X'], outputs: ['Y'], attributeDefaults: [], opset, metadata: [['k', 'v']], body };
}

/** The opset-dependent part of one ReduceL2 and one Unsqueeze, whichever tape wrote them. */
function axesForm(nodes: readonly Node[]): Record<string, 'attribute' | 'input'> {
  const form: Record<string, 'attribute' | 'input'> = {};
  for (const node of nodes.filter((n) => n.opType !== 'Constant')) {
    form[node.opType] = node.attribute('axes') === undefined ? 'input' : 'attribute';
    expect(node.inputs.length).toBe(form[node.opType] === 'input' ? 2 : 1);
  }
  return form;
}

const write = <V>(tape: NodeTape<V>, x: V): V => unsqueeze(tape, reduce(tape, 'ReduceL2', x, [-1], 'norm'), [0], 'batched');

describe('the node tape: opset rules written once, for both tapes', () => {
  it.each([
    { opset: 12, ReduceL2: 'attribute', Unsqueeze: 'attribute' },
    { opset: 13, ReduceL2: 'attribute', Unsqueeze: 'input' },
    { opset: 17, ReduceL2: 'attribute', Unsqueeze: 'input' },
    { opset: 18, ReduceL2: 'input', Unsqueeze: 'input' },
  ] as const)('opset $opset: ReduceL2 axes as $ReduceL2, Unsqueeze axes as $Unsqueeze', ({ opset, ...expected }) => {
    const fn = buildFunction(spec(opset, (tape, [x]) => [write(tape, x!)]));
    expect(axesForm(fn.nodes)).toEqual(expected);

    const model = reluModel(opset);
    const context = new RewriteContext(model, 'blk/');
    expect(context.opset).toBe(opset);
    write(context, model.graph.outputs[0]!);
    expect(axesForm(context.created)).toEqual(expected);
    // In a model, axes are initializers named after the block.
    if (expected.Unsqueeze === 'input') expect([...model.graph.initializers.keys()]).toContain('blk/batched_axes');
  });
});

describe('buildFunction', () => {
  it('names body values after the hints (never a formal name), constants as typed Constant nodes, nodes <function>/<output>', () => {
    const fn = buildFunction(spec(17, (tape, [x]) => {
      const a = tape.op('Relu', [x], { name: 'Y' }); // may not shadow the formal output
      const b = tape.op('Relu', [a], { name: 'Y' });
      const scaled = tape.op('Mul', [b, tape.float32([2], [], 'two')], { name: 'scaled' });
      return [cast(tape, scaled, DataType.FLOAT16, 'Y_cast')];
    }));
    expect(fn.identifier).toBe('test.toy::Toy');
    expect(fn.inputs.map((v) => v.name)).toEqual(['X']);
    expect(fn.outputs.map((v) => v.name)).toEqual(['Y']);
    expect(fn.nodes.map((n) => n.outputs[0]!.name)).toEqual(['Y_2', 'Y_3', 'two', 'scaled', 'Y']);
    expect(fn.nodes.map((n) => n.name)).toEqual(['Toy/Y_2', 'Toy/Y_3', 'Toy/two', 'Toy/scaled', 'Toy/Y']);
    expect(fn.opsetImports).toEqual(new Map([['', 17]]));
    expect(fn.metadataProps.get('k')).toBe('v');
    const constant = fn.nodes[2]!.attribute('value');
    expect(constant?.kind === 'tensor' && constant.value.storage).toBe('typed');
    // Default-domain body nodes leave `domain` out of the NodeProto, as hand-written bodies do.
    expect(nodeToProto(fn.nodes[0]!).domain).toBeUndefined();
    expect(fn.nodes[4]!.attribute('to')).toEqual(tapeAttr.int('to', DataType.FLOAT16));
  });
});

describe('shapes on Value', () => {
  it('inferShapes writes Value.inferred, which is never saved', () => {
    const model = reluModel(17);
    const before = modelToBytes(model);
    const y = model.graph.outputs[0]!;
    expect(y.inferred).toBeUndefined();
    const info = inferShapes(model.graph);
    expect(y.inferred).toEqual({ elemType: DataType.FLOAT, shape: [2, 3] });
    expect(info.typeOf(y)).toBe(y.inferred);
    expect(y.type).toBeUndefined(); // the annotation stays as read
    expect(modelToBytes(model)).toEqual(before);
  });

  it('is invalidated explicitly: clearInferredTypes, and every inference starts with it', () => {
    const model = reluModel(17);
    inferShapes(model.graph);
    const relu = model.graph.nodes[0]!;
    const y = relu.outputs[0]!;
    clearInferredTypes(model.graph);
    expect(y.inferred).toBeUndefined();
    inferShapes(model.graph);
    // An edit the inference cannot follow (an op it has no rule for) leaves no stale fact behind.
    relu.opType = 'NoSuchOp';
    inferShapes(model.graph);
    expect(y.inferred).toBeUndefined();
  });

  it('new nodes carry the types their rewrite declares', () => {
    const model = reluModel(17);
    inferShapes(model.graph);
    const context = new RewriteContext(model, 'blk/');
    const out = context.op('Identity', [model.graph.outputs[0]!], { outputTypes: [{ elemType: DataType.FLOAT, shape: [2, 'n'] }] });
    expect(out.inferred).toEqual({ elemType: DataType.FLOAT, shape: [2, 'n'] });
    const axes = context.int64([0, 1], 'axes');
    expect(axes.inferred).toEqual({ elemType: DataType.INT64, shape: [2], intValues: [0, 1] });
  });
});
