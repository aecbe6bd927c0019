/**
 * The planner's fidelity evaluator (graph-rewrite/plan/evaluator.ts) on any runtime backend: runs a
 * model on an input set in a fresh session and compares runs with fidelityOf (labels included).
 */
import type { FidelityEvaluator } from '../../graph-rewrite/plan/evaluator.js';
import type { Model } from '../../graph-rewrite/ir/model.js';
import { modelToBytes } from '../model-bytes.js';
import type { Backend, BackendSession } from '../runtime/backend.js';
import { fidelityOf, runModel, type ModelRun } from './fidelity.js';
import type { InputSet } from './inputs.js';

/** Where calibration and evaluation run models: a backend and one of its execution providers. */
export interface RunTarget {
  readonly backend: Backend;
  /** One of `backend.eps`; default the backend's first. */
  readonly ep?: string;
}

/** A session of `model` on `target` (the caller releases it); `label` names it in errors. */
export function openSession(target: RunTarget, model: Model, label: string): Promise<BackendSession> {
  return target.backend.createSession(modelToBytes(model), { ...(target.ep ? { ep: target.ep } : {}), label });
}

/** Runs `model` on every item of `inputs` in a fresh session of `target`, released afterwards. */
export async function runOn(target: RunTarget, model: Model, inputs: InputSet, label: string, options: { maxBatch?: number } = {}): Promise<ModelRun> {
  const session = await openSession(target, model, label);
  try {
    return await runModel(session, inputs, options);
  } finally {
    await session.release();
  }
}

export function backendEvaluator(inputs: InputSet, target: RunTarget): FidelityEvaluator<ModelRun> {
  return {
    description: inputs.description,
    count: inputs.count,
    run: (model: Model, label: string) => runOn(target, model, inputs, label),
    compare: (reference, candidate) => fidelityOf(reference, candidate, inputs.labels),
  };
}
