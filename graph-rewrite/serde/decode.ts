/**
 * Table-driven protobuf wire decoder for ONNX: walks {@link ONNX_SCHEMA} and builds the plain message
 * objects described in onnx-schema.ts. Bytes fields are zero-copy views into the input.
 *
 * Every failure is an OnnxDecodeError that names the byte offset and the proto path
 * (`model.onnx: truncated at byte 1234 in ModelProto.graph.node[17].attribute[2]`). Lengths are checked
 * against the bytes left before anything is allocated, so hostile input cannot make us allocate more
 * than the input's size.
 */
import { InvalidArgumentError, OnnxDecodeError } from '../errors.js';
import { DecodeWarnings, type DecodeOptions } from './decode-warnings.js';
import { CANONICAL_DOUBLE_NAN, CANONICAL_FLOAT_NAN, decodeUtf8Escaped, nanKey, type NanBits } from './exact-values.js';
import {
  ONNX_SCHEMA, type FieldSpec, type MessageName, type OnnxMessageTypes,
} from './onnx-schema.js';

export { MAX_IR_VERSION, MIN_IR_VERSION, decodeModelProto } from './decode-model.js';
export type { OnnxMessageTypes } from './onnx-schema.js';
export { DecodeWarnings, type DecodeOptions } from './decode-warnings.js';

/** Deepest message nesting accepted (protobuf's own default); subgraphs nest 3 levels per If/Loop. */
export const MAX_MESSAGE_DEPTH = 100;

export const WireType = { VARINT: 0, FIXED64: 1, LEN: 2, START_GROUP: 3, END_GROUP: 4, FIXED32: 5 } as const;
const WIRE_NAMES = ['varint', 'fixed64', 'length-delimited', 'start-group', 'end-group', 'fixed32'];

/** The wire type of one (unpacked) value of a field of this kind. */
export function wireTypeOf(kind: FieldSpec['kind']): number {
  switch (kind) {
    case 'int64': case 'uint64': case 'int32': return WireType.VARINT;
    case 'float': return WireType.FIXED32;
    case 'double': return WireType.FIXED64;
    default: return WireType.LEN;
  }
}

/** A new message object: repeated fields as empty arrays, optional fields absent. */
export function newMessage<N extends MessageName>(name: N): OnnxMessageTypes[N] {
  const obj: Record<string, unknown> = {};
  for (const field of repeatedNamesOf(name)) obj[field] = [];
  return obj as unknown as OnnxMessageTypes[N];
}

const repeatedNamesCache = new Map<MessageName, string[]>();
function repeatedNamesOf(name: MessageName): string[] {
  let names = repeatedNamesCache.get(name);
  if (names === undefined) {
    names = Object.values(ONNX_SCHEMA[name]).filter((f) => f.repeated === true).map((f) => f.name);
    repeatedNamesCache.set(name, names);
  }
  return names;
}

/** Thrown inside the decoder; turned into an OnnxDecodeError with the source name at the top. */
class WireError extends Error {
  /** atEnd: the failure is running into the end of the data (what a truncated file does). */
  constructor(readonly detail: string, readonly path: string, readonly atEnd: boolean) {
    super(detail);
  }
}

/** The outermost message whose length prefix runs past the end of the data. */
interface Overrun { path: string; at: number; length: string; left: number }

type AnyMessage = Record<string, unknown> & { $unknown?: Uint8Array[]; $nanBits?: NanBits };

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }); // keep a leading BOM: lossless

function dropNanBits(msg: AnyMessage, key: string): void {
  if (msg.$nanBits?.[key] === undefined) return;
  delete msg.$nanBits[key];
  if (Object.keys(msg.$nanBits).length === 0) delete msg.$nanBits;
}

/** Members of each oneof, by field name, per message. */
const oneofCache = new Map<MessageName, Map<string, string[]>>();
function oneofSiblings(name: MessageName, field: FieldSpec): string[] {
  let byField = oneofCache.get(name);
  if (byField === undefined) {
    byField = new Map();
    const specs = Object.values(ONNX_SCHEMA[name]).filter((f) => f.oneof !== undefined);
    for (const spec of specs) byField.set(spec.name, specs.filter((f) => f.oneof === spec.oneof && f !== spec).map((f) => f.name));
    oneofCache.set(name, byField);
  }
  return byField.get(field.name) ?? [];
}

class WireDecoder {
  pos = 0;
  private lo = 0; // the last varint's low and high 32 bits (unsigned)
  private hi = 0;
  private readonly view: DataView;
  // The path to the field being decoded, kept as parallel stacks and only formatted on error.
  private readonly pathNames: string[] = [];
  private readonly pathIndexes: number[] = [];
  overrun: Overrun | undefined;

  constructor(private readonly bytes: Uint8Array, private readonly rootName: MessageName, readonly warnings = new DecodeWarnings()) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  decodeBody(name: MessageName, msg: AnyMessage, end: number, depth: number): void {
    const schema = ONNX_SCHEMA[name];
    while (this.pos < end) {
      const tagStart = this.pos;
      this.readVarint(end);
      const fieldNumber = this.hi === 0 ? this.lo >>> 3 : 0;
      const wire = this.lo & 7;
      if (fieldNumber === 0) this.fail(`invalid field tag at byte ${tagStart} (field number 0 or over 2^29)`);
      if (wire > 5) this.fail(`invalid wire type ${wire} at byte ${tagStart}`);
      const spec = schema[fieldNumber];
      if (spec === undefined) {
        if (wire === WireType.END_GROUP) this.fail(`unexpected end-group tag for field ${fieldNumber} at byte ${tagStart}`);
        this.skipValue(fieldNumber, wire, end, depth);
        (msg.$unknown ??= []).push(this.bytes.subarray(tagStart, this.pos));
        continue;
      }
      this.pathNames.push(spec.name);
      this.pathIndexes.push(spec.repeated === true ? (msg[spec.name] as unknown[]).length : -1);
      if (!this.decodeField(name, spec, wire, msg, end, depth, tagStart)) {
        // protobuf's rule: a known field with another wire type is kept as an unknown field.
        this.warnings.add(`known field{s} with an unexpected wire type, kept as unknown field{s}`,
          `${this.formatPath()} at byte ${tagStart}: wire type ${wire} (${WIRE_NAMES[wire]}), expected ${WIRE_NAMES[wireTypeOf(spec.kind)]}`);
        if (wire === WireType.END_GROUP) this.fail(`unexpected end-group tag for field ${fieldNumber} at byte ${tagStart}`);
        this.skipValue(fieldNumber, wire, end, depth);
        (msg.$unknown ??= []).push(this.bytes.subarray(tagStart, this.pos));
      }
      this.pathNames.pop();
      this.pathIndexes.pop();
    }
  }

  /** Decodes one field's value into `msg`; false (nothing read) when its wire type is not the field's. */
  private decodeField(
    name: MessageName, spec: FieldSpec, wire: number, msg: AnyMessage, end: number, depth: number, tagStart: number,
  ): boolean {
    const expected = wireTypeOf(spec.kind);
    if (wire !== expected) {
      if (spec.repeated !== true || wire !== WireType.LEN || expected === WireType.LEN) return false;
      this.pathIndexes[this.pathIndexes.length - 1] = -1; // a packed run is many elements: name the field
      this.decodePacked(spec, msg, end);
      return true;
    }
    // A oneof keeps the member read last (protobuf's rule); a repeat of the same message member merges.
    if (spec.oneof !== undefined) for (const sibling of oneofSiblings(name, spec)) delete msg[sibling];
    if (spec.kind === 'message') {
      const lengthAt = this.pos;
      this.readVarint(end);
      let length = this.hi * 2 ** 32 + this.lo;
      const left = end - this.pos;
      const clamped = length > left;
      if (clamped) {
        // Past the end of an enclosing message: corrupt. Past the end of the data: likely a truncated
        // file; decode on up to the end so the error names the innermost place the data stops in.
        if (end !== this.bytes.length) this.pastEnd(lengthAt, end, `length ${this.exactVarint()}`, left);
        this.overrun ??= { path: this.formatPath(), at: lengthAt, length: this.exactVarint(), left };
        length = left;
      }
      if (depth + 1 > MAX_MESSAGE_DEPTH) this.fail(`messages nested deeper than ${MAX_MESSAGE_DEPTH} at byte ${tagStart}`);
      const child = spec.repeated === true ? newMessage(spec.message!) as AnyMessage
        : (msg[spec.name] as AnyMessage | undefined) ?? newMessage(spec.message!) as AnyMessage; // a repeat merges (protobuf rule)
      if (spec.repeated === true) (msg[spec.name] as unknown[]).push(child);
      else msg[spec.name] = child;
      this.decodeBody(spec.message!, child, this.pos + length, depth + 1);
      if (clamped) this.fail('the data ends inside this message', true);
      return true;
    }
    const value = this.readScalar(spec.kind, end);
    if (spec.repeated === true) {
      const values = msg[spec.name] as unknown[];
      if (value !== value) this.keepNanBits(msg, spec, values.length);
      values.push(value);
    } else {
      msg[spec.name] = value; // a repeated occurrence of a singular scalar: last one wins (protobuf rule)
      if (value !== value) this.keepNanBits(msg, spec, -1);
      else dropNanBits(msg, spec.name);
    }
    return true;
  }

  /** Records the bits of the NaN just read, unless writing the JS NaN gives them back anyway. */
  private keepNanBits(msg: AnyMessage, spec: FieldSpec, index: number): void {
    const bits = spec.kind === 'float' ? this.view.getUint32(this.pos - 4, true) : this.view.getBigUint64(this.pos - 8, true);
    if (bits === (spec.kind === 'float' ? CANONICAL_FLOAT_NAN : CANONICAL_DOUBLE_NAN)) dropNanBits(msg, nanKey(spec.name, index));
    else (msg.$nanBits ??= {})[nanKey(spec.name, index)] = bits;
  }

  private readScalar(kind: FieldSpec['kind'], end: number): unknown {
    switch (kind) {
      case 'int64': this.readVarint(end); return this.int64();
      case 'uint64': this.readVarint(end); return this.uint64();
      case 'int32': this.readVarint(end); return this.lo | 0; // int32 negatives are sign-extended to 64 bits
      case 'float': return this.view.getFloat32(this.advance(4, end), true);
      case 'double': return this.view.getFloat64(this.advance(8, end), true);
      case 'bytes': {
        const length = this.readLength(end);
        const start = this.pos;
        this.pos += length;
        return this.bytes.subarray(start, start + length);
      }
      default: return this.readString(end);
    }
  }

  private decodePacked(spec: FieldSpec, msg: AnyMessage, end: number): void {
    const out = msg[spec.name] as unknown[];
    const lengthAt = this.pos;
    const length = this.readLength(end);
    const packedEnd = this.pos + length;
    const width = spec.kind === 'float' ? 4 : spec.kind === 'double' ? 8 : 0;
    if (width !== 0 && length % width !== 0) {
      this.fail(`packed ${spec.kind} field at byte ${lengthAt} has length ${length}, not a multiple of ${width}`);
    }
    while (this.pos < packedEnd) {
      const value = this.readScalar(spec.kind, packedEnd);
      if (value !== value) this.keepNanBits(msg, spec, out.length);
      out.push(value);
    }
  }

  private readString(end: number): string {
    const length = this.readLength(end);
    const start = this.pos;
    this.pos += length;
    const bytes = this.bytes;
    if (length <= 64) { // names are short ASCII: skip TextDecoder's per-call cost
      let text = '';
      let i = start;
      for (; i < start + length && bytes[i]! < 0x80; i++) text += String.fromCharCode(bytes[i]!);
      if (i === start + length) return text;
    }
    try {
      return utf8.decode(bytes.subarray(start, start + length));
    } catch {
      // proto2 keeps strings that are not UTF-8 as they are: so do we (see exact-values.ts).
      this.warnings.add('string field{s} not valid UTF-8, kept byte for byte', `${this.formatPath()} at byte ${start}`);
      return decodeUtf8Escaped(bytes.subarray(start, start + length));
    }
  }

  /** Skips an unknown field's value (groups included, as old protobuf writers may emit them). */
  private skipValue(fieldNumber: number, wire: number, end: number, depth: number): void {
    switch (wire) {
      case WireType.VARINT: this.readVarint(end); return;
      case WireType.FIXED64: this.advance(8, end); return;
      case WireType.FIXED32: this.advance(4, end); return;
      case WireType.LEN: {
        const length = this.readLength(end); // not `pos += readLength()`: that reads pos before the call moves it
        this.pos += length;
        return;
      }
      case WireType.START_GROUP: {
        if (depth + 1 > MAX_MESSAGE_DEPTH) this.fail(`groups nested deeper than ${MAX_MESSAGE_DEPTH} at byte ${this.pos}`);
        for (;;) {
          if (this.pos >= end) this.fail(`truncated at byte ${this.pos}: group of field ${fieldNumber} has no end tag`);
          const tagStart = this.pos;
          this.readVarint(end);
          const inner = this.hi === 0 ? this.lo >>> 3 : 0;
          const innerWire = this.lo & 7;
          if (inner === 0 || innerWire > 5) this.fail(`invalid field tag at byte ${tagStart}`);
          if (innerWire === WireType.END_GROUP) {
            if (inner !== fieldNumber) this.fail(`end-group tag for field ${inner} at byte ${tagStart} closes group ${fieldNumber}`);
            return;
          }
          this.skipValue(inner, innerWire, end, depth + 1);
        }
      }
      default: this.fail(`unexpected end-group tag at byte ${this.pos}`);
    }
  }

  /** Reads a varint of up to 10 bytes into lo/hi. */
  private readVarint(end: number): void {
    const bytes = this.bytes;
    const start = this.pos;
    let lo = 0;
    let hi = 0;
    for (let k = 0; k < 10; k++) {
      const i = start + k;
      if (i >= end) this.pastEnd(start, end, 'varint');
      const b = bytes[i]!;
      if (k < 4) lo |= (b & 0x7f) << (7 * k);
      else if (k === 4) { lo |= b << 28; hi = (b & 0x7f) >>> 4; }
      else hi |= (b & 0x7f) << (7 * k - 32); // k = 9 keeps only bit 63
      if (b < 0x80) {
        this.pos = i + 1;
        this.lo = lo >>> 0;
        this.hi = hi >>> 0;
        return;
      }
    }
    this.fail(`varint longer than 10 bytes at byte ${start}`);
  }

  /** Reads a length prefix and checks it against the bytes left in the enclosing message. */
  private readLength(end: number): number {
    const start = this.pos;
    this.readVarint(end);
    const length = this.hi * 2 ** 32 + this.lo;
    if (length > end - this.pos) this.pastEnd(start, end, `length ${this.exactVarint()}`, end - this.pos);
    return length;
  }

  private advance(width: number, end: number): number {
    const start = this.pos;
    if (end - start < width) this.pastEnd(start, end, `${width}-byte value`);
    this.pos += width;
    return start;
  }

  /** The last varint as an exact decimal (a length over 2^53 must not print rounded). */
  private exactVarint(): string {
    return String((BigInt(this.hi) << 32n) | BigInt(this.lo));
  }

  private int64(): bigint {
    if (this.hi === 0) return BigInt(this.lo);
    return BigInt.asIntN(64, (BigInt(this.hi) << 32n) | BigInt(this.lo));
  }

  private uint64(): bigint {
    return this.hi === 0 ? BigInt(this.lo) : (BigInt(this.hi) << 32n) | BigInt(this.lo);
  }

  private pastEnd(start: number, end: number, what: string, left?: number): never {
    const limit = end === this.bytes.length ? 'the end of the data' : `the end of the enclosing field (byte ${end})`;
    const leftText = left === undefined ? '' : ` (${left} bytes left)`;
    return this.fail(`truncated at byte ${start}: ${what} runs past ${limit}${leftText}`, end === this.bytes.length);
  }

  private formatPath(): string {
    let path: string = this.rootName;
    for (let i = 0; i < this.pathNames.length; i++) {
      const index = this.pathIndexes[i]!;
      path += `.${this.pathNames[i]}${index >= 0 ? `[${index}]` : ''}`;
    }
    return path;
  }

  fail(detail: string, atEnd = false): never {
    throw new WireError(detail, this.formatPath(), atEnd);
  }
}

function decodeError(source: string, error: WireError, decoder: WireDecoder, dataLength: number): OnnxDecodeError {
  const overrun = decoder.overrun;
  if (overrun === undefined) return new OnnxDecodeError(`${source}: ${error.detail} in ${error.path}`);
  const cause = `${overrun.path} has length ${overrun.length} at byte ${overrun.at} but only ${overrun.left} bytes follow`;
  const then = error.atEnd ? '' : `; decoding the bytes there failed: ${error.detail}`;
  return new OnnxDecodeError(`${source}: truncated at byte ${dataLength} in ${error.path} (${cause}${then})`);
}

/** Where decoding stopped: the bare detail and path, and the error to throw. */
export interface DecodeFailure { detail: string; path: string; error: OnnxDecodeError }

/** @internal Decodes `bytes` into `msg` (a newMessage(name)); returns the failure instead of throwing it. */
export function decodeInto(
  name: MessageName, bytes: Uint8Array, msg: object, source: string, warnings: DecodeWarnings,
): DecodeFailure | undefined {
  const decoder = new WireDecoder(bytes, name, warnings);
  try {
    decoder.decodeBody(name, msg as AnyMessage, bytes.length, 0);
  } catch (error) {
    if (!(error instanceof WireError)) throw error;
    return { detail: error.detail, path: error.path, error: decodeError(source, error, decoder, bytes.length) };
  }
  return undefined;
}

/** @internal */
export function toPlainBytes(bytes: Uint8Array, argument: string): Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError(`'${argument}' must be a Uint8Array`);
  // A Buffer's subarray() is a Buffer; normalise so decoded bytes fields are plain Uint8Array views.
  return Object.getPrototypeOf(bytes) === Uint8Array.prototype ? bytes
    : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Decodes any message of the table (e.g. a TensorProto side file). */
export function decodeMessage<N extends MessageName>(
  name: N, bytes: Uint8Array, options: DecodeOptions = {},
): OnnxMessageTypes[N] {
  const data = toPlainBytes(bytes, 'bytes');
  const source = options.source ?? '<bytes>';
  const msg = newMessage(name);
  const warnings = new DecodeWarnings();
  const failure = decodeInto(name, data, msg, source, warnings);
  if (failure !== undefined) throw failure.error;
  warnings.report(source, options.onWarning);
  return msg;
}
