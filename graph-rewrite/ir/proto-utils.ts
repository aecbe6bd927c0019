/**
 * Helpers for building, copying and comparing decoded protobuf messages, and the "memo" technique
 * the IR uses for lossless round trips: an ergonomic IR view (a Map, a frozen type object) remembers
 * the proto fragment it was read from, and saving reuses that fragment verbatim while the view is
 * unchanged — so presence bits, duplicate keys and unknown fields survive without burdening the API.
 */

import { newMessage } from '../serde/decode.js';
import {
  type MessageName,
  type OperatorSetIdProto,
  type StringStringEntryProto,
} from '../serde/onnx-schema.js';

/**
 * A message in the decoder's shape (the codec's `newMessage`: every repeated field an empty array),
 * with the given optional fields set only where they are defined: an absent scalar stays an absent
 * key, exactly as decoded, so written and decoded messages compare equal.
 */
export function makeMessage<T extends object>(name: MessageName, fields: { [K in keyof T]?: T[K] | undefined }): T {
  const message = newMessage(name) as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined) message[key] = value;
  }
  return message as T;
}

/**
 * Deep copy of a decoded message. Byte views (Uint8Array) are shared, not copied: they are treated as
 * immutable everywhere in vitlin, and tensors can be gigabytes.
 */
export function cloneProto<T>(message: T): T {
  if (Array.isArray(message)) return message.map((item: unknown) => cloneProto(item)) as T;
  if (message === null || typeof message !== 'object' || message instanceof Uint8Array) return message;
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(message)) copy[key] = cloneProto(value);
  return copy as T;
}

/** Structural equality of decoded messages, strict about keys (an `undefined` key ≠ a missing key). */
export function protoEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') {
    return typeof a === 'number' && typeof b === 'number' && Number.isNaN(a) && Number.isNaN(b);
  }
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array && b instanceof Uint8Array) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!(Array.isArray(a) && Array.isArray(b)) || a.length !== b.length) return false;
    return a.every((item, i) => protoEqual(item, b[i]));
  }
  const aKeys = Object.keys(a);
  const bRecord = b as Record<string, unknown>;
  if (aKeys.length !== Object.keys(bRecord).length) return false;
  const aRecord = a as Record<string, unknown>;
  return aKeys.every((key) => Object.hasOwn(bRecord, key) && protoEqual(aRecord[key], bRecord[key]));
}

/** Copies `$unknown` only when the source had it, so absent stays absent. */
export function unknownFieldsOf(message: { $unknown?: Uint8Array[] }): Uint8Array[] | undefined {
  return message.$unknown === undefined ? undefined : [...message.$unknown];
}

// ---------------------------------------------------------------------------------------------
// Metadata props (StringStringEntryProto lists) as Map<string, string>.

interface EntriesMemo<K, V> {
  readonly original: readonly unknown[];
  readonly entriesAtLoad: readonly (readonly [K, V])[];
}

const metadataMemo = new WeakMap<Map<string, string>, EntriesMemo<string, string>>();
const opsetMemo = new WeakMap<Map<string, number>, EntriesMemo<string, number>>();

function sameEntries<K, V>(map: Map<K, V>, entries: readonly (readonly [K, V])[]): boolean {
  if (map.size !== entries.length) return false;
  let i = 0;
  for (const [key, value] of map) {
    const entry = entries[i++]!;
    if (entry[0] !== key || entry[1] !== value) return false;
  }
  return true;
}

/**
 * Reads `metadata_props` into an ordered Map (`into`, or a new one); the original entries are kept
 * for a lossless save.
 */
export function metadataFromProto(
  entries: readonly StringStringEntryProto[],
  into = new Map<string, string>(),
): Map<string, string> {
  const map = into;
  map.clear();
  for (const entry of entries) map.set(entry.key ?? '', entry.value ?? '');
  if (entries.length > 0) metadataMemo.set(map, { original: entries, entriesAtLoad: [...map] });
  return map;
}

/** Writes a metadata Map back; reuses the original entries verbatim when the Map is unchanged. */
export function metadataToProto(map: Map<string, string>): StringStringEntryProto[] {
  const memo = metadataMemo.get(map);
  if (memo !== undefined && sameEntries(map, memo.entriesAtLoad)) return cloneProto(memo.original) as StringStringEntryProto[];
  return [...map].map(([key, value]) => makeMessage<StringStringEntryProto>('StringStringEntryProto', { key, value }));
}

/** Reads `opset_import` into an ordered Map domain → version ('' is the default ONNX domain). */
export function opsetsFromProto(entries: readonly OperatorSetIdProto[], into = new Map<string, number>()): Map<string, number> {
  const map = into;
  map.clear();
  for (const entry of entries) map.set(entry.domain ?? '', Number(entry.version ?? 0n));
  if (entries.length > 0) opsetMemo.set(map, { original: entries, entriesAtLoad: [...map] });
  return map;
}

/** Writes an opset Map back; reuses the original entries verbatim when the Map is unchanged. */
export function opsetsToProto(map: Map<string, number>): OperatorSetIdProto[] {
  const memo = opsetMemo.get(map);
  if (memo !== undefined && sameEntries(map, memo.entriesAtLoad)) return cloneProto(memo.original) as OperatorSetIdProto[];
  return [...map].map(([domain, version]) =>
    makeMessage<OperatorSetIdProto>('OperatorSetIdProto', { domain, version: BigInt(version) }));
}
