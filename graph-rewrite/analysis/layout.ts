/**
 * A layout algebra for data-movement chains. A tensor's axes are described as lists of *atoms*
 * (major → minor): indivisible factors of a source tensor. A source axis starts as one atom; a
 * Reshape that splits it splits the atom (`F` → `F.0`, `F.1`), one that merges axes puts several atoms
 * in one axis; Transpose permutes axes; Slice / Split / Gather that pick one part of a major factor mark
 * that atom *selected*. Size-1 factors carry no information and are dropped.
 *
 * So `[B, N, 3·H·d] → Reshape(B, N, 3, H, d) → Transpose(2, 0, 3, 1, 4) → Gather(0)` reads as
 * "axes [B], [H], [N], [d], with the major factor of F selected (part 0 of 3)", whatever ops got there.
 * head-layout.ts gives the atoms their attention meaning.
 */

import { dimsEqual, divideDims, formatShape, mulDims, productOfDims, type Dim } from './dims.js';

/** Why a chain cannot be read as a layout of its source. */
export class LayoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LayoutError';
  }
}

/** One factor of a source axis. Split atoms keep their children; selected atoms record the part taken. */
export class Atom {
  children: readonly [Atom, Atom] | undefined;
  selection: { readonly index: number; readonly count: number } | undefined;

  constructor(readonly label: string, readonly size: Dim, readonly root: Atom | undefined) {}

  /** The source axis this atom comes from. */
  get origin(): Atom {
    return this.root ?? this;
  }

  /** The undivided factors this atom consists of now, major → minor. */
  leaves(): Atom[] {
    return this.children === undefined ? [this] : [...this.children[0].leaves(), ...this.children[1].leaves()];
  }

  /** Splits into (outer, inner) with `outer` elements in the major part. */
  split(outer: number): readonly [Atom, Atom] {
    const inner = divideDims(this.size, outer);
    if (inner === undefined) throw new LayoutError(`cannot split a factor of size ${String(this.size)} by ${outer}`);
    const root = this.origin;
    this.children = [new Atom(`${this.label}.0`, outer, root), new Atom(`${this.label}.1`, inner, root)];
    return this.children;
  }
}

function sizeOf(atoms: readonly Atom[]): Dim {
  return productOfDims(atoms.map((atom) => atom.size));
}

/** The layout of one value along a chain, relative to the chain's source. */
export class Layout {
  /** One atom per source axis, in order (size-1 axes included, though they never appear in `axes`). */
  readonly sourceAxes: readonly Atom[];
  #axes: Atom[][];

  private constructor(sourceAxes: readonly Atom[], axes: Atom[][]) {
    this.sourceAxes = sourceAxes;
    this.#axes = axes;
  }

  /** The layout of a source tensor of `shape`: one atom per axis. */
  static ofSource(shape: readonly Dim[], labels?: readonly string[]): Layout {
    if (shape.some((dim) => dim === undefined)) throw new LayoutError(`the source's shape ${formatShape(shape)} is not fully known`);
    const atoms = shape.map((dim, i) => new Atom(labels?.[i] ?? `a${i}`, dim, undefined));
    return new Layout(atoms, atoms.map((atom) => (atom.size === 1 ? [] : [atom])));
  }

  /** The atoms of each axis, major → minor (a size-1 axis has none). */
  get axes(): readonly (readonly Atom[])[] {
    return this.#axes;
  }

  get rank(): number {
    return this.#axes.length;
  }

  /** The shape this layout implies. */
  get shape(): Dim[] {
    return this.#axes.map(sizeOf);
  }

  reshape(target: readonly Dim[]): void {
    if (target.some((dim) => dim === undefined)) throw new LayoutError(`the target shape ${formatShape(target)} is not fully known`);
    this.#axes = cutAtoms(this.#axes.flat(), target, `reshape ${formatShape(this.shape)} → ${formatShape(target)}`);
  }

  transpose(perm: readonly number[]): void {
    if (perm.length !== this.rank || new Set(perm).size !== perm.length || perm.some((p) => p < 0 || p >= this.rank)) {
      throw new LayoutError(`perm [${perm.join(',')}] is not a permutation of ${this.rank} axes`);
    }
    this.#axes = perm.map((axis) => this.#axes[axis]!);
  }

  squeeze(axes: readonly number[]): void {
    for (const axis of axes) {
      if (this.#axes[axis] === undefined || this.#axes[axis]!.length > 0) throw new LayoutError(`squeezes axis ${axis}, which is not of size 1`);
    }
    this.#axes = this.#axes.filter((_, i) => !axes.includes(i));
  }

  unsqueeze(axes: readonly number[]): void {
    const rank = this.rank + axes.length;
    const inserted = new Set(axes.map((axis) => (axis < 0 ? axis + rank : axis)));
    const out: Atom[][] = [];
    let next = 0;
    for (let i = 0; i < rank; i++) out.push(inserted.has(i) ? [] : this.#axes[next++]!);
    this.#axes = out;
  }

  /**
   * Takes elements [start, start + length) of `axis` (Slice, Split, Gather). Readable only when it
   * picks one part of a major factor: the axis is cut into (parts, length) and that outer factor is
   * marked selected. `keepAxis` false drops the axis (Gather with a scalar index; length must be 1).
   */
  select(axis: number, start: number, length: number, keepAxis: boolean): void {
    const atoms = this.#axes[axis];
    if (atoms === undefined) throw new LayoutError(`axis ${axis} is out of range`);
    const size = sizeOf(atoms);
    if (!(start === 0 && dimsEqual(size, length))) {
      const parts = divideDims(size, length);
      if (typeof parts !== 'number' || start % length !== 0) {
        throw new LayoutError(`takes elements ${start}…${start + length - 1} of an axis of size ${String(size)}, which is not one part of a major factor`);
      }
      const [outer, inner] = cutAtoms(atoms, [parts, length], `selection on axis ${axis}`);
      if (outer!.length !== 1) throw new LayoutError(`the selection on axis ${axis} spans several factors`);
      outer![0]!.selection = { index: start / length, count: parts };
      this.#axes[axis] = inner!;
    }
    if (!keepAxis) {
      if (this.#axes[axis]!.length > 0) throw new LayoutError(`drops axis ${axis}, which is not of size 1 after the selection`);
      this.#axes = this.#axes.filter((_, i) => i !== axis);
    }
  }
}

/**
 * Cuts a major → minor sequence of atoms into consecutive groups of the given sizes, splitting an atom
 * where a group boundary falls inside it (possible for numeric sizes that divide evenly).
 */
export function cutAtoms(atoms: readonly Atom[], sizes: readonly Dim[], what: string): Atom[][] {
  const queue = [...atoms];
  const groups: Atom[][] = [];
  for (const size of sizes) {
    const group: Atom[] = [];
    let covered: Dim = 1;
    while (!dimsEqual(covered, size)) {
      const atom = queue.shift();
      if (atom === undefined) throw new LayoutError(`${what}: the sizes do not add up`);
      const withAtom = mulDims(covered, atom.size);
      if (divideDims(size, withAtom) !== undefined) {
        group.push(atom);
        covered = withAtom;
        continue;
      }
      const needed = divideDims(size, covered);
      if (typeof needed !== 'number' || typeof atom.size !== 'number' || atom.size % needed !== 0) {
        throw new LayoutError(`${what} does not split along whole factors (a factor of size ${String(atom.size)} cannot provide ${String(needed)})`);
      }
      const [outer, inner] = atom.split(needed);
      group.push(outer);
      queue.unshift(inner);
      covered = size;
    }
    groups.push(group);
  }
  if (queue.length > 0) throw new LayoutError(`${what}: the sizes do not add up`);
  return groups;
}
