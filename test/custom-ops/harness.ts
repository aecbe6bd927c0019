/**
 * Test harness for the custom ops: builds a one-node ModelProto around a vitlin op and its function
 * body, runs it in a real onnxruntime-node session, and provides random inputs and float16 rounding.
 */
import * as ort from 'onnxruntime-node';
import { encodeModelProtoToBytes } from '../../graph-rewrite/serde/encode.js';
import { DataType, type ModelProto, type ValueInfoProto } from '../../graph-rewrite/serde/onnx-schema.js';
import {
  withVitlinOpsetImport,
  type OpFunctionOptions,
  type VitlinOpType,
  type VitlinOptionalInputs,
  type Float32TensorView,
} from '../../custom-ops/index.js';
import { getOpFunction, makeVitlinNode } from '../../graph-rewrite/rewrite/index.js';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../../src/runtime/float16.js';

/** A [B, N, D]-shaped tensor of uniform values in [-range, range). */
export function randomTensor(dims: readonly number[], random: () => number, range = 2): Float32TensorView {
  const size = dims.reduce((product, dim) => product * dim, 1);
  const data = new Float32Array(size);
  for (let index = 0; index < size; index++) data[index] = (random() * 2 - 1) * range;
  return { data, dims };
}

/** The tensor rounded to float16 and back, so the oracle sees exactly the float16 model's inputs. */
export function roundedToFloat16(tensor: Float32TensorView): Float32TensorView {
  return { data: tensor.data.map((value) => float16BitsToFloat32(float32ToFloat16Bits(value))), dims: tensor.dims };
}

function tensorValueInfo(name: string, elemType: number, dims: readonly (number | string)[] | undefined): ValueInfoProto {
  return {
    name,
    metadata_props: [],
    type: {
      tensor_type: {
        elem_type: elemType,
        ...(dims === undefined
          ? {}
          : { shape: { dim: dims.map((dim) => (typeof dim === 'number' ? { dim_value: BigInt(dim) } : { dim_param: dim })) } }),
      },
    },
  };
}

export interface OpModelOptions<Op extends VitlinOpType> extends OpFunctionOptions<Op> {
  /** Graph-input shapes by schema input name; numbers or symbolic names. Default: B, N, D symbols. */
  readonly inputShapes?: Readonly<Record<string, readonly (number | string)[]>>;
  readonly irVersion?: bigint;
}

/** A ModelProto: graph inputs → one `ai.vitlin` node → Y, with the op's FunctionProto. */
export function buildOpModel<Op extends VitlinOpType>(opType: Op, options: OpModelOptions<Op>): ModelProto {
  const elemType = options.elemType === 'float16' ? DataType.FLOAT16 : DataType.FLOAT;
  const optional = (options.optionalInputs ?? []) as readonly string[];
  const inputNames = ['Q', 'K', 'V', ...optional];
  const inputs: Record<string, string> = Object.fromEntries(inputNames.map((name) => [name, `${name}_in`]));
  const node = makeVitlinNode(opType, {
    inputs: inputs as VitlinNodeInputs<Op>,
    output: 'Y_out',
    name: `${opType}_0`,
    ...(options.attributes === undefined ? {} : { attributes: options.attributes }),
    ...(options.overload === undefined ? {} : { overload: options.overload }),
  });
  const shapeOf = (name: string): readonly (number | string)[] | undefined =>
    options.inputShapes?.[name] ?? (['Q', 'K', 'V'].includes(name) ? ['B', name === 'Q' ? 'Nq' : 'Nkv', 'D'] : undefined);
  return {
    ir_version: options.irVersion ?? 10n,
    opset_import: withVitlinOpsetImport([{ domain: '', version: BigInt(options.opset) }]),
    producer_name: 'vitlin-test',
    metadata_props: [],
    training_info: [],
    functions: [getOpFunction(opType, options)],
    configuration: [],
    graph: {
      name: `${opType}_test`,
      node: [node],
      initializer: [],
      sparse_initializer: [],
      input: inputNames.map((name) => tensorValueInfo(`${name}_in`, elemType, shapeOf(name))),
      output: [tensorValueInfo('Y_out', elemType, undefined)],
      value_info: [],
      quantization_annotation: [],
      metadata_props: [],
    },
  };
}

type VitlinNodeInputs<Op extends VitlinOpType> = { Q: string; K: string; V: string } & {
  [name in VitlinOptionalInputs[Op]]?: string;
};

export type ExecutionProvider = 'cpu' | 'webgpu';

/** Creates a session for the model bytes; `verboseLog` turns on ORT's verbose (node placement) log. */
export async function createSession(
  model: ModelProto,
  executionProvider: ExecutionProvider = 'cpu',
  verboseLog = false,
): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(encodeModelProtoToBytes(model), {
    executionProviders: [executionProvider],
    logSeverityLevel: verboseLog ? 0 : 3,
    ...(verboseLog ? { logVerbosityLevel: 0 } : {}),
  });
}

/**
 * Runs the one-op model on float32 inputs (converted to float16 when the model is float16) and
 * returns Y as float32. `feeds` is keyed by schema input name.
 */
export async function runOp(
  session: ort.InferenceSession,
  elemType: 'float' | 'float16',
  feeds: Readonly<Record<string, Float32TensorView>>,
): Promise<Float32TensorView> {
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const [name, tensor] of Object.entries(feeds)) {
    ortFeeds[`${name}_in`] =
      elemType === 'float16'
        ? new ort.Tensor('float16', Uint16Array.from(tensor.data, float32ToFloat16Bits), [...tensor.dims])
        : new ort.Tensor('float32', tensor.data, [...tensor.dims]);
  }
  const result = (await session.run(ortFeeds))['Y_out'];
  if (result === undefined) throw new Error('session returned no Y_out');
  const dims = [...result.dims];
  if (result.type === 'float16') {
    return { data: Float32Array.from(result.data as Uint16Array, float16BitsToFloat32), dims };
  }
  return { data: result.data as Float32Array, dims };
}

/** Largest |actual − expected| over all elements; throws if the shapes differ. */
export function maxAbsDifference(actual: Float32TensorView, expected: Float32TensorView): number {
  if (actual.dims.join(',') !== expected.dims.join(',')) {
    throw new Error(`shape [${actual.dims.join(', ')}] differs from expected [${expected.dims.join(', ')}]`);
  }
  let largest = 0;
  for (let index = 0; index < expected.data.length; index++) {
    const difference = Math.abs(actual.data[index]! - expected.data[index]!);
    // NaN must fail, not be skipped by Math.max.
    if (Number.isNaN(difference)) return Number.POSITIVE_INFINITY;
    largest = Math.max(largest, difference);
  }
  return largest;
}
