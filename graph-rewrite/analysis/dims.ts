/**
 * Arithmetic on tensor dimensions that may be symbolic. A dimension is a number, a symbolic product
 * written as a canonical string (`'batch'`, `'4*batch'`, `'batch*sequence'`: an integer coefficient
 * first, then the symbols in sorted order), or `undefined` when nothing is known about it.
 * Canonical strings make equal products compare equal with `===`, so `batch·4` and `4·batch` agree.
 */

import type { Dim } from '../ir/types.js';

export type { Dim };

/** A symbolic product: coefficient × symbols (sorted, repeated for powers). */
interface Monomial {
  readonly coefficient: number;
  readonly symbols: readonly string[];
}

function parse(dim: number | string): Monomial {
  if (typeof dim === 'number') return { coefficient: dim, symbols: [] };
  let coefficient = 1;
  const symbols: string[] = [];
  for (const part of dim.split('*')) {
    const trimmed = part.trim();
    if (/^\d+$/.test(trimmed)) coefficient *= Number(trimmed);
    else symbols.push(trimmed);
  }
  return { coefficient, symbols: symbols.sort() };
}

function format(monomial: Monomial): Dim {
  if (monomial.symbols.length === 0) return monomial.coefficient;
  if (monomial.coefficient === 0) return 0;
  const symbols = monomial.symbols.join('*');
  return monomial.coefficient === 1 ? symbols : `${monomial.coefficient}*${symbols}`;
}

/** The canonical form of a dim read from a model (`'4 * batch'` → `'4*batch'`). */
export function canonicalDim(dim: Dim): Dim {
  return dim === undefined || typeof dim === 'number' ? dim : format(parse(dim));
}

/** Whether two dims are known to be equal. Unknown dims are never known to be equal. */
export function dimsEqual(a: Dim, b: Dim): boolean {
  return a !== undefined && b !== undefined && canonicalDim(a) === canonicalDim(b);
}

export function isStaticDim(dim: Dim): dim is number {
  return typeof dim === 'number';
}

/** a · b (undefined when either is unknown). */
export function mulDims(a: Dim, b: Dim): Dim {
  if (a === undefined || b === undefined) return undefined;
  if (typeof a === 'number' && typeof b === 'number') return a * b;
  const left = parse(a);
  const right = parse(b);
  return format({ coefficient: left.coefficient * right.coefficient, symbols: [...left.symbols, ...right.symbols].sort() });
}

/** The product of all dims (1 for none). */
export function productOfDims(dims: readonly Dim[]): Dim {
  return dims.reduce<Dim>((product, dim) => mulDims(product, dim), 1);
}

/** a / b when the division is exact and known (`'4*batch' / 4 = 'batch'`), else undefined. */
export function divideDims(a: Dim, b: Dim): Dim {
  if (a === undefined || b === undefined) return undefined;
  const numerator = parse(a);
  const denominator = parse(b);
  if (denominator.coefficient === 0 || numerator.coefficient % denominator.coefficient !== 0) return undefined;
  const symbols = [...numerator.symbols];
  for (const symbol of denominator.symbols) {
    const at = symbols.indexOf(symbol);
    if (at < 0) return undefined;
    symbols.splice(at, 1);
  }
  return format({ coefficient: numerator.coefficient / denominator.coefficient, symbols });
}

/** Integer arithmetic on dims as ONNX shape subgraphs do it (floor division); symbolic only where exact. */
export function dimArithmetic(op: 'Add' | 'Sub' | 'Mul' | 'Div', a: Dim, b: Dim): Dim {
  if (op === 'Mul') return mulDims(a, b);
  if (typeof a === 'number' && typeof b === 'number') {
    if (op === 'Add') return a + b;
    if (op === 'Sub') return a - b;
    return b === 0 ? undefined : Math.floor(a / b);
  }
  if (op === 'Div') return divideDims(a, b);
  if ((op === 'Add' || op === 'Sub') && b === 0) return a;
  return undefined;
}

/**
 * A dim as a number, its symbols bound by `bindings` (`'4*batch'` with `{ batch: 2 }` → 8); symbols
 * not bound take `fallback`. Unknown stays undefined. For consumers that need concrete sizes (FLOPs).
 */
export function resolveDim(dim: Dim, bindings: Readonly<Record<string, number>> = {}, fallback = 1): number | undefined {
  if (dim === undefined || typeof dim === 'number') return dim;
  const { coefficient, symbols } = parse(dim);
  return symbols.reduce((value, symbol) => value * (bindings[symbol] ?? fallback), coefficient);
}

/** A shape with every dim resolved (see {@link resolveDim}); undefined when any dim is unknown or not a size. */
export function resolveShape(shape: readonly Dim[] | undefined, bindings?: Readonly<Record<string, number>>, fallback?: number): number[] | undefined {
  const dims = shape?.map((dim) => resolveDim(dim, bindings, fallback));
  return dims?.every((dim): dim is number => dim !== undefined && Number.isFinite(dim) && dim >= 0) ? dims : undefined;
}

/** `[1,'batch',?]`-style text for messages. */
export function formatShape(shape: readonly Dim[] | undefined): string {
  if (shape === undefined) return '[?]';
  return `[${shape.map((dim) => (dim === undefined ? '?' : String(dim))).join(',')}]`;
}
