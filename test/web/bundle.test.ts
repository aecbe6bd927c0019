/**
 * The browser entry (src/web/index.ts) bundles for the web without Node built-ins: build it the way
 * web/vite.lib.config.ts does and read every import of the output. A control entry that does import
 * node:fs proves the check sees such imports (Vite stubs them as `__vite-browser-external`).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, mergeConfig, type UserConfig } from 'vite';
import { afterAll, describe, expect, it } from 'vitest';
import libConfig, { LIB_ENTRY } from '../../web/vite.lib.config.js';
import { REPO } from './harness.js';

const work = mkdtempSync(join(tmpdir(), 'vitlin-web-bundle-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function bundle(entry: string, outDir: string, logLevel: 'warn' | 'silent' = 'warn'): Promise<string> {
  const config = mergeConfig(libConfig as UserConfig, { logLevel, build: { outDir, sourcemap: false, lib: { entry } } });
  await build({ ...config, configFile: false });
  return readFileSync(join(outDir, 'vitlin-web.js'), 'utf8');
}

/** Node built-ins the bundle imports (static, dynamic, require) or that Vite stubbed out for the browser. */
function nodeBuiltinsIn(code: string): string[] {
  const specifiers = [
    ...code.matchAll(/\bfrom\s*["']([^"']+)["']/g),
    ...code.matchAll(/\bimport\s*["']([^"']+)["']/g),
    ...code.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g),
    ...code.matchAll(/\brequire\(\s*["']([^"']+)["']\s*\)/g),
  ].map((match) => match[1]!);
  const builtins = new Set(builtinModules);
  const found = specifiers.filter((s) => s.startsWith('node:') || builtins.has(s) || builtins.has(s.split('/')[0]!));
  // Vite replaces a built-in with an empty stub module named __vite-browser-external (identifier
  // `import___vite_browser_external` after bundling) and only warns.
  if (/vite[-_]browser[-_]external/.test(code)) found.push('__vite-browser-external');
  return found;
}

function importsOf(code: string): string[] {
  return [...new Set([...code.matchAll(/^import\s[^;]*?from\s*["']([^"']+)["']/gm)].map((m) => m[1]!))];
}

describe('web bundle', () => {
  it('src/web/index.ts bundles with no Node built-in; its only import is onnxruntime-web/webgpu', async () => {
    const code = await bundle(LIB_ENTRY, join(work, 'lib'));
    expect(nodeBuiltinsIn(code)).toEqual([]);
    expect(importsOf(code)).toEqual(['onnxruntime-web/webgpu']);
    // The core really is in there (not an empty bundle): the decoder, the IR, the rewriter and the runtime wrapper.
    for (const name of ['decodeModelProto', 'modelFromProto', 'convertAttention', 'findAttentionBlocks', 'createWebSession', 'compareOutputs']) expect(code).toContain(name);
  }, 60_000);

  it('the check catches an entry that imports a Node built-in', async () => {
    const entry = join(work, 'bad-entry.ts');
    writeFileSync(entry, "import { readFileSync } from 'node:fs';\nexport const read = (p: string) => readFileSync(p);\n");
    const code = await bundle(entry, join(work, 'bad'), 'silent'); // silent: Vite warns about the stub
    expect(nodeBuiltinsIn(code).length).toBeGreaterThan(0);
  }, 60_000);

  it('the web app and its build scripts typecheck (strict; web/ is outside the root tsconfig)', () => {
    const tsc = join(REPO, 'node_modules/typescript/bin/tsc');
    for (const project of ['web/tsconfig.json', 'web/tsconfig.node.json']) {
      // execFileSync throws with tsc's output when there is any error.
      execFileSync(process.execPath, [tsc, '-p', join(REPO, project)], { cwd: REPO, encoding: 'utf8' });
    }
  }, 120_000);
});
