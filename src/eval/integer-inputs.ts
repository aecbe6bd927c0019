/**
 * What a model's integer inputs mean, so random inputs respect it: token ids index an embedding table
 * (valid ids are below its row count, read from the Gather that uses them) and attention masks are 0/1
 * with at least the first token kept. Random values outside that meaning make a text model fail
 * (an out-of-range Gather) or compute NaN (a row with every token masked), which says nothing about a
 * conversion.
 */
import type { ModelProto, NodeProto } from '../../graph-rewrite/serde/onnx-schema.js';

export type IntegerInputMeaning =
  /** Indices into a table with `below` rows (e.g. input_ids and a vocabulary). */
  | { readonly kind: 'ids'; readonly below: number }
  /** 0/1 per token, ones first (attention_mask): each row keeps 1..n leading tokens. */
  | { readonly kind: 'mask' };

/** Ops that pass an integer tensor's values through unchanged (only their first input). */
const VALUE_PRESERVING = new Set(['Cast', 'Reshape', 'Unsqueeze', 'Squeeze', 'Flatten', 'Identity', 'Expand']);
const MASK_NAME = /mask/i;

function gatherAxis(node: NodeProto): number {
  const axis = node.attribute.find((a) => a.name === 'axis')?.i;
  return axis === undefined ? 0 : Number(axis);
}

/**
 * Meanings of the integer graph inputs of `model` that can be inferred: ids from the Gather tables they
 * index (through casts and reshapes), masks by name. Inputs with no inferred meaning are absent.
 */
export function integerInputMeanings(model: ModelProto): Record<string, IntegerInputMeaning> {
  const graph = model.graph;
  if (graph === undefined) return {};
  const tableRows = new Map<string, number>();
  for (const tensor of graph.initializer) if (tensor.name !== undefined && tensor.dims.length >= 1) tableRows.set(tensor.name, Number(tensor.dims[0]));
  const consumers = new Map<string, { node: NodeProto; index: number }[]>();
  for (const node of graph.node) {
    node.input.forEach((name, index) => {
      if (!consumers.has(name)) consumers.set(name, []);
      consumers.get(name)!.push({ node, index });
    });
  }
  const initializers = new Set(tableRows.keys());
  const meanings: Record<string, IntegerInputMeaning> = {};
  for (const input of graph.input) {
    const name = input.name;
    const elemType = input.type?.tensor_type?.elem_type;
    if (name === undefined || initializers.has(name) || (elemType !== 6 && elemType !== 7)) continue; // INT32, INT64
    if (MASK_NAME.test(name)) {
      meanings[name] = { kind: 'mask' };
      continue;
    }
    // Follow the values to every Gather that uses them as indices into a table; the smallest table bounds them.
    let below = Infinity;
    const seen = new Set<string>();
    for (const queue = [name]; queue.length > 0;) {
      const value = queue.pop()!;
      if (seen.has(value)) continue;
      seen.add(value);
      for (const { node, index } of consumers.get(value) ?? []) {
        if (node.op_type === 'Gather' && index === 1 && gatherAxis(node) === 0 && tableRows.has(node.input[0]!)) {
          below = Math.min(below, tableRows.get(node.input[0]!)!);
        } else if (VALUE_PRESERVING.has(node.op_type ?? '') && index === 0 && node.output[0]) queue.push(node.output[0]);
      }
    }
    if (Number.isFinite(below) && below > 0) meanings[name] = { kind: 'ids', below };
  }
  return meanings;
}
