/** The command table: each command is a name, a one-line summary, its --help text, and a run function returning the exit code. */
import { benchCommand } from './bench.js';
import { classifyCommand } from './classify.js';
import { convertCommand } from './convert.js';
import { demoCommand } from './demo.js';
import { inspectCommand } from './inspect.js';
import { serveCommand } from './serve.js';
import { verifyCommand } from './verify.js';

export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly help: string;
  run(argv: string[]): Promise<number>;
}

export const COMMANDS: readonly Command[] = [
  inspectCommand,
  convertCommand,
  verifyCommand,
  classifyCommand,
  benchCommand,
  demoCommand,
  serveCommand,
];
