/**
 * Deterministic mutation fuzzing of the decoder: every outcome must be a decoded model or a typed
 * decode error — never another exception, a hang, or an allocation driven by a corrupt length.
 * Whatever decodes must also re-encode and decode back to the same thing.
 */
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { OnnxDecodeError, UnsupportedIrVersionError } from '../../graph-rewrite/errors.js';
import { decodeModelProto } from '../../graph-rewrite/serde/decode.js';
import { encodeModelProtoToBytes } from '../../graph-rewrite/serde/encode.js';
import { everyFieldModel } from './every-field-model.js';
import { seededRandom } from '../../src/runtime/random-feeds.js';
import { subgraphModel } from './fixtures.js';

type Outcome = 'decoded' | 'OnnxDecodeError' | 'UnsupportedIrVersionError';

interface Tally {
  counts: Record<Outcome, number>;
  failures: string[];
}

function tryDecode(bytes: Uint8Array, label: string, tally: Tally): void {
  let outcome: Outcome;
  try {
    const model = decodeModelProto(bytes);
    outcome = 'decoded';
    const again = encodeModelProtoToBytes(model); // anything decoded must be encodable …
    if (!isDeepStrictEqual(decodeModelProto(again), model)) { // … and round-trip (node's check: vitest's is slow here)
      tally.failures.push(`${label}: decode(encode(decoded)) differs from decoded`);
      return;
    }
  } catch (error) {
    if (error instanceof OnnxDecodeError) outcome = 'OnnxDecodeError';
    else if (error instanceof UnsupportedIrVersionError) outcome = 'UnsupportedIrVersionError';
    else {
      tally.failures.push(`${label}: ${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`);
      return;
    }
  }
  tally.counts[outcome]++;
}

function splice(bytes: Uint8Array, at: number, removeCount: number, insert: ArrayLike<number>): Uint8Array {
  const remove = Math.min(removeCount, bytes.length - at);
  const out = new Uint8Array(bytes.length - remove + insert.length);
  out.set(bytes.subarray(0, at), 0);
  out.set(insert, at);
  out.set(bytes.subarray(at + remove), at + insert.length);
  return out;
}

const HUGE_LENGTHS = [
  [0xff, 0xff, 0xff, 0xff, 0x0f], // 2^32 - 1
  [0x80, 0x80, 0x80, 0x80, 0x08], // 2^31
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], // 2^64 - 1
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], // 11 bytes: not a varint
];

describe.each([
  ['the every-field model', everyFieldModel, 1],
  ['the If/subgraph model', subgraphModel, 2],
])('fuzzing %s', (_, build, seed) => {
  const original = encodeModelProtoToBytes(build());

  it('survives truncation at every byte, flipped bytes, huge lengths, insertions and deletions', () => {
    const random = seededRandom(seed);
    const pick = (n: number): number => Math.floor(random() * n);
    const tally: Tally = { counts: { decoded: 0, OnnxDecodeError: 0, UnsupportedIrVersionError: 0 }, failures: [] };

    for (let cut = 0; cut < original.length; cut++) tryDecode(original.subarray(0, cut), `truncated at ${cut}`, tally);
    for (let i = 0; i < 1500; i++) {
      const at = pick(original.length);
      const flipped = original.slice();
      flipped[at] ^= 1 << pick(8);
      if (random() < 0.3) flipped[pick(original.length)] = pick(256);
      tryDecode(flipped, `flip at ${at} (#${i})`, tally);
    }
    for (let i = 0; i < 500; i++) {
      const at = pick(original.length);
      const huge = HUGE_LENGTHS[pick(HUGE_LENGTHS.length)]!;
      tryDecode(splice(original, at, random() < 0.5 ? 1 : 0, huge), `huge length at ${at} (#${i})`, tally);
    }
    for (let i = 0; i < 500; i++) {
      const at = pick(original.length);
      const inserted = Array.from({ length: 1 + pick(8) }, () => pick(256));
      tryDecode(splice(original, at, 0, inserted), `insert at ${at} (#${i})`, tally);
    }
    for (let i = 0; i < 300; i++) {
      const at = pick(original.length);
      tryDecode(splice(original, at, 1 + pick(16), []), `delete at ${at} (#${i})`, tally);
    }

    console.log(`fuzz ${_}: ${JSON.stringify(tally.counts)}`); // figures for docs/reliability.md
    expect(tally.failures).toEqual([]);
    // The mutations must exercise both outcomes, or this test could not catch anything.
    expect(tally.counts.decoded).toBeGreaterThan(100);
    expect(tally.counts.OnnxDecodeError).toBeGreaterThan(1000);
  }, 30_000);
});
