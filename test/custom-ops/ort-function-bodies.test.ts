/**
 * The generated function bodies, run by real onnxruntime-node CPU sessions, against the reference
 * kernels: every op × mode × model opset × element type, with and without calibration inputs.
 */
import { describe, expect, it } from 'vitest';
import {
  hydraAttentionReference,
  linearAngularAttentionReference,
  type Float32TensorView,
  type LinearAngularMode,
  type VitlinElemType,
} from '../../custom-ops/index.js';
import { seededRandom } from '../../src/runtime/random-feeds.js';
import { buildOpModel, createSession, maxAbsDifference, randomTensor, roundedToFloat16, runOp } from './harness.js';

const OPSETS = [11, 13, 17, 18, 21, 23] as const;
const ELEM_TYPES: readonly VitlinElemType[] = ['float', 'float16'];

/**
 * Largest excess of |actual − expected| over atol + rtol·|expected|; ≤ 0 means within tolerance.
 * float32: atol 1e-5. float16: the body computes in float32 and only Y is rounded to float16
 * (relative step 2⁻¹¹), so rtol 1e-3 with a small atol for outputs near zero.
 */
function toleranceExcess(actual: Float32TensorView, expected: Float32TensorView, elemType: VitlinElemType): number {
  const [atol, rtol] = elemType === 'float' ? [1e-5, 0] : [1e-4, 1e-3];
  expect(actual.dims).toEqual(expected.dims);
  let worst = Number.NEGATIVE_INFINITY;
  for (let index = 0; index < expected.data.length; index++) {
    const excess = Math.abs(actual.data[index]! - expected.data[index]!) - (atol + rtol * Math.abs(expected.data[index]!));
    if (Number.isNaN(excess)) return Number.POSITIVE_INFINITY;
    worst = Math.max(worst, excess);
  }
  return worst;
}

interface Inputs {
  query: Float32TensorView;
  key: Float32TensorView;
  value: Float32TensorView;
}

function makeInputs(seed: number, batch: number, queryTokens: number, keyTokens: number, features: number): Inputs {
  const random = seededRandom(seed);
  return {
    query: randomTensor([batch, queryTokens, features], random),
    key: randomTensor([batch, keyTokens, features], random),
    value: randomTensor([batch, keyTokens, features], random),
  };
}

/** What the model sees: float16 models get float16-rounded inputs, so the oracle must too. */
function asSeenBy(elemType: VitlinElemType, inputs: Inputs): Inputs {
  if (elemType === 'float') return inputs;
  return { query: roundedToFloat16(inputs.query), key: roundedToFloat16(inputs.key), value: roundedToFloat16(inputs.value) };
}

const vector = (values: readonly number[]): Float32TensorView => ({ data: Float32Array.from(values), dims: [values.length] });

describe('HydraAttention function body on onnxruntime CPU', () => {
  const rows = OPSETS.flatMap((opset, opsetIndex) =>
    ELEM_TYPES.flatMap((elemType) =>
      [false, true].map((withScale) => ({
        opset,
        elemType,
        withScale,
        seed: 100 + opsetIndex * 4 + (elemType === 'float' ? 0 : 2) + (withScale ? 1 : 0),
        queryTokens: 7 + opsetIndex * 8,
        // Cross-attention (Nq ≠ Nkv) on half the rows.
        keyTokens: withScale ? 7 + opsetIndex * 8 : 50 - opsetIndex * 5,
        features: [8, 16, 24, 32, 48, 64][opsetIndex]!,
      })),
    ),
  );
  it.each(rows)('opset $opset $elemType scale=$withScale Nq=$queryTokens Nkv=$keyTokens D=$features', async (row) => {
    const inputs = makeInputs(row.seed, 2, row.queryTokens, row.keyTokens, row.features);
    const scale = Array.from({ length: row.features }, (_, index) => 0.5 + (index % 5) * 0.25);
    const session = await createSession(
      buildOpModel('HydraAttention', {
        opset: row.opset,
        elemType: row.elemType,
        attributes: { eps: 1e-6 },
        ...(row.withScale ? { optionalInputs: ['scale'] } : {}),
      }),
    );
    const actual = await runOp(session, row.elemType, {
      Q: inputs.query,
      K: inputs.key,
      V: inputs.value,
      ...(row.withScale ? { scale: vector(scale) } : {}),
    });
    const seen = asSeenBy(row.elemType, inputs);
    const expected = hydraAttentionReference(seen.query, seen.key, seen.value, row.withScale ? { scale } : {});
    expect(toleranceExcess(actual, expected, row.elemType)).toBeLessThanOrEqual(0);
    await session.release();
  });
});

describe('LinearAngularAttention function body on onnxruntime CPU', () => {
  const modes: readonly LinearAngularMode[] = ['reference', 'kernel_normalized'];
  const rows = modes.flatMap((mode, modeIndex) =>
    OPSETS.flatMap((opset, opsetIndex) =>
      ELEM_TYPES.map((elemType) => {
        const numHeads = 2 + ((opsetIndex + modeIndex) % 3);
        const queryTokens = 7 + opsetIndex * 8;
        return {
          mode,
          opset,
          elemType,
          numHeads,
          seed: 200 + modeIndex * 50 + opsetIndex * 2 + (elemType === 'float' ? 0 : 1),
          queryTokens,
          keyTokens: mode === 'reference' ? queryTokens : 50 - opsetIndex * 6,
          features: numHeads * [4, 8, 16][opsetIndex % 3]!,
        };
      }),
    ),
  );
  it.each(rows)('$mode opset $opset $elemType H=$numHeads Nq=$queryTokens Nkv=$keyTokens D=$features', async (row) => {
    const inputs = makeInputs(row.seed, 2, row.queryTokens, row.keyTokens, row.features);
    const attributes = { num_heads: row.numHeads, mode: row.mode, eps: 1e-6 };
    const session = await createSession(buildOpModel('LinearAngularAttention', { opset: row.opset, elemType: row.elemType, attributes }));
    const actual = await runOp(session, row.elemType, { Q: inputs.query, K: inputs.key, V: inputs.value });
    const seen = asSeenBy(row.elemType, inputs);
    const expected = linearAngularAttentionReference(seen.query, seen.key, seen.value, { numHeads: row.numHeads, mode: row.mode });
    expect(toleranceExcess(actual, expected, row.elemType)).toBeLessThanOrEqual(0);
    await session.release();
  });

  // Calibration inputs: both, only the value weight, only the angular weight (each body path).
  const calibrationRows = modes.flatMap((mode) =>
    (['both', 'value_weight', 'angular_weight'] as const).flatMap((wired) =>
      ([13, 18] as const).map((opset) => ({ mode, wired, opset, elemType: (opset === 18 ? 'float16' : 'float') as VitlinElemType })),
    ),
  );
  it.each(calibrationRows)('$mode calibrated ($wired) opset $opset $elemType', async (row) => {
    const numHeads = 4;
    const inputs = makeInputs(300 + row.opset, 2, 23, 23, 32);
    // Calibration inputs share the model's element type, so float16 rows feed (and expect) rounded weights.
    const asFed = (values: readonly number[]): number[] =>
      row.elemType === 'float16' ? Array.from(roundedToFloat16(vector(values)).data) : [...values];
    const valueWeight = asFed([0.7, 0.3, 1.1, 0.5]);
    const angularWeight = asFed([0.2, 0.45, 0.1, 0.3]);
    const wiresValue = row.wired !== 'angular_weight';
    const wiresAngular = row.wired !== 'value_weight';
    const optionalInputs = [...(wiresValue ? ['value_weight' as const] : []), ...(wiresAngular ? ['angular_weight' as const] : [])];
    const session = await createSession(
      buildOpModel('LinearAngularAttention', {
        opset: row.opset,
        elemType: row.elemType,
        attributes: { num_heads: numHeads, mode: row.mode },
        optionalInputs,
      }),
    );
    const actual = await runOp(session, row.elemType, {
      Q: inputs.query,
      K: inputs.key,
      V: inputs.value,
      ...(wiresValue ? { value_weight: vector(valueWeight) } : {}),
      ...(wiresAngular ? { angular_weight: vector(angularWeight) } : {}),
    });
    const seen = asSeenBy(row.elemType, inputs);
    const expected = linearAngularAttentionReference(seen.query, seen.key, seen.value, {
      numHeads,
      mode: row.mode,
      ...(wiresValue ? { valueWeight } : {}),
      ...(wiresAngular ? { angularWeight } : {}),
    });
    expect(toleranceExcess(actual, expected, row.elemType)).toBeLessThanOrEqual(0);
    await session.release();
  });
});

describe('eps on zero vectors in onnxruntime (no NaN, F.normalize semantics)', () => {
  const features = 8;
  // Token 0: q, k, v all zero. Token 1: q zero. Token 2: q zero and v tiny, so that ‖x‖ < eps in mode
  // 'reference' (x = a·v). Token 3: q and k tiny (norms below eps). Token 4: ordinary.
  const random = seededRandom(400);
  const scaledTokens = (tensor: Float32TensorView, factors: Readonly<Record<number, number>>): Float32TensorView => {
    const data = tensor.data.slice();
    for (const [token, factor] of Object.entries(factors)) {
      for (let index = Number(token) * features; index < (Number(token) + 1) * features; index++) data[index]! *= factor;
    }
    return { data, dims: tensor.dims };
  };
  const query = scaledTokens(randomTensor([1, 5, features], random), { 0: 0, 1: 0, 2: 0, 3: 1e-5 });
  const key = scaledTokens(randomTensor([1, 5, features], random), { 0: 0, 3: 1e-5 });
  const value = scaledTokens(randomTensor([1, 5, features], random), { 0: 0, 2: 1e-4 });
  const cases = [
    { opType: 'HydraAttention', mode: undefined },
    { opType: 'LinearAngularAttention', mode: 'reference' },
    { opType: 'LinearAngularAttention', mode: 'kernel_normalized' },
  ] as const;
  it.each(cases)('$opType $mode', async ({ opType, mode }) => {
    const eps = 1e-3;
    const session =
      opType === 'HydraAttention'
        ? await createSession(buildOpModel(opType, { opset: 17, elemType: 'float', attributes: { eps } }))
        : await createSession(buildOpModel(opType, { opset: 17, elemType: 'float', attributes: { num_heads: 2, mode: mode!, eps } }));
    const actual = await runOp(session, 'float', { Q: query, K: key, V: value });
    const expected =
      opType === 'HydraAttention'
        ? hydraAttentionReference(query, key, value, { eps })
        : linearAngularAttentionReference(query, key, value, { numHeads: 2, mode: mode!, eps });
    expect(actual.data.every(Number.isFinite)).toBe(true);
    expect(maxAbsDifference(actual, expected)).toBeLessThanOrEqual(1e-5);
    if (opType === 'HydraAttention' || mode === 'reference') {
      // Token 0 (all zero) must come out exactly zero (either sign).
      expect(Array.from(actual.data.subarray(0, features), Math.abs)).toEqual(new Array(features).fill(0));
    }
    await session.release();
  });
});
