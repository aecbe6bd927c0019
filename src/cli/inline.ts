/**
 * `--inline-functions`: replaces each vitlin fused node with its function body (plain standard ONNX),
 * for runtimes that do not read model-local functions. onnxruntime inlines them itself at load time.
 */
import type { Model } from '../../graph-rewrite/ir/model.js';
import { inlineFunctions } from '../../graph-rewrite/passes/inline-functions.js';

/** A copy of `model` with every model-local function call inlined (see graph-rewrite/passes/inline-functions.ts). */
export async function inlineModelFunctions(model: Model): Promise<Model> {
  return inlineFunctions(model);
}
