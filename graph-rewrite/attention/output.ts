/**
 * Following an attention block's output forward — from weights·v, heads still split — through
 * data-movement ops to the value where the heads are merged back ([B, N, H·d], [N·B, H·d], …).
 * That value's readers will read the fused op's output instead.
 */

import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import { formatRoles, mergedHeadsOrder, roleLayout, type BlockSizes, type Role } from '../analysis/head-layout.js';
import { LayoutError, type Atom } from '../analysis/layout.js';
import { describeNode, type MatchContext } from '../rewrite/match-context.js';
import type { OutputTarget } from './types.js';

const FORWARD_OPS = new Set(['Transpose', 'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Identity', 'Cast', 'Dropout']);

/**
 * Walks down from `value` (whose axes have the roles `axes`) to where its heads are merged; binds the
 * nodes on the way. Fails naming the node that is reached before the heads are merged.
 */
export function traceOutput(m: MatchContext, value: Value, axes: readonly (readonly Role[])[], sizes: BlockSizes, what: string): OutputTarget {
  let layout: ReturnType<typeof roleLayout>['layout'];
  let atoms: Record<Role, Atom>;
  try {
    ({ layout, atoms } = roleLayout(axes, sizes));
  } catch (error) {
    if (!(error instanceof LayoutError)) throw error;
    m.fail(`${what}: ${error.message}`, value.producer());
  }
  let current = value;
  while (mergedHeadsOrder(layout, atoms) === undefined) {
    const consumer = m.soleConsumer(current, what, current.producer());
    const rolesNow = formatRoles(layout.axes.map((group) => group.map((atom) => roleName(atom, atoms))));
    m.ensure(consumer.domain === '' && FORWARD_OPS.has(consumer.opType), () => stopReason(m, consumer, current, `${what} (heads split, ${rolesNow})`), consumer);
    try {
      if (consumer.opType === 'Transpose') {
        const rank = layout.rank;
        layout.transpose(consumer.getInts('perm', Array.from({ length: rank }, (_, i) => rank - 1 - i)));
      } else if (consumer.opType !== 'Identity' && consumer.opType !== 'Cast' && consumer.opType !== 'Dropout') {
        const shape = m.shapeOf(consumer.outputs[0]);
        m.ensure(shape !== undefined, () => `${what}: the shape after ${describeNode(consumer)} is not known`, consumer);
        layout.reshape(shape);
      }
    } catch (error) {
      if (!(error instanceof LayoutError)) throw error;
      m.fail(`${what}: ${describeNode(consumer)} ${error.message}`, consumer);
    }
    m.bind(consumer, 'output chain');
    current = consumer.outputs[0]!;
  }
  const shape = m.shapeOf(current);
  m.ensure(shape !== undefined, () => `${what}: the shape of ${current.label} is not known`, current.producer());
  return {
    value: current,
    axes: layout.axes.map((group) => group.map((atom) => roleName(atom, atoms)).filter((role, i, list) => i === 0 || list[i - 1] !== role)),
    shape,
    elemType: m.elemTypeOf(current),
  };
}

/** The constant scalar `mul` multiplies `value` by (read through Identity nodes), if it is one. */
function constantFactor(m: MatchContext, mul: Node, value: Value): number | undefined {
  if (mul.domain !== '' || mul.opType !== 'Mul' || mul.inputs.length !== 2) return undefined;
  let factor = mul.inputs[mul.inputs[0] === value ? 1 : 0];
  for (let node = factor?.producer(); node?.domain === '' && node.opType === 'Identity'; node = factor?.producer()) factor = node.inputs[0];
  return m.scalar(factor);
}

/** Why the walk stops at `consumer`: a constant gate is named as one (a 0 gate switches the branch off). */
function stopReason(m: MatchContext, consumer: Node, value: Value, what: string): string {
  const gate = constantFactor(m, consumer, value);
  if (gate === 0) {
    return `${what} is multiplied by a constant-0 gate (${describeNode(consumer)}): a switched-off branch that adds nothing to the output, `
      + `not an attention block of its own (Castling's training form: exact fusion drops it when the linear-angular block it is added to fuses)`;
  }
  if (gate !== undefined) return `${what} is multiplied by the constant gate ${gate} (${describeNode(consumer)}) before its heads are merged`;
  return `${what} goes to ${describeNode(consumer)} before its heads are merged`;
}

function roleName(atom: Atom, atoms: Record<Role, Atom>): Role {
  return (Object.keys(atoms) as Role[]).find((role) => atoms[role] === atom.origin) ?? 'd';
}
