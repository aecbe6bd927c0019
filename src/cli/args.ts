/** Argument parsing shared by the commands: node's parseArgs, with usage errors turned into exit code 2. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../../graph-rewrite/errors.js';

export { UsageError };
export { parseBlockSelection, type BlockSelection } from '../../graph-rewrite/plan/selection.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;
type ParsedArgs<T extends OptionSpec> = ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>>;

export function parseCommandArgs<T extends OptionSpec>(argv: string[], options: T, command: string): ParsedArgs<T> {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true as const, strict: true as const });
  } catch (error) {
    throw new UsageError(`${(error as Error).message.replace(/\. To specify.*$/s, '')} (see 'vitlin ${command} --help')`);
  }
}

/** The positional arguments, checked for count: `names` are how the usage line calls them. */
export function positionalArgs(positionals: readonly string[], command: string, names: readonly string[], options: { variadic?: boolean } = {}): string[] {
  if (positionals.length < names.length) {
    throw new UsageError(`missing ${names.slice(positionals.length).map((n) => `<${n}>`).join(' ')} (see 'vitlin ${command} --help')`);
  }
  if (!options.variadic && positionals.length > names.length) {
    throw new UsageError(`unexpected argument '${positionals[names.length]}'`);
  }
  return [...positionals];
}

/** An integer option within [min, max]; the message names the flag. */
export function intOption(value: string | undefined, flag: string, fallback: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^[-+]?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag}: expected an integer${max === Number.MAX_SAFE_INTEGER ? ` ≥ ${min}` : ` in ${min}-${max}`}, got '${value}'`);
  }
  return n;
}

/** A number option within [min, max]. */
export function numberOption(value: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new UsageError(`${flag}: expected a number in [${min}, ${max}], got '${value}'`);
  return n;
}

/** "1%", "0.5 %" or "0.01" → a fraction in [0, 1]. */
export function fractionOption(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const match = /^\s*([\d.]+)\s*(%?)\s*$/.exec(value);
  const n = match ? Number(match[1]) / (match[2] ? 100 : 1) : NaN;
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new UsageError(`${flag}: expected a fraction like 1% or 0.01, got '${value}'`);
  return n;
}

/** One of `choices`; the message lists them. */
export function choiceOption<T extends string>(value: string | undefined, flag: string, choices: readonly T[], fallback?: T): T {
  if (value === undefined) {
    if (fallback !== undefined) return fallback;
    throw new UsageError(`${flag} is required (${choices.join(' | ')})`);
  }
  if (!(choices as readonly string[]).includes(value)) throw new UsageError(`${flag}: unknown value '${value}' (expected ${choices.join(' | ')})`);
  return value as T;
}

/** A comma-separated list of choices, e.g. `--ep cpu,webgpu`. */
export function choiceListOption<T extends string>(value: string | undefined, flag: string, choices: readonly T[], fallback: readonly T[]): T[] {
  if (value === undefined) return [...fallback];
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new UsageError(`${flag}: expected one or more of ${choices.join(', ')}`);
  return [...new Set(items.map((item) => choiceOption(item, flag, choices)))];
}

