/**
 * Seeded structure-aware mutants of an ONNX model for the differential test: the bytes stay well-formed
 * protobuf (lengths fixed up the chain) while fields move, repeat, vanish, change number, wire type or
 * value — the cases where two protobuf readers can disagree, and a re-save can change what one of them sees.
 */
import protobuf from 'protobufjs';
import { concatChunks } from '../../graph-rewrite/serde/wire-sizes.js';
import { varint } from './fixtures.js';
import { parseWire, referenceType, wireOf, type WireField } from './reference-reader.js';

export function serializeWire(fields: WireField[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const field of fields) {
    parts.push(new Uint8Array(varint(field.number * 8 + field.wire)));
    const payload = field.children ? serializeWire(field.children) : field.payload;
    if (field.wire === 2) parts.push(new Uint8Array(varint(payload.length)));
    parts.push(payload);
  }
  return concatChunks(parts);
}

/** A copy of the tree sharing the payload bytes (they are replaced, never edited in place). */
export function cloneWire(fields: WireField[]): WireField[] {
  return fields.map((field) => ({ ...field, ...(field.children ? { children: cloneWire(field.children) } : {}) }));
}

export type MutationKind = 'swap' | 'duplicate' | 'delete' | 'renumber' | 'rewire' | 'value' | 'oneof';
export const MUTATION_KINDS: readonly MutationKind[] = ['swap', 'duplicate', 'delete', 'renumber', 'rewire', 'value', 'oneof'];

/** Every message (its field list and reference type) in the tree, for picking a place to mutate. */
function messagesOf(fields: WireField[], type: protobuf.Type, out: { fields: WireField[]; type: protobuf.Type }[] = []) {
  out.push({ fields, type });
  for (const field of fields) {
    const child = type.fieldsById[field.number]?.resolve().resolvedType;
    if (field.children && child instanceof protobuf.Type) messagesOf(field.children, child, out);
  }
  return out;
}

const SPECIAL_FLOAT_BITS = [0x7f800001, 0xffc00abc, 0x7fc00000, 0x80000000, 0x7f800000, 0x00000001];
const SPECIAL_VARINTS = [0n, 1n, -1n, 2n ** 31n, 2n ** 63n - 1n, 2n ** 64n - 1n, 13n, 15n];
const INVALID_UTF8 = [[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe9], [0xf0, 0x9f]];

/** A payload of the given wire type: a plausible or hostile value. */
function payloadFor(wire: number, pick: (n: number) => number): Uint8Array {
  if (wire === 0) return new Uint8Array(varint(pick(2) ? SPECIAL_VARINTS[pick(SPECIAL_VARINTS.length)]! : BigInt(pick(300))));
  if (wire === 5) return new Uint8Array(new Uint32Array([pick(2) ? SPECIAL_FLOAT_BITS[pick(SPECIAL_FLOAT_BITS.length)]! : pick(2 ** 30)]).buffer);
  if (wire === 1) return new Uint8Array(new BigUint64Array([pick(2) ? 0x7ff0000000000001n : BigInt(pick(2 ** 30)) << 20n]).buffer);
  return new Uint8Array(Array.from({ length: pick(6) }, () => 0x61 + pick(26)));
}

/** A value change that keeps the wire type: new varint/fixed value, or edited string/bytes payload. */
function changeValue(field: WireField, pick: (n: number) => number): void {
  if (field.children) return;
  if (field.wire !== 2) {
    field.payload = payloadFor(field.wire, pick);
    return;
  }
  const bytes = [...field.payload];
  const choice = pick(3);
  if (choice === 0) bytes.splice(pick(bytes.length + 1), 0, ...INVALID_UTF8[pick(INVALID_UTF8.length)]!);
  else if (choice === 1 && bytes.length > 0) bytes[pick(bytes.length)] = pick(256);
  else bytes.splice(pick(bytes.length + 1), pick(3));
  field.payload = new Uint8Array(bytes);
}

/** Applies one seeded mutation in place; returns its kind (or undefined when the place had nothing to mutate). */
export function mutate(root: WireField[], pick: (n: number) => number): MutationKind | undefined {
  const messages = messagesOf(root, referenceType('ModelProto'));
  const { fields, type } = messages[pick(messages.length)]!;
  const kind = MUTATION_KINDS[pick(MUTATION_KINDS.length)]!;
  if (kind === 'oneof') {
    const oneof = type.oneofsArray[0];
    if (oneof === undefined) return undefined;
    const member = oneof.fieldsArray[pick(oneof.fieldsArray.length)]!;
    const child = member.resolve().resolvedType;
    const payload = child instanceof protobuf.Type ? new Uint8Array(0) : payloadFor(wireOf(member), pick);
    fields.splice(pick(fields.length + 1), 0, { number: member.id, wire: wireOf(member), payload, ...(child instanceof protobuf.Type ? { children: [] } : {}) });
    return kind;
  }
  if (fields.length === 0) return undefined;
  const i = pick(fields.length);
  const field = fields[i]!;
  switch (kind) {
    case 'swap': {
      const j = pick(fields.length);
      [fields[i], fields[j]] = [fields[j]!, fields[i]!];
      return kind;
    }
    case 'duplicate':
      fields.splice(i + 1 + pick(fields.length - i), 0, cloneWire([field])[0]!);
      return kind;
    case 'delete':
      fields.splice(i, 1);
      return kind;
    case 'renumber': {
      const known = type.fieldsArray.filter((f) => wireOf(f) === field.wire || (f.repeated && field.wire === 2));
      const target = pick(3) === 0 || known.length === 0 ? 50 + pick(1000) : known[pick(known.length)]!.id;
      const child = type.fieldsById[target]?.resolve().resolvedType;
      fields[i] = { number: target, wire: field.wire, payload: field.children ? serializeWire(field.children) : field.payload };
      if (child instanceof protobuf.Type && field.wire === 2) {
        try {
          fields[i]!.children = parseWire(fields[i]!.payload, child);
        } catch {
          // not parseable as that message: stays raw bytes (vitlin must refuse it or read it as protobuf does)
        }
      }
      return kind;
    }
    case 'rewire': {
      const wire = [0, 1, 2, 5].filter((w) => w !== field.wire)[pick(3)]!;
      fields[i] = { number: field.number, wire, payload: payloadFor(wire, pick) };
      return kind;
    }
    case 'value':
      changeValue(field, pick);
      return kind;
  }
}
