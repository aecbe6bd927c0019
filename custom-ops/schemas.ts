/**
 * Schemas of the `ai.vitlin` ops (version 1): inputs, outputs, attributes with defaults, type
 * constraints, and the shape rules as code ({@link inferOutputShape}). custom-ops/README.md documents
 * the same contract in prose; tests check that the function bodies and reference kernels follow it.
 */
import { InvalidArgumentError } from '../base/errors.js';
import { VITLIN_DOMAIN, VITLIN_OPSET_VERSION } from './domain.js';

export type VitlinOpType = 'HydraAttention' | 'LinearAngularAttention';
export const VITLIN_OP_TYPES: readonly VitlinOpType[] = ['HydraAttention', 'LinearAngularAttention'];

/** Element types a vitlin op accepts for Q, K, V and produces for Y. */
export type VitlinElemType = 'float' | 'float16';

export type LinearAngularMode = 'reference' | 'kernel_normalized';
export const LINEAR_ANGULAR_MODES: readonly LinearAngularMode[] = ['reference', 'kernel_normalized'];

/** Default `eps` of both ops: q̂ = q / max(‖q‖₂, eps), the clamp of PyTorch's F.normalize. */
export const DEFAULT_EPS = 1e-6;
/** Default weight of the value term of linear-angular attention (the ½ of sim = ½ + (1/π)·cos). */
export const DEFAULT_VALUE_WEIGHT = 0.5;
/** Default weight of the angular term of linear-angular attention (the 1/π of sim = ½ + (1/π)·cos). */
export const DEFAULT_ANGULAR_WEIGHT = 1 / Math.PI;

export interface OpTensorSchema {
  readonly name: string;
  /** Name of the type constraint in {@link OpSchema.typeConstraints}. */
  readonly type: string;
  /** Shape in symbols: B batch, Nq query tokens, Nkv key/value tokens, D features, H heads. */
  readonly shape: string;
  readonly optional: boolean;
  readonly description: string;
}

export interface OpAttributeSchema {
  readonly name: string;
  readonly type: 'float' | 'int' | 'string';
  /** Absent for required attributes. */
  readonly defaultValue?: number | string;
  readonly allowedValues?: readonly string[];
  readonly description: string;
}

export interface OpSchema {
  readonly opType: VitlinOpType;
  readonly domain: typeof VITLIN_DOMAIN;
  readonly sinceVersion: typeof VITLIN_OPSET_VERSION;
  readonly summary: string;
  readonly inputs: readonly OpTensorSchema[];
  readonly outputs: readonly OpTensorSchema[];
  readonly attributes: readonly OpAttributeSchema[];
  /** Constraint name → allowed ONNX tensor types. */
  readonly typeConstraints: Readonly<Record<string, readonly string[]>>;
}

const QKV_INPUTS: readonly OpTensorSchema[] = [
  { name: 'Q', type: 'T', shape: '[B, Nq, D]', optional: false, description: 'queries (projected, heads not split)' },
  { name: 'K', type: 'T', shape: '[B, Nkv, D]', optional: false, description: 'keys (projected, heads not split)' },
  { name: 'V', type: 'T', shape: '[B, Nkv, D]', optional: false, description: 'values (projected, heads not split)' },
];
const Y_OUTPUT: OpTensorSchema = {
  name: 'Y', type: 'T', shape: '[B, Nq, D]', optional: false,
  description: 'attention output, heads merged, before the output projection',
};
const EPS_ATTRIBUTE: OpAttributeSchema = {
  name: 'eps', type: 'float', defaultValue: DEFAULT_EPS,
  description: 'x̂ = x / max(‖x‖₂, eps) per token (and per head); PyTorch F.normalize uses 1e-12',
};
const TYPE_CONSTRAINTS = {
  T: ['tensor(float)', 'tensor(float16)'],
  TCoef: ['tensor(float)', 'tensor(float16)'],
} as const;

export const HYDRA_ATTENTION_SCHEMA: OpSchema = {
  opType: 'HydraAttention',
  domain: VITLIN_DOMAIN,
  sinceVersion: VITLIN_OPSET_VERSION,
  summary: 'Y = scale ⊙ q̂ ⊙ Σ_t (k̂_t ⊙ v_t); q̂, k̂ L2-normalised over D per token (Hydra attention, H = D).',
  inputs: [
    ...QKV_INPUTS,
    {
      name: 'scale', type: 'TCoef', shape: '[D]', optional: true,
      description: 'per-feature output calibration, multiplies Y (absent: all ones)',
    },
  ],
  outputs: [Y_OUTPUT],
  attributes: [EPS_ATTRIBUTE],
  typeConstraints: TYPE_CONSTRAINTS,
};

export const LINEAR_ANGULAR_ATTENTION_SCHEMA: OpSchema = {
  opType: 'LinearAngularAttention',
  domain: VITLIN_DOMAIN,
  sinceVersion: VITLIN_OPSET_VERSION,
  summary:
    'Per head (d = D / num_heads), q̂, k̂ L2-normalised over d. reference: x = a·v + b·q̂(K̂ᵀV), y = x / max(‖x‖₂, eps). ' +
    'kernel_normalized: y = (a·Σ_j v_j + b·q̂(K̂ᵀV)) / (a·Nkv + b·q̂·Σ_j k̂_j). a = value_weight, b = angular_weight.',
  inputs: [
    ...QKV_INPUTS,
    {
      name: 'value_weight', type: 'TCoef', shape: '[H]', optional: true,
      description: `per-head weight a of the value term (absent: ${DEFAULT_VALUE_WEIGHT})`,
    },
    {
      name: 'angular_weight', type: 'TCoef', shape: '[H]', optional: true,
      description: 'per-head weight b of the angular term q̂(K̂ᵀV) (absent: 1/π)',
    },
  ],
  outputs: [Y_OUTPUT],
  attributes: [
    { name: 'num_heads', type: 'int', description: 'number of heads H; must divide D' },
    {
      name: 'mode', type: 'string', defaultValue: 'reference', allowedValues: LINEAR_ANGULAR_MODES,
      description: "'reference' (Castling-ViT released code) or 'kernel_normalized' (the paper's formula)",
    },
    EPS_ATTRIBUTE,
  ],
  typeConstraints: TYPE_CONSTRAINTS,
};

export const VITLIN_OP_SCHEMAS: Readonly<Record<VitlinOpType, OpSchema>> = {
  HydraAttention: HYDRA_ATTENTION_SCHEMA,
  LinearAngularAttention: LINEAR_ANGULAR_ATTENTION_SCHEMA,
};

export interface HydraAttentionAttributes {
  readonly eps: number;
}

export interface LinearAngularAttentionAttributes {
  readonly num_heads: number;
  readonly mode: LinearAngularMode;
  readonly eps: number;
}

export interface VitlinOpAttributes {
  HydraAttention: HydraAttentionAttributes;
  LinearAngularAttention: LinearAngularAttentionAttributes;
}

/** Attribute values as a caller may give them: anything omitted takes its schema default. */
export type PartialOpAttributes<Op extends VitlinOpType> = Partial<VitlinOpAttributes[Op]>;

function resolveEps(eps: number | undefined): number {
  const value = eps ?? DEFAULT_EPS;
  if (!Number.isFinite(value) || value <= 0) {
    throw new InvalidArgumentError(`'eps' must be a finite number > 0, got ${String(eps)}`);
  }
  return value;
}

/** Validates attributes and fills in schema defaults (num_heads has none: it is required). */
export function resolveOpAttributes<Op extends VitlinOpType>(
  opType: Op,
  attributes: PartialOpAttributes<Op> | undefined,
): VitlinOpAttributes[Op] {
  assertVitlinOpType(opType);
  if (opType === 'HydraAttention') {
    const given = (attributes ?? {}) as Partial<HydraAttentionAttributes>;
    const resolved: HydraAttentionAttributes = { eps: resolveEps(given.eps) };
    return resolved as VitlinOpAttributes[Op];
  }
  const given = (attributes ?? {}) as Partial<LinearAngularAttentionAttributes>;
  const numHeads = given.num_heads;
  if (numHeads === undefined || !Number.isInteger(numHeads) || numHeads < 1) {
    throw new InvalidArgumentError(`'num_heads' must be an integer >= 1, got ${String(numHeads)}`);
  }
  const mode = given.mode ?? 'reference';
  if (!LINEAR_ANGULAR_MODES.includes(mode)) {
    throw new InvalidArgumentError(`'mode' must be one of ${LINEAR_ANGULAR_MODES.join(', ')}, got ${String(mode)}`);
  }
  const resolved: LinearAngularAttentionAttributes = { num_heads: numHeads, mode, eps: resolveEps(given.eps) };
  return resolved as VitlinOpAttributes[Op];
}

export function assertVitlinOpType(opType: string): asserts opType is VitlinOpType {
  if (!(VITLIN_OP_TYPES as readonly string[]).includes(opType)) {
    throw new InvalidArgumentError(`'opType' must be one of ${VITLIN_OP_TYPES.join(', ')}, got ${opType}`);
  }
}

/** A dimension: a known size, a symbolic name (dim_param), or unknown. */
export type Dim = number | string | undefined;
export type Shape = readonly Dim[];

function sameDim(first: Dim, second: Dim): boolean {
  // Only two known sizes, or two identical symbols, can be judged; anything else might match at runtime.
  if (typeof first === 'number' && typeof second === 'number') return first === second;
  return true;
}

function describeShape(shape: Shape): string {
  return `[${shape.map((dim) => (dim === undefined ? '?' : String(dim))).join(', ')}]`;
}

function assertRank3(name: string, shape: Shape): void {
  if (shape.length !== 3) {
    throw new InvalidArgumentError(`'${name}' must have rank 3 [B, N, D], got shape ${describeShape(shape)}`);
  }
}

function assertVectorOf(name: string, shape: Shape | undefined, size: Dim, sizeName: string): void {
  if (shape === undefined) return;
  if (shape.length !== 1 || !sameDim(shape[0], size)) {
    throw new InvalidArgumentError(
      `'${name}' must have shape [${sizeName}=${String(size ?? '?')}], got ${describeShape(shape)}`,
    );
  }
}

/**
 * The shape rules of both ops: Q [B, Nq, D], K and V [B, Nkv, D] (Nq may differ from Nkv), Y has Q's
 * shape; LinearAngularAttention also needs num_heads to divide D, its weights to be [H], and Nq = Nkv in
 * mode 'reference' (which adds each query token's own v); Hydra's
 * scale is [D]. `inputShapes` follows the schema's input order; an optional input is `undefined` when absent.
 * Returns Y's shape; throws {@link InvalidArgumentError} naming the offending input or attribute.
 */
export function inferOutputShape<Op extends VitlinOpType>(
  opType: Op,
  inputShapes: readonly (Shape | undefined)[],
  attributes?: PartialOpAttributes<Op>,
): Shape {
  const resolved = resolveOpAttributes(opType, attributes);
  const schema = VITLIN_OP_SCHEMAS[opType];
  if (inputShapes.length > schema.inputs.length) {
    throw new InvalidArgumentError(
      `'inputShapes' has ${inputShapes.length} entries; ${opType} has ${schema.inputs.length} inputs`,
    );
  }
  const [queryShape, keyShape, valueShape] = inputShapes;
  if (queryShape === undefined || keyShape === undefined || valueShape === undefined) {
    throw new InvalidArgumentError(`'inputShapes' must give the shapes of Q, K and V`);
  }
  assertRank3('Q', queryShape);
  assertRank3('K', keyShape);
  assertRank3('V', valueShape);
  const [batch, , features] = queryShape;
  for (const [name, shape] of [['K', keyShape], ['V', valueShape]] as const) {
    if (!sameDim(shape[0], batch) || !sameDim(shape[2], features)) {
      throw new InvalidArgumentError(
        `'${name}' must match Q's batch and feature dims [B=${String(batch)}, ·, D=${String(features)}], got ${describeShape(shape)}`,
      );
    }
  }
  if (!sameDim(keyShape[1], valueShape[1])) {
    throw new InvalidArgumentError(
      `'V' must have as many tokens as 'K' (${String(keyShape[1])}), got shape ${describeShape(valueShape)}`,
    );
  }
  if (opType === 'HydraAttention') {
    assertVectorOf('scale', inputShapes[3], features, 'D');
  } else {
    const { num_heads: numHeads, mode } = resolved as LinearAngularAttentionAttributes;
    if (mode === 'reference' && !sameDim(keyShape[1], queryShape[1])) {
      // The reference form adds each query token's own v_i, so queries and values must pair up.
      throw new InvalidArgumentError(
        `'K' and 'V' must have as many tokens as 'Q' (${String(queryShape[1])}) in mode 'reference', got ${describeShape(keyShape)}`,
      );
    }
    if (typeof features === 'number' && features % numHeads !== 0) {
      throw new InvalidArgumentError(`'num_heads' must divide D=${features}, got ${numHeads}`);
    }
    assertVectorOf('value_weight', inputShapes[3], numHeads, 'H');
    assertVectorOf('angular_weight', inputShapes[4], numHeads, 'H');
  }
  return [...queryShape];
}
