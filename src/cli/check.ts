/**
 * `vitlin convert`'s quick check: onnxruntime must load the written model, and its first output is
 * compared with the original's on seeded random inputs. Both sessions are created from files (the
 * original, and the converted model staged next to its destination), one at a time, each released
 * before the next; the caller lets go of the in-memory models and collects them first (collectGarbage), so
 * memory stays at one session, however big the model. A conversion that changed nothing runs no inference.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { fidelityOf, runModel, type Fidelity, type ModelRun } from '../eval/fidelity.js';
import { randomInputs, type InputSet } from '../eval/inputs.js';
import type { IntegerInputMeaning } from '../eval/integer-inputs.js';
import { nodeBackend } from '../runtime/node-backend.js';
import type { ConvertOutcome } from './convert-model.js';

/** One input by default: the check proves the model loads and computes, its cost must not scale with resolution × count. */
export const DEFAULT_CHECK_COUNT = 1;
const CHECK_SEED = 1;

/** The check's figures, or why it did not run. */
export type ConvertCheck =
  | (Fidelity & { readonly inputs: string; readonly seconds: number; readonly sessions: number })
  | { readonly skipped: string };

/** Whether the converted model can differ from the original (a pure re-save cannot). */
export function conversionChangedModel(outcome: ConvertOutcome): boolean {
  return outcome.converted.length > 0 || outcome.fusion.fused.length > 0 || outcome.calibration !== undefined || outcome.inlined;
}

/** Why the check will not run (`count` 0, or nothing to compare), or undefined when it will. */
export function checkSkipReason(outcome: ConvertOutcome, count: number): string | undefined {
  if (count === 0) return 'not run (--no-check)';
  if (!conversionChangedModel(outcome)) return 'not needed: nothing changed, the model is written as it was read';
  return undefined;
}

/**
 * A full garbage collection now. V8 would collect the converted model's buffers only under its own heap
 * pressure, which onnxruntime's native allocations do not create; the check would then hold a session
 * and the model (the size of the file) at once. --expose-gc, set at run time, gives the collector's entry.
 * Dropping the references alone is not enough (measured with `npx tsx bench/convert.ts --models b16-224
 * --steps check`: peak RSS 1018–1030 MiB without this call, 695–700 MiB with it); Node 20 has no
 * ArrayBuffer.transfer to free the buffers otherwise, and vm.measureMemory's eager GC warns on stderr.
 */
export function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

async function runFile(path: string, label: string, inputs: InputSet): Promise<ModelRun> {
  const session = await nodeBackend.createSession(path, { label });
  try {
    return await runModel(session, inputs);
  } finally {
    await session.release();
  }
}

/** Runs the original and the converted file (in that order, one session at a time) on `count` random inputs. */
export async function checkConversion(original: { path: string; label: string }, converted: { path: string; label: string }, count: number,
  meanings: Readonly<Record<string, IntegerInputMeaning>> = {}): Promise<ConvertCheck> {
  const started = performance.now();
  const inputs = randomInputs(count, CHECK_SEED, {}, meanings);
  const before = await runFile(original.path, original.label, inputs);
  const after = await runFile(converted.path, converted.label, inputs);
  return { inputs: inputs.description, ...fidelityOf(before, after), seconds: (performance.now() - started) / 1000, sessions: 2 };
}
