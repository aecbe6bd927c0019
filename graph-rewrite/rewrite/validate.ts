/**
 * The check every rewritten model passes before it is returned. A failure is a bug in a rule, so it
 * throws {@link RewriteError} naming the node: every input defined (validateModel), every domain a node
 * uses imported, every call of a custom-domain op resolved to a model-local function, and every
 * function's opset imports consistent with the model's.
 */

import { GraphValidationError, RewriteError } from '../errors.js';
import type { Graph } from '../ir/graph.js';
import type { Model } from '../ir/model.js';
import { validateModel } from '../passes/validate-graph.js';

/** Domains onnxruntime implements itself; any other domain must be served by a model-local function. */
const BUILT_IN_DOMAINS: ReadonlySet<string> = new Set(['', 'ai.onnx', 'ai.onnx.ml', 'com.microsoft', 'com.microsoft.nchwc', 'ai.onnx.training', 'ai.onnx.preview.training']);

function importedVersion(imports: ReadonlyMap<string, number>, domain: string): number | undefined {
  if (domain === '' || domain === 'ai.onnx') return imports.get('') ?? imports.get('ai.onnx');
  return imports.get(domain);
}

function checkGraph(model: Model, graph: Graph, where: string, problems: string[]): void {
  for (const node of graph.allNodes()) {
    if (importedVersion(model.opsetImports, node.domain) === undefined) {
      problems.push(`${node.label}${where} uses domain '${node.domain}', which the model does not import`);
    }
    if (BUILT_IN_DOMAINS.has(node.domain)) continue;
    const fn = model.findFunction(node.domain, node.opType, node.overload);
    if (fn === undefined) {
      const overload = node.overload ? ` (overload '${node.overload}')` : '';
      problems.push(`${node.label}${where} calls ${node.domain}::${node.opType}${overload}, but the model has no such function`);
    }
  }
}

/** Throws RewriteError listing every problem of a rewritten model. */
export function validateRewrittenModel(model: Model): void {
  const problems: string[] = [];
  try {
    validateModel(model);
  } catch (error) {
    if (!(error instanceof GraphValidationError)) throw error;
    problems.push(error.message);
  }
  checkGraph(model, model.graph, '', problems);
  for (const fn of model.functions) {
    for (const [domain, version] of fn.opsetImports) {
      const modelVersion = importedVersion(model.opsetImports, domain);
      if (modelVersion !== undefined && modelVersion !== version) {
        problems.push(`${fn} imports ${domain || 'ai.onnx'} version ${version}, but the model imports version ${modelVersion}`);
      }
    }
    for (const node of fn.body.allNodes()) {
      if (importedVersion(fn.opsetImports, node.domain) === undefined) {
        problems.push(`${node.label} in ${fn} uses domain '${node.domain}', which the function does not import`);
      }
    }
  }
  if (problems.length === 1) throw new RewriteError(`the rewritten model is invalid: ${problems[0]}`);
  if (problems.length > 1) throw new RewriteError(`the rewritten model is invalid (${problems.length} problems):\n- ${problems.join('\n- ')}`);
}
