/**
 * The docs cannot drift from the program: every command block of README.md and docs/*.md marked
 * runnable is run, and what it prints is compared with what the block shows. A marker is an HTML
 * comment on the line before the fence (invisible on GitHub):
 *
 *     <!-- runnable -->              the block is `$ command` lines, each followed by its output; the
 *                                    output must match, timings (ms, /s, s) and column padding aside
 *     <!-- runnable: shape -->       the same, with every number masked too: for figures that other
 *                                    work moves (accuracy after calibration, latency, speedups)
 *     <!-- runnable: exit-code -->   a plain command list: each must exit 0
 *
 * In an output, a line of just `…` stands for any number of lines.
 * Commands are `vitlin …` / `npx vitlin …` (run as `node bin/vitlin.mjs …`) and `npm start` (the demo).
 * `/tmp/` paths are rewritten to a fresh temporary folder; blocks of a file run in order, so one block
 * may use what an earlier one wrote. `npx tsx test/docs/update-docs.ts` rewrites the blocks' output.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_TIMEOUT_MS, ROOT, ensureBuilt } from '../cli/helpers.js';
import { argvOf, fitToEllipsis, normalise, runnableBlocks } from './runnable.js';

const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const blocks = DOCS.flatMap((file) => runnableBlocks(file, readFileSync(join(ROOT, file), 'utf8')));
const tmp = mkdtempSync(join(tmpdir(), 'vitlin-docs-'));

beforeAll(() => ensureBuilt(), BUILD_TIMEOUT_MS);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('runnable docs', () => {
  it('README.md and docs/cli.md have runnable blocks', () => {
    expect(blocks.filter((b) => b.file === 'README.md').length).toBeGreaterThan(0);
    expect(blocks.filter((b) => b.file === 'docs/cli.md').length).toBeGreaterThan(3);
  });

  it('masks timings and padding, and numbers in shape mode', () => {
    expect(normalise('a    0.27 ms   3712 /s  1.5 s\n--  ----\n', 'exact')).toEqual(['a <ms> <rate> <s>', '---']);
    expect(normalise('accuracy  83.2 % → 28.8 % (−54.4 points)', 'shape')).toEqual(['accuracy # % → # % (# points)']);
    expect(normalise('x 3.72e+0', 'exact')).not.toEqual(normalise('x 3.73e+0', 'exact'));
    expect(fitToEllipsis(['a', 'b', 'c', 'd'], ['a', '…', 'd'])).toEqual(['a', '…', 'd']);
    expect(fitToEllipsis(['a', 'b'], ['a', '…'])).toEqual(['a', '…']);
  });

  it.each(blocks.map((b) => [`${b.file}:${b.line} (${b.mode})`, b] as const))('%s', (_, block) => {
    for (const step of block.steps) {
      const result = spawnSync(process.execPath, [join(ROOT, 'bin', 'vitlin.mjs'), ...argvOf(step.command, tmp)], {
        cwd: ROOT, encoding: 'utf8', timeout: 180_000, env: { ...process.env, NO_COLOR: '1' },
      });
      expect(result.status, `${step.command}\n${result.stderr}`).toBe(0);
      if (block.mode === 'exit-code') continue;
      // The block shows stdout (and its first line is often the command's own title).
      const expected = normalise(step.expected.join('\n'), block.mode);
      expect(fitToEllipsis(normalise(result.stdout, block.mode, tmp), expected), `${block.file}:${block.line}: '${step.command}' printed:\n${result.stdout}`)
        .toEqual(expected);
    }
  }, 600_000);
});
