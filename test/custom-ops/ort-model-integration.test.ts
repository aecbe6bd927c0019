/**
 * How generated functions sit in a model: the lowest IR version they load at, and two
 * specializations of one op in one model distinguished by `overload`.
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { encodeModelProtoToBytes } from '../../graph-rewrite/serde/encode.js';
import { DataType, type ModelProto, type ValueInfoProto } from '../../graph-rewrite/serde/onnx-schema.js';
import {
  MIN_IR_VERSION_WITH_FUNCTIONS,
  hydraAttentionReference,
  MIN_IR_VERSION_WITH_OVERLOAD,
  linearAngularAttentionReference,
  withVitlinOpsetImport,
} from '../../custom-ops/index.js';
import { getOpFunction, makeVitlinNode } from '../../graph-rewrite/rewrite/index.js';
import { seededRandom } from '../../src/runtime/random-feeds.js';
import { buildOpModel, createSession, maxAbsDifference, randomTensor, runOp } from './harness.js';

const floatInput = (name: string): ValueInfoProto => ({
  name,
  metadata_props: [],
  type: { tensor_type: { elem_type: DataType.FLOAT, shape: { dim: [{ dim_param: 'B' }, { dim_param: 'N' }, { dim_param: 'D' }] } } },
});

describe('generated functions inside models', () => {
  it(`loads at IR ${MIN_IR_VERSION_WITH_FUNCTIONS} (model-local functions, no overload)`, async () => {
    const random = seededRandom(500);
    const [query, key, value] = [0, 1, 2].map(() => randomTensor([2, 9, 16], random)) as [never, never, never];
    const model = buildOpModel('LinearAngularAttention', {
      opset: 11,
      elemType: 'float',
      attributes: { num_heads: 2 },
      irVersion: MIN_IR_VERSION_WITH_FUNCTIONS,
    });
    const session = await createSession(model);
    const actual = await runOp(session, 'float', { Q: query, K: key, V: value });
    expect(maxAbsDifference(actual, linearAngularAttentionReference(query, key, value, { numHeads: 2 }))).toBeLessThanOrEqual(1e-5);
    await session.release();
  });

  it('shares one function between several call sites (layers chained through Q)', async () => {
    const opset = 13;
    const layers = 3;
    const model: ModelProto = {
      ir_version: MIN_IR_VERSION_WITH_FUNCTIONS,
      opset_import: withVitlinOpsetImport([{ domain: '', version: BigInt(opset) }]),
      metadata_props: [],
      training_info: [],
      configuration: [],
      functions: [getOpFunction('HydraAttention', { opset, elemType: 'float' })],
      graph: {
        name: 'chained_layers',
        node: Array.from({ length: layers }, (_, layer) =>
          makeVitlinNode('HydraAttention', {
            inputs: { Q: layer === 0 ? 'q' : `y${layer - 1}`, K: 'k', V: 'v' },
            output: `y${layer}`,
            name: `layer${layer}`,
          }),
        ),
        initializer: [],
        sparse_initializer: [],
        input: ['q', 'k', 'v'].map(floatInput),
        output: [floatInput(`y${layers - 1}`)],
        value_info: [],
        quantization_annotation: [],
        metadata_props: [],
      },
    };
    const session = await ort.InferenceSession.create(encodeModelProtoToBytes(model), { logSeverityLevel: 3 });
    const random = seededRandom(502);
    const [query, key, value] = [0, 1, 2].map(() => randomTensor([2, 10, 24], random)) as [never, never, never];
    const toOrt = (tensor: { data: Float32Array; dims: readonly number[] }): ort.Tensor =>
      new ort.Tensor('float32', tensor.data, [...tensor.dims]);
    const output = (await session.run({ q: toOrt(query), k: toOrt(key), v: toOrt(value) }))[`y${layers - 1}`]!;
    let expected = query as { data: Float32Array; dims: readonly number[] };
    for (let layer = 0; layer < layers; layer++) expected = hydraAttentionReference(expected, key, value);
    expect(maxAbsDifference({ data: output.data as Float32Array, dims: [...output.dims] }, expected)).toBeLessThanOrEqual(1e-5);
    await session.release();
  });

  it(`runs two specializations of one op side by side via overload (IR ${MIN_IR_VERSION_WITH_OVERLOAD})`, async () => {
    const opset = 17;
    const specializations = [
      { overload: 'reference_h2', attributes: { num_heads: 2, mode: 'reference' } },
      { overload: 'kernel_h4', attributes: { num_heads: 4, mode: 'kernel_normalized' } },
    ] as const;
    const model: ModelProto = {
      ir_version: MIN_IR_VERSION_WITH_OVERLOAD,
      opset_import: withVitlinOpsetImport([{ domain: '', version: BigInt(opset) }]),
      metadata_props: [],
      training_info: [],
      configuration: [],
      functions: specializations.map(({ overload, attributes }) =>
        getOpFunction('LinearAngularAttention', { opset, elemType: 'float', attributes, overload }),
      ),
      graph: {
        name: 'two_overloads',
        node: specializations.map(({ overload, attributes }) =>
          makeVitlinNode('LinearAngularAttention', { inputs: { Q: 'q', K: 'k', V: 'v' }, output: `y_${overload}`, attributes, overload }),
        ),
        initializer: [],
        sparse_initializer: [],
        input: ['q', 'k', 'v'].map(floatInput),
        output: specializations.map(({ overload }) => floatInput(`y_${overload}`)),
        value_info: [],
        quantization_annotation: [],
        metadata_props: [],
      },
    };
    const session = await ort.InferenceSession.create(encodeModelProtoToBytes(model), { logSeverityLevel: 3 });
    const random = seededRandom(501);
    const [query, key, value] = [0, 1, 2].map(() => randomTensor([2, 11, 32], random));
    const feeds = Object.fromEntries(
      (['q', 'k', 'v'] as const).map((name, index) => {
        const tensor = [query, key, value][index]!;
        return [name, new ort.Tensor('float32', tensor.data, [...tensor.dims])];
      }),
    );
    const outputs = await session.run(feeds);
    for (const { overload, attributes } of specializations) {
      const output = outputs[`y_${overload}`]!;
      const expected = linearAngularAttentionReference(query!, key!, value!, { numHeads: attributes.num_heads, mode: attributes.mode });
      expect(maxAbsDifference({ data: output.data as Float32Array, dims: [...output.dims] }, expected)).toBeLessThanOrEqual(1e-5);
    }
    await session.release();
  });
});
