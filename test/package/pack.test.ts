/**
 * The package as a user gets it: `npm pack` of this repository, unpacked into a scratch project's
 * node_modules, then `vitlin`, `vitlin/core` and `vitlin/web` imported from that project by name — the
 * package's `exports` map, `files` list and compiled output together, with nothing from the repository
 * tree in reach. The runtime dependencies are linked from the repository's node_modules (what `npm
 * install` would fetch), so the test is offline and takes seconds.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_TIMEOUT_MS, MODELS, ROOT, ensureBuilt } from '../cli/helpers.js';

const scratch = mkdtempSync(join(tmpdir(), 'vitlin-pack-'));
const installed = join(scratch, 'node_modules', 'vitlin');
let packedFiles: string[] = [];

beforeAll(() => {
  ensureBuilt();
  // --ignore-scripts: dist/ was just built by ensureBuilt (what `prepare` builds before a real pack).
  const [packed] = JSON.parse(execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', scratch], { cwd: ROOT, encoding: 'utf8' })) as { filename: string; files: { path: string }[] }[];
  packedFiles = packed!.files.map((f) => f.path);
  mkdirSync(installed, { recursive: true });
  execFileSync('tar', ['-xzf', join(scratch, packed!.filename), '-C', installed, '--strip-components=1']);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  for (const dep of Object.keys(pkg.dependencies)) {
    mkdirSync(join(scratch, 'node_modules', dep, '..'), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules', dep), join(scratch, 'node_modules', dep), 'dir');
  }
  writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module', dependencies: { vitlin: '*' } }));
}, BUILD_TIMEOUT_MS);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs an ES module in the scratch project and parses the JSON it prints. */
function runInScratch(code: string): unknown {
  writeFileSync(join(scratch, 'check.mjs'), code);
  const result = spawnSync(process.execPath, ['check.mjs'], { cwd: scratch, encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) throw new Error(`check.mjs failed (${result.status}):\n${result.stderr}`);
  return JSON.parse(result.stdout);
}

describe('the packed package', () => {
  it('holds the compiled entries of every export, the CLI, and no sources or tests', () => {
    const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { exports: Record<string, { types: string; default: string }> };
    for (const [name, target] of Object.entries(pkg.exports)) {
      expect(packedFiles, `export '${name}'`).toContain(target.default.replace(/^\.\//, ''));
      expect(packedFiles, `types of '${name}'`).toContain(target.types.replace(/^\.\//, ''));
    }
    expect(packedFiles).toContain('bin/vitlin.mjs');
    expect(packedFiles.filter((f) => /^(src|test|graph-rewrite|web|models)\//.test(f) || f.endsWith('.test.js'))).toEqual([]);
  });

  it('imports vitlin, vitlin/core and vitlin/web by name from a scratch project, and they work', () => {
    const model = join(MODELS, 'timm_vit.onnx');
    const report = runInScratch(`
      import { readFileSync } from 'node:fs';
      const [root, core, web] = await Promise.all([import('vitlin'), import('vitlin/core'), import('vitlin/web')]);
      const bytes = new Uint8Array(readFileSync(${JSON.stringify(model)}));
      const model = await root.loadModel(bytes);
      const { converted } = core.convertAttention(model, { attention: 'hydra', blocks: 'all' });
      const webModel = web.readModelBytes(bytes, { source: 'timm_vit.onnx' });
      console.log(JSON.stringify({
        resolved: ['vitlin', 'vitlin/core', 'vitlin/web'].map((s) => import.meta.resolve(s)),
        converted: converted.length,
        webBlocks: web.findAttentionBlocks(webModel).blocks.length,
        webRuntime: typeof web.createWebSession,
      }));
    `) as { resolved: string[]; converted: number; webBlocks: number; webRuntime: string };
    // Resolved inside the installed copy, not the repository.
    for (const url of report.resolved) expect(url.startsWith(`file://${installed}/dist/`), url).toBe(true);
    expect(report.converted).toBeGreaterThan(0);
    expect(report.webBlocks).toBe(report.converted);
    expect(report.webRuntime).toBe('function');
  });

  it('runs the installed CLI', () => {
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    const result = spawnSync(process.execPath, [join(installed, 'bin', 'vitlin.mjs'), '--version'], { cwd: scratch, encoding: 'utf8' });
    expect(result.stdout).toBe(`vitlin ${version}\n`);
  });
});
