/**
 * Cancels layout ops: moves a Transpose down through ops that commute with it until it meets the
 * Transposes that read its result, where the two compose into one Transpose (or none, when the
 * composition is the identity). torchvision exports attention sequence-first ((N, B, E)), and the
 * attention converter feeds the fused ops [B, N, D] through its own Transposes, so
 * `Transpose(1,0,2) → MatMul(W) → Add(b) → Slice ×3 → Transpose(1,0,2) ×3` is common; this pass
 * removes all four Transposes of that chain.
 *
 * Ops a Transpose(p) crosses (each exactly equal on the transposed data, so outputs are unchanged):
 * - MatMul reading it as input A with a constant 2-D B (constants may sit behind Identity nodes), when p keeps the last axis in place;
 * - Add / Sub / Mul / Div with a constant of rank ≤ 1 as the other operand (a constant of more
 *   than one element only when p keeps the last axis in place);
 * - Slice (opset ≥ 10 form) with constant axes: the axes are mapped through p (a new initializer).
 * Readers a moved Transpose ends at: Transpose (composed), and Shape without start / end (becomes
 * Shape of the untransposed value followed by Gather(p)). A Transpose moves only when every reader
 * along the way is one of these, in the same graph, and no value along the way is a graph output;
 * otherwise nothing changes. The number of Transposes never grows.
 */

import { constantIntsOf, constantTensorOf } from '../analysis/constants.js';
import { Attr } from '../ir/attributes.js';
import type { Graph } from '../ir/graph.js';
import { Node } from '../ir/node.js';
import { Tensor } from '../ir/tensor.js';
import type { Value } from '../ir/value.js';

const ELEMENTWISE_BINARY = new Set(['Add', 'Sub', 'Mul', 'Div']);

/** The constant behind a value, looking through Identity nodes (exporters route shared weights through them). */
function constantBehind(value: Value | undefined): ReturnType<typeof constantTensorOf> {
  for (let depth = 0; depth < 8 && value !== undefined; depth++) {
    const producer = value.producer();
    if (producer === undefined || producer.domain !== '' || producer.opType !== 'Identity') break;
    value = producer.inputs[0];
  }
  return constantTensorOf(value);
}

function isIdentity(perm: readonly number[]): boolean {
  return perm.every((axis, i) => axis === i);
}

/** A Transpose's perm, or undefined when it has none (the default reversal needs the rank) or it is malformed. */
function permOf(node: Node): number[] | undefined {
  if (node.attribute('perm') === undefined) return undefined;
  const perm = node.getInts('perm');
  const seen = new Set(perm);
  if (seen.size !== perm.length || perm.some((axis) => !Number.isInteger(axis) || axis < 0 || axis >= perm.length)) return undefined;
  return perm;
}

function isPlainTranspose(node: Node): boolean {
  return node.domain === '' && node.opType === 'Transpose' && node.inputs.length === 1 && node.inputs[0] !== undefined;
}

/** Transpose(Transpose(x, p), q) = Transpose(x, r) with r[i] = p[q[i]]. */
function compose(p: readonly number[], q: readonly number[]): number[] {
  return q.map((axis) => p[axis]!);
}

/** The shape a value has once the Transpose(p) in front of it is moved after it (inverse of p on its dims). */
function unpermuteType(value: Value, perm: readonly number[]): void {
  const type = value.type;
  if (type === undefined) return;
  if (type.kind !== 'tensor' || type.shape === undefined || type.shape.length !== perm.length) {
    value.type = undefined;
    return;
  }
  const shape = new Array(perm.length);
  perm.forEach((axis, i) => {
    shape[axis] = type.shape![i];
  });
  value.type = { ...type, shape: Object.freeze(shape) } as typeof type;
}

interface Plan {
  /** Transposes reading a moved value, with their composed perms (identity = removed). */
  readonly transposes: { node: Node; perm: number[] }[];
  readonly shapes: Node[];
  /** Crossed ops, in order from the source, with the index of the input that reads the moved value. */
  readonly crossed: { node: Node; index: number }[];
  /** Values that take over the name of a graph output (at most once each). */
  readonly renamed: Set<Value>;
}

/**
 * Whether a Transpose(perm) applied to `value`'s readers can be moved through all of them; fills
 * `plan`. `held` is the value that will hold `value`'s data untransposed. `value` must not be a
 * graph output and every reader must be in `graph`.
 */
function planMove(graph: Graph, value: Value, held: Value, perm: readonly number[], plan: Plan, visited: Set<Node>): boolean {
  if (value.isGraphOutput()) return false;
  const lastKept = perm[perm.length - 1] === perm.length - 1;
  for (const use of value.uses()) {
    const node = use.node;
    if (node.graph !== graph || visited.has(node)) return false;
    visited.add(node);
    if (node.domain !== '') return false;
    if (isPlainTranspose(node)) {
      const q = permOf(node);
      if (q === undefined || q.length !== perm.length) return false;
      const composed = compose(perm, q);
      // A cancelled Transpose's readers take `held` (the untransposed data), which takes over the
      // name of a graph output — only possible for a node output that is not a graph output itself.
      if (isIdentity(composed) && node.outputs[0]!.isGraphOutput()) {
        if (held.producer() === undefined || held.isGraphOutput() || plan.renamed.has(held)) return false;
        plan.renamed.add(held);
      }
      plan.transposes.push({ node, perm: composed });
      continue;
    }
    if (node.opType === 'Shape') {
      if (use.index !== 0 || node.attribute('start') !== undefined || node.attribute('end') !== undefined) return false;
      plan.shapes.push(node);
      continue;
    }
    let crosses = false;
    if (node.opType === 'MatMul' && use.index === 0 && perm.length >= 2 && lastKept) {
      const weight = constantBehind(node.inputs[1]);
      crosses = weight !== undefined && weight.dims.length === 2;
    } else if (ELEMENTWISE_BINARY.has(node.opType) && node.inputs.length === 2) {
      const other = node.inputs[1 - use.index];
      const constant = constantBehind(other);
      crosses = other !== value && constant !== undefined && constant.dims.length <= 1
        && (constant.elementCount <= 1 || lastKept);
    } else if (node.opType === 'Slice' && use.index === 0 && node.attribute('axes') === undefined && node.attribute('starts') === undefined) {
      const axes = constantIntsOf(node.inputs[3]);
      crosses = axes !== undefined && node.inputs.slice(1).every((input) => input !== value)
        && axes.every((axis) => axis >= -perm.length && axis < perm.length);
    }
    if (!crosses || node.outputs.length !== 1) return false;
    plan.crossed.push({ node, index: use.index });
    if (!planMove(graph, node.outputs[0]!, node.outputs[0]!, perm, plan, visited)) return false;
  }
  return true;
}

/**
 * Removes a constant that a rewrite stopped reading, with the Constant / Identity nodes that made it,
 * so the saved model carries no orphans; a constant anything else still reads is kept.
 */
function dropUnusedConstant(graph: Graph, value: Value): void {
  for (let current: Value | undefined = value; current !== undefined;) {
    if (current.hasUses() || current.isGraphOutput() || current.isGraphInput()) return;
    if (current.isInitializer()) {
      if (current.graph === graph) graph.removeInitializer(current);
      return;
    }
    const producer = current.producer();
    if (producer?.graph !== graph || (producer.opType !== 'Constant' && producer.opType !== 'Identity')) return;
    graph.removeNodes(producer);
    current = producer.inputs[0];
  }
}

/** Moves `transpose` down to the Transposes it meets, when {@link planMove} allows; returns whether it did. */
function moveTranspose(graph: Graph, transpose: Node): boolean {
  const perm = permOf(transpose);
  const source = transpose.inputs[0]!;
  const output = transpose.outputs[0]!;
  if (perm === undefined || perm.length === 0 || output.uses().length === 0) return false;
  const plan: Plan = { transposes: [], shapes: [], crossed: [], renamed: new Set() };
  if (!planMove(graph, output, source, perm, plan, new Set([transpose]))) return false;
  // Ops reading the Transpose's output read its source instead; the crossed ops' outputs now hold
  // the untransposed data, which their Transpose / Shape readers account for below.
  for (const use of output.uses()) use.node.replaceInput(use.index, source);
  const removed: Node[] = [transpose];
  for (const { node } of plan.crossed) {
    if (node.opType === 'Slice') {
      const oldAxes = node.inputs[3]!;
      const axes = constantIntsOf(oldAxes)!.map((axis) => perm[axis < 0 ? axis + perm.length : axis]!);
      node.replaceInput(3, graph.addInitializer(Tensor.fromInt64Array(axes, [axes.length]), graph.nameAllocator.freshValueName('slice_axes')));
      dropUnusedConstant(graph, oldAxes);
    }
    unpermuteType(node.outputs[0]!, perm);
  }
  for (const { node, perm: composed } of plan.transposes) {
    if (isIdentity(composed)) {
      node.outputs[0]!.replaceAllUsesWith(node.inputs[0]!);
      removed.push(node);
    } else {
      node.setAttribute(Attr.ints('perm', composed));
    }
  }
  for (const shape of plan.shapes) {
    const indices = graph.addInitializer(Tensor.fromInt64Array(perm, [perm.length]), graph.nameAllocator.freshValueName('shape_perm'));
    const gather = new Node({ opType: 'Gather', inputs: [shape.outputs[0]!, indices], attributes: [Attr.int('axis', 0)] });
    graph.insertAfter(shape, gather);
    gather.outputs[0]!.type = shape.outputs[0]!.type;
    shape.outputs[0]!.replaceAllUsesWith(gather.outputs[0]!, { except: [gather] });
  }
  graph.removeNodes(removed);
  return true;
}

/**
 * Moves Transposes of `graph` (not its subgraphs) down through the ops that commute with them and
 * composes them with the Transposes they meet, removing identity compositions. Returns the number
 * of Transposes removed. Outputs are unchanged (exactly) and the graph's output names are kept.
 */
export function cancelLayoutOps(graph: Graph): number {
  const count = (): number => graph.nodes.filter(isPlainTranspose).length;
  const before = count();
  for (let changed = true; changed;) {
    changed = false;
    for (const node of graph.nodes) {
      if (node.graph === graph && isPlainTranspose(node) && moveTranspose(graph, node)) changed = true;
    }
  }
  return before - count();
}
