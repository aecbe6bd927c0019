/**
 * The check shared by the exact-fusion rules: the conditions under which the fused op computes what
 * the decomposed block computes. Each failure is a reason users read, naming the node it is about.
 *
 * eps. The fused ops normalise as x / max(‖x‖₂, eps) with one eps for all their normalisations.
 * - Every normalisation clamps with the same eps (F.normalize: Clip(min = eps)) → that eps: exact.
 * - None has a guard (x / ‖x‖, Hydra's reference code) → eps = {@link NO_GUARD_EPS} = 2⁻¹²⁶, the
 *   smallest normal float32: max(‖x‖, 2⁻¹²⁶) = ‖x‖ whenever an element of x has magnitude ≥ 2⁻¹²⁶
 *   (every real activation). Only an x that is zero (x / ‖x‖ is NaN there; the fused op gives 0) or
 *   entirely subnormal can come out differently. eps must be > 0, so no eps is closer to "none".
 * - Guards that differ (1e-12 on q, none on k), or ‖x‖ + eps (not a clamp): refused.
 */

import { DataType, dataTypeName } from '../ir/dtypes.js';
import type { Node } from '../ir/node.js';
import { describeNode, type MatchContext } from '../rewrite/match-context.js';
import { outputArrangement } from '../attention/emit.js';
import { MAX_SUPPORTED_MODEL_OPSET, MIN_SUPPORTED_MODEL_OPSET } from '../../custom-ops/index.js';
import type { EpsForm, ExactAttentionMatch, ExactCondition, L2Normalization } from './types.js';

/** eps given to the fused op for a model whose normalisations have no guard (see the file comment). */
export const NO_GUARD_EPS = 2 ** -126;

const SUPPORTED_TYPES: ReadonlySet<number> = new Set([DataType.FLOAT, DataType.FLOAT16]);

function describeEps(eps: EpsForm): string {
  if (eps.kind === 'none') return 'no guard (x / ‖x‖)';
  return eps.kind === 'clamp' ? `max(‖x‖, ${eps.value})` : `‖x‖ + ${eps.value}`;
}

/** The eps of the fused op for these normalisations, or why there is none that makes the fusion exact. */
export function fusedEps(normalizations: readonly L2Normalization[]): { eps: number } | { reason: string; node?: Node } {
  const added = normalizations.find((n) => n.eps.kind === 'add');
  if (added !== undefined && added.eps.kind === 'add') {
    return {
      reason: `${added.what} divides by ‖x‖ + ${added.eps.value} (${describeNode(added.eps.node)}); the fused op clamps max(‖x‖, eps) instead, which differs for every input`,
      node: added.eps.node,
    };
  }
  const clamps = new Set(normalizations.map((n) => (n.eps.kind === 'clamp' ? Math.fround(n.eps.value) : 0)));
  if (clamps.size > 1) {
    const list = normalizations.map((n) => `${n.what}: ${describeEps(n.eps)}`).join(', ');
    return { reason: `the normalisations guard the norm differently (${list}); the fused op has one eps for all of them`, node: normalizations[0]?.node };
  }
  const [only] = clamps;
  return { eps: only === undefined || only === 0 ? NO_GUARD_EPS : only };
}

/** Conditions on one normalisation: over `axis` of x alone, keeping dims. */
export function normalizationConditions(n: L2Normalization, axis: number, axisName: string): ExactCondition[] {
  const over = n.axes === undefined ? 'all axes' : `axes [${n.axes.join(', ')}]`;
  return [
    { holds: n.rank !== undefined, reason: `the rank of ${n.what}'s input ${n.input.label} is not known`, node: n.node },
    {
      holds: n.axes !== undefined && n.axes.length === 1 && n.axes[0] === axis,
      reason: `${n.what} = x / ‖x‖ normalises over ${over} of its rank-${String(n.rank)} input, not over the ${axisName} (axis ${axis}) alone`,
      node: n.node,
    },
    { holds: n.keepDims, reason: `the norm of ${n.what} drops the reduced axis (keepdims = 0), so the division broadcasts it wrongly`, node: n.node },
    { holds: n.expandsToInput, reason: `the norm of ${n.what} is expanded to a shape not known to be its input's before ${describeNode(n.node)}`, node: n.node },
  ];
}

/**
 * Fails unless every output of the block's interior nodes is read only inside the block (or is the
 * block's output): otherwise the decomposed computation would stay alive beside the fused op.
 */
function checkInterior(m: MatchContext, match: ExactAttentionMatch): void {
  const interior = new Set(match.interior);
  const perHead = match.perHeadOutput;
  const dropped = match.gatedBranches.filter((branch) => perHead !== undefined || branch.afterMerge).map((branch) => branch.sum.outputs[0]!);
  const replaced = new Set([perHead?.value ?? match.output.value, ...dropped]);
  for (const node of match.interior) {
    for (const output of node.outputs) {
      if (replaced.has(output)) continue;
      m.ensure(!output.isGraphOutput(), () => `the block's intermediate ${output.label} (from ${describeNode(node)}) is a graph output; fusing would keep the decomposed block`, node);
      const outside = output.uses().find((use) => !interior.has(use.node));
      m.ensure(outside === undefined,
        () => `the block's intermediate ${output.label} (from ${describeNode(node)}) is also read by ${describeNode(outside!.node)}; fusing would keep the decomposed block`, outside?.node);
    }
  }
}

/** The check of both exact-fusion rules. */
export function checkExactAttention(m: MatchContext, match: ExactAttentionMatch): void {
  for (const branch of match.gatedBranches) {
    const where = `the auxiliary softmax branch (${describeNode(branch.softmax)}) is multiplied by`;
    m.ensure(branch.gate !== undefined, () => `${where} ${branch.gateValue.label} (${describeNode(branch.gateNode)}), which is not a constant scalar; it cannot be dropped`, branch.gateNode);
    m.ensure(branch.gate === 0, () => `${where} the gate ${branch.gate} (${describeNode(branch.gateNode)}), not 0: dropping it would change the output`, branch.gateNode);
  }
  for (const condition of match.conditions) m.ensure(condition.holds, condition.reason, condition.node);
  const eps = fusedEps(match.normalizations);
  if ('reason' in eps) m.fail(eps.reason, eps.node);
  checkInterior(m, match);
  m.ensure(match.elemType !== undefined && SUPPORTED_TYPES.has(match.elemType),
    () => `the attention runs in ${dataTypeName(match.elemType)}; the fused ops support FLOAT and FLOAT16`, match.anchor);
  const opset = m.onnxOpset;
  m.ensure(opset !== undefined && opset >= MIN_SUPPORTED_MODEL_OPSET && opset <= MAX_SUPPORTED_MODEL_OPSET,
    () => `the model's ONNX opset ${String(opset)} is outside the ${MIN_SUPPORTED_MODEL_OPSET}–${MAX_SUPPORTED_MODEL_OPSET} the fused ops' function bodies support`, match.anchor);
  if (match.perHeadOutput !== undefined) return;
  const arrangement = outputArrangement(match);
  if (typeof arrangement === 'string') m.fail(arrangement, match.output.value.producer() ?? match.anchor);
}
