/**
 * Table-driven protobuf encoder for ONNX messages, the inverse of decode.ts.
 *
 * Two passes: `SizeMeasurer` validates the object tree and caches every message's size (so a length
 * prefix is known before its body is written); `ChunkEmitter` then writes the bytes. Large bytes
 * fields (tensor raw_data) are not copied: the caller's Uint8Array becomes an output chunk of its own,
 * so a 1 GB model can be streamed to disk with ≈1× its size in memory.
 *
 * Fields are written in field-number order (as protobuf-C++ does, so onnx-written files round-trip
 * byte for byte), with `$unknown` fields merged in by their field number (see sortedUnknown).
 */
import { OnnxEncodeError } from '../errors.js';
import { MAX_MESSAGE_DEPTH, WireType, wireTypeOf, type OnnxMessageTypes } from './decode.js';
import { nanKey, utf8WireLength, writeUtf8Escaped, type NanBits } from './exact-values.js';
import { concatChunks, int64Size, sortedUnknown, unknownFieldNumber, varintSize } from './wire-sizes.js';

export { concatChunks } from './wire-sizes.js';
import { ONNX_SCHEMA, type FieldSpec, type MessageName, type ModelProto } from './onnx-schema.js';

/** protobuf's limit on one serialized message (INT_MAX); beyond it, tensors must go to external data. */
export const MAX_MESSAGE_BYTES = 0x7fffffff;
/** Bytes fields at least this long are emitted as their own chunk instead of being copied. */
export const ZERO_COPY_MIN_BYTES = 16 * 1024;
const BLOCK_BYTES = 1 << 20;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

type AnyMessage = Record<string, unknown> & { $unknown?: unknown; $nanBits?: NanBits };

const fieldNumbersCache = new Map<MessageName, number[]>();
function fieldNumbersOf(name: MessageName): number[] {
  let numbers = fieldNumbersCache.get(name);
  if (numbers === undefined) {
    numbers = Object.keys(ONNX_SCHEMA[name]).map(Number).sort((a, b) => a - b);
    fieldNumbersCache.set(name, numbers);
  }
  return numbers;
}

/** Pass 1: validates types and caches each message's serialized size. */
class SizeMeasurer {
  readonly sizes = new WeakMap<object, number>();
  private readonly pathNames: string[] = [];
  private readonly pathIndexes: number[] = [];

  constructor(private readonly rootName: MessageName) {}

  measure(name: MessageName, msg: unknown, depth: number): number {
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg) || msg instanceof Uint8Array) {
      this.fail(`must be a ${name} object, got ${describe(msg)}`);
    }
    const cached = this.sizes.get(msg);
    if (cached !== undefined) return cached; // shared sub-messages are measured once
    if (depth > MAX_MESSAGE_DEPTH) this.fail(`messages nested deeper than ${MAX_MESSAGE_DEPTH} (a cycle?)`);
    const schema = ONNX_SCHEMA[name];
    const obj = msg as AnyMessage;
    let size = 0;
    const oneofsSet = new Map<string, string>();
    for (const number of fieldNumbersOf(name)) {
      const spec = schema[number]!;
      const value = obj[spec.name];
      if (value === undefined || value === null) continue;
      if (spec.oneof !== undefined) {
        // Readers keep the member written last; two set would make them see another value than ours.
        const other = oneofsSet.get(spec.oneof);
        if (other !== undefined) this.fail(`has both '${other}' and '${spec.name}' set, members of the oneof '${spec.oneof}': set only one`);
        oneofsSet.set(spec.oneof, spec.name);
      }
      this.pathNames.push(spec.name);
      this.pathIndexes.push(-1);
      size += spec.repeated === true ? this.repeatedSize(number, spec, value, depth) : this.valueSize(number, spec, value, depth);
      this.pathNames.pop();
      this.pathIndexes.pop();
    }
    const unknown = obj.$unknown;
    if (unknown !== undefined) {
      this.pathNames.push('$unknown');
      this.pathIndexes.push(-1);
      if (!Array.isArray(unknown)) this.fail(`must be an array of Uint8Array, got ${describe(unknown)}`);
      unknown.forEach((raw: unknown, i) => {
        this.pathIndexes[this.pathIndexes.length - 1] = i;
        if (!(raw instanceof Uint8Array) || unknownFieldNumber(raw) === null) {
          this.fail(`must be a raw field (tag + payload) as Uint8Array, got ${describe(raw)}`);
        }
        size += raw.length;
      });
      this.pathNames.pop();
      this.pathIndexes.pop();
    }
    this.sizes.set(msg, size);
    return size;
  }

  private repeatedSize(number: number, spec: FieldSpec, values: unknown, depth: number): number {
    if (!Array.isArray(values)) this.fail(`must be an array, got ${describe(values)}`);
    const last = this.pathIndexes.length - 1;
    if (spec.packed === true) {
      const payload = this.packedPayloadSize(spec, values);
      this.sizes.set(values, payload); // the emitter needs the payload size for the length prefix
      return payload === 0 ? 0 : varintSize(number * 8) + varintSize(payload) + payload;
    }
    let size = 0;
    for (let i = 0; i < values.length; i++) {
      this.pathIndexes[last] = i;
      size += this.valueSize(number, spec, values[i], depth);
    }
    this.pathIndexes[last] = -1;
    return size;
  }

  private packedPayloadSize(spec: FieldSpec, values: unknown[]): number {
    if (spec.kind === 'float' || spec.kind === 'double') {
      for (let i = 0; i < values.length; i++) if (typeof values[i] !== 'number') this.badElement(spec, values, i);
      return values.length * (spec.kind === 'float' ? 4 : 8);
    }
    let size = 0;
    for (let i = 0; i < values.length; i++) {
      const n = this.scalarVarintSize(spec.kind, values[i]);
      if (n === 0) this.badElement(spec, values, i);
      size += n;
    }
    return size;
  }

  private badElement(spec: FieldSpec, values: unknown[], i: number): never {
    this.pathIndexes[this.pathIndexes.length - 1] = i;
    return this.fail(`must be ${expectedText(spec.kind)}, got ${describe(values[i])}`);
  }

  /** Varint size of an int64/uint64/int32 value, or 0 when the value is not valid for the kind. */
  private scalarVarintSize(kind: FieldSpec['kind'], v: unknown): number {
    if (kind === 'int32') {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) return 0;
      return v < 0 ? 10 : varintSize(v);
    }
    if (typeof v !== 'bigint') return 0;
    if (kind === 'int64' ? v < INT64_MIN || v > INT64_MAX : v < 0n || v > UINT64_MAX) return 0;
    return int64Size(v);
  }

  private valueSize(number: number, spec: FieldSpec, value: unknown, depth: number): number {
    const tagSize = varintSize(number * 8);
    switch (spec.kind) {
      case 'message': {
        const size = this.measure(spec.message!, value, depth + 1);
        return tagSize + varintSize(size) + size;
      }
      case 'string': {
        if (typeof value !== 'string') this.fail(`must be a string, got ${describe(value)}`);
        const size = utf8WireLength(value)?.length;
        if (size === undefined) this.fail('is not valid Unicode (lone UTF-16 surrogate); protobuf strings must be UTF-8');
        return tagSize + varintSize(size) + size;
      }
      case 'bytes':
        if (!(value instanceof Uint8Array)) this.fail(`must be a Uint8Array, got ${describe(value)}`);
        return tagSize + varintSize(value.length) + value.length;
      case 'float':
      case 'double':
        if (typeof value !== 'number') this.fail(`must be a number, got ${describe(value)}`);
        return tagSize + (spec.kind === 'float' ? 4 : 8);
      default: {
        const size = this.scalarVarintSize(spec.kind, value);
        if (size === 0) this.fail(`must be ${expectedText(spec.kind)}, got ${describe(value)}`);
        return tagSize + size;
      }
    }
  }

  fail(problem: string): never {
    let path: string = this.rootName;
    for (let i = 0; i < this.pathNames.length; i++) {
      const index = this.pathIndexes[i]!;
      path += `.${this.pathNames[i]}${index >= 0 ? `[${index}]` : ''}`;
    }
    throw new OnnxEncodeError(`cannot encode ${path}: it ${problem}`);
  }
}

function expectedText(kind: FieldSpec['kind']): string {
  if (kind === 'int32') return 'an integer number in int32 range';
  if (kind === 'int64') return 'a bigint in int64 range';
  if (kind === 'uint64') return 'a bigint in uint64 range';
  return `a ${kind}`;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return 'a Uint8Array';
  if (typeof value === 'object') return 'an object';
  const text = typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : String(value);
  return `${typeof value} ${text}`;
}

const utf8 = new TextEncoder();

/** Pass 2: writes bytes into 1 MiB blocks, handing large bytes fields through as their own chunks. */
class ChunkEmitter {
  readonly chunks: Uint8Array[] = [];
  private buf = new Uint8Array(0);
  private view = new DataView(this.buf.buffer);
  private pos = 0;
  private chunkStart = 0;
  private flushed = 0;

  constructor(private readonly sizes: WeakMap<object, number>, private readonly total: number) {}

  emitBody(name: MessageName, msg: AnyMessage): void {
    const schema = ONNX_SCHEMA[name];
    const unknown = sortedUnknown(msg.$unknown as Uint8Array[] | undefined);
    let u = 0;
    for (const number of fieldNumbersOf(name)) {
      while (u < unknown.length && unknown[u]!.number < number) this.rawBytes(unknown[u++]!.raw);
      const spec = schema[number]!;
      const value = msg[spec.name];
      if (value === undefined || value === null) continue;
      const nanBits = msg.$nanBits;
      if (spec.repeated !== true) this.value(number, spec, value, nanBits?.[spec.name]);
      else if (spec.packed === true) this.packed(number, spec, value as unknown[], nanBits);
      else (value as unknown[]).forEach((item, i) => this.value(number, spec, item, nanBits?.[nanKey(spec.name, i)]));
    }
    while (u < unknown.length) this.rawBytes(unknown[u++]!.raw);
  }

  finish(): Uint8Array[] {
    this.cut();
    if (this.flushed !== this.total) {
      throw new OnnxEncodeError(`internal error: wrote ${this.flushed} bytes, measured ${this.total} (was the model changed during encoding?)`);
    }
    return this.chunks;
  }

  /** `nanBits`: the bits to write if the value is (still) NaN. */
  private value(number: number, spec: FieldSpec, value: unknown, nanBits?: number | bigint): void {
    switch (spec.kind) {
      case 'message':
        this.tag(number, WireType.LEN);
        this.varint32(this.sizes.get(value as object)!);
        this.emitBody(spec.message!, value as AnyMessage);
        return;
      case 'string': {
        const s = value as string;
        const { length, escaped } = utf8WireLength(s)!;
        this.tag(number, WireType.LEN);
        this.varint32(length);
        this.reserve(length);
        if (length === s.length && !escaped) for (let i = 0; i < length; i++) this.buf[this.pos++] = s.charCodeAt(i);
        else if (escaped) this.pos += writeUtf8Escaped(s, this.buf.subarray(0, this.pos + length), this.pos);
        else this.pos += utf8.encodeInto(s, this.buf.subarray(this.pos, this.pos + length)).written;
        return;
      }
      case 'bytes': {
        const bytes = value as Uint8Array;
        this.tag(number, WireType.LEN);
        this.varint32(bytes.length);
        this.rawBytes(bytes);
        return;
      }
      default:
        this.tag(number, wireTypeOf(spec.kind));
        this.scalar(spec.kind, value, nanBits);
    }
  }

  private packed(number: number, spec: FieldSpec, values: unknown[], nanBits: NanBits | undefined): void {
    if (values.length === 0) return;
    this.tag(number, WireType.LEN);
    this.varint32(this.sizes.get(values)!);
    if (nanBits === undefined) for (const v of values) this.scalar(spec.kind, v);
    else values.forEach((v, i) => this.scalar(spec.kind, v, nanBits[nanKey(spec.name, i)]));
  }

  private scalar(kind: FieldSpec['kind'], value: unknown, nanBits?: number | bigint): void {
    if (kind === 'float' || kind === 'double') {
      const width = kind === 'float' ? 4 : 8;
      this.reserve(width);
      const exactNan = nanBits !== undefined && Number.isNaN(value);
      if (width === 4) {
        if (exactNan) this.view.setUint32(this.pos, Number(nanBits) >>> 0, true);
        else this.view.setFloat32(this.pos, value as number, true);
      } else if (exactNan) this.view.setBigUint64(this.pos, BigInt.asUintN(64, BigInt(nanBits)), true);
      else this.view.setFloat64(this.pos, value as number, true);
      this.pos += width;
    } else if (kind === 'int32') {
      const v = value as number;
      if (v >= 0) this.varint32(v);
      else this.varint64(v >>> 0, 0xffffffff); // sign-extended, as protobuf writes negative int32
    } else {
      const v = value as bigint;
      if (v >= 0n && v <= 0x7fffffffn) this.varint32(Number(v));
      else {
        const u = BigInt.asUintN(64, v);
        this.varint64(Number(u & 0xffffffffn), Number(u >> 32n));
      }
    }
  }

  private tag(number: number, wire: number): void {
    this.varint32(number * 8 + wire);
  }

  private varint32(n: number): void {
    this.reserve(5);
    while (n > 0x7f) {
      this.buf[this.pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    this.buf[this.pos++] = n;
  }

  private varint64(lo: number, hi: number): void {
    this.reserve(10);
    while (hi > 0 || lo > 0x7f) {
      this.buf[this.pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    this.buf[this.pos++] = lo;
  }

  private rawBytes(bytes: Uint8Array): void {
    if (bytes.length >= ZERO_COPY_MIN_BYTES) {
      this.cut();
      this.chunks.push(bytes);
      this.flushed += bytes.length;
      return;
    }
    this.reserve(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.cut();
    // Never allocate past what is left to write: a small message gets a small buffer.
    const size = Math.max(n, Math.min(BLOCK_BYTES, this.total - this.flushed));
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
    this.pos = 0;
    this.chunkStart = 0;
  }

  /** Closes the bytes written since the last cut as a chunk; the rest of the block stays in use. */
  private cut(): void {
    if (this.pos > this.chunkStart) {
      this.chunks.push(this.buf.subarray(this.chunkStart, this.pos));
      this.flushed += this.pos - this.chunkStart;
      this.chunkStart = this.pos;
    }
  }
}

/** Serialized size of a message in bytes, without the 2 GiB check (e.g. to decide on external data). */
export function serializedSize<N extends MessageName>(name: N, msg: OnnxMessageTypes[N]): number {
  return new SizeMeasurer(name).measure(name, msg, 0);
}

/**
 * Encodes any message of the table as chunks whose concatenation is its serialization. Chunks may be
 * the caller's own bytes fields (zero copy): do not modify them until the chunks are written.
 */
export function encodeMessageChunks<N extends MessageName>(name: N, msg: OnnxMessageTypes[N]): Uint8Array[] {
  const measurer = new SizeMeasurer(name);
  const total = measurer.measure(name, msg, 0);
  if (total > MAX_MESSAGE_BYTES) {
    const gib = (total / 2 ** 30).toFixed(2);
    throw new OnnxEncodeError(`cannot encode ${name}: it is ${gib} GiB (${total} bytes) and protobuf messages are limited ` +
      `to 2 GiB; store its large tensors as external data (writeModelFile(path, model, { externalData: true }))`);
  }
  const emitter = new ChunkEmitter(measurer.sizes, total);
  emitter.emitBody(name, msg as unknown as AnyMessage);
  return emitter.finish();
}

/** Encodes any message of the table into one buffer. */
export function encodeMessage<N extends MessageName>(name: N, msg: OnnxMessageTypes[N]): Uint8Array {
  return concatChunks(encodeMessageChunks(name, msg));
}

/** Encodes a model as chunks (large raw_data views included without copying); see encodeMessageChunks. */
export function encodeModelProto(model: ModelProto): Uint8Array[] {
  return encodeMessageChunks('ModelProto', model);
}

/** Encodes a model into one buffer (copies everything once). */
export function encodeModelProtoToBytes(model: ModelProto): Uint8Array {
  return concatChunks(encodeModelProto(model));
}
