/**
 * `vitlin <command>`: the command table, help, and the error policy — one line on stderr, exit code
 * 1 for failures and 2 for usage errors, stack traces only with --verbose.
 */
import { VitlinError } from '../../graph-rewrite/errors.js';
import { UsageError } from './args.js';
import { COMMANDS, type CommandEntry } from './commands.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return ['Usage: vitlin <command> [options]', '', 'Commands:', ...lines, '', "Run 'vitlin <command> --help' for a command's options."].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  const [name, ...rest] = argv.filter((arg) => arg !== '--verbose');
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? process.stderr : process.stdout).write(usage() + '\n');
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  const entry: CommandEntry | undefined = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    process.stderr.write(`vitlin: unknown command '${name}'\n\n${usage()}\n`);
    return EXIT_USAGE;
  }
  const command = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.help + '\n');
    return EXIT_OK;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    const usageError = error instanceof UsageError;
    const known = error instanceof VitlinError;
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`vitlin ${name}: ${known ? `${(error as Error).name}: ` : ''}${message}\n`);
    if (verbose && error instanceof Error && error.stack) process.stderr.write(error.stack + '\n');
    return usageError ? EXIT_USAGE : EXIT_FAILURE;
  }
}
