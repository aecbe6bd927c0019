/**
 * The rewrite every attention rule shares: materialise q, k, v as [B, N, D] (reusing values that
 * already are; slicing a packed projection; transposing torch's [N, B, E]), add the fused `ai.vitlin`
 * node with its function body for the model's opset and dtype, and hand its [B, N, D] output to the
 * readers of the block's merged-heads output, rearranged to the layout they expect.
 */

import { RewriteError } from '../errors.js';
import { DataType } from '../ir/dtypes.js';
import type { Value } from '../ir/value.js';
import { dimsEqual, formatShape, type Dim } from '../analysis/dims.js';
import { describeNode } from '../rewrite/match-context.js';
import { ensureModelFunction, ensureOpsetImport } from '../rewrite/model-functions.js';
import type { RewriteContext } from '../rewrite/rewrite-context.js';
import { cast, getKernel, reshape, transpose, unsqueeze, type KernelSite, type LinearAngularMode } from '../../custom-ops/index.js';
import type { AttentionMatch, OperandView } from './types.js';

/** What to replace softmax attention with (see ConvertAttentionOptions). */
export interface FusedAttentionOptions {
  /** A registered kernel's name (custom-ops/kernels): 'hydra', 'linear-angular', … */
  readonly attention: string;
  readonly eps?: number;
  readonly linearAngularMode?: LinearAngularMode;
}

/** How the fused [B, N, D] output becomes the block's output: a Transpose, then a Reshape, each if needed. */
export interface OutputArrangement {
  readonly perm: readonly number[] | undefined;
  readonly reshape: readonly number[] | undefined;
}

/**
 * The arrangement for `match`'s output target, or a reason it cannot be built with static
 * Reshape targets (two symbolic dims that move).
 */
export function outputArrangement(match: AttentionMatch): OutputArrangement | string {
  const target = match.output;
  const order = target.axes.slice(0, -1).flat();
  const tokensFirst = order.indexOf('N') >= 0 && order.indexOf('B') >= 0 && order.indexOf('N') < order.indexOf('B');
  const embed = match.heads * match.headDim;
  const current: Dim[] = tokensFirst ? [match.tokens, match.batch, embed] : [match.batch, match.tokens, embed];
  const same = current.length === target.shape.length && current.every((dim, i) => dimsEqual(dim, target.shape[i]));
  if (same) return { perm: tokensFirst ? [1, 0, 2] : undefined, reshape: undefined };
  const reshape = target.shape.map((dim, i) => (typeof dim === 'number' ? dim : dimsEqual(dim, current[i]) ? 0 : -1));
  if (reshape.filter((dim) => dim === -1).length > 1) {
    return `the block's output ${formatShape(target.shape)} cannot be rebuilt from [B, N, D] = ${formatShape(current)} with one Reshape`;
  }
  return { perm: tokensFirst ? [1, 0, 2] : undefined, reshape };
}

/** The operand as [B, N, D] in the fused op's element type. */
function materialise(context: RewriteContext, view: OperandView, embed: number, elemType: number, name: string): Value {
  let value = view.value;
  const rank = context.shapeOf(value)?.length ?? 3;
  if (view.packed !== undefined) {
    const { part } = view.packed;
    value = context.op('Slice', [
      value,
      context.int64([part * embed], `${name}_start`),
      context.int64([(part + 1) * embed], `${name}_end`),
      context.int64([-1], `${name}_axis`),
    ], { name: `${name}_slice` });
  }
  if (view.headsAxis !== undefined) {
    // [B, H, N, d] (heads split on headsAxis) → [B, N, H, d] → [B, N, H·d].
    const dAxis = [0, 1, 2, 3].find((axis) => axis !== view.batchAxis && axis !== view.tokensAxis && axis !== view.headsAxis)!;
    value = transpose(context, value, [view.batchAxis ?? 0, view.tokensAxis, view.headsAxis, dAxis], `${name}_heads_last`);
    value = reshape(context, value, [0, 0, embed], `${name}_merge_heads`);
  } else if (rank === 2) {
    value = unsqueeze(context, value, [0], `${name}_add_batch`);
  } else if (view.batchAxis !== undefined && (view.batchAxis !== 0 || view.tokensAxis !== 1)) {
    value = transpose(context, value, [view.batchAxis, view.tokensAxis, 2], `${name}_to_BND`);
  }
  if (view.bias !== undefined) {
    const { part } = view.bias;
    const bias = part === undefined ? view.bias.value : context.op('Slice', [
      view.bias.value,
      context.int64([part * embed], `${name}_bias_start`),
      context.int64([(part + 1) * embed], `${name}_bias_end`),
      context.int64([0], `${name}_bias_axis`),
    ], { name: `${name}_bias_slice` });
    value = context.op('Add', [value, bias], { name: `${name}_bias` });
  }
  if (context.elemTypeOf(view.value) !== elemType) value = cast(context, value, elemType, `${name}_cast`);
  return value;
}

/** What a kernel sees of the matched site. */
export function kernelSite(match: Pick<AttentionMatch, 'heads' | 'headDim' | 'tokens' | 'keyTokens'>): KernelSite {
  return { heads: match.heads, headDim: match.headDim, tokens: match.tokens, keyTokens: match.keyTokens, sameTokens: dimsEqual(match.tokens, match.keyTokens) };
}

/** Adds the fused node of the chosen kernel (and its function) reading q, k, v; returns its [B, N, D] output. */
function fusedNode(context: RewriteContext, match: AttentionMatch, options: FusedAttentionOptions, inputs: readonly Value[], elemType: number): Value {
  const kernel = getKernel(options.attention);
  const elem = elemType === DataType.FLOAT16 ? 'float16' : 'float';
  const call = kernel.call(kernelSite(match), options, context.opset, elem);
  const overload = ensureModelFunction(context.model, kernel.domain, kernel.opType, call.functionKey, (o) => call.body(o));
  ensureOpsetImport(context.model, kernel.domain, kernel.domainVersion);
  const shape = [match.batch, match.tokens, match.heads * match.headDim];
  return context.op(kernel.opType, inputs, {
    domain: kernel.domain,
    attributes: call.attributes,
    ...(overload === undefined ? {} : { overload }),
    outputTypes: [{ elemType, shape }],
  });
}

/** x·W (+ b): the packed q/k/v projection a fused op (com.microsoft Attention) computed inside. */
function packedProjection(context: RewriteContext, projection: NonNullable<AttentionMatch['projection']>): Value {
  const { input, weight, bias } = projection;
  const product = context.op('MatMul', [input, weight], { name: 'qkv_proj' });
  const [batch, tokens] = context.shapeOf(input) ?? [];
  const width = context.shapeOf(weight)?.[1];
  const shape = [batch, tokens, width];
  const elemType = context.elemTypeOf(input);
  context.record(product, { elemType, shape });
  if (bias === undefined) return product;
  const sum = context.op('Add', [product, bias], { name: 'qkv_bias' });
  context.record(sum, { elemType, shape });
  return sum;
}

/** The rewrite of every attention rule (see the file comment). */
export function emitFusedAttention(context: RewriteContext, match: AttentionMatch, options: FusedAttentionOptions): void {
  const elemType = match.elemType ?? DataType.FLOAT;
  const embed = match.heads * match.headDim;
  const projection = match.projection === undefined ? undefined : packedProjection(context, match.projection);
  const inputs = (['q', 'k', 'v'] as const).map((name) => {
    const view = projection === undefined ? match[name] : { ...match[name], value: projection };
    return materialise(context, view, embed, elemType, name);
  });
  let output = fusedNode(context, match, options, inputs, elemType);
  const target = match.output;
  if (target.elemType !== undefined && target.elemType !== elemType) {
    output = cast(context, output, target.elemType, 'output_cast');
  }
  const arrangement = outputArrangement(match);
  if (typeof arrangement === 'string') throw new RewriteError(`${describeNode(match.anchor)}: ${arrangement}`); // the check rejects this first
  if (arrangement.perm !== undefined) {
    output = transpose(context, output, arrangement.perm, 'output_to_NBD');
  }
  if (arrangement.reshape !== undefined) {
    output = context.op('Reshape', [output, context.int64(arrangement.reshape, 'output_shape')], { name: 'output_reshape' });
  }
  context.replace(target.value, output);
}
