/**
 * Inlining model-local functions: every node that calls a function of the model (vitlin's fused ops
 * in `ai.vitlin`, or any other) is replaced by the function's body — plain standard ONNX for runtimes
 * without function support. onnxruntime does the same at load time; doing it ahead of time gives
 * other runtimes a model they can read.
 */

import { InvalidArgumentError } from '../errors.js';
import type { Attr } from '../ir/attributes.js';
import type { Function } from '../ir/function.js';
import type { Graph } from '../ir/graph.js';
import type { Model } from '../ir/model.js';
import { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';

/** Nested calls deeper than this are taken for recursion. */
const MAX_NESTING = 32;

function importedVersion(imports: ReadonlyMap<string, number>, domain: string): number | undefined {
  if (domain === '' || domain === 'ai.onnx') return imports.get('') ?? imports.get('ai.onnx');
  return imports.get(domain);
}

/** Every node of every graph (subgraphs included) that calls a function of `model`, with that function. */
function callsIn(model: Model): { node: Node; fn: Function }[] {
  const calls: { node: Node; fn: Function }[] = [];
  for (const node of model.graph.allNodes()) {
    const fn = model.findFunction(node.domain, node.opType, node.overload);
    if (fn !== undefined) calls.push({ node, fn });
  }
  return calls;
}

/**
 * A body node's attributes for one call: references (`ref_attr_name`) take the call's attribute of
 * that name, else the function's default; with neither, the attribute is left out (ONNX semantics).
 */
function resolveAttributes(bodyNode: Node, call: Node, fn: Function): Attr[] {
  const resolved: Attr[] = [];
  for (const attr of bodyNode.attributes) {
    if (attr.kind !== 'ref') {
      resolved.push(attr);
      continue;
    }
    const source = call.attribute(attr.refAttrName) ?? fn.attributeDefaults.find((candidate) => candidate.name === attr.refAttrName);
    if (source === undefined) continue;
    if (source.kind === 'graph' || source.kind === 'graphs') {
      throw new InvalidArgumentError(`${call.label}: attribute '${attr.refAttrName}' of ${fn} is a graph; inlining graph-valued attribute references is not supported`);
    }
    resolved.push(Object.freeze({ ...source, name: attr.name }) as Attr);
  }
  return resolved;
}

/** Replaces `call` by copies of `fn`'s body in the call's graph, with fresh names. */
function inlineCall(call: Node, fn: Function): void {
  const graph = call.graph as Graph;
  const allocator = graph.nameAllocator;
  const prefix = call.name ? `${call.name}/` : `${fn.name ?? 'function'}/`;
  const mapped = new Map<Value, Value | undefined>();
  fn.inputs.forEach((input, i) => {
    const actual = call.inputs[i];
    mapped.set(input, actual === undefined || actual.name === '' ? undefined : actual);
  });
  const created: Node[] = [];
  for (const bodyNode of fn.nodes) {
    if (bodyNode.subgraphs().length > 0) {
      throw new InvalidArgumentError(`${call.label}: ${fn} has ${bodyNode.label} with a subgraph; inlining control flow in function bodies is not supported`);
    }
    const inputs = bodyNode.inputs.map((input) => {
      if (input === undefined || input.name === '') return undefined;
      if (!mapped.has(input)) throw new InvalidArgumentError(`${call.label}: ${bodyNode.label} in ${fn} reads ${input.label}, which its body does not define`);
      return mapped.get(input);
    });
    const node = new Node({
      opType: bodyNode.opType,
      domain: bodyNode.domain,
      inputs,
      attributes: resolveAttributes(bodyNode, call, fn),
      name: allocator.freshNodeName(`${prefix}${bodyNode.name || bodyNode.opType}`),
      outputs: bodyNode.outputs.map((output) => (output.name === '' ? '' : allocator.freshValueName(`${prefix}${output.name ?? bodyNode.opType}`))),
      ...(bodyNode.overload === undefined ? {} : { overload: bodyNode.overload }),
    });
    bodyNode.outputs.forEach((output, i) => mapped.set(output, node.outputs[i]));
    created.push(node);
  }
  // A function output that the body does not compute (one of its inputs passed through) goes through
  // an Identity, so that the call's output keeps a producer of its own (and its name, if a graph output).
  const results = fn.outputs.map((output, i) => {
    const value = mapped.get(output);
    if (value !== undefined && created.some((node) => node.outputs.includes(value))) return value;
    if (value === undefined) throw new InvalidArgumentError(`${call.label}: output ${i} of ${fn} is not defined by its body`);
    const identity = new Node({ opType: 'Identity', inputs: [value], name: allocator.freshNodeName(`${prefix}Identity`), outputs: [allocator.freshValueName(`${prefix}output_${i}`)] });
    created.push(identity);
    return identity.outputs[0]!;
  });
  graph.insertBefore(call, created);
  call.outputs.forEach((output, i) => {
    const result = results[i];
    if (result !== undefined && output.name !== '') output.replaceAllUsesWith(result);
  });
  graph.removeNodes(call);
}

/** Opset imports the inlined bodies need, checked against the model's before anything changes. */
function mergeOpsetImports(model: Model, functions: ReadonlySet<Function>): void {
  const added = new Map<string, number>();
  for (const fn of functions) {
    for (const [domain, version] of fn.opsetImports) {
      const current = importedVersion(model.opsetImports, domain) ?? added.get(domain);
      if (current === undefined) added.set(domain, version);
      else if (current !== version) {
        throw new InvalidArgumentError(`${fn} uses ${domain || 'ai.onnx'} version ${version}, but the model imports version ${current}; its body cannot be inlined as it is`);
      }
    }
  }
  for (const [domain, version] of added) model.opsetImports.set(domain, version);
}

/** Domains of `candidates` that no node of the model (any graph, any remaining function) uses. */
function unusedDomains(model: Model, candidates: Iterable<string>): string[] {
  const used = new Set<string>();
  for (const node of model.graph.allNodes()) used.add(node.domain);
  for (const fn of model.functions) for (const node of fn.body.allNodes()) used.add(node.domain);
  return [...new Set(candidates)].filter((domain) => domain !== '' && !used.has(domain));
}

/**
 * Returns a copy of `model` in which every call of a model-local function — in the main graph and in
 * subgraphs, nested calls too — is replaced by the function's body: fresh unique names, attribute
 * references resolved from the call's attributes or the function's defaults. The inlined functions
 * are removed, opset imports the bodies need are added, and the import of a function domain that
 * no node uses any more (e.g. `ai.vitlin`) is removed. `model` is not modified.
 *
 * Throws InvalidArgumentError for what cannot be inlined as it is: a body that uses another version
 * of an opset than the model, control flow inside a body, or recursion.
 */
export function inlineFunctions(model: Model): Model {
  const copy = model.clone();
  const inlined = new Set<Function>();
  for (let depth = 0; ; depth++) {
    const calls = callsIn(copy);
    if (calls.length === 0) break;
    if (depth >= MAX_NESTING) throw new InvalidArgumentError(`function calls nest deeper than ${MAX_NESTING} levels (recursion?): ${calls[0]!.fn} still called by ${calls[0]!.node.label}`);
    mergeOpsetImports(copy, new Set(calls.map((call) => call.fn)));
    for (const { node, fn } of calls) {
      inlineCall(node, fn);
      inlined.add(fn);
    }
  }
  copy.functions = copy.functions.filter((fn) => !inlined.has(fn));
  for (const domain of unusedDomains(copy, [...inlined].map((fn) => fn.domain ?? ''))) copy.opsetImports.delete(domain);
  return copy;
}
