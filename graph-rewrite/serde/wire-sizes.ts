/** Wire-format arithmetic of the encoder: varint sizes, where unknown fields go, joining chunks. */

export function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

export function int64Size(v: bigint): number {
  if (v >= 0n && v <= 0x7fffffffn) return varintSize(Number(v));
  if (v < 0n) return 10; // two's complement: always 10 bytes
  let size = 1;
  for (let u = v; u >= 0x80n; u >>= 7n) size++;
  return size;
}

/** The field number of a raw `$unknown` field (its leading tag varint). */
export function unknownFieldNumber(raw: Uint8Array): number | null {
  let tag = 0;
  for (let k = 0; k < 5 && k < raw.length; k++) {
    tag += (raw[k]! & 0x7f) * 2 ** (7 * k);
    if (raw[k]! < 0x80) return Math.floor(tag / 8) || null;
  }
  return null;
}

/**
 * Where each `$unknown` field goes: merged by field number when they are in order (what a newer ONNX
 * writer produces, so its files round-trip byte for byte); otherwise all at the end in their original
 * order, so that decoding gives back the same `$unknown` array.
 */
export function sortedUnknown(unknown: Uint8Array[] | undefined): { number: number; raw: Uint8Array }[] {
  if (unknown === undefined || unknown.length === 0) return [];
  const entries = unknown.map((raw) => ({ number: unknownFieldNumber(raw)!, raw }));
  const inOrder = entries.every((entry, i) => i === 0 || entries[i - 1]!.number <= entry.number);
  return inOrder ? entries : entries.map(({ raw }) => ({ number: Infinity, raw }));
}

export function concatChunks(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!.slice();
  let total = 0;
  for (const chunk of chunks) total += chunk.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
