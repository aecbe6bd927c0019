/**
 * Helpers of the CLI tests: they spawn the real binary (`node bin/vitlin.mjs`, which runs the compiled
 * dist/), so the tests see exactly what a user sees — exit codes, stdout, stderr, files. `ensureBuilt`
 * compiles once per change: it rebuilds only when a source file is newer than the last build, under a
 * lock so that parallel test workers (and other people's builds) do not race.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const MODELS = join(ROOT, 'models');
export const SAMPLE = join(MODELS, 'data', 'fashion-mnist-test-1000.bin');
const STAMP = join(ROOT, 'dist', '.vitlin-cli-test-build');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** Compiles src/, graph-rewrite/ and custom-ops/ into dist/ unless dist/ is newer than every source; at most once per test run. */
export function ensureBuilt(): void {
  const script = `
    const { statSync, writeFileSync, existsSync } = require('node:fs');
    const stamp = ${JSON.stringify(STAMP)};
    const newest = Number(process.argv[1]);
    const runMarker = process.argv[2];
    // Built once per test run: a rebuild while other workers' binaries start would hand them half-written files.
    if (existsSync(runMarker) && existsSync(${JSON.stringify(join(ROOT, 'dist/src/cli/main.js'))})) process.exit(0);
    if (existsSync(stamp) && existsSync(${JSON.stringify(join(ROOT, 'dist/src/cli/main.js'))}) && statSync(stamp).mtimeMs >= newest) { writeFileSync(runMarker, ''); process.exit(0); }
    const started = Date.now();
    const r = require('node:child_process').spawnSync('node', [${JSON.stringify(join(ROOT, 'node_modules/typescript/bin/tsc'))}, '-p', 'tsconfig.build.json'], { cwd: ${JSON.stringify(ROOT)}, stdio: 'inherit' });
    if (!existsSync(${JSON.stringify(join(ROOT, 'dist/src/cli/main.js'))})) process.exit(r.status || 1);
    writeFileSync(stamp, ''); require('node:fs').utimesSync(stamp, started / 1000, started / 1000);
    writeFileSync(runMarker, '');
  `;
  const newest = Math.max(...['src', 'graph-rewrite', 'custom-ops'].map((d) => newestSource(join(ROOT, d))));
  // flock serialises concurrent test workers; type errors elsewhere in the tree still emit JS (tsc's default).
  // The test workers are forks of one vitest process: its pid names this run.
  const runMarker = join(tmpdir(), `vitlin-cli-built-${process.ppid}`);
  const result = spawnSync('flock', ['/tmp/vitlin-cli-build.lock', 'node', '-e', script, String(newest), runMarker], { cwd: ROOT, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`build failed:\n${result.stdout}\n${result.stderr}`);
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** How long the first build may take on a loaded 2-core machine (beforeAll's timeout). */
export const BUILD_TIMEOUT_MS = 300_000;

/** Runs `vitlin <args>` and resolves with its exit code and output. */
export function vitlin(args: readonly string[], options: { cwd?: string; env?: Record<string, string | undefined>; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const env = { ...process.env, NO_COLOR: undefined, FORCE_COLOR: undefined, ...options.env };
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'vitlin.mjs'), ...args], { cwd: options.cwd ?? ROOT, env: env as NodeJS.ProcessEnv });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`vitlin ${args.join(' ')} timed out`)); }, options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** A fresh temporary folder (removed by the returned cleanup). */
export function tempFolder(prefix = 'vitlin-cli-'): { path: string; files: () => string[]; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, files: () => readdirSync(path).sort(), cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** The one-line error contract: stderr is one line, no stack trace. */
export function expectOneLineError(result: CliResult): string {
  const lines = result.stderr.trimEnd().split('\n');
  if (lines.length !== 1 || /\n\s+at /.test(result.stderr)) throw new Error(`expected a one-line error, got:\n${result.stderr}`);
  return lines[0]!;
}

export interface ManifestModel {
  readonly name: string;
  readonly file: string;
  readonly expect: 'convert' | 'fuse' | 'leave';
  readonly trained?: unknown;
  readonly attention_blocks: number;
  readonly blocks: readonly { kind: string; heads: number; head_dim: number }[];
  readonly heads: number;
  readonly head_dim: number;
  readonly tokens: number | string;
}

export function manifest(): { models: ManifestModel[] } {
  return JSON.parse(readFileSync(join(MODELS, 'manifest.json'), 'utf8')) as { models: ManifestModel[] };
}

/** A manifest model by name; throws (failing the test) when listed but the file is missing. */
export function manifestModel(name: string): ManifestModel | undefined {
  const entry = manifest().models.find((m) => m.name === name);
  if (entry && !existsSync(join(MODELS, entry.file))) throw new Error(`models/manifest.json lists ${name}, but ${entry.file} is missing`);
  return entry;
}

export function writeText(path: string, text: string): string {
  writeFileSync(path, text);
  return path;
}

/** What the session probe saw: the onnxruntime sessions the runtime layer created and released. */
export interface SessionProbe {
  readonly created: number;
  readonly released: number;
  /** Most sessions alive at once. */
  readonly maxLive: number;
  readonly events: readonly { event: 'create' | 'release'; label: string; from: 'file' | 'bytes' }[];
}

const PROBE = join(ROOT, 'test', 'support', 'session-probe.mjs');

/** Runs `vitlin <args>` with the session probe preloaded (test/support/session-probe.mjs). */
export async function vitlinProbed(args: readonly string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<CliResult & { sessions: SessionProbe }> {
  const folder = tempFolder('vitlin-probe-');
  try {
    const file = join(folder.path, 'sessions.json');
    const result = await vitlin(args, { ...options, env: { NODE_OPTIONS: `--import ${PROBE}`, VITLIN_SESSION_PROBE: file } });
    if (!existsSync(file)) throw new Error(`the session probe wrote nothing (exit ${result.code}):\n${result.stderr}`);
    return { ...result, sessions: JSON.parse(readFileSync(file, 'utf8')) as SessionProbe };
  } finally {
    folder.cleanup();
  }
}
