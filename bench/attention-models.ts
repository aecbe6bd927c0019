/**
 * The attention-block models bench/attention.ts times, all over the same graph inputs Q, K, V
 * [1, N, D] → Y [1, N, D]:
 * - softmax: the exported ViT block as ONNX ops (split heads, q·kᵀ, scale, Softmax, ·v, merge heads);
 * - hydra / linear-angular: one `ai.vitlin` node with the generated function body;
 * - memory-bound: Sum(Q, K, V), one elementwise pass reading what the attention reads.
 */
import { DataType, type FunctionProto, type ModelProto, type NodeProto, type ValueInfoProto } from '../graph-rewrite/serde/onnx-schema.js';
import { reshape, tapeAttr, transpose, withVitlinOpsetImport, type LinearAngularMode, type NodeTape } from '../custom-ops/index.js';
import { buildFunction, getOpFunction, makeVitlinNode } from '../graph-rewrite/rewrite/index.js';
import { functionToProto } from '../graph-rewrite/ir/to-proto.js';

export const BENCH_OPSET = 17;

export type AttentionVariant = 'softmax' | 'hydra' | 'linear-angular' | 'linear-angular-kn' | 'memory-bound';

function floatValueInfo(name: string, features: number): ValueInfoProto {
  return {
    name,
    metadata_props: [],
    type: { tensor_type: { elem_type: DataType.FLOAT, shape: { dim: [{ dim_value: 1n }, { dim_param: 'N' }, { dim_value: BigInt(features) }] } } },
  };
}

function wrap(nodes: NodeProto[], functions: FunctionProto[], features: number): ModelProto {
  return {
    ir_version: 10n,
    opset_import: withVitlinOpsetImport([{ domain: '', version: BigInt(BENCH_OPSET) }]),
    producer_name: 'vitlin-bench',
    metadata_props: [],
    training_info: [],
    functions,
    configuration: [],
    graph: {
      name: 'attention_block',
      node: nodes,
      initializer: [],
      sparse_initializer: [],
      input: ['Q', 'K', 'V'].map((name) => floatValueInfo(name, features)),
      output: [floatValueInfo('Y', features)],
      value_info: [],
      quantization_annotation: [],
      metadata_props: [],
    },
  };
}

/** The nodes `write` puts on a node tape, reading graph inputs Q, K, V and writing Y. */
function graphNodes(write: <V>(tape: NodeTape<V>, q: V, k: V, v: V) => V): NodeProto[] {
  const spec = {
    name: 'block', domain: 'bench', inputs: ['Q', 'K', 'V'], outputs: ['Y'], attributeDefaults: [], opset: BENCH_OPSET, metadata: [],
    body: <V>(tape: NodeTape<V>, [q, k, v]: readonly V[]) => [write(tape, q!, k!, v!)],
  };
  return functionToProto(buildFunction(spec)).node;
}

/** Softmax attention as exporters write it: scores Mul'ed by 1/√d, Softmax over keys. */
function softmaxNodes(numHeads: number, features: number): NodeProto[] {
  const headDim = features / numHeads;
  return graphNodes((tape, q, k, v) => {
    const heads = (input: typeof q, name: string) => reshape(tape, input, [0, 0, numHeads, headDim], `${name}_heads`);
    const scores = tape.op('MatMul', [
      transpose(tape, heads(q, 'Q'), [0, 2, 1, 3], 'q_t'),
      transpose(tape, heads(k, 'K'), [0, 2, 3, 1], 'k_t'),
    ], { name: 'scores' });
    const scaled = tape.op('Mul', [scores, tape.float32([1 / Math.sqrt(headDim)], [], 'score_scale')], { name: 'scaled_scores' });
    const weights = tape.op('Softmax', [scaled], { name: 'weights', attributes: [tapeAttr.int('axis', -1)] });
    const context = tape.op('MatMul', [weights, transpose(tape, heads(v, 'V'), [0, 2, 1, 3], 'v_t')], { name: 'context' });
    return reshape(tape, transpose(tape, context, [0, 2, 1, 3], 'context_merged_layout'), [0, 0, features], 'merged');
  });
}

function linearAngularModel(numHeads: number, features: number, mode: LinearAngularMode): ModelProto {
  const attributes = { num_heads: numHeads, mode };
  return wrap(
    [makeVitlinNode('LinearAngularAttention', { inputs: { Q: 'Q', K: 'K', V: 'V' }, output: 'Y', attributes })],
    [getOpFunction('LinearAngularAttention', { opset: BENCH_OPSET, elemType: 'float', attributes })],
    features,
  );
}

export function buildAttentionModel(variant: AttentionVariant, numHeads: number, features: number): ModelProto {
  switch (variant) {
    case 'softmax':
      return wrap(softmaxNodes(numHeads, features), [], features);
    case 'hydra':
      return wrap(
        [makeVitlinNode('HydraAttention', { inputs: { Q: 'Q', K: 'K', V: 'V' }, output: 'Y' })],
        [getOpFunction('HydraAttention', { opset: BENCH_OPSET, elemType: 'float' })],
        features,
      );
    case 'linear-angular':
      return linearAngularModel(numHeads, features, 'reference');
    case 'linear-angular-kn':
      return linearAngularModel(numHeads, features, 'kernel_normalized');
    case 'memory-bound':
      return wrap(graphNodes((tape, q, k, v) => tape.op('Sum', [q, k, v])), [], features);
  }
}
