/**
 * Immutable tensors (initializers, tensor attributes). A Tensor wraps the TensorProto it was read
 * from — raw_data stays a zero-copy view, typed fields and external-data references stay as they
 * came — so saving it is lossless; the getters decode on demand.
 */

import { ExternalDataError, InvalidArgumentError } from '../errors.js';
import { DataLocation, type SparseTensorProto, type TensorProto } from '../serde/onnx-schema.js';
import { DataType, dataTypeInfo, dataTypeName, isIntegerType } from './dtypes.js';
import { cloneProto, makeMessage, metadataFromProto } from './proto-utils.js';
import { elementReader, encodeLittleEndian, packedByteLength, rawFloat32Copy, type ElementReader } from './tensor-data.js';

/** Where a tensor's data lives. */
export type TensorStorage = 'raw' | 'typed' | 'external';

/** An external-data reference (`data_location: EXTERNAL`), as named by its `external_data` entries. */
export interface ExternalDataInfo {
  readonly location: string;
  readonly offset: number | undefined;
  readonly length: number | undefined;
  readonly checksum: string | undefined;
}

/** Optional fields for the Tensor constructors. */
export interface TensorOptions {
  readonly name?: string;
  readonly docString?: string;
}

function checkedDims(dims: readonly number[], argument: string): number[] {
  if (!Array.isArray(dims) || dims.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw new InvalidArgumentError(`'${argument}' must be an array of non-negative integers, got ${JSON.stringify(dims)}`);
  }
  return [...dims];
}

function product(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

export class Tensor {
  readonly #proto: TensorProto;
  readonly #dims: readonly number[];
  #metadata: ReadonlyMap<string, string> | undefined;

  private constructor(proto: TensorProto) {
    this.#proto = proto;
    this.#dims = Object.freeze(proto.dims.map((d) => Number(d)));
  }

  /** Wraps a decoded TensorProto without copying its data. The proto must not be mutated afterwards. */
  static fromProto(proto: TensorProto): Tensor {
    return new Tensor(proto);
  }

  /** A FLOAT tensor (raw_data, little-endian) holding a copy of `data`. */
  static fromFloat32Array(data: Float32Array | readonly number[], dims: readonly number[], options: TensorOptions = {}): Tensor {
    const values = data instanceof Float32Array ? data : Float32Array.from(data);
    const raw = encodeLittleEndian(values.length, 4, (view, offset, i) => view.setFloat32(offset, values[i]!, true));
    return Tensor.fromRawData(DataType.FLOAT, dims, raw, options);
  }

  /** An INT64 tensor (raw_data, little-endian). Numbers must be safe integers. */
  static fromInt64Array(data: BigInt64Array | readonly (bigint | number)[], dims: readonly number[], options: TensorOptions = {}): Tensor {
    const values = Array.from(data as ArrayLike<bigint | number>, (v, i) => {
      if (typeof v === 'number' && !Number.isSafeInteger(v)) {
        throw new InvalidArgumentError(`'data'[${i}] must be an integer, got ${v}`);
      }
      return BigInt.asIntN(64, BigInt(v));
    });
    const raw = encodeLittleEndian(values.length, 8, (view, offset, i) => view.setBigInt64(offset, values[i]!, true));
    return Tensor.fromRawData(DataType.INT64, dims, raw, options);
  }

  /** An INT32 tensor (raw_data, little-endian). */
  static fromInt32Array(data: Int32Array | readonly number[], dims: readonly number[], options: TensorOptions = {}): Tensor {
    const values = data instanceof Int32Array ? data : Int32Array.from(data);
    const raw = encodeLittleEndian(values.length, 4, (view, offset, i) => view.setInt32(offset, values[i]!, true));
    return Tensor.fromRawData(DataType.INT32, dims, raw, options);
  }

  /** A tensor of any fixed-width dtype from its little-endian bytes (kept as given, not copied). */
  static fromRawData(dataType: number, dims: readonly number[], rawData: Uint8Array, options: TensorOptions = {}): Tensor {
    const shape = checkedDims(dims, 'dims');
    const bits = dataTypeInfo(dataType)?.bits ?? 0;
    if (bits === 0) throw new InvalidArgumentError(`'dataType' ${dataTypeName(dataType)} has no fixed-width raw form`);
    if (!(rawData instanceof Uint8Array)) throw new InvalidArgumentError(`'rawData' must be a Uint8Array`);
    const expected = packedByteLength(dataType, product(shape));
    if (rawData.byteLength !== expected) {
      throw new InvalidArgumentError(
        `'dims' ${JSON.stringify(shape)} describe ${product(shape)} ${dataTypeName(dataType)} elements (${expected} bytes) but the data has ${rawData.byteLength} bytes`,
      );
    }
    return new Tensor(makeMessage<TensorProto>('TensorProto', {
      dims: shape.map((d) => BigInt(d)),
      data_type: dataType,
      name: options.name,
      doc_string: options.docString,
      raw_data: rawData,
    }));
  }

  /** The tensor's name (initializer name), or undefined (typical for attribute tensors). */
  get name(): string | undefined {
    return this.#proto.name;
  }

  /** `DataType` code. */
  get dataType(): number {
    return this.#proto.data_type ?? DataType.UNDEFINED;
  }

  get dims(): readonly number[] {
    return this.#dims;
  }

  get docString(): string | undefined {
    return this.#proto.doc_string;
  }

  get metadataProps(): ReadonlyMap<string, string> {
    return (this.#metadata ??= metadataFromProto(this.#proto.metadata_props));
  }

  /** Number of elements (product of dims; 1 for a scalar). */
  get elementCount(): number {
    return product(this.#dims);
  }

  get storage(): TensorStorage {
    if (this.#proto.data_location === DataLocation.EXTERNAL) return 'external';
    return this.#proto.raw_data !== undefined ? 'raw' : 'typed';
  }

  /** The raw_data bytes (a view into the model's buffer; do not modify), if the tensor uses raw_data. */
  get rawData(): Uint8Array | undefined {
    return this.storage === 'raw' ? this.#proto.raw_data : undefined;
  }

  /** The external-data reference, if the data lives outside the model file. */
  get externalData(): ExternalDataInfo | undefined {
    if (this.storage !== 'external') return undefined;
    const entries = new Map(this.#proto.external_data.map((e) => [e.key ?? '', e.value ?? '']));
    const int = (key: string): number | undefined => (entries.has(key) ? Number(entries.get(key)) : undefined);
    return { location: entries.get('location') ?? '', offset: int('offset'), length: int('length'), checksum: entries.get('checksum') };
  }

  /**
   * Size of the data in bytes in its packed form (sub-byte dtypes round up; STRING: total string
   * bytes). For external data, the reference's `length` when given.
   */
  get byteLength(): number {
    const external = this.externalData;
    if (external?.length !== undefined) return external.length;
    if (this.storage === 'raw') return this.#proto.raw_data!.byteLength;
    if (this.dataType === DataType.STRING) return this.#proto.string_data.reduce((n, s) => n + s.byteLength, 0);
    return packedByteLength(this.dataType, this.elementCount);
  }

  /** `tensor 'w'` or `unnamed tensor`: how error messages name this tensor. */
  get label(): string {
    return this.name === undefined ? 'unnamed tensor' : `tensor '${this.name}'`;
  }

  #reader(purpose: string): ElementReader {
    if (this.storage === 'external') {
      throw new ExternalDataError(
        `${this.label} stores its data externally ('${this.externalData!.location}'); load the external data before ${purpose}`,
      );
    }
    const reader = elementReader(this.#proto, this.elementCount, this.label);
    if (reader === undefined) {
      throw new InvalidArgumentError(`${this.label} has dtype ${dataTypeName(this.dataType)}, which ${purpose} cannot convert`);
    }
    return reader;
  }

  /** A fresh Float32Array of the elements, converted from any real numeric dtype (fp16, bf16, float8, ints, …). */
  toFloat32Array(): Float32Array {
    const reader = this.#reader('toFloat32Array');
    const count = this.elementCount;
    if (this.dataType === DataType.FLOAT && this.storage === 'raw') {
      const fast = rawFloat32Copy(this.#proto.raw_data!, count);
      if (fast !== undefined) return fast;
    }
    const out = new Float32Array(count);
    if (reader.kind === 'bigint') for (let i = 0; i < count; i++) out[i] = Number(reader.get(i));
    else for (let i = 0; i < count; i++) out[i] = reader.get(i);
    return out;
  }

  /** A fresh BigInt64Array of an integer tensor (UINT64 values above 2^63 wrap, as in C). */
  toBigInt64Array(): BigInt64Array {
    if (!isIntegerType(this.dataType)) {
      throw new InvalidArgumentError(`${this.label} has dtype ${dataTypeName(this.dataType)}, which toBigInt64Array cannot convert (integers only)`);
    }
    const reader = this.#reader('toBigInt64Array');
    const out = new BigInt64Array(this.elementCount);
    for (let i = 0; i < out.length; i++) {
      out[i] = reader.kind === 'bigint' ? BigInt.asIntN(64, reader.get(i)) : BigInt(reader.get(i));
    }
    return out;
  }

  /** The elements as plain numbers (shape constants, axes). Throws if an int64 is not a safe integer. */
  toNumberArray(): number[] {
    const reader = this.#reader('toNumberArray');
    const out = new Array<number>(this.elementCount);
    for (let i = 0; i < out.length; i++) {
      if (reader.kind === 'number') {
        out[i] = reader.get(i);
        continue;
      }
      const value = reader.get(i);
      if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
        throw new InvalidArgumentError(`${this.label} element ${i} (${value}) is not a safe integer; use toBigInt64Array`);
      }
      out[i] = Number(value);
    }
    return out;
  }

  /** A copy of the tensor's proto (byte views shared), with `name` replaced when given. */
  toProto(name?: string): TensorProto {
    const proto = cloneProto(this.#proto);
    if (name !== undefined && name !== proto.name) proto.name = name;
    return proto;
  }

  /** The same data under another name. */
  withName(name: string): Tensor {
    return new Tensor(this.toProto(name));
  }
}

/** An immutable sparse tensor (COO: `values` plus `indices` into a tensor of shape `dims`). */
export class SparseTensor {
  readonly #proto: SparseTensorProto;
  readonly values: Tensor | undefined;
  readonly indices: Tensor | undefined;
  readonly dims: readonly number[];

  private constructor(proto: SparseTensorProto) {
    this.#proto = proto;
    this.values = proto.values === undefined ? undefined : Tensor.fromProto(proto.values);
    this.indices = proto.indices === undefined ? undefined : Tensor.fromProto(proto.indices);
    this.dims = Object.freeze(proto.dims.map((d) => Number(d)));
  }

  /** Wraps a decoded SparseTensorProto without copying. */
  static fromProto(proto: SparseTensorProto): SparseTensor {
    return new SparseTensor(proto);
  }

  /** Builds a sparse tensor from its parts (the name is the values tensor's name). */
  static create(values: Tensor, indices: Tensor, dims: readonly number[]): SparseTensor {
    return new SparseTensor(makeMessage<SparseTensorProto>('SparseTensorProto', {
      values: values.toProto(),
      indices: indices.toProto(),
      dims: checkedDims(dims, 'dims').map((d) => BigInt(d)),
    }));
  }

  /** The sparse tensor's name: that of its values tensor. */
  get name(): string | undefined {
    return this.values?.name;
  }

  /** A copy of the proto (byte views shared), with the values tensor renamed when `name` is given. */
  toProto(name?: string): SparseTensorProto {
    const proto = cloneProto(this.#proto);
    if (name !== undefined && proto.values !== undefined && proto.values.name !== name) proto.values.name = name;
    return proto;
  }
}
