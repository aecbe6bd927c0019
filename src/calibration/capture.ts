/**
 * Capturing what calibration fits against: for each fused node of a converted model, its q, k, v as
 * the *original* model computes them, and the softmax attention output they produce there.
 *
 * The converted model's fused nodes read q, k, v as [B, N, D] values, sometimes made by nodes the
 * rewrite added (a Slice of a packed projection, a Transpose). A copy of the original model — whose
 * earlier blocks still run softmax, so every block sees the activations it was trained on — gets those
 * few nodes grafted in (traced back from the fused node until values the original already has), and the
 * q, k, v become extra graph outputs. One run of that probe captures every block at once. The softmax
 * target is then computed from the captured q, k, v with the block's heads and scale.
 */
import { InvalidArgumentError } from '../../graph-rewrite/errors.js';
import { kernelForOp } from '../../custom-ops/index.js';
import type { Model } from '../../graph-rewrite/ir/model.js';
import { Node } from '../../graph-rewrite/ir/node.js';
import type { Value } from '../../graph-rewrite/ir/value.js';
import { topologicalSort } from '../../graph-rewrite/passes/topological-sort.js';
import { openSession, type RunTarget } from '../eval/backend-evaluator.js';
import type { InputSet } from '../eval/inputs.js';
import { tensorToFloat32 } from '../runtime/float16.js';
import { batchSizeFor } from '../eval/inputs.js';
import { softmaxAttention, type BlockCapture } from './fit.js';

/** The vitlin fused nodes of a model, in graph order. */
export function fusedNodes(model: Model): Node[] {
  return model.graph.nodes.filter((n) => kernelForOp(n.domain, n.opType) !== undefined);
}

/** Every value of a graph by name: inputs, initializers and node outputs. */
function valuesByName(model: Model): Map<string, Value> {
  const map = new Map<string, Value>();
  for (const v of model.graph.inputs) if (v.name) map.set(v.name, v);
  for (const [name, v] of model.graph.initializers) map.set(name, v);
  for (const node of model.graph.nodes) for (const v of node.outputs) if (v.name) map.set(v.name, v);
  return map;
}

/**
 * A copy of `original` that also outputs, for each fused node of `converted`, its Q, K and V inputs.
 * Returns the probe and the output names ([q, k, v] per fused node).
 */
export function buildProbe(original: Model, converted: Model): { probe: Model; outputs: [string, string, string][] } {
  const probe = original.clone();
  const known = valuesByName(probe);
  const grafted = new Map<Value, Value>();
  const graft = (value: Value): Value => {
    const existing = (value.name && known.get(value.name)) || grafted.get(value);
    if (existing) return existing;
    const producer = value.producer();
    if (!producer) {
      if (!value.constValue) throw new InvalidArgumentError(`calibration: ${value.label} of the converted model is not in the original model`);
      const copy = probe.graph.addInitializer(value.constValue, probe.graph.nameAllocator.freshValueName(`calibration/${value.name ?? 'const'}`));
      grafted.set(value, copy);
      return copy;
    }
    if (producer.subgraphs().length) throw new InvalidArgumentError(`calibration: cannot copy ${producer.label}, it has subgraphs`);
    const node = new Node({
      domain: producer.domain, opType: producer.opType, inputs: producer.inputs.map((v) => (v ? graft(v) : undefined)),
      attributes: producer.attributes, outputs: producer.outputs.length, name: `calibration/${producer.name ?? producer.opType}`,
    });
    probe.graph.append(node);
    producer.outputs.forEach((out, i) => grafted.set(out, node.outputs[i]!));
    return grafted.get(value)!;
  };
  const outputs = fusedNodes(converted).map((node) => {
    const [q, k, v] = [0, 1, 2].map((i) => graft(node.inputs[i]!));
    return [q, k, v].map((value) => {
      if (!value!.isGraphOutput()) probe.graph.addOutput(value!);
      return value!.name!;
    }) as [string, string, string];
  });
  topologicalSort(probe.graph);
  return { probe, outputs };
}

export interface BlockInfo {
  readonly heads: number;
  /** The total factor on q·kᵀ of the original block. */
  readonly scale: number;
}

/**
 * Runs the probe on `inputs` (on `options.backend`) and returns one capture per fused node of `converted` (in graph order),
 * with the softmax target computed for `blocks[i]` (heads and scale of the block fused node i replaced).
 */
export async function captureBlocks(original: Model, converted: Model, blocks: readonly BlockInfo[], inputs: InputSet, options: RunTarget & { maxBatch?: number; onItems?: (n: number) => void }): Promise<BlockCapture[]> {
  const { probe, outputs } = buildProbe(original, converted);
  if (outputs.length !== blocks.length) throw new InvalidArgumentError(`calibration: ${outputs.length} fused nodes but ${blocks.length} block descriptions`);
  const session = await openSession(options, probe, 'calibration probe');
  const parts = outputs.map(() => ({ q: [] as Float32Array[], k: [] as Float32Array[], v: [] as Float32Array[], dims: [] as number[] }));
  try {
    const batch = batchSizeFor(session.inputs, options.maxBatch ?? 32);
    const fixed = batchSizeFor(session.inputs, 0) > 0;
    for (let start = 0; start < inputs.count; start += batch) {
      const size = Math.min(batch, inputs.count - start);
      if (fixed && size !== batch) break;
      const result = await session.run(inputs.feeds(session.inputs, start, size));
      outputs.forEach((names, b) => {
        const [q, k, v] = names.map((n) => result[n]!);
        parts[b]!.q.push(tensorToFloat32(q!));
        parts[b]!.k.push(tensorToFloat32(k!));
        parts[b]!.v.push(tensorToFloat32(v!));
        parts[b]!.dims = [...q!.dims];
      });
      options.onItems?.(size);
    }
  } finally {
    await session.release();
  }
  const concat = (chunks: Float32Array[]) => {
    const out = new Float32Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) { out.set(c, at); at += c.length; }
    return out;
  };
  return parts.map((part, b) => {
    const [, tokens, features] = part.dims as [number, number, number];
    const q = concat(part.q);
    const k = concat(part.k);
    const v = concat(part.v);
    const items = q.length / (tokens * features);
    const target = softmaxAttention(q, k, v, items, tokens, features, blocks[b]!.heads, blocks[b]!.scale);
    return { items, tokens, features, q, k, v, target };
  });
}
