/**
 * The planner's fidelity evaluator on onnxruntime (graph-rewrite/plan/evaluator.ts): runs a model on an
 * input set in a fresh session and compares runs with fidelityOf (labels included).
 */
import type { FidelityEvaluator } from '../../graph-rewrite/plan/evaluator.js';
import type { Model } from '../../graph-rewrite/ir/model.js';
import { modelToBytes } from '../model-io.js';
import { createSession, type ExecutionProvider } from '../runtime/session.js';
import { fidelityOf, runModel, type ModelRun } from './fidelity.js';
import type { InputSet } from './inputs.js';

export function ortEvaluator(inputs: InputSet, ep?: ExecutionProvider): FidelityEvaluator<ModelRun> {
  return {
    description: inputs.description,
    count: inputs.count,
    async run(model: Model, label: string): Promise<ModelRun> {
      const session = await createSession(modelToBytes(model), { ep }, label);
      try {
        return await runModel(session, inputs);
      } finally {
        await session.release();
      }
    },
    compare: (reference, candidate) => fidelityOf(reference, candidate, inputs.labels),
  };
}
