/**
 * Writing fitted coefficients into a converted model the way the custom-op schema says: as the fused
 * nodes' optional inputs (HydraAttention `scale` [D]; LinearAngularAttention `value_weight` and
 * `angular_weight` [H]), float32 initializers, one per node. A function body is specialised for the
 * optional inputs its call sites wire, so the nodes get the body generated with those inputs
 * (a new overload when other call sites keep the plain one), and bodies no node calls any more go.
 */
import { opFunction, opFunctionKey, VITLIN_DOMAIN, type VitlinElemType } from '../../custom-ops/index.js';
import { InvalidArgumentError } from '../../graph-rewrite/errors.js';
import type { Model } from '../../graph-rewrite/ir/model.js';
import type { Node } from '../../graph-rewrite/ir/node.js';
import { Tensor } from '../../graph-rewrite/ir/tensor.js';
import { ensureModelFunction, FUNCTION_KEY_METADATA } from '../../graph-rewrite/rewrite/model-functions.js';

/** Coefficients for one fused node. */
export type BlockCoefficients =
  | { readonly kind: 'hydra'; readonly scale: Float32Array }
  | { readonly kind: 'linear-angular'; readonly valueWeight: Float32Array; readonly angularWeight: Float32Array };

/** The element type a node's current function body was generated for (from its key, e.g. `…|float16|…`). */
function elemTypeOf(model: Model, node: Node): VitlinElemType {
  const fn = model.findFunction(node.domain, node.opType, node.overload);
  const key = fn?.metadataProps.get(FUNCTION_KEY_METADATA) ?? '';
  return key.split('|').includes('float16') ? 'float16' : 'float';
}

/**
 * Sets the coefficients of each node (`coefficients[i]` for `nodes[i]`; undefined leaves a node as it
 * is). Modifies `model` in place.
 */
export function applyCoefficients(model: Model, nodes: readonly Node[], coefficients: readonly (BlockCoefficients | undefined)[]): void {
  const opset = model.opsetImports.get('') ?? model.opsetImports.get('ai.onnx');
  if (opset === undefined) throw new InvalidArgumentError(`the model imports no default-domain opset`);
  const pending: { node: Node; specialise: (overload: string | undefined) => { key: string; build: () => ReturnType<typeof opFunction> } }[] = [];
  nodes.forEach((node, i) => {
    const c = coefficients[i];
    if (!c) return;
    const elemType = elemTypeOf(model, node);
    const prefix = node.name ?? `${node.opType}_${i}`;
    const init = (data: Float32Array, what: string) =>
      model.graph.addInitializer(Tensor.fromFloat32Array(data, [data.length]), model.graph.nameAllocator.freshValueName(`${prefix}/${what}`));
    if (c.kind === 'hydra') {
      if (node.opType !== 'HydraAttention') throw new InvalidArgumentError(`calibration: Hydra coefficients for ${node.label}, a ${node.opType}`);
      const options = { opset, elemType, attributes: { eps: node.getFloat('eps') }, optionalInputs: ['scale' as const] };
      while (node.inputs.length < 4) node.appendInput(undefined);
      node.replaceInput(3, init(c.scale, 'calibration_scale'));
      pending.push({ node, specialise: (overload) => ({
        key: opFunctionKey('HydraAttention', options),
        build: () => opFunction('HydraAttention', { ...options, ...(overload ? { overload } : {}) }),
      }) });
    } else {
      if (node.opType !== 'LinearAngularAttention') throw new InvalidArgumentError(`calibration: linear-angular coefficients for ${node.label}, a ${node.opType}`);
      const attributes = { num_heads: node.getInt('num_heads'), mode: node.getString('mode') as 'reference' | 'kernel_normalized', eps: node.getFloat('eps') };
      const options = { opset, elemType, attributes, optionalInputs: ['value_weight' as const, 'angular_weight' as const] };
      while (node.inputs.length < 5) node.appendInput(undefined);
      node.replaceInput(3, init(c.valueWeight, 'calibration_value_weight'));
      node.replaceInput(4, init(c.angularWeight, 'calibration_angular_weight'));
      pending.push({ node, specialise: (overload) => ({
        key: opFunctionKey('LinearAngularAttention', options),
        build: () => opFunction('LinearAngularAttention', { ...options, ...(overload ? { overload } : {}) }),
      }) });
    }
  });
  // Drop the bodies only calibrated nodes called, so the calibrated ones can take their place (no needless overloads).
  const calibrated = new Set(pending.map((p) => p.node));
  const stillCalled = new Set(model.graph.nodes.filter((n) => !calibrated.has(n)).map((n) => `${n.domain}::${n.opType}:${n.overload ?? ''}`));
  model.functions = model.functions.filter((f) => f.domain !== VITLIN_DOMAIN || stillCalled.has(`${f.domain}::${f.name}:${f.overload ?? ''}`));
  for (const { node, specialise } of pending) {
    const { key } = specialise(undefined);
    node.overload = ensureModelFunction(model, VITLIN_DOMAIN, node.opType, key, (overload) => specialise(overload).build());
  }
}
