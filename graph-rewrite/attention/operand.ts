/**
 * Tracing an operand of the attention MatMuls (q, kᵀ or v) back to the projection it is a view of.
 * The walk goes up through data-movement ops (Reshape, Transpose, Split, Slice, Gather, Squeeze, …),
 * value-neutral ops (Cast, Identity) and scalar scales (Mul / Div by a constant, on q and k only), to
 * the first other producer: the *source*. The chain is then replayed on the layout algebra, and the
 * operand's layout is read as heads of the source (analysis/head-layout.ts). Finally the earliest
 * value of the chain that holds this operand as [B, N, D] is chosen for the fused op (reusing HF's
 * separate projections, torch's sliced in_proj, …), or the packed source with a part to slice.
 */

import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import type { Dim } from '../analysis/dims.js';
import { describeHeadView, type HeadView, type OperandKind } from '../analysis/head-layout.js';
import { Layout, LayoutError, type Atom } from '../analysis/layout.js';
import { slicedLength } from '../analysis/shape-rules-data.js';
import { describeNode, type MatchContext } from '../rewrite/match-context.js';
import type { AttentionMatch, OperandView } from './types.js';

/** A scalar factor on the way to the scores. */
export interface ScaleFactor {
  readonly node: Node;
  readonly op: 'Mul' | 'Div';
  /** What the scores are multiplied by. */
  readonly factor: number;
  readonly on: 'scores' | 'q' | 'k';
  /** On q or k: applied after the heads were split (false: on the projection itself). */
  readonly afterHeadSplit: boolean;
}

export interface OperandTrace {
  readonly view: HeadView;
  /** Where the fused op reads this operand as [B, N, D]. */
  readonly operand: OperandView;
  readonly scales: readonly ScaleFactor[];
  /** The value the walk stopped at (the projection). */
  readonly source: Value;
  /** Set when the source is a per-head transform of the projection (rotary embeddings): what it is. */
  readonly perHead?: string;
}

/** One op of the chain: how it transforms the layout, and a scale factor if it is one. */
interface Step {
  readonly node: Node;
  readonly output: Value;
  readonly apply?: (layout: Layout) => void;
  readonly scale?: { readonly op: 'Mul' | 'Div'; readonly factor: number };
}

const RESHAPING_OPS = new Set(['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze']);

/** The step for `node` producing `value`, or undefined when the walk stops there. */
function stepOf(m: MatchContext, node: Node, value: Value, kind: OperandKind, what: string): { step: Step; input: Value } | undefined {
  const input = node.inputs[0]!;
  if (node.domain !== '') return undefined;
  if (node.opType === 'Identity' || node.opType === 'Cast' || node.opType === 'Dropout') return { step: { node, output: value }, input };
  if (RESHAPING_OPS.has(node.opType)) {
    const shape = m.shapeOf(value);
    m.ensure(shape !== undefined && shape.every((dim) => dim !== undefined), () => `${what}: the shape after ${describeNode(node)} is not known`, node);
    return { step: { node, output: value, apply: (layout) => layout.reshape(shape) }, input };
  }
  if (node.opType === 'Transpose') {
    const rank = m.shapeOf(input)?.length ?? 0;
    const perm = node.getInts('perm', Array.from({ length: rank }, (_, i) => rank - 1 - i));
    return { step: { node, output: value, apply: (layout) => layout.transpose(perm) }, input };
  }
  if (node.opType === 'Split' || node.opType === 'Slice' || node.opType === 'Gather') {
    return { step: { node, output: value, apply: selection(m, node, value, what) }, input };
  }
  if ((node.opType === 'Mul' || node.opType === 'Div') && kind !== 'v') {
    const constantAt = node.opType === 'Div' ? [1] : [1, 0];
    for (const at of constantAt) {
      const factor = m.scalar(node.inputs[at]);
      if (factor === undefined) continue;
      const op = node.opType;
      return { step: { node, output: value, scale: { op, factor: op === 'Div' ? 1 / factor : factor } }, input: node.inputs[1 - at]! };
    }
  }
  return undefined;
}

/** The layout effect of a Split / Slice / Gather that picks one part of its input. */
function selection(m: MatchContext, node: Node, value: Value, what: string): (layout: Layout) => void {
  const input = m.shapeOf(node.inputs[0]);
  const rank = input?.length ?? 0;
  const axisOf = (axis: number): number => (axis < 0 ? axis + rank : axis);
  if (node.opType === 'Split') {
    const axis = axisOf(node.getInt('axis', 0));
    const sizes = node.outputs.map((output) => m.shapeOf(output)?.[axis]);
    const index = value.outputIndex() ?? 0;
    m.ensure(sizes.every((size): size is number => typeof size === 'number'), () => `${what}: the part sizes of ${describeNode(node)} are not known`, node);
    const start = (sizes as number[]).slice(0, index).reduce((a, b) => a + b, 0);
    return (layout) => layout.select(axis, start, sizes[index] as number, true);
  }
  if (node.opType === 'Gather') {
    const indices = m.staticInts(node.inputs[1]);
    const indexRank = m.shapeOf(node.inputs[1])?.length;
    const axis = axisOf(node.getInt('axis', 0));
    const dim = input?.[axis];
    m.ensure(indices?.length === 1 && typeof dim === 'number' && indexRank !== undefined && indexRank <= 1,
      () => `${what}: ${describeNode(node)} does not pick one constant index`, node);
    const index = indices[0]! < 0 ? indices[0]! + dim : indices[0]!;
    return (layout) => layout.select(axis, index, 1, indexRank === 1);
  }
  const starts = m.staticInts(node.inputs[1]);
  const ends = m.staticInts(node.inputs[2]);
  const axes = node.inputs[3] === undefined ? starts?.map((_, i) => i) : m.staticInts(node.inputs[3]);
  const steps = node.inputs[4] === undefined ? starts?.map(() => 1) : m.staticInts(node.inputs[4]);
  m.ensure(starts !== undefined && ends !== undefined && axes !== undefined && steps !== undefined && steps.every((s) => s === 1) && input !== undefined,
    () => `${what}: the bounds of ${describeNode(node)} are not constant, or it has a step`, node);
  const picks = axes.map((axis, i) => {
    const a = axisOf(axis);
    const dim = input[a];
    const length = slicedLength(dim, starts[i]!, ends[i]!, 1);
    const start = typeof dim === 'number' ? Math.min(Math.max(starts[i]! < 0 ? starts[i]! + dim : starts[i]!, 0), dim) : starts[i]!;
    m.ensure(typeof length === 'number', () => `${what}: the length taken by ${describeNode(node)} is not known`, node);
    return { axis: a, start, length };
  });
  return (layout) => picks.forEach((pick) => layout.select(pick.axis, pick.start, pick.length, true));
}

/**
 * Traces `value` — input `kind` of an attention MatMul — to its projection and reads it as heads.
 * Binds the chain's nodes on `m`; fails with a message naming the node where reading broke down.
 */
export function traceOperand(m: MatchContext, value: Value, kind: OperandKind, what: string, near: Node): OperandTrace {
  const steps: Step[] = [];
  let current = value;
  for (let node = current.producer(); node !== undefined && node.graph === m.graph; node = current.producer()) {
    const found = stepOf(m, node, current, kind, what);
    if (found === undefined) break;
    m.bind(node, `${what} chain`);
    steps.push(found.step);
    current = found.input;
  }
  const source = current;
  const sourceShape = m.shapeOf(source);
  m.ensure(sourceShape !== undefined && sourceShape.every((dim) => dim !== undefined),
    () => `${what}: the shape of its source (${source.label}) is not known`, source.producer() ?? near);
  const layout = Layout.ofSource(sourceShape);
  const snapshots: { value: Value; axes: Atom[][]; step?: Step }[] = [{ value: source, axes: layout.axes.map((a) => [...a]) }];
  for (const step of [...steps].reverse()) {
    try {
      step.apply?.(layout);
    } catch (error) {
      if (!(error instanceof LayoutError)) throw error;
      m.fail(`${what}: ${describeNode(step.node)} ${error.message}`, step.node);
    }
    snapshots.push({ value: step.output, axes: layout.axes.map((a) => [...a]), step });
  }
  let view: HeadView;
  try {
    view = describeHeadView(layout, kind);
  } catch (error) {
    if (!(error instanceof LayoutError)) throw error;
    const perHead = perHeadOperand(m, source, sourceShape, layout, kind, steps);
    if (perHead !== undefined) return perHead;
    const last = steps[0]?.node ?? near;
    m.fail(`${what} (${m.describeType(value)}) is not a head split of a projection: ${error.message}`, last);
  }
  const atoms = rolesOfSource(layout, view);
  const scales: ScaleFactor[] = [];
  snapshots.forEach((snapshot, i) => {
    if (snapshot.step?.scale === undefined) return;
    const before = snapshots[i - 1]!.axes;
    scales.push({ node: snapshot.step.node, ...snapshot.step.scale, on: kind === 'q' ? 'q' : 'k', afterHeadSplit: !holdsWholeFeatures(before, atoms) });
  });
  const candidate = snapshots.map((snapshot) => asOperandView(snapshot.value, snapshot.axes, atoms)).find((found) => found !== undefined);
  const operand: OperandView = candidate ?? {
    value: source,
    batchAxis: view.sourceAxes.batch,
    tokensAxis: view.sourceAxes.tokens,
    packed: view.packed,
  };
  return { view, operand, scales, source };
}

/**
 * An operand whose chain starts at a 4-D per-head tensor [B, H, N, d] rather than at a projection: q and k
 * transformed per head between the projection and the scores (EVA-02's rotary embeddings: Slice, Mul by
 * cos / sin, Neg, Concat). The attention is computed on exactly these values, so the fused op receives
 * them, heads merged back. Readable when the chain only moves whole axes (kᵀ: the last two swapped); the caller
 * checks that heads and head dim line up with v's.
 */
function perHeadOperand(m: MatchContext, source: Value, shape: readonly Dim[], layout: Layout, kind: OperandKind, steps: readonly Step[]): OperandTrace | undefined {
  if (shape.length !== 4) return undefined;
  // Each axis must be one whole source axis (a size-1 axis has no atom): the chain only moved axes around.
  const whole = (atoms: readonly Atom[]) => atoms.length === 0 || (atoms.length === 1 && atoms[0]!.root === undefined && atoms[0]!.children === undefined && atoms[0]!.selection === undefined);
  if (!layout.axes.every(whole)) return undefined;
  const order = layout.axes.map((atoms) => (atoms.length === 1 ? layout.sourceAxes.indexOf(atoms[0]!) : -1));
  const expected = kind === 'kT' ? [0, 1, 3, 2] : [0, 1, 2, 3];
  // Size-1 axes carry no atom: compare only the axes that have one.
  if (order.length !== 4 || order.some((axis, i) => axis !== -1 && axis !== expected[i]) || shape.slice(0, 4).some((dim, i) => dim !== 1 && order[expected.indexOf(i)] === -1)) return undefined;
  const [batch, heads, tokens, headDim] = shape as [Dim, Dim, Dim, Dim];
  if (typeof heads !== 'number' || typeof headDim !== 'number') return undefined;
  const axes = [batch === 1 ? [] : ['B' as const], heads === 1 ? [] : ['H' as const], ...(kind === 'kT' ? [['d' as const], ['N' as const]] : [['N' as const], ['d' as const]])];
  const view: HeadView = { axes, heads, headDim, tokens, batch, sourceAxes: { batch: 0, tokens: 2, features: 3 }, packed: undefined };
  const scales = steps.filter((step) => step.scale !== undefined)
    .map((step) => ({ node: step.node, ...step.scale!, on: kind === 'q' ? 'q' as const : 'k' as const, afterHeadSplit: true }));
  return { view, operand: { value: source, batchAxis: 0, tokensAxis: 2, headsAxis: 1, packed: undefined }, scales, source, perHead: perHeadTransform(source) };
}

/** What a per-head operand's producer looks like, for notes: rotary embeddings rotate half of d with Neg. */
function perHeadTransform(source: Value): string {
  const ops = new Set<string>();
  const pending = [source];
  for (let i = 0; i < 40 && pending.length > 0; i++) {
    const node = pending.pop()!.producer();
    if (node === undefined || node.opType === 'MatMul' || node.opType === 'Gemm') continue;
    ops.add(node.opType);
    pending.push(...node.inputs.filter((input): input is Value => input !== undefined && !input.isInitializer()));
  }
  const rotary = ops.has('Neg') && ops.has('Mul') && (ops.has('Concat') || ops.has('Add'));
  return `${rotary ? 'a rotary position embedding' : 'a per-head transform'} (${describeNode(source.producer()!)})`;
}

/** Notes for q, k read as per-head transforms (rotary) of their projections. */
export function perHeadNotes(q: OperandTrace, k: OperandTrace): string[] {
  return ([['q', q], ['k', k]] as const).filter(([, trace]) => trace.perHead !== undefined)
    .map(([name, trace]) => `${name} is ${trace.perHead} of its projection; the fused op receives it as the scores do`);
}

/** The source atoms in their roles, and the feature leaves this operand keeps (heads then head dim). */
interface SourceRoles {
  readonly batch: Atom | undefined;
  readonly tokens: Atom;
  readonly features: Atom;
  readonly kept: readonly Atom[];
}

function rolesOfSource(layout: Layout, view: HeadView): SourceRoles {
  const source = layout.sourceAxes;
  const features = source[view.sourceAxes.features]!;
  return {
    batch: view.sourceAxes.batch === undefined ? undefined : source[view.sourceAxes.batch],
    tokens: source[view.sourceAxes.tokens]!,
    features,
    kept: features.leaves().filter((leaf) => leaf.selection === undefined),
  };
}

function leavesOf(atoms: readonly Atom[]): Atom[] {
  return atoms.flatMap((atom) => atom.leaves());
}

/** Whether the last axis of a layout snapshot still holds all the features this operand keeps (heads not split off). */
function holdsWholeFeatures(axes: readonly (readonly Atom[])[], roles: SourceRoles): boolean {
  const last = leavesOf(axes[axes.length - 1] ?? []);
  return roles.kept.every((leaf) => last.includes(leaf));
}

/** The snapshot as [B, N, D] / [N, B, D] / [N, D] of exactly this operand's features, or undefined. */
function asOperandView(value: Value, axes: readonly (readonly Atom[])[], roles: SourceRoles): OperandView | undefined {
  if (axes.length !== 2 && axes.length !== 3) return undefined;
  const last = leavesOf(axes[axes.length - 1]!);
  if (last.length !== roles.kept.length || last.some((leaf, i) => leaf !== roles.kept[i])) return undefined;
  const leading = axes.slice(0, -1);
  const tokensAxis = leading.findIndex((atoms) => atoms.length === 1 && atoms[0] === roles.tokens);
  if (tokensAxis < 0) return undefined;
  const rest = leading.map((_, i) => i).filter((i) => i !== tokensAxis);
  if (rest.length === 0) return roles.batch === undefined || roles.batch.size === 1 ? { value, batchAxis: undefined, tokensAxis, packed: undefined } : undefined;
  const batchAxis = rest[0]!;
  const atoms = leading[batchAxis]!;
  const isBatch = atoms.length === 0 || (atoms.length === 1 && atoms[0] === roles.batch);
  return isBatch ? { value, batchAxis, tokensAxis, packed: undefined } : undefined;
}

/** A match's operands and sizes read from its traced q, k, v: heads, head dim, tokens and batch are q's; key tokens are k's. */
export function tracedOperands(q: OperandTrace, k: OperandTrace, v: OperandTrace): Pick<AttentionMatch, 'q' | 'k' | 'v' | 'heads' | 'headDim' | 'tokens' | 'keyTokens' | 'batch'> {
  return {
    q: q.operand,
    k: k.operand,
    v: v.operand,
    heads: q.view.heads,
    headDim: q.view.headDim,
    tokens: q.view.tokens,
    keyTokens: k.view.tokens,
    batch: q.view.batch,
  };
}

/**
 * The block's interior: the nodes `m` bound, but not the operand chains (`q chain`, … — views of the
 * projections that other readers may share), the output chain excepted; nodes bound under a role in
 * `kept` stay the model's too.
 */
export function interiorNodes(m: MatchContext, kept: ReadonlySet<string> = new Set()): Node[] {
  return [...m.bound].filter(([, role]) => (!role.endsWith(' chain') || role === 'output chain') && !kept.has(role)).map(([node]) => node);
}
