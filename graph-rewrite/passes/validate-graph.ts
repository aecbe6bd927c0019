import { GraphValidationError } from '../errors.js';
import type { Graph } from '../ir/graph.js';
import type { Model } from '../ir/model.js';
import type { Value } from '../ir/value.js';
import { describeCycle, stableTopologicalOrder } from './dependencies.js';

export interface ValidateOptions {
  /** Also require nodes to be in topological order (the ONNX checker does; onnxruntime sorts itself). Default false. */
  readonly requireTopologicalOrder?: boolean;
}

/** How a definition of a value is described in a "defined twice" message. */
function describeDefinition(value: Value, graph: Graph): string {
  const producer = value.producer();
  if (producer !== undefined) return `output ${value.outputIndex()} of ${producer.label}`;
  return `${value.isGraphInput() ? 'an input' : 'an initializer'} of ${graph.label}`;
}

/** Whether `value` is defined (by a node in it, or as its input or initializer) in `graph` itself. */
function isDefinedIn(value: Value, graph: Graph): boolean {
  const producer = value.producer();
  if (producer !== undefined) return producer.graph === graph;
  return (value.isGraphInput() || value.isInitializer()) && value.graph === graph;
}

const NOT_PRODUCED = 'is not produced by any node, graph input or initializer';

/**
 * Every problem found in `graph` and its subgraphs, as messages (empty when valid): inputs that
 * nothing in scope defines, names defined twice (subgraphs may not reuse enclosing names), cycles.
 */
export function findGraphProblems(graph: Graph, options: ValidateOptions = {}): string[] {
  const problems: string[] = [];
  const check = (g: Graph, enclosing: readonly Graph[], outerNames: ReadonlyMap<string, [Value, Graph]>): void => {
    const scopes = [g, ...enclosing];
    const inScope = (value: Value): boolean => scopes.some((s) => isDefinedIn(value, s));
    const where = enclosing.length === 0 ? '' : ` in ${g.label}`;
    const names = new Map(outerNames);
    const define = (value: Value): void => {
      if (value.name === undefined) {
        problems.push(`${describeDefinition(value, g)} has no name`);
        return;
      }
      if (value.name === '') return;
      const earlier = names.get(value.name);
      if (earlier === undefined) names.set(value.name, [value, g]);
      else if (earlier[0] !== value) {
        problems.push(`value '${value.name}' is defined twice: as ${describeDefinition(earlier[0], earlier[1])} and as ${describeDefinition(value, g)}`);
      }
    };
    g.inputs.forEach(define);
    for (const value of [...g.initializers.values(), ...g.sparseInitializers.values()]) define(value);
    for (const node of g.nodes) node.outputs.forEach(define);

    const position = new Map(g.nodes.map((node, i) => [node, i]));
    g.nodes.forEach((node, i) => {
      node.inputs.forEach((input, index) => {
        if (input === undefined) return;
        if (input.name === '' || input.name === undefined) {
          problems.push(`${node.label}${where} input ${index} is a value with no name (it would be written as an omitted input)`);
        } else if (!inScope(input)) {
          problems.push(`${node.label}${where} input ${index} '${input.name}' ${NOT_PRODUCED}`);
        } else if (options.requireTopologicalOrder === true && (position.get(input.producer()!) ?? -1) > i) {
          problems.push(`${node.label}${where} input ${index} '${input.name}' is used before ${input.producer()!.label} produces it`);
        }
      });
    });
    g.outputs.forEach((output, index) => {
      if (!inScope(output)) problems.push(`output ${index} '${output.name ?? ''}' of ${g.label} ${NOT_PRODUCED}`);
    });
    const sorted = stableTopologicalOrder(g);
    if (sorted.cycle !== undefined) problems.push(`${g.label} has a cycle: ${describeCycle(sorted.cycle)}`);
    for (const node of g.nodes) for (const subgraph of node.subgraphs()) check(subgraph, scopes, names);
  };
  check(graph, [], new Map());
  return problems;
}

/**
 * Checks that `graph` is well-formed: every node input is produced by a node, is a graph input, an
 * initializer, or an enclosing-scope value; no name is defined twice; no cycle. Throws one
 * GraphValidationError listing every problem, e.g. `node 'MatMul_3' input 1 'onnx::MatMul_7' is not
 * produced by any node, graph input or initializer`.
 */
export function validateGraph(graph: Graph, options: ValidateOptions = {}): void {
  const problems = findGraphProblems(graph, options);
  if (problems.length === 1) throw new GraphValidationError(problems[0]!);
  if (problems.length > 1) {
    throw new GraphValidationError(`${problems.length} problems in ${graph.label}:\n- ${problems.join('\n- ')}`);
  }
}

/** {@link validateGraph} on the main graph and on every model-local function body. */
export function validateModel(model: Model, options: ValidateOptions = {}): void {
  const problems = [
    ...findGraphProblems(model.graph, options),
    ...model.functions.flatMap((fn) => findGraphProblems(fn.body, options).map((p) => `${fn}: ${p}`)),
  ];
  if (problems.length === 1) throw new GraphValidationError(problems[0]!);
  if (problems.length > 1) throw new GraphValidationError(`${problems.length} problems in the model:\n- ${problems.join('\n- ')}`);
}
