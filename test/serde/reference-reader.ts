/**
 * The second reader for the differential tests: protobufjs's own decoder on the ONNX 1.23 schema
 * (reference/onnx.proto, copied unchanged from the onnx wheel), plus a field-by-field comparison with what
 * vitlin decoded.
 *
 * protobufjs departs from protobuf in four places, so it is a faithful reference only for bytes without
 * them: it does not check wire types (a known field with another wire type is misread), it replaces a
 * repeated singular message instead of merging it, it does not clear the other members of a oneof, and
 * it reads a 32-bit varint of 6 to 9 bytes as if it had 10.
 * `protobufjsIsFaithful` finds those (a generic wire scan, with this schema, not vitlin's); a re-save by
 * vitlin never has any, so what protobufjs reads from it is always comparable.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { ONNX_SCHEMA, type MessageName } from '../../graph-rewrite/serde/onnx-schema.js';

const proto = readFileSync(join(import.meta.dirname, 'reference', 'onnx.proto'), 'utf8');
export const referenceRoot = protobuf.parse(proto, { keepCase: true }).root;
const types = new Map<string, protobuf.Type>();
export function referenceType(name: string): protobuf.Type {
  let type = types.get(name);
  if (type === undefined) {
    type = referenceRoot.lookupType(`onnx.${name}`);
    type.fieldsArray.forEach((field) => field.resolve());
    types.set(name, type);
  }
  return type;
}
const MODEL = referenceType('ModelProto');

/** protobufjs's decode of a ModelProto (throws on what it cannot read). */
export function referenceDecode(bytes: Uint8Array): protobuf.Message {
  return MODEL.decode(bytes);
}

const WIRE_OF: Record<string, number> = {
  double: 1, fixed64: 1, sfixed64: 1, float: 5, fixed32: 5, sfixed32: 5, string: 2, bytes: 2,
};
/** The wire type of one value of a field (enums and integer kinds are varints, messages length-delimited). */
export function wireOf(field: protobuf.Field): number {
  if (field.resolve().resolvedType instanceof protobuf.Type) return 2;
  return WIRE_OF[field.type] ?? 0;
}

/** One field as found on the wire: number, wire type, payload; a known message field's payload parsed into fields. */
export interface WireField {
  number: number;
  wire: number;
  payload: Uint8Array;
  children?: WireField[];
}

/** A varint's value (exact up to 2^53; only tags and lengths are used). */
function readVarint(bytes: Uint8Array, at: { pos: number }): number {
  let value = 0;
  for (let k = 0; k < 10; k++) {
    if (at.pos >= bytes.length) throw new Error('truncated varint');
    const b = bytes[at.pos++]!;
    value += (b & 0x7f) * 2 ** (7 * k);
    if (b < 0x80) return value;
  }
  throw new Error('varint too long');
}

/** Parses a message's bytes into fields with the reference schema (throws on malformed wire data or groups). */
export function parseWire(bytes: Uint8Array, type: protobuf.Type, depth = 0): WireField[] {
  if (depth > 90) throw new Error('too deep');
  const at = { pos: 0 };
  const fields: WireField[] = [];
  while (at.pos < bytes.length) {
    const tag = readVarint(bytes, at);
    const number = Math.floor(tag / 8);
    const wire = tag % 8;
    if (number === 0 || number >= 2 ** 29) throw new Error('bad field number');
    const start = at.pos;
    if (wire === 0) readVarint(bytes, at);
    else if (wire === 1) at.pos += 8;
    else if (wire === 5) at.pos += 4;
    else if (wire === 2) {
      const length = readVarint(bytes, at);
      at.pos += length;
      if (at.pos > bytes.length) throw new Error('length past the end');
      const payload = bytes.subarray(at.pos - length, at.pos);
      const spec = type.fieldsById[number];
      const child = spec?.resolve().resolvedType;
      fields.push({ number, wire, payload, ...(child instanceof protobuf.Type ? { children: parseWire(payload, child, depth + 1) } : {}) });
      continue;
    } else throw new Error(`wire type ${wire}`);
    if (at.pos > bytes.length) throw new Error('truncated');
    fields.push({ number, wire, payload: bytes.subarray(start, at.pos) });
  }
  return fields;
}

const NARROW_VARINTS = new Set(['int32', 'uint32', 'sint32', 'bool', 'enum']);

/** Whether protobufjs reads these fields as protobuf does (see the module comment); recursive. */
export function protobufjsIsFaithful(fields: WireField[], type: protobuf.Type): boolean {
  const seenSingularMessages = new Set<number>();
  const oneofSeen = new Map<string, number>();
  for (const field of fields) {
    const spec = type.fieldsById[field.number];
    if (spec === undefined) continue;
    const isMessage = spec.resolve().resolvedType instanceof protobuf.Type;
    if (isMessage && field.children === undefined) return false;
    if (field.wire === 0 && NARROW_VARINTS.has(spec.resolvedType ? 'enum' : spec.type) && field.payload.length > 5 && field.payload.length < 10) return false;
    const packedOk = spec.repeated && field.wire === 2 && !isMessage && wireOf(spec) !== 2;
    if (field.wire !== wireOf(spec) && !packedOk) return false;
    if (isMessage && !spec.repeated) {
      if (seenSingularMessages.has(field.number)) return false;
      seenSingularMessages.add(field.number);
    }
    if (spec.partOf) {
      const other = oneofSeen.get(spec.partOf.name);
      if (other !== undefined && other !== field.number) return false;
      oneofSeen.set(spec.partOf.name, field.number);
    }
    if (field.children && !protobufjsIsFaithful(field.children, spec.resolvedType as protobuf.Type)) return false;
  }
  return true;
}

/** What a comparison found: disagreements (path: detail), and strings skipped because they are not UTF-8. */
export interface Agreement {
  differences: string[];
  fieldsCompared: number;
  nonUtf8Strings: number;
}

const isEscaped = (s: string): boolean => /[\udc80-\udcff]/.test(s);

function sameScalar(ours: unknown, theirs: unknown, kind: string): boolean {
  if (kind === 'int64' || kind === 'uint64') return typeof ours === 'bigint' && BigInt(String(theirs)) === ours;
  if (kind === 'float' || kind === 'double') return Object.is(ours, theirs) || (Number.isNaN(ours) && Number.isNaN(theirs));
  if (kind === 'bytes') {
    const a = ours as Uint8Array;
    const b = theirs as Uint8Array;
    return a instanceof Uint8Array && a.length === b.length && a.every((v, i) => v === b[i]);
  }
  return ours === theirs;
}

/**
 * Compares vitlin's decoded message with protobufjs's, on every field of the reference schema: presence,
 * counts, values (int64 exactly, floats by value with NaN = NaN, bytes byte for byte, strings exactly
 * unless vitlin kept them as not-UTF-8).
 */
export function compareWithReference(name: MessageName, ours: Record<string, unknown>, theirs: protobuf.Message, path: string = name,
  out: Agreement = { differences: [], fieldsCompared: 0, nonUtf8Strings: 0 }): Agreement {
  const type = referenceType(name);
  for (const field of type.fieldsArray) {
    const spec = ONNX_SCHEMA[name][field.id];
    const where = `${path}.${field.name}`;
    if (spec === undefined || spec.name !== field.name) {
      out.differences.push(`${where}: field ${field.id} is not in vitlin's schema under this name`);
      continue;
    }
    const present = Object.hasOwn(theirs, field.name);
    const theirValue = (theirs as unknown as Record<string, unknown>)[field.name];
    const ourValue = ours[field.name];
    const compareOne = (a: unknown, b: unknown, at: string): void => {
      out.fieldsCompared++;
      if (spec.kind === 'message') compareWithReference(spec.message!, a as Record<string, unknown>, b as protobuf.Message, at, out);
      else if (spec.kind === 'string' && typeof a === 'string' && isEscaped(a)) out.nonUtf8Strings++;
      else if (!sameScalar(a, b, spec.kind)) out.differences.push(`${at}: vitlin ${String(a)}, protobufjs ${String(b)}`);
    };
    if (spec.repeated === true) {
      const a = ourValue as unknown[];
      const b = present ? (theirValue as unknown[]) : [];
      if (a.length !== b.length) out.differences.push(`${where}: vitlin has ${a.length} entries, protobufjs ${b.length}`);
      else a.forEach((item, i) => compareOne(item, b[i], `${where}[${i}]`));
    } else if ((ourValue !== undefined) !== present) {
      out.differences.push(`${where}: ${present ? 'only protobufjs' : 'only vitlin'} has it`);
    } else if (present) compareOne(ourValue, theirValue, where);
  }
  return out;
}
