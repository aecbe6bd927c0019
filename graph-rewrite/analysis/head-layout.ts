/**
 * The meaning of a layout in an attention block. A q, k or v operand of the attention MatMuls is a view
 * of a projected source tensor — [B, N, F] (HF, timm), [N, B, F] (torch MultiheadAttention), or [N, F]
 * with an implicit batch of 1 — whose feature axis F is [S?, H, d]: an optional packed q/k/v selector S,
 * the heads, and the head dim. The roles come from how the operand is *used*, not from the ops that
 * built it: the MatMul contracts over d, the tokens axis is the one the scores range over, the heads
 * are what remains of F in the batch axes, S is the factor a Split / Gather / Slice picked.
 */

import { productOfDims, type Dim } from './dims.js';
import { Layout, LayoutError, type Atom } from './layout.js';

/** Batch, tokens, heads, head dim. */
export type Role = 'B' | 'N' | 'H' | 'd';

/** How an operand of the attention MatMuls reads its source. */
export interface HeadView {
  /** The roles of each axis of the operand, major → minor (merged axes list several; a size-1 axis none). */
  readonly axes: readonly (readonly Role[])[];
  readonly heads: number;
  readonly headDim: number;
  readonly tokens: Dim;
  /** The batch size (1 when the source has no batch axis or a size-1 one). */
  readonly batch: Dim;
  /** Source axes holding the batch (undefined: none or size 1), the tokens and the features. */
  readonly sourceAxes: { readonly batch: number | undefined; readonly tokens: number; readonly features: number };
  /** For a packed projection (F = [S, H, d]): which part this operand takes, of how many. */
  readonly packed: { readonly part: number; readonly parts: number } | undefined;
}

/** Which of the last two axes of the operand holds the tokens: q and v are [..., N, d], kᵀ is [..., d, N]. */
export type OperandKind = 'q' | 'kT' | 'v';

/** Reads `layout` (of an operand, relative to its source) as a head view, or throws LayoutError saying why not. */
export function describeHeadView(layout: Layout, kind: OperandKind): HeadView {
  const axes = layout.axes;
  if (axes.length < 2) throw new LayoutError(`the operand has rank ${axes.length}; attention needs at least [N, d]`);
  const [rowAxis, colAxis] = [axes[axes.length - 2]!, axes[axes.length - 1]!];
  const [tokenAtoms, dimAtoms] = kind === 'kT' ? [colAxis, rowAxis] : [rowAxis, colAxis];
  const source = layout.sourceAxes;

  if (dimAtoms.length === 0) throw new LayoutError('its head-dim axis has size 1');
  const featureRoot = dimAtoms[0]!.origin;
  const tokensRoot = tokenAtoms.length === 0 ? singleTokenAxis(source, featureRoot, axes.slice(0, -2).flat()) : tokenAtoms[0]!;
  if (tokenAtoms.length > 1 || tokensRoot === undefined || tokensRoot.root !== undefined || tokensRoot.selection !== undefined) {
    throw new LayoutError(`its tokens axis is not one whole axis of the source (it has ${tokenAtoms.length} factor(s))`);
  }
  if (featureRoot === tokensRoot || dimAtoms.some((atom) => atom.origin !== featureRoot)) {
    throw new LayoutError('its head-dim axis mixes factors of different source axes');
  }
  if (featureRoot !== source[source.length - 1]) throw new LayoutError('its head dim does not come from the last (feature) axis of the source');

  const leaves = featureRoot.leaves();
  const selected = leaves.filter((leaf) => leaf.selection !== undefined);
  if (selected.length > 1 || (selected.length === 1 && leaves[0] !== selected[0])) {
    throw new LayoutError('it selects a part of the features that is not the major (q/k/v) factor');
  }
  const unselected = leaves.slice(selected.length);
  const dimStart = unselected.length - dimAtoms.length;
  if (dimStart < 0 || dimAtoms.some((atom, i) => atom !== unselected[dimStart + i])) {
    throw new LayoutError('its head dim is not the minor-most factor of the features');
  }
  const headLeaves = unselected.slice(0, dimStart);

  const others = source.filter((atom) => atom !== tokensRoot && atom !== featureRoot);
  if (others.length > 1) throw new LayoutError(`the source has rank ${source.length}; expected [B, N, F], [N, B, F] or [N, F]`);
  const batchRoot = others[0];
  const batchAtoms = axes.slice(0, -2).flat();
  for (const atom of batchAtoms) {
    if (atom !== batchRoot && !headLeaves.includes(atom)) {
      throw new LayoutError(`a batch axis of the operand holds a factor of size ${String(atom.size)} that is neither the batch nor the heads`);
    }
  }
  if (batchRoot !== undefined && batchRoot.size !== 1 && !batchAtoms.includes(batchRoot)) throw new LayoutError('the batch axis of the source is missing');
  const headOrder = batchAtoms.filter((atom) => headLeaves.includes(atom));
  if (headOrder.length !== headLeaves.length || headOrder.some((atom, i) => atom !== headLeaves[i])) {
    throw new LayoutError('the heads are not all batch axes of the operand, in order');
  }
  for (const atom of [...source, ...batchAtoms]) {
    if (atom !== featureRoot && atom.leaves().some((leaf) => leaf.selection !== undefined)) {
      throw new LayoutError('it selects a part of the batch or tokens axis');
    }
  }

  const heads = productOfDims(headLeaves.map((atom) => atom.size));
  const headDim = productOfDims(dimAtoms.map((atom) => atom.size));
  if (typeof heads !== 'number' || typeof headDim !== 'number') {
    throw new LayoutError(`heads (${String(heads)}) and head dim (${String(headDim)}) must be static sizes`);
  }
  const roleOf = (atom: Atom): Role => (atom === batchRoot ? 'B' : atom === tokensRoot ? 'N' : headLeaves.includes(atom) ? 'H' : 'd');
  const roles = axes.map((atoms) => atoms.map(roleOf).filter((role, i, list) => i === 0 || list[i - 1] !== role));
  return {
    axes: roles,
    heads,
    headDim,
    tokens: tokensRoot.size,
    batch: batchRoot?.size ?? 1,
    sourceAxes: { batch: batchRoot === undefined ? undefined : source.indexOf(batchRoot), tokens: source.indexOf(tokensRoot), features: source.length - 1 },
    packed: selected.length === 1 ? { part: selected[0]!.selection!.index, parts: selected[0]!.selection!.count } : undefined,
  };
}

/** Role sizes of a block: what its merged-heads output is made of. */
export interface BlockSizes {
  readonly batch: Dim;
  readonly tokens: Dim;
  readonly heads: number;
  readonly headDim: number;
}

/** A layout over role atoms (B, N, H, d) in the given axis arrangement, for following an output forward. */
export function roleLayout(axes: readonly (readonly Role[])[], sizes: BlockSizes): { layout: Layout; atoms: Record<Role, Atom> } {
  const sizeOf: Record<Role, Dim> = { B: sizes.batch, N: sizes.tokens, H: sizes.heads, d: sizes.headDim };
  const roles: Role[] = ['B', 'N', 'H', 'd'];
  const layout = Layout.ofSource(roles.map((role) => sizeOf[role]), roles);
  const atoms = Object.fromEntries(roles.map((role, i) => [role, layout.sourceAxes[i]!])) as Record<Role, Atom>;
  // Start from [B, N, H, d] and arrange the atoms as the operand's axes say (a reshape-free relabelling).
  const order = axes.flat();
  for (const role of roles) {
    if (sizeOf[role] !== 1 && !order.includes(role)) throw new LayoutError(`the ${role} factor is missing from ${JSON.stringify(axes)}`);
  }
  const perm = [...order, ...roles.filter((role) => !order.includes(role))].map((role) => roles.indexOf(role));
  layout.transpose(perm);
  layout.reshape(axes.map((group) => productOfDims(group.map((role) => sizeOf[role]))));
  return { layout, atoms };
}

/**
 * Whether `layout` (over role atoms) has its heads merged back: the last axis is exactly [H, d] and
 * the other axes hold only B and N. Returns the order of B and N in the leading axes, or undefined.
 */
export function mergedHeadsOrder(layout: Layout, atoms: Record<Role, Atom>): Role[] | undefined {
  const axes = layout.axes;
  const last = axes[axes.length - 1];
  const headsAndDim = [atoms.H, atoms.d].filter((atom) => atom.size !== 1);
  if (last === undefined || last.length !== headsAndDim.length || last.some((atom, i) => atom !== headsAndDim[i])) return undefined;
  const leading = axes.slice(0, -1).flat();
  if (leading.some((atom) => atom !== atoms.B && atom !== atoms.N)) return undefined;
  return leading.map((atom) => (atom === atoms.B ? 'B' : 'N'));
}

/** `[B·H, N, d]`-style text of role axes, for messages. */
export function formatRoles(axes: readonly (readonly Role[])[]): string {
  return `[${axes.map((roles) => (roles.length === 0 ? '1' : roles.join('·'))).join(', ')}]`;
}

/**
 * The source axis holding the tokens when there is one token (a learned query: size-1 axes carry no
 * atoms, so the operand's tokens axis is empty): a size-1 source axis other than the features and not
 * among the operand's batch atoms, preferring the one just before the features ([B, N, F] / [N, F]);
 * with a batch of 1 too, either size-1 axis computes the same.
 */
function singleTokenAxis(source: readonly Atom[], featureRoot: Atom, batchAtoms: readonly Atom[]): Atom | undefined {
  const candidates = source.filter((atom) => atom !== featureRoot && atom.size === 1 && !batchAtoms.includes(atom));
  const beforeFeatures = source[source.length - 2];
  return beforeFeatures !== undefined && candidates.includes(beforeFeatures) ? beforeFeatures : candidates[0];
}
