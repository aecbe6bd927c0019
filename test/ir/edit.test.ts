/** Edit operations keep producers and uses consistent on both sides, and refusals change nothing. */
import { describe, expect, test } from 'vitest';
import { InvalidArgumentError, IrEditError } from '../../graph-rewrite/errors.js';
import { Attr, Graph, Node, Tensor, Value, graphToProto, tensorType } from '../../graph-rewrite/ir/index.js';
import { DataType } from '../../graph-rewrite/serde/onnx-schema.js';
import { expectUseDefConsistent, names } from './helpers.js';

/** X → Relu → Add(C) → Y, built with the IR API. */
function reluAdd(): { graph: Graph; x: Value; c: Value; relu: Node; add: Node } {
  const x = new Value('X', { type: tensorType(DataType.FLOAT, [4]) });
  const graph = new Graph({ name: 'main', inputs: [x] });
  const c = graph.addInitializer(Tensor.fromFloat32Array([1, 2, 3, 4], [4]), 'C');
  const relu = new Node({ opType: 'Relu', inputs: [x], name: 'relu', outputs: ['r'] });
  const add = new Node({ opType: 'Add', inputs: [relu.outputs[0], c], name: 'add', outputs: ['Y'] });
  graph.append([relu, add]);
  graph.addOutput(add.outputs[0]!);
  return { graph, x, c, relu, add };
}

describe('building', () => {
  test('a node registers its uses only once it is in a graph', () => {
    const { graph, x } = reluAdd();
    const neg = new Node({ opType: 'Neg', inputs: [x] });
    expect(x.uses().map((u) => u.node.name)).toEqual(['relu']);
    graph.append(neg);
    expect(x.uses().map((u) => u.node)).toEqual([graph.nodes[0], neg]);
    expect(neg.outputs[0]!.name).toBe('Neg_out');
    expectUseDefConsistent(graph);
  });

  test('fresh output names never collide with names already in the graph (subgraphs included)', () => {
    const { graph, x } = reluAdd();
    const inner = new Graph({ name: 'then' });
    inner.append(new Node({ opType: 'Identity', inputs: [x], outputs: ['Abs_out'] }));
    inner.addOutput(inner.nodes[0]!.outputs[0]!);
    graph.insertBefore(graph.nodes[0]!, new Node({ opType: 'If', inputs: [x], outputs: 0, attributes: [Attr.graph('then_branch', inner)] }));
    const a = new Node({ opType: 'Abs', inputs: [x] });
    const b = new Node({ opType: 'Abs', inputs: [x] });
    graph.append([a, b]);
    expect([a.outputs[0]!.name, b.outputs[0]!.name]).toEqual(['Abs_out_1', 'Abs_out_2']);
  });

  test('constructor arguments are checked', () => {
    expect(() => new Node({ opType: 'Relu', inputs: ['X' as unknown as Value] })).toThrow(InvalidArgumentError);
    expect(() => new Node({ opType: 'Relu', outputs: -1 })).toThrow(/'outputs' must be a non-negative integer/);
    expect(() => Attr.int('axis', 1.5)).toThrow(/attribute 'axis' must be an integer/);
  });
});

describe('replaceInput', () => {
  test('moves the use from the old value to the new one', () => {
    const { graph, x, relu, add } = reluAdd();
    add.replaceInput(0, x);
    expect(relu.outputs[0]!.uses()).toEqual([]);
    expect(x.uses()).toEqual([{ node: relu, index: 0 }, { node: add, index: 0 }]);
    add.replaceInput(1, undefined);
    expect(add.inputs).toEqual([x, undefined]);
    expect(graph.initializers.get('C')!.uses()).toEqual([]);
    expectUseDefConsistent(graph);
  });

  test('the same value at two inputs has two uses', () => {
    const { graph, x, add } = reluAdd();
    add.replaceInput(0, x);
    add.replaceInput(1, x);
    expect(x.uses().filter((u) => u.node === add).map((u) => u.index)).toEqual([0, 1]);
    expectUseDefConsistent(graph);
  });

  test('an index out of range is refused, naming the node', () => {
    const { add, x } = reluAdd();
    expect(() => add.replaceInput(2, x)).toThrow(new InvalidArgumentError("input index 2 is out of range for node 'add' with 2 inputs"));
  });
});

describe('replaceAllUsesWith', () => {
  test('redirects every use', () => {
    const { graph, x, relu, add } = reluAdd();
    const second = new Node({ opType: 'Mul', inputs: [relu.outputs[0], relu.outputs[0]], name: 'mul' });
    graph.insertAfter(relu, second);
    relu.outputs[0]!.replaceAllUsesWith(x);
    expect(relu.outputs[0]!.uses()).toEqual([]);
    expect(add.inputs[0]).toBe(x);
    expect(second.inputs).toEqual([x, x]);
    expectUseDefConsistent(graph);
  });

  test('replaces a graph output, handing its name (and type) to the replacement', () => {
    const { graph, add } = reluAdd();
    const y = add.outputs[0]!;
    y.type = tensorType(DataType.FLOAT, [4]);
    const sub = new Node({ opType: 'Sub', inputs: add.inputs, name: 'sub' });
    graph.insertAfter(add, sub);
    y.replaceAllUsesWith(sub.outputs[0]!);
    expect(graph.outputs).toEqual([sub.outputs[0]]);
    expect(sub.outputs[0]!.name).toBe('Y');
    expect(sub.outputs[0]!.type).toBe(y.type);
    expect(y.name).toBe('Y_replaced');
    expect(y.isGraphOutput()).toBe(false);
    graph.removeNodes(add);
    expectUseDefConsistent(graph);
  });

  test('with preserveOutputNames: false, or a graph input as replacement, names stay', () => {
    const { graph, x, add } = reluAdd();
    const y = add.outputs[0]!;
    y.replaceAllUsesWith(x);
    expect(graph.outputs).toEqual([x]);
    expect([x.name, y.name]).toEqual(['X', 'Y']);

    const other = reluAdd();
    const neg = new Node({ opType: 'Neg', inputs: [other.x], outputs: ['n'] });
    other.graph.append(neg);
    other.add.outputs[0]!.replaceAllUsesWith(neg.outputs[0]!, { preserveOutputNames: false });
    expect(other.graph.outputs.map((v) => v.name)).toEqual(['n']);
  });

  test('`except` keeps the inputs of the consumer being spliced in', () => {
    const { graph, relu, add } = reluAdd();
    const r = relu.outputs[0]!;
    const cast = new Node({ opType: 'Cast', inputs: [r], attributes: [Attr.int('to', DataType.FLOAT)] });
    graph.insertAfter(relu, cast);
    r.replaceAllUsesWith(cast.outputs[0]!, { except: [cast] });
    expect(cast.inputs[0]).toBe(r);
    expect(add.inputs[0]).toBe(cast.outputs[0]);
    expectUseDefConsistent(graph);
  });

  test('a subgraph output that is an enclosing value is replaced too', () => {
    const { graph, x, relu } = reluAdd();
    const branch = new Graph({ name: 'then', outputs: [relu.outputs[0]!] });
    graph.append(new Node({ opType: 'If', inputs: [x], attributes: [Attr.graph('then_branch', branch)], name: 'if' }));
    relu.outputs[0]!.replaceAllUsesWith(x);
    expect(branch.outputs).toEqual([x]);
    expect(relu.outputs[0]!.isGraphOutput()).toBe(false);
    expectUseDefConsistent(graph);
  });
});

describe('insert', () => {
  test('insertBefore, insertAfter and append place nodes in order', () => {
    const { graph, x, relu, add } = reluAdd();
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((name) => new Node({ opType: 'Identity', inputs: [x], name }));
    graph.insertBefore(relu, [a!, b!]);
    graph.insertAfter(relu, c!);
    graph.append(d!);
    expect(names(graph.nodes)).toEqual(['a', 'b', 'relu', 'c', 'add', 'd']);
    expect(add.graph).toBe(graph);
    expectUseDefConsistent(graph);
  });

  test.each([
    ['an anchor from elsewhere', (g: Graph, n: Node) => g.insertBefore(new Node({ opType: 'Abs' }), n), /anchor unnamed Abs node is not in graph 'main'/],
    ['a node already in a graph', (g: Graph) => g.append(g.nodes[0]!), /cannot insert node 'relu': it is already in graph 'main'/],
    ['the same node twice', (g: Graph, n: Node) => g.append([n, n]), /cannot insert node 'fresh': it is listed twice/],
  ])('refuses %s and changes nothing', (_, insert, message) => {
    const { graph, x } = reluAdd();
    const fresh = new Node({ opType: 'Abs', inputs: [x], name: 'fresh' });
    const before = graphToProto(graph);
    expect(() => insert(graph, fresh)).toThrow(message);
    expect(graphToProto(graph)).toStrictEqual(before);
    expect(fresh.graph).toBeUndefined();
    expect(x.uses().some((u) => u.node === fresh)).toBe(false);
  });

  test('a node cannot be inserted into its own subgraph', () => {
    const inner = new Graph({ name: 'body' });
    const loop = new Node({ opType: 'Loop', attributes: [Attr.graph('body', inner)], name: 'loop' });
    expect(() => inner.append(loop)).toThrow(/cannot insert node 'loop' into its own subgraph graph 'body'/);
  });
});

describe('removeNodes', () => {
  test('removes a set whose outputs are used only inside it', () => {
    const { graph, x, relu, add } = reluAdd();
    const neg = new Node({ opType: 'Neg', inputs: [x], name: 'neg' });
    const abs = new Node({ opType: 'Abs', inputs: [neg.outputs[0]], name: 'abs' });
    graph.insertBefore(relu, [neg, abs]);
    graph.removeNodes([abs, neg]);
    expect(names(graph.nodes)).toEqual(['relu', 'add']);
    expect(x.uses()).toEqual([{ node: relu, index: 0 }]);
    expect([neg.graph, abs.graph]).toEqual([undefined, undefined]);
    expect(neg.outputs[0]!.uses()).toEqual([]);
    expectUseDefConsistent(graph);
    // Removed nodes can come back.
    graph.insertAfter(add, [neg, abs]);
    expect(x.uses().map((u) => u.node.name)).toEqual(['relu', 'neg']);
    expectUseDefConsistent(graph);
  });

  test.each([
    ['an output used outside the set', (n: { relu: Node }) => [n.relu],
      "cannot remove node 'relu': its output 0 value 'r' is still used by node 'add' (input 0)"],
    ['a graph output', (n: { add: Node }) => [n.add], "cannot remove node 'add': its output 0 value 'Y' is an output of graph 'main'"],
    ['a node of another graph', () => [new Node({ opType: 'Abs', name: 'stray' })], "cannot remove node 'stray': it is not in graph 'main'"],
  ])('refuses %s and leaves the graph unchanged', (_, pick, message) => {
    const parts = reluAdd();
    const before = graphToProto(parts.graph);
    const uses = parts.relu.outputs[0]!.uses();
    expect(() => parts.graph.removeNodes(pick(parts))).toThrow(new IrEditError(message));
    expect(graphToProto(parts.graph)).toStrictEqual(before);
    expect(parts.relu.outputs[0]!.uses()).toEqual(uses);
    expect([parts.relu.graph, parts.add.graph]).toEqual([parts.graph, parts.graph]);
    expectUseDefConsistent(parts.graph);
  });

  test('uses from inside a removed node\'s subgraph count as inside the set', () => {
    const { graph, x, relu, add } = reluAdd();
    const inner = new Graph({ name: 'then' });
    const innerAbs = new Node({ opType: 'Abs', inputs: [relu.outputs[0]], name: 'inner_abs' });
    inner.append(innerAbs);
    inner.addOutput(innerAbs.outputs[0]!);
    const ifNode = new Node({ opType: 'If', inputs: [x], attributes: [Attr.graph('then_branch', inner)], name: 'if' });
    graph.insertAfter(relu, ifNode);
    add.replaceInput(0, x);
    expect(() => graph.removeNodes(relu)).toThrow("its output 0 value 'r' is still used by node 'inner_abs' (input 0)");
    graph.removeNodes([relu, ifNode]);
    // The subgraph node keeps its input but, inside a removed node, is no longer a use.
    expect(innerAbs.inputs[0]).toBe(relu.outputs[0]);
    expect(relu.outputs[0]!.uses()).toEqual([]);
    expect(x.uses().map((u) => u.node.name)).toEqual(['add']);
    expectUseDefConsistent(graph);
  });
});

describe('attributes', () => {
  test('setAttribute replaces in place, removeAttribute drops every copy, getters convert', () => {
    const n = new Node({ opType: 'Foo', attributes: [Attr.int('a', 1), Attr.floats('b', [0.5]), Attr.int('a', 2)] });
    n.setAttribute(Attr.int('a', 3));
    n.setAttribute(Attr.string('s', 'héllo'));
    expect(n.attributes.map((a) => [a.name, a.value])).toEqual([['a', 3n], ['b', [0.5]], ['a', 2n], ['s', new TextEncoder().encode('héllo')]]);
    expect([n.getInt('a'), n.getFloats('b'), n.getString('s'), n.getInt('missing', 7)]).toEqual([3, [0.5], 'héllo', 7]);
    expect(() => n.getFloat('a')).toThrow("attribute 'a' of unnamed Foo node is int, expected float");
    expect(() => n.getInt('missing')).toThrow("unnamed Foo node has no attribute 'missing'");
    expect(n.removeAttribute('a')).toBe(true);
    expect(n.attributes.map((a) => a.name)).toEqual(['b', 's']);
    n.setAttribute(Attr.int('big', 2n ** 62n));
    expect(() => n.getInt('big')).toThrow(/not a safe integer/);
  });

  test('a subgraph belongs to one node; dropping the attribute releases it', () => {
    const g = new Graph({ name: 'body' });
    const a = new Node({ opType: 'Loop', attributes: [Attr.graph('body', g)], name: 'a' });
    expect(g.parentNode).toBe(a);
    expect(() => new Node({ opType: 'Loop', attributes: [Attr.graph('body', g)], name: 'b' }))
      .toThrow("graph 'body' is already an attribute of node 'a'; it cannot also belong to node 'b'");
    a.removeAttribute('body');
    expect(g.parentNode).toBeUndefined();
    expect(new Node({ opType: 'Loop', attributes: [Attr.graph('body', g)], name: 'b' }).subgraphs()).toEqual([g]);
  });
});

describe('initializers and interface', () => {
  test('addInitializer / removeInitializer', () => {
    const { graph, c, add } = reluAdd();
    expect(c.isInitializer() && c.constValue!.toFloat32Array()).toEqual(new Float32Array([1, 2, 3, 4]));
    expect(() => graph.addInitializer(Tensor.fromFloat32Array([0], [1]), 'C')).toThrow("graph 'main' already has an initializer named 'C'");
    expect(() => graph.removeInitializer(c)).toThrow("cannot remove initializer value 'C': it is still used by node 'add' (input 1)");
    const unnamed = graph.addInitializer(Tensor.fromFloat32Array([0], [1]));
    expect(unnamed.name).toBe('const');
    add.replaceInput(1, unnamed);
    graph.removeInitializer(c);
    expect([...graph.initializers.keys()]).toEqual(['const']);
    expect(c.isInitializer()).toBe(false);
    expectUseDefConsistent(graph);
  });

  test('renaming a value renames its initializer key and every reference', () => {
    const { graph, c, add } = reluAdd();
    c.name = 'bias';
    expect([...graph.initializers.keys()]).toEqual(['bias']);
    const proto = graphToProto(graph);
    expect(proto.initializer.map((t) => t.name)).toEqual(['bias']);
    expect(proto.node[1]!.input).toEqual(['r', 'bias']);
    expect(add.inputs[1]).toBe(c);
  });

  test('graph inputs that are still used cannot be removed; outputs can be edited', () => {
    const { graph, x, relu } = reluAdd();
    expect(() => graph.removeInput(x)).toThrow("cannot remove input value 'X': it is still used by node 'relu' (input 0)");
    graph.addOutput(relu.outputs[0]!);
    graph.replaceOutput(1, x);
    expect(relu.outputs[0]!.isGraphOutput()).toBe(false);
    graph.removeOutput(1);
    expect(graph.outputs.map((v) => v.name)).toEqual(['Y']);
    expectUseDefConsistent(graph);
  });
});
