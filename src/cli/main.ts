/**
 * `vitlin <command>`: the command table, help, --version, and the error policy — one line on stderr
 * (`vitlin <command>: <what was wrong>`, no class names), exit code 1 for failures and 2 for usage
 * errors, stack traces only with --verbose.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from './args.js';
import { COMMANDS, type Command } from './commands.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    'Usage: vitlin <command> [options]', '', 'Commands:', ...lines, '',
    "Run 'vitlin help <command>' or 'vitlin <command> --help' for a command's options; 'vitlin --version' for the version.",
  ].join('\n');
}

/** The package's version, from the nearest package.json named vitlin above this file (src/ under tsx, dist/src/ when built). */
export function packageVersion(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'vitlin' && pkg.version) return pkg.version;
  }
  return 'unknown';
}

/** The command's module is imported only now: `vitlin inspect` does not load onnxruntime or the server. */
const findCommand = async (name: string): Promise<Command | undefined> => COMMANDS.find((c) => c.name === name)?.load();

function unknownCommand(name: string): number {
  process.stderr.write(`vitlin: unknown command '${name}'\n\n${usage()}\n`);
  return EXIT_USAGE;
}

/** The one-line text of a failure: the message, without a repeated `<command>: ` prefix. */
export function errorLine(command: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const firstLine = message.split('\n')[0]!;
  return `vitlin ${command}: ${firstLine.startsWith(`${command}: `) ? firstLine.slice(command.length + 2) : firstLine}`;
}

export async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  const [name, ...rest] = argv.filter((arg) => arg !== '--verbose');
  if (name === '--version' || name === '-v' || name === 'version') {
    process.stdout.write(`vitlin ${packageVersion()}\n`);
    return EXIT_OK;
  }
  if (name === 'help' && rest.length > 0) {
    const command = await findCommand(rest[0]!);
    if (!command) return unknownCommand(rest[0]!);
    process.stdout.write(command.help + '\n');
    return EXIT_OK;
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? process.stderr : process.stdout).write(usage() + '\n');
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  const command = await findCommand(name);
  if (!command) return unknownCommand(name);
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.help + '\n');
    return EXIT_OK;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    process.stderr.write(errorLine(name, error) + '\n');
    if (verbose && error instanceof Error && error.stack) process.stderr.write(error.stack + '\n');
    return error instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
  }
}
