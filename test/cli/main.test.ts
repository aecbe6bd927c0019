/** The CLI's conventions: usage and --help, exit codes, one-line errors, --verbose stacks, colour only on a TTY without NO_COLOR. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MODELS, ROOT, BUILD_TIMEOUT_MS, ensureBuilt, expectOneLineError, vitlin } from './helpers.js';

beforeAll(() => ensureBuilt(), BUILD_TIMEOUT_MS);

const COMMANDS = ['inspect', 'convert', 'verify', 'classify', 'bench', 'demo'];

/** Runs the binary under a pseudo-terminal (util-linux `script`), so stdout and stderr are TTYs. */
function onTty(args: string, env: Record<string, string> = {}): string {
  const result = spawnSync('script', ['-qec', `node ${join(ROOT, 'bin/vitlin.mjs')} ${args}`, '/dev/null'], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '', ...env },
  });
  return result.stdout;
}

describe('vitlin', () => {
  it('without a command prints usage on stderr and exits 2', async () => {
    const r = await vitlin([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Usage: vitlin <command>/);
    for (const name of COMMANDS) expect(r.stderr).toContain(`  ${name}`);
  });

  it('--help lists the commands and exits 0', async () => {
    const r = await vitlin(['--help']);
    expect(r.code).toBe(0);
    for (const name of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^  ${name}\\s+\\S`, 'm'));
  });

  it.each(COMMANDS)('%s --help prints its usage and exits 0', async (name) => {
    const r = await vitlin([name, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Usage: vitlin ${name}`));
    expect(r.stderr).toBe('');
  });

  it('--version prints the package version and exits 0', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) {
      const r = await vitlin([flag]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`vitlin ${version}\n`);
    }
  });

  it.each(COMMANDS)("'help <command>' prints the same text as '<command> --help': %s", async (name) => {
    const [viaHelp, viaFlag] = await Promise.all([vitlin(['help', name]), vitlin([name, '--help'])]);
    expect(viaHelp.code).toBe(0);
    expect(viaHelp.stdout).toMatch(new RegExp(`^Usage: vitlin ${name}`));
    expect(viaHelp.stdout).toBe(viaFlag.stdout);
  });

  it("'help' with an unknown command exits 2 and names it", async () => {
    const r = await vitlin(['help', 'frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^vitlin: unknown command 'frobnicate'/);
  });

  // One line, the command named once, no class names: what the user did wrong, not how vitlin is built.
  const errors: [string, string[], number, string][] = [
    ['a missing argument', ['inspect'], 2, "vitlin inspect: missing <model> (see 'vitlin inspect --help')"],
    ['an unknown flag', ['inspect', 'x.onnx', '--frob'], 2, "vitlin inspect: Unknown option '--frob' (see 'vitlin inspect --help')"],
    ['a missing file', ['inspect', 'no/such.onnx'], 1, 'vitlin inspect: no/such.onnx: no such file or folder'],
    ['a bad value', ['convert', 'x.onnx', '-o', '/tmp/y.onnx', '--attention', 'cubic'], 2, "vitlin convert: --attention: unknown value 'cubic' (expected hydra | linear-angular)"],
  ];
  it.each(errors)('prints %s as one plain line', async (_, args, code, line) => {
    const r = await vitlin(args);
    expect(r.code).toBe(code);
    expect(expectOneLineError(r)).toBe(line);
    expect(r.stderr).not.toMatch(/\w+Error\b/);
  });

  it('an unknown command exits 2 and names it', async () => {
    const r = await vitlin(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^vitlin: unknown command 'frobnicate'/);
  });

  it('prints a stack trace only with --verbose', async () => {
    const quiet = await vitlin(['inspect', join(MODELS, 'README.md')]);
    expect(quiet.code).toBe(1);
    expectOneLineError(quiet);
    const loud = await vitlin(['inspect', join(MODELS, 'README.md'), '--verbose']);
    expect(loud.code).toBe(1);
    expect(loud.stderr.split('\n')[0]).toBe(quiet.stderr.split('\n')[0]);
    expect(loud.stderr).toMatch(/\n\s+at /);
  });

  it('colours output on a TTY, and not with NO_COLOR', () => {
    const model = join(MODELS, 'timm_vit.onnx');
    expect(onTty(`inspect ${model}`)).toMatch(/\x1b\[1m/);
    expect(onTty(`inspect ${model}`, { NO_COLOR: '1' })).not.toMatch(/\x1b\[/);
  });
});
