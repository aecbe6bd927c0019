/**
 * The runtime seam of docs/architecture.md, read from the source: eval, calibration and the server run
 * models through `Backend` (src/runtime/backend.ts) only. No file of src/eval, src/calibration or
 * src/server imports onnxruntime or the node backend's internals (ort.ts, session.ts); the node backend
 * itself is chosen at the edges (the CLI, the server's start-up). src/eval and src/calibration, with
 * everything they import, use no Node built-in either: the web app runs calibration with them.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');
/** Files of src/server allowed to pick the node backend: the server's start-up. */
const SERVER_START_UP = ['src/server/server.ts'];
const RUNTIME_INTERNALS = ['src/runtime/ort.ts', 'src/runtime/session.ts'];

/** Every import specifier of a file, relative or not (`import … from`, `export … from`, `import(…)`, bare `import '…'`). */
export function allImportsOf(text: string): string[] {
  const specs: string[] = [];
  for (const m of text.matchAll(/(?:^|\s)(?:import|export)\s[^;]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^import\s+['"]([^'"]+)['"]/gm)) {
    specs.push((m[1] ?? m[2] ?? m[3])!);
  }
  return specs;
}

/** The source file a relative specifier names (`./x.js` → `x.ts`), or undefined for a package. */
function resolveSpec(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const path = resolve(dirname(from), spec);
  const ts = path.replace(/\.js$/, '.ts');
  return existsSync(ts) ? ts : path;
}

const isRuntimePackage = (spec: string) => /^onnxruntime-(node|web|common)(\/|$)/.test(spec);
const isNodeBuiltin = (spec: string) => spec.startsWith('node:');

function filesUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts')).map((name) => join(ROOT, dir, name));
}

/** `file` and every project file it imports, transitively, each with the path by which it was reached. */
function closure(files: readonly string[]): Map<string, string> {
  const reached = new Map<string, string>(files.map((f) => [f, relative(ROOT, f)]));
  for (const queue = [...files]; queue.length > 0;) {
    const file = queue.pop()!;
    for (const spec of allImportsOf(readFileSync(file, 'utf8'))) {
      const target = resolveSpec(file, spec);
      if (target === undefined || reached.has(target) || !target.endsWith('.ts')) continue;
      reached.set(target, `${reached.get(file)} → ${relative(ROOT, target)}`);
      queue.push(target);
    }
  }
  return reached;
}

/** Imports of `files` (and, with `transitive`, of all they import) that `bad` rejects, as "path imports spec". */
function badImports(files: readonly string[], bad: (spec: string, file: string) => boolean, transitive: boolean): string[] {
  const scope = transitive ? closure(files) : new Map(files.map((f) => [f, relative(ROOT, f)]));
  const found: string[] = [];
  for (const [file, path] of scope) {
    for (const spec of allImportsOf(readFileSync(file, 'utf8'))) if (bad(spec, file)) found.push(`${path} imports ${spec}`);
  }
  return found;
}

const importsRuntimeInternals = (spec: string, file: string) => {
  const target = resolveSpec(file, spec);
  return isRuntimePackage(spec) || (target !== undefined && RUNTIME_INTERNALS.includes(relative(ROOT, target)));
};

describe('the runtime seam', () => {
  it('the import reader sees packages, Node built-ins and relative files (the checks below can fail)', () => {
    expect(allImportsOf(`import ort from 'onnxruntime-node';\nimport { x } from 'node:fs';\nexport * from './a.js';\nconst m = await import('../b.js');`))
      .toEqual(['onnxruntime-node', 'node:fs', './a.js', '../b.js']);
    const session = join(ROOT, 'src/runtime/session.ts');
    expect(badImports([join(ROOT, 'src/runtime/node-backend.ts')], importsRuntimeInternals, false)).toContain('src/runtime/node-backend.ts imports ./session.js');
    expect(badImports([session], (spec) => isNodeBuiltin(spec), false).length).toBeGreaterThan(0);
  });

  it('src/eval and src/calibration import no runtime but through the Backend interface', () => {
    const files = ['src/eval', 'src/calibration'].flatMap(filesUnder);
    expect(files.length).toBeGreaterThan(20);
    expect(badImports(files, (spec, file) => importsRuntimeInternals(spec, file) || /node-backend/.test(spec), false)).toEqual([]);
  });

  it('src/server imports no runtime but through the Backend interface (the node backend at start-up only)', () => {
    const files = filesUnder('src/server');
    const nodeBackendOutsideStartUp = (spec: string, file: string) =>
      resolveSpec(file, spec)?.endsWith(join('src', 'runtime', 'node-backend.ts')) === true && !SERVER_START_UP.includes(relative(ROOT, file));
    expect(badImports(files, (spec, file) => importsRuntimeInternals(spec, file) || nodeBackendOutsideStartUp(spec, file), false)).toEqual([]);
  });

  it('src/eval and src/calibration, with all they import, are browser-safe: no Node built-in, no onnxruntime', () => {
    const files = ['src/eval', 'src/calibration'].flatMap(filesUnder);
    expect(badImports(files, (spec, file) => isNodeBuiltin(spec) || importsRuntimeInternals(spec, file), true)).toEqual([]);
  });
});
