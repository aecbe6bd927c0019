/**
 * Test harness for the custom ops: builds a one-node ModelProto around a vitlin op and its function
 * body, runs it in a real onnxruntime-node session, and provides seeded inputs and float16 helpers.
 */
import * as ort from 'onnxruntime-node';
import { encodeModelProtoToBytes } from '../../graph-rewrite/serde/encode.js';
import { DataType, type ModelProto, type ValueInfoProto } from '../../graph-rewrite/serde/onnx-schema.js';
import {
  getOpFunction,
  makeVitlinNode,
  withVitlinOpsetImport,
  type OpFunctionOptions,
  type VitlinOpType,
  type VitlinOptionalInputs,
  type Float32TensorView,
} from '../../custom-ops/index.js';

/** Mulberry32: a tiny seeded PRNG so every table row gets reproducible inputs. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}

/** A [B, N, D]-shaped tensor of uniform values in [-range, range). */
export function randomTensor(dims: readonly number[], random: () => number, range = 2): Float32TensorView {
  const size = dims.reduce((product, dim) => product * dim, 1);
  const data = new Float32Array(size);
  for (let index = 0; index < size; index++) data[index] = (random() * 2 - 1) * range;
  return { data, dims };
}

const float32Scratch = new Float32Array(1);
const uint32View = new Uint32Array(float32Scratch.buffer);

/** IEEE float32 → float16 bits, round to nearest even (normals, subnormals, inf, NaN). */
export function toFloat16Bits(value: number): number {
  float32Scratch[0] = value;
  const bits = uint32View[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa === 0 ? 0 : 0x200);
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    // Subnormal half: a multiple of 2^-24, rounded to nearest even.
    const scaled = Math.abs(value) / 2 ** -24;
    let rounded = Math.round(scaled);
    if (scaled - Math.floor(scaled) === 0.5 && rounded % 2 === 1) rounded -= 1;
    return sign | rounded;
  }
  const halfMantissa = mantissa >>> 13;
  const remainder = mantissa & 0x1fff;
  let result = sign | (halfExponent << 10) | halfMantissa;
  if (remainder > 0x1000 || (remainder === 0x1000 && (halfMantissa & 1) === 1)) result += 1;
  return result;
}

/** float16 bits → number. */
export function fromFloat16Bits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** The tensor rounded to float16 and back, so the oracle sees exactly the float16 model's inputs. */
export function roundedToFloat16(tensor: Float32TensorView): Float32TensorView {
  return { data: tensor.data.map((value) => fromFloat16Bits(toFloat16Bits(value))), dims: tensor.dims };
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
        ? new ort.Tensor('float16', Uint16Array.from(tensor.data, toFloat16Bits), [...tensor.dims])
        : new ort.Tensor('float32', tensor.data, [...tensor.dims]);
  }
  const result = (await session.run(ortFeeds))['Y_out'];
  if (result === undefined) throw new Error('session returned no Y_out');
  const dims = [...result.dims];
  if (result.type === 'float16') {
    return { data: Float32Array.from(result.data as Uint16Array, fromFloat16Bits), dims };
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
