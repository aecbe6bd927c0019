/** Graph passes: stable topological sort, dead-node and unused-initializer removal, naming, validation. */
import { describe, expect, test } from 'vitest';
import { GraphValidationError } from '../../graph-rewrite/errors.js';
import { Attr, Graph, Node, Value, graphFromProto, modelFromProto } from '../../graph-rewrite/ir/index.js';
import {
  findGraphProblems, removeDeadNodes, removeUnusedInitializers, topologicalSort, uniqueNames, validateGraph, validateModel,
} from '../../graph-rewrite/passes/index.js';
import type { GraphProto, NodeProto } from '../../graph-rewrite/serde/onnx-schema.js';
import { expectUseDefConsistent, floatTensor, graphAttr, make, model, names, node, vi } from './helpers.js';

const graphOf = (nodes: NodeProto[], fields: Partial<GraphProto> = {}): GraphProto =>
  make('GraphProto', { name: 'main', node: nodes, input: [vi('X')], output: [vi('Y')], ...fields });

/** then-branch reading `outer` (from the enclosing graph) and producing `inner_out`. */
const branch = (name: string, outer: string): GraphProto =>
  make('GraphProto', { name, node: [node('Abs', [outer], [`${name}_out`])], output: [vi(`${name}_out`)] });

describe('topologicalSort', () => {
  test('keeps a valid order untouched', () => {
    const graph = graphFromProto(graphOf([node('Relu', ['X'], ['a']), node('Neg', ['X'], ['b']), node('Add', ['a', 'b'], ['Y'])]));
    const before = graph.nodes;
    topologicalSort(graph);
    expect(graph.nodes).toEqual(before);
  });

  test('moves nodes only as far as their dependencies require (stable)', () => {
    // Read order: d(c), a(X), c(b), b(a), e(X) → a, b, c, d must be chained; e is independent.
    const graph = graphFromProto(graphOf([
      node('Identity', ['c'], ['d'], { name: 'd' }),
      node('Identity', ['X'], ['a'], { name: 'a' }),
      node('Identity', ['b'], ['c'], { name: 'c' }),
      node('Identity', ['a'], ['b'], { name: 'b' }),
      node('Identity', ['X'], ['e'], { name: 'e' }),
      node('Sum', ['d', 'e'], ['Y'], { name: 'sum' }),
    ]));
    topologicalSort(graph);
    expect(names(graph.nodes)).toEqual(['a', 'b', 'c', 'd', 'e', 'sum']);
    expectUseDefConsistent(graph);
  });

  test('a node with a subgraph waits for the enclosing values the subgraph reads', () => {
    const graph = graphFromProto(graphOf([
      node('If', ['X'], ['Y'], { name: 'if', attribute: [graphAttr('then_branch', branch('then', 'late')), graphAttr('else_branch', branch('else', 'X'))] }),
      node('Neg', ['X'], ['late'], { name: 'producer' }),
    ]));
    topologicalSort(graph);
    expect(names(graph.nodes)).toEqual(['producer', 'if']);
  });

  test('sorts subgraphs too', () => {
    const body = make('GraphProto', {
      name: 'then', node: [node('Abs', ['t1'], ['t2'], { name: 'second' }), node('Neg', ['X'], ['t1'], { name: 'first' })], output: [vi('t2')],
    });
    const graph = graphFromProto(graphOf([node('If', ['X'], ['Y'], { attribute: [graphAttr('then_branch', body)] })]));
    topologicalSort(graph);
    expect(names(graph.nodes[0]!.subgraphs()[0]!.nodes)).toEqual(['first', 'second']);
  });

  test('a cycle is reported with its nodes, and nothing is reordered', () => {
    const graph = graphFromProto(graphOf([
      node('Identity', ['X'], ['pre'], { name: 'pre' }),
      node('Add', ['pre', 'c'], ['a'], { name: 'A' }),
      node('Relu', ['a'], ['b'], { name: 'B' }),
      node('Neg', ['b'], ['c'], { name: 'C' }),
      node('Identity', ['c'], ['Y'], { name: 'out' }),
    ]));
    const before = graph.nodes;
    expect(() => topologicalSort(graph)).toThrow(new GraphValidationError("graph 'main' has a cycle: node 'A' → node 'B' → node 'C' → node 'A'"));
    expect(graph.nodes).toEqual(before);
  });
});

describe('removeDeadNodes', () => {
  test('removes nodes that reach no output, chains included, and keeps use-def consistent', () => {
    const graph = graphFromProto(graphOf([
      node('Relu', ['X'], ['r'], { name: 'relu' }),
      node('Neg', ['X'], ['dead1'], { name: 'dead1' }),
      node('Abs', ['dead1'], ['dead2'], { name: 'dead2' }),
      node('Split', ['r'], ['s0', 's1'], { name: 'split' }), // one output used is enough
      node('Identity', ['s0'], ['Y'], { name: 'out' }),
    ]));
    expect(removeDeadNodes(graph)).toBe(2);
    expect(names(graph.nodes)).toEqual(['relu', 'split', 'out']);
    expect(graph.inputs[0]!.uses().map((u) => u.node.name)).toEqual(['relu']);
    expectUseDefConsistent(graph);
    expect(removeDeadNodes(graph)).toBe(0);
  });

  test('enclosing nodes read only by dead subgraph nodes die too; those read by live subgraph nodes live', () => {
    const then = make('GraphProto', {
      name: 'then',
      node: [node('Abs', ['only_dead_reads'], ['unused'], { name: 'inner_dead' }), node('Neg', ['kept'], ['then_out'], { name: 'inner_live' })],
      output: [vi('then_out')],
    });
    const graph = graphFromProto(graphOf([
      node('Relu', ['X'], ['only_dead_reads'], { name: 'outer_dead' }),
      node('Sigmoid', ['X'], ['kept'], { name: 'outer_live' }),
      node('If', ['X'], ['Y'], { name: 'if', attribute: [graphAttr('then_branch', then), graphAttr('else_branch', branch('else', 'X'))] }),
    ]));
    expect(removeDeadNodes(graph)).toBe(2);
    expect(names(graph.nodes)).toEqual(['outer_live', 'if']);
    expect(names(graph.nodes[1]!.subgraphs()[0]!.nodes)).toEqual(['inner_live']);
    expectUseDefConsistent(graph);
  });
});

describe('removeUnusedInitializers', () => {
  test('keeps initializers that are read (also from subgraphs), outputs or graph inputs', () => {
    const graph = graphFromProto(graphOf(
      [
        node('Add', ['X', 'used'], ['a']),
        node('If', ['X'], ['Y'], { attribute: [graphAttr('then_branch', branch('then', 'sub_used')), graphAttr('else_branch', branch('else', 'a'))] }),
      ],
      {
        initializer: ['used', 'sub_used', 'unused', 'as_input', 'as_output'].map((n) => floatTensor(n, [2], [1, 2])),
        input: [vi('X'), vi('as_input')],
        output: [vi('Y'), vi('as_output')],
      },
    ));
    expect(removeUnusedInitializers(graph)).toBe(1);
    expect([...graph.initializers.keys()]).toEqual(['used', 'sub_used', 'as_input', 'as_output']);
  });
});

describe('uniqueNames', () => {
  test('names unnamed nodes and values and renames repeated definitions, keeping the interface', () => {
    const graph = graphFromProto(graphOf([
      node('Relu', ['X'], ['t'], { name: undefined }),
      node('Neg', ['t'], ['Y'], { name: 'n' }),
      node('Abs', ['t'], ['t', ''], { name: 'n' }), // 't' defined twice; '' is an unused optional output
    ]));
    const extra = new Node({ opType: 'Sigmoid', inputs: [graph.inputs[0]] });
    graph.append(extra);
    extra.outputs[0]!.name = 'Y'; // clashes with the graph output
    expect(uniqueNames(graph)).toBe(5);
    expect(names(graph.nodes)).toEqual(['Relu', 'n', 'n_1', 'Sigmoid']);
    expect(graph.nodes.map((n) => n.outputs.map((v) => v.name))).toEqual([['t'], ['Y'], ['t_1', ''], ['Y_1']]);
    expect(findGraphProblems(graph)).toEqual([]);
    expect(uniqueNames(graph)).toBe(0);
  });
});

describe('validateGraph', () => {
  test.each<[string, GraphProto, string[]]>([
    ['an input nothing defines', graphOf([node('MatMul', ['X', 'onnx::MatMul_7'], ['Y'], { name: 'MatMul_3' })]),
      ["node 'MatMul_3' input 1 'onnx::MatMul_7' is not produced by any node, graph input or initializer"]],
    ['an output nothing defines', graphOf([node('Relu', ['X'], ['r'])]),
      ["output 0 'Y' of graph 'main' is not produced by any node, graph input or initializer"]],
    ['a value produced twice', graphOf([node('Relu', ['X'], ['Y'], { name: 'a' }), node('Neg', ['X'], ['Y'], { name: 'b' })]),
      ["value 'Y' is defined twice: as output 0 of node 'a' and as output 0 of node 'b'"]],
    ['a node output named like a graph input', graphOf([node('Relu', ['X'], ['X'], { name: 'a' }), node('Neg', ['X'], ['Y'])]),
      ["value 'X' is defined twice: as an input of graph 'main' and as output 0 of node 'a'"]],
    ['a subgraph name shadowing an enclosing one', graphOf([
      node('If', ['X'], ['Y'], { name: 'if', attribute: [graphAttr('then_branch', make('GraphProto', { name: 'then', node: [node('Constant', [], ['X'], { name: 'shadow' })], output: [vi('X')] }))] }),
    ]), ["value 'X' is defined twice: as an input of graph 'main' and as output 0 of node 'shadow'"]],
    ['a subgraph reading a name nothing defines', graphOf([
      node('If', ['X'], ['Y'], { name: 'if', attribute: [graphAttr('then_branch', branch('then', 'nowhere'))] }),
    ]), ["node 'Abs_then_out' in graph 'then' input 0 'nowhere' is not produced by any node, graph input or initializer"]],
    ['a cycle', graphOf([node('Add', ['X', 'b'], ['a'], { name: 'A' }), node('Relu', ['a'], ['b'], { name: 'B' }), node('Identity', ['b'], ['Y'])]),
      ["graph 'main' has a cycle: node 'A' → node 'B' → node 'A'"]],
  ])('reports %s', (_, proto, problems) => {
    const graph = graphFromProto(proto);
    expect(findGraphProblems(graph)).toEqual(problems);
    expect(() => validateGraph(graph)).toThrow(new GraphValidationError(problems[0]!));
  });

  test('accepts enclosing-scope reads, initializers listed as inputs and omitted optional inputs', () => {
    const graph = graphFromProto(graphOf(
      [
        node('Clip', ['X', '', 'max'], ['c']),
        node('If', ['X'], ['Y'], { attribute: [graphAttr('then_branch', branch('then', 'c')), graphAttr('else_branch', branch('else', 'max'))] }),
      ],
      { input: [vi('X'), vi('max', [])], initializer: [floatTensor('max', [], [6])] },
    ));
    expect(() => validateGraph(graph)).not.toThrow();
  });

  test('values from removed nodes or other graphs are reported; several problems are listed together', () => {
    const graph = graphFromProto(graphOf([node('Relu', ['X'], ['r'], { name: 'relu' }), node('Neg', ['r'], ['Y'], { name: 'neg' })]));
    const stranger = new Value('elsewhere');
    new Graph({ name: 'other', inputs: [stranger] });
    graph.append(new Node({ opType: 'Add', inputs: [graph.inputs[0], stranger], name: 'add' }));
    const relu = graph.nodes[0]!;
    graph.nodes[1]!.replaceInput(0, graph.inputs[0]);
    graph.removeNodes(relu);
    graph.nodes[0]!.replaceInput(0, relu.outputs[0]);
    expect(() => validateGraph(graph)).toThrow(new GraphValidationError([
      "2 problems in graph 'main':",
      "- node 'neg' input 0 'r' is not produced by any node, graph input or initializer",
      "- node 'add' input 1 'elsewhere' is not produced by any node, graph input or initializer",
    ].join('\n')));
  });

  test('requireTopologicalOrder reports a use before the definition', () => {
    const graph = graphFromProto(graphOf([node('Neg', ['r'], ['Y'], { name: 'neg' }), node('Relu', ['X'], ['r'], { name: 'relu' })]));
    expect(findGraphProblems(graph)).toEqual([]);
    expect(findGraphProblems(graph, { requireTopologicalOrder: true })).toEqual(["node 'neg' input 0 'r' is used before node 'relu' produces it"]);
  });

  test('validateModel checks function bodies', () => {
    const fn = make('FunctionProto', { name: 'F', domain: 'local', input: ['a'], output: ['b'], node: [node('Relu', ['missing'], ['b'], { name: 'f_relu' })] });
    const m = modelFromProto(model(graphOf([node('Relu', ['X'], ['Y'])]), { functions: [fn] }));
    expect(() => validateModel(m)).toThrow("function 'local::F': node 'f_relu' input 0 'missing' is not produced by any node, graph input or initializer");
  });

  test('an If built with the IR API validates', () => {
    const x = new Value('X');
    const graph = new Graph({ name: 'main', inputs: [x] });
    const then = new Graph({ name: 'then' });
    const abs = new Node({ opType: 'Abs', inputs: [x] });
    then.append(abs);
    then.addOutput(abs.outputs[0]!);
    const ifNode = new Node({ opType: 'If', inputs: [x], attributes: [Attr.graph('then_branch', then)] });
    graph.append(ifNode);
    graph.addOutput(ifNode.outputs[0]!);
    expect(findGraphProblems(graph)).toEqual([]);
  });
});
