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
type ParsedArgs<T extends OptionSpec> = ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>>;

export function parseCommandArgs<T extends OptionSpec>(argv: string[], options: T, command: string): ParsedArgs<T> {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true as const, strict: true as const });
  } catch (error) {
    throw new UsageError(`${command}: ${(error as Error).message.replace(/\. To specify.*$/s, '')}`);
  }
}
