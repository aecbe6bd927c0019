/** Small hand-built ONNX models for the page's bad-input cases (built with the codec, not the rewriter). */
import { encodeModelProtoToBytes } from '../../graph-rewrite/serde/encode.js';
import { AttributeType, DataType, type TensorProto } from '../../graph-rewrite/serde/onnx-schema.js';
import { floatTensor, make, model, node, vi } from '../ir/helpers.js';

const int64Tensor = (name: string, values: number[]): TensorProto =>
  make('TensorProto', { name, data_type: DataType.INT64, dims: [BigInt(values.length)], int64_data: values.map(BigInt) });

/**
 * An image classifier with no attention at all: [1,3,32,32] → GlobalAveragePool → Flatten → MatMul → [1,10].
 * The weights make the logits depend on the image, so a run has something to compare.
 */
export function noAttentionModel(): Uint8Array {
  const weights = Array.from({ length: 30 }, (_, i) => Math.sin(i + 1));
  const graph = make('GraphProto', {
    name: 'no_attention',
    input: [vi('pixel_values', [1, 3, 32, 32])],
    output: [vi('logits', [1, 10])],
    initializer: [floatTensor('W', [3, 10], weights)],
    node: [
      node('GlobalAveragePool', ['pixel_values'], ['pooled']),
      node('Flatten', ['pooled'], ['flat']),
      node('MatMul', ['flat', 'W'], ['logits']),
    ],
  });
  return encodeModelProtoToBytes(model(graph));
}

/**
 * A tiny file whose run needs more memory than a 32-bit WASM heap has: the image is expanded to
 * [400000, 3, 32, 32] float32 (≈ 4.9 GB) before being averaged to one number, times a [1, 10] row.
 */
export function hugeIntermediateModel(BIG = 340000): Uint8Array {
  const graph = make('GraphProto', {
    name: 'huge_intermediate',
    input: [vi('pixel_values', [1, 3, 32, 32])],
    output: [vi('logits', [1, 10])],
    initializer: [int64Tensor('big_shape', [BIG, 3, 32, 32]), floatTensor('W', [1, 10], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])],
    node: [
      node('Expand', ['pixel_values', 'big_shape'], ['big']),
      node('ReduceMean', ['big'], ['mean'], {
        attribute: [
          make('AttributeProto', { name: 'axes', type: AttributeType.INTS, ints: [0n, 1n, 2n, 3n] }),
          make('AttributeProto', { name: 'keepdims', type: AttributeType.INT, i: 0n }),
        ],
      }),
      node('Mul', ['mean', 'W'], ['logits']),
    ],
  });
  return encodeModelProtoToBytes(model(graph));
}
