/**
 * Rewrites the output of every runnable transcript block (see runnable.test.ts) in README.md and
 * docs/*.md with what the commands print now: `npx tsx test/docs/update-docs.ts [file…]`. Review the
 * diff before committing — the docs' prose around a block may need the new figures too.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../cli/helpers.js';
import { argvOf, fitToEllipsis, MARKER } from './runnable.js';

const files = process.argv.slice(2).length ? process.argv.slice(2) : ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const tmp = mkdtempSync(join(tmpdir(), 'vitlin-docs-update-'));
try {
  for (const file of files) {
    const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
    const out: string[] = [];
    for (let i = 0; i < lines.length; i++) {
      out.push(lines[i]!);
      const marker = MARKER.exec(lines[i]!);
      if (!marker || marker[1] === 'exit-code') continue;
      out.push(lines[++i]!); // the opening fence
      for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) {
        if (!lines[i]!.startsWith('$ ')) throw new Error(`${file}:${i + 1}: expected a '$ command' line`);
        const commandLines = [lines[i]!];
        while (commandLines.at(-1)!.endsWith('\\')) commandLines.push(lines[++i]!);
        const old: string[] = [];
        while (i + 1 < lines.length && !lines[i + 1]!.startsWith('$ ') && !/^```\s*$/.test(lines[i + 1]!)) old.push(lines[++i]!);
        const command = commandLines.map((l, k) => (k === 0 ? l.slice(2) : l.trimStart())).map((l) => l.replace(/\\$/, '').trimEnd()).join(' ');
        const result = spawnSync(process.execPath, [join(ROOT, 'bin', 'vitlin.mjs'), ...argvOf(command, tmp)], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
        if (result.status !== 0) throw new Error(`${file}: '${command}' exited ${result.status}:\n${result.stderr}`);
        // Output the block cut short with a `…` line stays cut at the same place.
        out.push(...commandLines, ...fitToEllipsis(result.stdout.replaceAll(`${tmp}/`, '/tmp/').trimEnd().split('\n'), old));
        process.stderr.write(`${file}: ${command}\n`);
      }
      out.push(lines[i]!); // the closing fence
    }
    writeFileSync(join(ROOT, file), out.join('\n'));
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
