/** Argument parsing shared by the commands: node's parseArgs, with usage errors turned into exit code 2. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { VitlinError } from '../../graph-rewrite/errors.js';

/** A command-line usage error: printed as one line, exit code 2. */
export class UsageError extends VitlinError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
  }
}

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export function parseCommandArgs(argv: string[], options: OptionSpec, command: string) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${command}: ${(error as Error).message.replace(/\. To specify.*$/s, '')}`);
  }
}
