/** The command table: each command is a name, a one-line summary, its --help text, and a run function returning the exit code. */
import { demoCommand } from './demo.js';

export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly help: string;
  run(argv: string[]): Promise<number>;
}

export const COMMANDS: readonly Command[] = [demoCommand];
