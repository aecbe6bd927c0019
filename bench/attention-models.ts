/**
 * The attention-block models bench/attention.ts times, all over the same graph inputs Q, K, V
 * [1, N, D] → Y [1, N, D]:
 * - softmax: the exported ViT block as ONNX ops (split heads, q·kᵀ, scale, Softmax, ·v, merge heads);
 * - hydra / linear-angular: one `ai.vitlin` node with the generated function body;
 * - memory-bound: Sum(Q, K, V), one elementwise pass reading what the attention reads.
 */
import { DataType, type FunctionProto, type ModelProto, type NodeProto, type ValueInfoProto } from '../graph-rewrite/serde/onnx-schema.js';
import { getOpFunction, makeVitlinNode, withVitlinOpsetImport, type LinearAngularMode } from '../custom-ops/index.js';
import {
  constantNode,
  floatTensor,
  int64Tensor,
  intAttribute,
  intsAttribute,
  makeNode,
} from '../custom-ops/functions/proto-builders.js';

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

/** Softmax attention as exporters write it: scores Mul'ed by 1/√d, Softmax over keys. */
function softmaxNodes(numHeads: number, features: number): NodeProto[] {
  const headDim = features / numHeads;
  const transpose = (input: string, output: string, perm: number[]): NodeProto =>
    makeNode('Transpose', [input], [output], [intsAttribute('perm', perm)]);
  return [
    constantNode('split_shape', int64Tensor([0, 0, numHeads, headDim], [4])),
    constantNode('merge_shape', int64Tensor([0, 0, features], [3])),
    constantNode('score_scale', floatTensor([1 / Math.sqrt(headDim)], [])),
    ...['Q', 'K', 'V'].map((name) => makeNode('Reshape', [name, 'split_shape'], [`${name}_heads`])),
    transpose('Q_heads', 'q_t', [0, 2, 1, 3]),
    transpose('K_heads', 'k_t', [0, 2, 3, 1]),
    transpose('V_heads', 'v_t', [0, 2, 1, 3]),
    makeNode('MatMul', ['q_t', 'k_t'], ['scores']),
    makeNode('Mul', ['scores', 'score_scale'], ['scaled_scores']),
    makeNode('Softmax', ['scaled_scores'], ['weights'], [intAttribute('axis', -1)]),
    makeNode('MatMul', ['weights', 'v_t'], ['context']),
    transpose('context', 'context_merged_layout', [0, 2, 1, 3]),
    makeNode('Reshape', ['context_merged_layout', 'merge_shape'], ['Y']),
  ];
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
      return wrap([makeNode('Sum', ['Q', 'K', 'V'], ['Y'])], [], features);
  }
}
