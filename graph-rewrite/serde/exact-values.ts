/**
 * Wire values that a plain JS value cannot hold exactly, and how the codec keeps them anyway — a re-save
 * must write the bytes it read:
 *
 * - Strings that are not valid UTF-8 (a Latin-1 `doc_string` from an old exporter). onnx.proto is proto2,
 *   where protobuf keeps such strings as they are. Each byte of an invalid sequence becomes the lone
 *   surrogate U+DC80..U+DCFF (Python's "surrogateescape"), which the encoder writes back as that byte.
 * - NaNs with a payload or a sign, signalling NaNs above all: reading a float32 into a JS number quietens
 *   it (`0x7f800001` → `0x7fc00001`) and JS arrays may canonicalise NaNs. The decoder records the bits of
 *   every NaN that is not the canonical one in the message's `$nanBits` (key: field name, or
 *   `field.index` for repeated fields); the encoder writes those bits while the value is still NaN.
 */

/** Bits of NaNs vitlin could not keep in a JS number, by `field` or `field.index`. float: uint32; double: bigint. */
export type NanBits = Record<string, number | bigint>;

export const CANONICAL_FLOAT_NAN = 0x7fc00000;
export const CANONICAL_DOUBLE_NAN = 0x7ff8000000000000n;

/** The key of a value in `$nanBits`: the field name, or `name.index` for a repeated field. */
export function nanKey(field: string, index: number): string {
  return index < 0 ? field : `${field}.${index}`;
}

const ESCAPE_BASE = 0xdc00;

/** Length of the valid UTF-8 sequence at `i`, or 0 when the byte there starts no valid sequence. */
function validSequenceLength(bytes: Uint8Array, i: number, end: number): number {
  const b0 = bytes[i]!;
  if (b0 < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => i + k < end && bytes[i + k]! >= lo && bytes[i + k]! <= hi;
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0;
  if (b0 >= 0xe0 && b0 <= 0xef) {
    // No overlongs (E0 A0..), no UTF-16 surrogates (ED 80..9F).
    const [lo, hi] = b0 === 0xe0 ? [0xa0, 0xbf] : b0 === 0xed ? [0x80, 0x9f] : [0x80, 0xbf];
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const [lo, hi] = b0 === 0xf0 ? [0x90, 0xbf] : b0 === 0xf4 ? [0x80, 0x8f] : [0x80, 0xbf];
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

/** Decodes bytes that are not valid UTF-8: valid sequences as text, every other byte as U+DC80..U+DCFF. */
export function decodeUtf8Escaped(bytes: Uint8Array): string {
  let text = '';
  let runStart = 0;
  for (let i = 0; i < bytes.length;) {
    const n = validSequenceLength(bytes, i, bytes.length);
    if (n > 0) {
      i += n;
      continue;
    }
    text += utf8.decode(bytes.subarray(runStart, i)) + String.fromCharCode(ESCAPE_BASE + bytes[i]!);
    runStart = ++i;
  }
  return text + utf8.decode(bytes.subarray(runStart));
}

/**
 * Bytes the string takes on the wire (escaped bytes count 1), or null when it holds a lone surrogate that
 * is no escaped byte (it has no UTF-8 form). `escaped` is set when the fast TextEncoder path cannot be used.
 */
export function utf8WireLength(s: string): { length: number; escaped: boolean } | null {
  let length = s.length;
  let escaped = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) length += 1;
    else if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return null;
      length += 2; // 4 bytes for 2 UTF-16 units
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      if (c < ESCAPE_BASE + 0x80 || c > ESCAPE_BASE + 0xff) return null;
      escaped = true; // one byte for one unit
    } else length += 2;
  }
  return { length, escaped };
}

const encoder = new TextEncoder();

/** Writes a string with escaped bytes (see utf8WireLength) at `pos`; returns the bytes written. */
export function writeUtf8Escaped(s: string, out: Uint8Array, pos: number): number {
  let written = 0;
  let runStart = 0;
  const flush = (end: number): void => {
    if (end > runStart) written += encoder.encodeInto(s.slice(runStart, end), out.subarray(pos + written)).written;
  };
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) i++; // a pair: stays in the run
    else if (c >= ESCAPE_BASE + 0x80 && c <= ESCAPE_BASE + 0xff) {
      flush(i);
      out[pos + written++] = c - ESCAPE_BASE;
      runStart = i + 1;
    }
  }
  flush(s.length);
  return written;
}
