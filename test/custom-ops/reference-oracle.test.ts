/**
 * Checks the test oracle itself: the linear-cost reference kernels against quadratic (O(N²))
 * evaluations of the attention formulas of docs/reference.md, written independently here as
 * "similarity matrix, then weighted sum of values".
 */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_ANGULAR_WEIGHT,
  DEFAULT_VALUE_WEIGHT,
  hydraAttentionReference,
  linearAngularAttentionReference,
  type Float32TensorView,
  type LinearAngularMode,
} from '../../custom-ops/index.js';
import { InvalidArgumentError } from '../../graph-rewrite/errors.js';
import { seededRandom } from '../../src/runtime/random-feeds.js';
import { maxAbsDifference, randomTensor } from './harness.js';

/** Token `n` of batch `b`, features [start, start + length), as float64. */
function tokenSlice(tensor: Float32TensorView, b: number, n: number, start: number, length: number): number[] {
  const [, tokens, features] = tensor.dims as [number, number, number];
  const offset = (b * tokens + n) * features + start;
  return Array.from(tensor.data.subarray(offset, offset + length));
}

function normalized(vector: number[], eps: number): number[] {
  const norm = Math.sqrt(vector.reduce((sum, entry) => sum + entry * entry, 0));
  return vector.map((entry) => entry / Math.max(norm, eps));
}

/**
 * Hydra as multi-head cosine-kernel attention with H = D heads of dim 1 and no softmax / normaliser:
 * sim_f(n, t) = q̂[n, f]·k̂[t, f] (q̂, k̂ normalised over all of D), Y[n, f] = Σ_t sim_f(n, t)·v[t, f].
 */
function quadraticHydra(query: Float32TensorView, key: Float32TensorView, value: Float32TensorView, eps: number): Float32TensorView {
  const [batch, queryTokens, features] = query.dims as [number, number, number];
  const keyTokens = key.dims[1]!;
  const output = new Float32Array(batch * queryTokens * features);
  for (let b = 0; b < batch; b++) {
    const queries = Array.from({ length: queryTokens }, (_, n) => normalized(tokenSlice(query, b, n, 0, features), eps));
    const keys = Array.from({ length: keyTokens }, (_, t) => normalized(tokenSlice(key, b, t, 0, features), eps));
    for (let f = 0; f < features; f++) {
      // The per-head similarity matrix, materialised: [Nq, Nkv].
      const similarity = queries.map((queryVector) => keys.map((keyVector) => queryVector[f]! * keyVector[f]!));
      for (let n = 0; n < queryTokens; n++) {
        let sum = 0;
        for (let t = 0; t < keyTokens; t++) sum += similarity[n]![t]! * tokenSlice(value, b, t, f, 1)[0]!;
        output[(b * queryTokens + n) * features + f] = sum;
      }
    }
  }
  return { data: output, dims: [batch, queryTokens, features] };
}

/**
 * Linear-angular attention per head with the similarity matrix sim_ij = a + b·q̂_i·k̂_j materialised:
 * kernel_normalized: y_i = Σ_j sim_ij v_j / Σ_j sim_ij;
 * reference: x_i = a·v_i + b·Σ_j (q̂_i·k̂_j) v_j, y_i = x_i / max(‖x_i‖, eps).
 */
function quadraticLinearAngular(
  query: Float32TensorView,
  key: Float32TensorView,
  value: Float32TensorView,
  numHeads: number,
  mode: LinearAngularMode,
  eps: number,
  valueWeights: readonly number[],
  angularWeights: readonly number[],
): Float32TensorView {
  const [batch, queryTokens, features] = query.dims as [number, number, number];
  const keyTokens = key.dims[1]!;
  const headDim = features / numHeads;
  const output = new Float32Array(batch * queryTokens * features);
  const dot = (first: number[], second: number[]): number => first.reduce((sum, entry, index) => sum + entry * second[index]!, 0);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < numHeads; h++) {
      const start = h * headDim;
      const queries = Array.from({ length: queryTokens }, (_, i) => normalized(tokenSlice(query, b, i, start, headDim), eps));
      const keys = Array.from({ length: keyTokens }, (_, j) => normalized(tokenSlice(key, b, j, start, headDim), eps));
      const values = Array.from({ length: keyTokens }, (_, j) => tokenSlice(value, b, j, start, headDim));
      const cosines = queries.map((queryVector) => keys.map((keyVector) => dot(queryVector, keyVector)));
      for (let i = 0; i < queryTokens; i++) {
        const result = new Array<number>(headDim).fill(0);
        if (mode === 'kernel_normalized') {
          let weightSum = 0;
          for (let j = 0; j < keyTokens; j++) {
            const similarity = valueWeights[h]! + angularWeights[h]! * cosines[i]![j]!;
            weightSum += similarity;
            for (let c = 0; c < headDim; c++) result[c]! += similarity * values[j]![c]!;
          }
          for (let c = 0; c < headDim; c++) result[c]! /= weightSum;
        } else {
          for (let j = 0; j < keyTokens; j++) {
            for (let c = 0; c < headDim; c++) result[c]! += angularWeights[h]! * cosines[i]![j]! * values[j]![c]!;
          }
          for (let c = 0; c < headDim; c++) result[c]! += valueWeights[h]! * values[i]![c]!;
          const unit = normalized(result, eps);
          for (let c = 0; c < headDim; c++) result[c] = unit[c]!;
        }
        for (let c = 0; c < headDim; c++) output[(b * queryTokens + i) * features + start + c] = result[c]!;
      }
    }
  }
  return { data: output, dims: [batch, queryTokens, features] };
}

describe('reference kernels match quadratic evaluations of the formulas', () => {
  const hydraCases = [
    { seed: 1, batch: 2, queryTokens: 7, keyTokens: 7, features: 8 },
    { seed: 2, batch: 2, queryTokens: 19, keyTokens: 11, features: 24 },
    { seed: 3, batch: 1, queryTokens: 33, keyTokens: 33, features: 64 },
  ];
  it.each(hydraCases)('HydraAttention seed $seed: [$batch, $queryTokens|$keyTokens, $features]', (row) => {
    const random = seededRandom(row.seed);
    const query = randomTensor([row.batch, row.queryTokens, row.features], random);
    const key = randomTensor([row.batch, row.keyTokens, row.features], random);
    const value = randomTensor([row.batch, row.keyTokens, row.features], random);
    const expected = quadraticHydra(query, key, value, 1e-6);
    expect(maxAbsDifference(hydraAttentionReference(query, key, value), expected)).toBeLessThan(1e-5);
    // A per-feature scale multiplies the output feature-wise.
    const scale = Array.from({ length: row.features }, () => random() * 2);
    const scaled = hydraAttentionReference(query, key, value, { scale });
    const expectedScaled = expected.data.map((entry, index) => entry * scale[index % row.features]!);
    expect(maxAbsDifference(scaled, { data: expectedScaled, dims: expected.dims })).toBeLessThan(1e-5);
  });

  const angularCases = [
    { seed: 4, mode: 'reference', batch: 2, queryTokens: 7, keyTokens: 7, features: 8, numHeads: 2, calibrated: false },
    { seed: 5, mode: 'reference', batch: 2, queryTokens: 21, keyTokens: 21, features: 48, numHeads: 3, calibrated: true },
    { seed: 6, mode: 'kernel_normalized', batch: 2, queryTokens: 9, keyTokens: 9, features: 16, numHeads: 4, calibrated: false },
    { seed: 7, mode: 'kernel_normalized', batch: 2, queryTokens: 13, keyTokens: 29, features: 32, numHeads: 2, calibrated: true },
  ] as const;
  it.each(angularCases)('LinearAngularAttention $mode seed $seed (calibrated: $calibrated)', (row) => {
    const random = seededRandom(row.seed);
    const query = randomTensor([row.batch, row.queryTokens, row.features], random);
    const key = randomTensor([row.batch, row.keyTokens, row.features], random);
    const value = randomTensor([row.batch, row.keyTokens, row.features], random);
    const valueWeights = Array.from({ length: row.numHeads }, () => (row.calibrated ? 0.2 + random() : DEFAULT_VALUE_WEIGHT));
    const angularWeights = Array.from({ length: row.numHeads }, () => (row.calibrated ? 0.1 + random() * 0.3 : DEFAULT_ANGULAR_WEIGHT));
    const expected = quadraticLinearAngular(query, key, value, row.numHeads, row.mode, 1e-6, valueWeights, angularWeights);
    const actual = linearAngularAttentionReference(query, key, value, {
      numHeads: row.numHeads,
      mode: row.mode,
      ...(row.calibrated ? { valueWeight: valueWeights, angularWeight: angularWeights } : {}),
    });
    expect(maxAbsDifference(actual, expected)).toBeLessThan(1e-5);
  });

  it('normalises like F.normalize: zero vectors stay zero instead of NaN', () => {
    const features = 4;
    const zeros = { data: new Float32Array(2 * features), dims: [1, 2, features] };
    const ones = { data: new Float32Array(2 * features).fill(1), dims: [1, 2, features] };
    expect(Array.from(hydraAttentionReference(zeros, ones, ones).data)).toEqual(new Array(2 * features).fill(0));
    expect(Array.from(hydraAttentionReference(ones, zeros, ones).data)).toEqual(new Array(2 * features).fill(0));
    // q = 0: kernel_normalized degenerates to the mean of v; reference to a·v_i normalised.
    const values = { data: Float32Array.from([3, 4, 0, 0, 1, 0, 0, 0]), dims: [1, 2, features] };
    const meanV = linearAngularAttentionReference(zeros, ones, values, { numHeads: 1, mode: 'kernel_normalized' });
    expect(Array.from(meanV.data)).toEqual([2, 2, 0, 0, 2, 2, 0, 0]);
    const ownV = linearAngularAttentionReference(zeros, ones, values, { numHeads: 1, mode: 'reference' });
    expect(Array.from(ownV.data)).toEqual([0.6, 0.8, 0, 0, 1, 0, 0, 0].map(Math.fround));
    // Everything zero: x = 0 → 0 / max(0, eps) = 0.
    const allZero = linearAngularAttentionReference(zeros, zeros, zeros, { numHeads: 2, mode: 'reference' });
    expect(Array.from(allZero.data)).toEqual(new Array(2 * features).fill(0));
  });

  it('eps clamps small norms: x / max(‖x‖, eps)', () => {
    const tiny = { data: Float32Array.from([3e-4, 4e-4]), dims: [1, 1, 2] };
    const ones = { data: Float32Array.from([1, 1]), dims: [1, 1, 2] };
    // ‖q‖ = 5e-4 < eps = 1e-3: q̂ = q / 1e-3 = [0.3, 0.4]; S = k̂ ⊙ v = [1/√2, 1/√2].
    const result = hydraAttentionReference(tiny, ones, ones, { eps: 1e-3 });
    expect(result.data[0]).toBeCloseTo(0.3 / Math.SQRT2, 6);
    expect(result.data[1]).toBeCloseTo(0.4 / Math.SQRT2, 6);
  });

  it('rejects bad shapes and attributes with the argument named', () => {
    const random = seededRandom(9);
    const query = randomTensor([2, 5, 64], random);
    expect(() => linearAngularAttentionReference(query, query, query, { numHeads: 5 })).toThrow(
      new InvalidArgumentError(`'num_heads' must divide D=64, got 5`),
    );
    const shortKey = randomTensor([2, 4, 64], random);
    expect(() => linearAngularAttentionReference(query, shortKey, shortKey, { numHeads: 4 })).toThrow(/mode 'reference' needs/);
    expect(() => hydraAttentionReference(query, randomTensor([2, 5, 32], random), query)).toThrow(/'K' must be \[2, Nkv, 64\]/);
    expect(() => hydraAttentionReference(query, query, query, { scale: [1, 2] })).toThrow(/'scale' must have D=64 entries/);
  });
});
