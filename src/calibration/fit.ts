/**
 * Fitting a converted block's free coefficients so that its output best matches the softmax
 * attention it replaces, on captured q, k, v (all [items, N, D], heads merged as h·d + j):
 *
 * - Hydra: Y = scale ⊙ U with U = q̂ ⊙ Σ_t k̂_t ⊙ v_t. Y is linear in scale, so each feature's scale is
 *   the closed-form least-squares solution scale_f = Σ U_f·T_f / Σ U_f².
 * - Linear-angular: per head, the output depends on (value_weight a, angular_weight b) only through
 *   r = b/a (and a's sign in `reference` mode) — see custom-ops/README.md. So the fit is a 1-D nonlinear
 *   least squares per head: minimise Σ‖y(r) − T‖² by a coarse grid and golden-section refinement, then
 *   write a = ±½ and b = r·a. In `kernel_normalized` mode |r| stays below 1 so that the denominator
 *   a·N + b·q̂·Σk̂ ≥ a·N·(1 − |r|) stays away from zero.
 */
import { DEFAULT_ANGULAR_WEIGHT, DEFAULT_EPS, DEFAULT_VALUE_WEIGHT, type LinearAngularMode } from '../../custom-ops/schemas.js';

/** Captured activations of one block: q, k, v and the softmax attention output, each [items, N, D]. */
export interface BlockCapture {
  readonly items: number;
  readonly tokens: number;
  readonly features: number;
  readonly q: Float32Array;
  readonly k: Float32Array;
  readonly v: Float32Array;
  /** softmax(s·q kᵀ) v per head, heads merged: what the converted block should reproduce. */
  readonly target: Float32Array;
}

/** Softmax attention per head, heads merged — the target the fit aims for. */
export function softmaxAttention(q: Float32Array, k: Float32Array, v: Float32Array, items: number, tokens: number, features: number, heads: number, scale: number): Float32Array {
  const d = features / heads;
  const out = new Float32Array(items * tokens * features);
  const scores = new Float64Array(tokens);
  for (let b = 0; b < items; b++) {
    const base = b * tokens * features;
    for (let h = 0; h < heads; h++) {
      const off = h * d;
      for (let i = 0; i < tokens; i++) {
        let max = -Infinity;
        for (let j = 0; j < tokens; j++) {
          let dot = 0;
          for (let c = 0; c < d; c++) dot += q[base + i * features + off + c]! * k[base + j * features + off + c]!;
          scores[j] = dot * scale;
          if (scores[j]! > max) max = scores[j]!;
        }
        let sum = 0;
        for (let j = 0; j < tokens; j++) sum += scores[j] = Math.exp(scores[j]! - max);
        for (let c = 0; c < d; c++) {
          let acc = 0;
          for (let j = 0; j < tokens; j++) acc += scores[j]! * v[base + j * features + off + c]!;
          out[base + i * features + off + c] = acc / sum;
        }
      }
    }
  }
  return out;
}

/** x / max(‖x‖, eps) over `length` values at `offset`: the inverse norm. */
function inverseNorm(x: Float32Array, offset: number, length: number, eps: number): number {
  let sq = 0;
  for (let c = 0; c < length; c++) sq += x[offset + c]! ** 2;
  return 1 / Math.max(Math.sqrt(sq), eps);
}

/** Hydra's unscaled output U = q̂ ⊙ Σ_t k̂_t ⊙ v_t, [items, N, D]. */
export function hydraUnscaled(c: BlockCapture, eps = DEFAULT_EPS): Float32Array {
  const { items, tokens: n, features: D } = c;
  const out = new Float32Array(items * n * D);
  const sum = new Float64Array(D);
  for (let b = 0; b < items; b++) {
    sum.fill(0);
    for (let t = 0; t < n; t++) {
      const o = (b * n + t) * D;
      const ik = inverseNorm(c.k, o, D, eps);
      for (let f = 0; f < D; f++) sum[f]! += c.k[o + f]! * ik * c.v[o + f]!;
    }
    for (let t = 0; t < n; t++) {
      const o = (b * n + t) * D;
      const iq = inverseNorm(c.q, o, D, eps);
      for (let f = 0; f < D; f++) out[o + f] = c.q[o + f]! * iq * sum[f]!;
    }
  }
  return out;
}

export interface FitResult<T> {
  readonly coefficients: T;
  /** Mean squared error against the softmax output, before (default coefficients) and after. */
  readonly mseBefore: number;
  readonly mseAfter: number;
}

/** Per-feature output scale of a Hydra block, by closed-form least squares. */
export function fitHydraScale(c: BlockCapture, eps = DEFAULT_EPS): FitResult<Float32Array> {
  const u = hydraUnscaled(c, eps);
  const D = c.features;
  const ut = new Float64Array(D);
  const uu = new Float64Array(D);
  let before = 0;
  for (let i = 0; i < u.length; i++) {
    const f = i % D;
    ut[f]! += u[i]! * c.target[i]!;
    uu[f]! += u[i]! * u[i]!;
    before += (u[i]! - c.target[i]!) ** 2;
  }
  const scale = Float32Array.from({ length: D }, (_, f) => (uu[f]! > 0 ? ut[f]! / uu[f]! : 1));
  let after = 0;
  for (let i = 0; i < u.length; i++) after += (scale[i % D]! * u[i]! - c.target[i]!) ** 2;
  return { coefficients: scale, mseBefore: before / u.length, mseAfter: after / u.length };
}

/** Per-head terms of linear-angular attention, precomputed once so that each r costs one pass. */
interface HeadTerms {
  /** q̂_i (K̂ᵀV) per token, [items·N, d]. */
  readonly w: Float64Array;
  /** Σ_j v_j of the token's item (kernel_normalized), [rows, d]. */
  readonly base: Float64Array;
  /** The token's own v_i (reference), [rows, d]. */
  readonly own: Float64Array;
  /** kernel_normalized: q̂_i·Σ_j k̂_j per token. */
  readonly s: Float64Array;
  readonly target: Float64Array;
}

function headTerms(c: BlockCapture, h: number, heads: number, eps: number): HeadTerms {
  const { tokens: n, features: D } = c;
  // Whole items are kept (K̂ᵀV sums over an item's tokens); a stride over items bounds the rows.
  const stride = Math.max(1, Math.ceil((c.items * n) / MAX_ROWS));
  const items = Math.ceil(c.items / stride);
  const d = D / heads;
  const off = h * d;
  const rows = items * n;
  const w = new Float64Array(rows * d);
  const base = new Float64Array(rows * d);
  const own = new Float64Array(rows * d);
  const s = new Float64Array(rows);
  const target = new Float64Array(rows * d);
  const kv = new Float64Array(d * d);
  const ksum = new Float64Array(d);
  const vsum = new Float64Array(d);
  for (let b = 0; b < items; b++) {
    const item = b * stride;
    kv.fill(0); ksum.fill(0); vsum.fill(0);
    for (let t = 0; t < n; t++) {
      const o = (item * n + t) * D + off;
      const ik = inverseNorm(c.k, o, d, eps);
      for (let x = 0; x < d; x++) {
        const kx = c.k[o + x]! * ik;
        ksum[x]! += kx;
        vsum[x]! += c.v[o + x]!;
        for (let y = 0; y < d; y++) kv[x * d + y]! += kx * c.v[o + y]!;
      }
    }
    for (let t = 0; t < n; t++) {
      const row = b * n + t;
      const o = (item * n + t) * D + off;
      const iq = inverseNorm(c.q, o, d, eps);
      let dot = 0;
      for (let x = 0; x < d; x++) dot += c.q[o + x]! * iq * ksum[x]!;
      s[row] = dot;
      for (let y = 0; y < d; y++) {
        let acc = 0;
        for (let x = 0; x < d; x++) acc += c.q[o + x]! * iq * kv[x * d + y]!;
        w[row * d + y] = acc;
        own[row * d + y] = c.v[o + y]!;
        target[row * d + y] = c.target[o + y]!;
      }
    }
    for (let t = 0; t < n; t++) {
      const row = b * n + t;
      for (let y = 0; y < d; y++) base[row * d + y] = vsum[y]!;
    }
  }
  return { w, base, own, s, target };
}

/** Squared error of one head for r = b/a and the sign of a. */
function headError(terms: HeadTerms, d: number, tokens: number, mode: LinearAngularMode, r: number, sign: number, eps: number): number {
  const rows = terms.s.length;
  let err = 0;
  const x = new Float64Array(d);
  for (let row = 0; row < rows; row++) {
    if (mode === 'reference') {
      // x/a = v_i + r·w_i; y = sign(a)·x/‖x‖ (eps scaled by |a| = ½, negligible against real activations)
      let sq = 0;
      for (let y = 0; y < d; y++) sq += (x[y] = terms.own[row * d + y]! + r * terms.w[row * d + y]!) ** 2;
      const inv = sign / Math.max(Math.sqrt(sq), eps / Math.abs(DEFAULT_VALUE_WEIGHT));
      for (let y = 0; y < d; y++) err += (x[y]! * inv - terms.target[row * d + y]!) ** 2;
    } else {
      const den = tokens + r * terms.s[row]!;
      for (let y = 0; y < d; y++) err += ((terms.base[row * d + y]! + r * terms.w[row * d + y]!) / den - terms.target[row * d + y]!) ** 2;
    }
  }
  return err;
}

/** Minimises f over [lo, hi]: a coarse grid, then golden-section search around the best point. */
export function minimise1d(f: (x: number) => number, lo: number, hi: number, grid = 40, iterations = 40): { x: number; value: number } {
  let best = { x: lo, value: f(lo) };
  for (let i = 1; i <= grid; i++) {
    const x = lo + ((hi - lo) * i) / grid;
    const value = f(x);
    if (value < best.value) best = { x, value };
  }
  const step = (hi - lo) / grid;
  let a = Math.max(lo, best.x - step);
  let b = Math.min(hi, best.x + step);
  const phi = (Math.sqrt(5) - 1) / 2;
  let c = b - phi * (b - a);
  let e = a + phi * (b - a);
  let fc = f(c);
  let fe = f(e);
  for (let i = 0; i < iterations; i++) {
    if (fc < fe) { b = e; e = c; fe = fc; c = b - phi * (b - a); fc = f(c); }
    else { a = c; c = e; fc = fe; e = a + phi * (b - a); fe = f(e); }
  }
  const x = (a + b) / 2;
  const value = f(x);
  return value < best.value ? { x, value } : best;
}

/** |b/a| bound in kernel_normalized mode: the denominator stays ≥ a·N·(1 − 0.99). */
const MAX_KERNEL_RATIO = 0.99;
/** Rows (token × item) per head the 1-D search evaluates: a strided subsample keeps the fit fast on big sets. */
const MAX_ROWS = 8192;

/** Per-head value / angular weights of a linear-angular block. */
export function fitLinearAngularWeights(c: BlockCapture, heads: number, mode: LinearAngularMode, eps = DEFAULT_EPS): FitResult<{ valueWeight: Float32Array; angularWeight: Float32Array }> {
  const d = c.features / heads;
  const valueWeight = new Float32Array(heads);
  const angularWeight = new Float32Array(heads);
  const defaultRatio = DEFAULT_ANGULAR_WEIGHT / DEFAULT_VALUE_WEIGHT;
  let before = 0;
  let after = 0;
  let rowsEvaluated = 0;
  for (let h = 0; h < heads; h++) {
    const terms = headTerms(c, h, heads, eps);
    rowsEvaluated = terms.s.length;
    const error = (r: number, sign: number) => headError(terms, d, c.tokens, mode, r, sign, eps);
    before += error(defaultRatio, 1);
    const limit = mode === 'kernel_normalized' ? MAX_KERNEL_RATIO : 20;
    const signs = mode === 'reference' ? [1, -1] : [1];
    let best = { x: defaultRatio, value: error(defaultRatio, 1), sign: 1 };
    for (const sign of signs) {
      const found = minimise1d((r) => error(r, sign), -limit, limit);
      if (found.value < best.value) best = { ...found, sign };
    }
    valueWeight[h] = best.sign * DEFAULT_VALUE_WEIGHT;
    angularWeight[h] = best.x * valueWeight[h]!;
    after += best.value;
  }
  const total = rowsEvaluated * c.features; // the rows the search evaluated (a subsample on big sets) × D
  return { coefficients: { valueWeight, angularWeight }, mseBefore: before / total, mseAfter: after / total };
}
