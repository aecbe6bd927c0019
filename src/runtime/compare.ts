/**
 * Fidelity between two models' outputs: the numbers `verify` reports. Pure arithmetic (no Node
 * built-ins) so the browser app reports the same figures.
 */

export interface OutputComparison {
  readonly maxAbsError: number;
  readonly meanAbsError: number;
  /** Cosine similarity of the flattened outputs (1 = same direction). */
  readonly cosine: number;
  /** Share of rows (last axis = classes) whose arg-max agrees; undefined for 1-D outputs. A row with a NaN never agrees. */
  readonly top1Agreement?: number;
}

export function argmaxRows(values: ArrayLike<number>, classes: number): number[] {
  const rows = Math.floor(values.length / classes);
  const result: number[] = [];
  for (let row = 0; row < rows; row++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (values[row * classes + c]! > values[row * classes + best]!) best = c;
    result.push(best);
  }
  return result;
}

/** Compares `actual` against `expected`, element by element; `classes` is the last axis for top-1. */
export function compareOutputs(expected: ArrayLike<number>, actual: ArrayLike<number>, classes?: number): OutputComparison {
  if (expected.length !== actual.length) {
    throw new RangeError(`'actual' has ${actual.length} values, 'expected' has ${expected.length}`);
  }
  let maxAbs = 0;
  let sumAbs = 0;
  let dot = 0;
  let normE = 0;
  let normA = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const a = actual[i]!;
    const diff = Math.abs(e - a);
    if (diff > maxAbs || Number.isNaN(diff)) maxAbs = Number.isNaN(diff) ? NaN : diff;
    sumAbs += diff;
    dot += e * a;
    normE += e * e;
    normA += a * a;
  }
  const cosine = normE === 0 && normA === 0 ? 1 : dot / (Math.sqrt(normE) * Math.sqrt(normA));
  const result = { maxAbsError: maxAbs, meanAbsError: expected.length ? sumAbs / expected.length : 0, cosine };
  if (!classes || classes < 2) return result;
  const left = argmaxRows(expected, classes);
  const right = argmaxRows(actual, classes);
  // An arg-max over NaN is meaningless (every comparison is false: it would say class 0 on both sides).
  const hasNaN = (values: ArrayLike<number>, row: number): boolean => {
    for (let c = 0; c < classes; c++) if (Number.isNaN(values[row * classes + c])) return true;
    return false;
  };
  const agree = left.filter((label, row) => label === right[row] && !hasNaN(expected, row) && !hasNaN(actual, row)).length;
  return { ...result, top1Agreement: left.length ? agree / left.length : 1 };
}
