/**
 * The layering rules of docs/architecture.md, read from the source: which top-level folder may import
 * which (base ← custom-ops ← graph-rewrite ← src; never back), no source file over the size limit,
 * and no test mocking a project module.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');
/** Each layer and the layers it may import (besides itself). */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  base: [],
  'custom-ops': ['base'],
  'graph-rewrite': ['base', 'custom-ops'],
  src: ['base', 'custom-ops', 'graph-rewrite'],
};
const LAYERS = Object.keys(ALLOWED);
/** Files longer than this fail (a soft limit of ~400 lines, with a margin for the files at it). */
const MAX_LINES = 450;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' || name === 'dist' ? [] : sourceFiles(path);
    return /\.(ts|mts|mjs)$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Relative import specifiers of a file (`import … from`, `export … from`, `import(…)`). */
export function importsOf(text: string): string[] {
  const specs: string[] = [];
  for (const m of text.matchAll(/(?:^|\s)(?:import|export)\s[^;]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^import\s+['"]([^'"]+)['"]/gm)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec?.startsWith('.')) specs.push(spec);
  }
  return specs;
}

function layerOf(path: string): string | undefined {
  return LAYERS.find((layer) => relative(ROOT, path).split(/[\\/]/)[0] === layer);
}

describe('layers', () => {
  it('importsOf finds static, re-export and dynamic imports (the check below can fail)', () => {
    expect(importsOf(`import { a } from '../x.js';\nexport * from "./y.js";\nconst m = await import('../../z.js');\nimport type {\n  T,\n} from '../t.js';`))
      .toEqual(['../x.js', './y.js', '../../z.js', '../t.js']);
  });

  it('no top-level folder imports one above it (no cycle between base, custom-ops, graph-rewrite and src)', () => {
    const violations: string[] = [];
    for (const layer of LAYERS) {
      for (const file of sourceFiles(join(ROOT, layer))) {
        for (const spec of importsOf(readFileSync(file, 'utf8'))) {
          const target = layerOf(resolve(dirname(file), spec));
          if (target && target !== layer && !ALLOWED[layer]!.includes(target)) violations.push(`${relative(ROOT, file)} imports ${spec} (${layer} → ${target})`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it(`no source file is over ${MAX_LINES} lines`, () => {
    const long = [...LAYERS, 'web/src', 'bench', 'test'].flatMap((dir) => sourceFiles(join(ROOT, dir)))
      .map((file) => ({ file: relative(ROOT, file), lines: readFileSync(file, 'utf8').split('\n').length }))
      .filter((f) => f.lines > MAX_LINES);
    expect(long).toEqual([]);
  });

  it('no test mocks a project module', () => {
    const mocks = sourceFiles(join(ROOT, 'test')).filter((file) => /\bvi\.(do)?[mM]ock\(\s*['"]\./.test(readFileSync(file, 'utf8')) && !file.endsWith('layers.test.ts'));
    expect(mocks.map((f) => relative(ROOT, f))).toEqual([]);
  });
});
