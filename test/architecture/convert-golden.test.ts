/**
 * `convert` outputs stay byte-identical: every fixture converted under the option sets of
 * bench/convert-hashes.ts that run no onnxruntime (hydra, linear-angular in both modes, a single
 * block, --blocks none with and without fusion, --inline-functions), hashed (model bytes and report),
 * against test/architecture/convert-hashes.json. A change that is meant to change outputs rewrites
 * that file (`npx tsx bench/convert-hashes.ts golden`) and says why in its commit.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GOLDEN, convertHashes } from '../../bench/convert-hashes.js';

describe('convert outputs', () => {
  it('are byte-identical to the recorded ones on every fixture and option set', async () => {
    const expected = JSON.parse(readFileSync(GOLDEN, 'utf8')) as Record<string, string>;
    const actual = await convertHashes(undefined, { runtime: false });
    // Fixtures added since the recording are not compared (their first recording is the golden rewrite).
    const compared = Object.fromEntries(Object.keys(expected).map((key) => [key, actual[key]]));
    expect(compared).toEqual(expected);
  }, 180_000);
});
