/**
 * The contract of a pass (after onnx-ir's PassBase): a pass says whether it edits the model it is given
 * (`inPlace`) or returns a new one, and reports whether it changed anything (`modified`). `sequential`
 * runs passes in order as one pass. The post-rewrite cleanup is such a list (CLEANUP_PASSES), which a
 * caller may replace, e.g. `convertAttention(model, { attention, cleanup: [] })`.
 */
import type { Model } from '../ir/model.js';
import { cancelLayoutOps } from './cancel-layout-ops.js';
import { inlineFunctions } from './inline-functions.js';
import { removeDeadNodes } from './remove-dead-nodes.js';
import { removeUnusedInitializers } from './remove-unused-initializers.js';

export interface PassResult {
  /** The model after the pass: the same object for an in-place pass, a new one for a functional pass. */
  readonly model: Model;
  /** Whether the pass changed anything. */
  readonly modified: boolean;
}

export interface Pass {
  readonly name: string;
  /** True: the pass edits its input and returns it; false: the input is left as it was. */
  readonly inPlace: boolean;
  run(model: Model): PassResult;
}

/** A pass that runs `passes` in order; in place when every one of them is. */
export function sequential(name: string, passes: readonly Pass[]): Pass {
  return {
    name,
    inPlace: passes.every((p) => p.inPlace),
    run(model) {
      let current = model;
      let modified = false;
      for (const pass of passes) {
        const result = pass.run(current);
        current = result.model;
        modified ||= result.modified;
      }
      return { model: current, modified };
    },
  };
}

/** Moves Transposes through ops that commute with them and composes them away (in place). */
export const cancelLayoutOpsPass: Pass = {
  name: 'cancel-layout-ops', inPlace: true, run: (model) => ({ model, modified: cancelLayoutOps(model.graph) > 0 }),
};

/** Removes nodes whose outputs nothing reads (in place). */
export const removeDeadNodesPass: Pass = {
  name: 'remove-dead-nodes', inPlace: true, run: (model) => ({ model, modified: removeDeadNodes(model.graph) > 0 }),
};

/** Removes initializers nothing reads (in place). */
export const removeUnusedInitializersPass: Pass = {
  name: 'remove-unused-initializers', inPlace: true, run: (model) => ({ model, modified: removeUnusedInitializers(model.graph) > 0 }),
};

/** Replaces every model-local function call by its body (functional: returns a copy). */
export const inlineFunctionsPass: Pass = {
  name: 'inline-functions', inPlace: false, run: (model) => {
    const inlined = inlineFunctions(model);
    return { model: inlined, modified: inlined.graph.nodes.length !== model.graph.nodes.length || inlined.functions.length !== model.functions.length };
  },
};

/** What a conversion runs on its copy after the blocks are rewritten, in order (before the final sort and validation). */
export const CLEANUP_PASSES: readonly Pass[] = [cancelLayoutOpsPass];
