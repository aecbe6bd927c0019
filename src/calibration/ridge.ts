/**
 * Ridge regression by normal equations, accumulated batch by batch in float64 so that memory depends
 * on the number of features, never on the number of rows: X·W ≈ T with X = [features…, 1] (the last
 * column is the intercept, not penalised), solved by Cholesky. The penalty may pull toward prior weights.
 */
import { InvalidArgumentError } from '../../graph-rewrite/errors.js';

/** Default ridge strength, relative to the mean diagonal of XᵀX (features only). */
export const DEFAULT_RIDGE = 1e-4;

export class NormalEquations {
  /** XᵀX, [p, p] with p = features + 1 (upper triangle accumulated; mirrored on solve). */
  readonly xtx: Float64Array;
  /** XᵀT, [p, targets]. */
  readonly xtt: Float64Array;
  /** Σ‖T‖², for the fitted error without a second pass. */
  targetPower = 0;
  rows = 0;
  readonly p: number;
  readonly #row: Float64Array;

  constructor(readonly features: number, readonly targets: number) {
    this.p = features + 1;
    this.xtx = new Float64Array(this.p * this.p);
    this.xtt = new Float64Array(this.p * targets);
    this.#row = new Float64Array(this.p);
  }

  /**
   * Adds `rows` rows. `feature(r, out)` writes row r's features into out[0 .. features); `target`
   * holds the targets row after row ([rows, targets]); `weight(r)` (default 1) scales row r's share
   * of the squared error (`rows` then counts the total weight).
   */
  add(rows: number, feature: (r: number, out: Float64Array) => void, target: ArrayLike<number>, weight?: (r: number) => number): void {
    const { p, targets, xtx, xtt } = this;
    const x = this.#row;
    let total = 0;
    for (let r = 0; r < rows; r++) {
      x[p - 1] = 1;
      const w = weight ? weight(r) : 1;
      if (!(w > 0)) continue;
      total += w;
      feature(r, x);
      // Weighted least squares: both sides of row r scaled by √w.
      const scale = Math.sqrt(w);
      if (w !== 1) for (let i = 0; i < p; i++) x[i]! *= scale;
      const to = r * targets;
      for (let i = 0; i < p; i++) {
        const xi = x[i]!;
        if (xi === 0) continue;
        const base = i * p;
        for (let j = i; j < p; j++) xtx[base + j]! += xi * x[j]!;
        const tb = i * targets;
        const xs = xi * scale;
        for (let j = 0; j < targets; j++) xtt[tb + j]! += xs * target[to + j]!;
      }
      for (let j = 0; j < targets; j++) this.targetPower += w * target[to + j]! ** 2;
    }
    this.rows += total;
  }

  /** The full symmetric XᵀX. */
  gram(): Float64Array {
    const { p } = this;
    const g = Float64Array.from(this.xtx);
    for (let i = 0; i < p; i++) for (let j = 0; j < i; j++) g[i * p + j] = g[j * p + i]!;
    return g;
  }

  /** Σ‖X·W − T‖² over the rows added, for W [p, targets]. */
  squaredError(w: ArrayLike<number>): number {
    const { p, targets } = this;
    const g = this.gram();
    let quad = 0;
    let cross = 0;
    const gw = new Float64Array(p);
    for (let t = 0; t < targets; t++) {
      for (let i = 0; i < p; i++) {
        let acc = 0;
        for (let j = 0; j < p; j++) acc += g[i * p + j]! * w[j * targets + t]!;
        gw[i] = acc;
      }
      for (let i = 0; i < p; i++) {
        quad += w[i * targets + t]! * gw[i]!;
        cross += w[i * targets + t]! * this.xtt[i * targets + t]!;
      }
    }
    return Math.max(0, quad - 2 * cross + this.targetPower);
  }

  /**
   * The ridge solution W [p, targets]; `lambda` relative to the mean diagonal (features only). With a
   * `prior` W₀, the penalty is λ‖W − W₀‖² (the refit shrinks toward the block's original projection,
   * so a block that already reproduces its target keeps its weights exactly); without, λ‖W‖².
   */
  solve(lambda = DEFAULT_RIDGE, prior?: Float64Array): Float64Array {
    const { p, targets } = this;
    if (this.rows === 0) throw new InvalidArgumentError(`calibration: no rows to fit`);
    const a = this.gram();
    let diag = 0;
    for (let i = 0; i < p - 1; i++) diag += a[i * p + i]!;
    const ridge = lambda * (p > 1 ? diag / (p - 1) : 0) || 1e-12;
    for (let i = 0; i < p - 1; i++) a[i * p + i]! += ridge;
    // A tiny jitter on the intercept keeps Cholesky defined when a feature column is constant.
    a[(p - 1) * p + p - 1]! += 1e-12 * Math.max(1, this.rows);
    const rhs = Float64Array.from(this.xtt);
    if (prior) for (let i = 0; i < (p - 1) * targets; i++) rhs[i]! += ridge * prior[i]!;
    return choleskySolve(a, p, rhs, targets);
  }
}

/** Solves A·X = B for symmetric positive definite A [n, n] and B [n, m]; A is overwritten. */
export function choleskySolve(a: Float64Array, n: number, b: Float64Array, m: number): Float64Array {
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j]!;
    for (let k = 0; k < j; k++) d -= a[j * n + k]! ** 2;
    if (!(d > 0)) throw new InvalidArgumentError(`calibration: the normal equations are not positive definite (column ${j}); use more calibration inputs`);
    const l = Math.sqrt(d);
    a[j * n + j] = l;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j]!;
      const ri = i * n;
      const rj = j * n;
      for (let k = 0; k < j; k++) s -= a[ri + k]! * a[rj + k]!;
      a[ri + j] = s / l;
    }
  }
  const x = Float64Array.from(b);
  for (let c = 0; c < m; c++) {
    for (let i = 0; i < n; i++) {
      let s = x[i * m + c]!;
      for (let k = 0; k < i; k++) s -= a[i * n + k]! * x[k * m + c]!;
      x[i * m + c] = s / a[i * n + i]!;
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = x[i * m + c]!;
      for (let k = i + 1; k < n; k++) s -= a[k * n + i]! * x[k * m + c]!;
      x[i * m + c] = s / a[i * n + i]!;
    }
  }
  return x;
}
