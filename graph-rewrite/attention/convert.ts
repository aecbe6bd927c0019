/**
 * Converting softmax attention blocks to fused linear attention (HydraAttention or
 * LinearAngularAttention in `ai.vitlin`). Works on a copy of the model; the copy is validated before
 * it is returned, and a model where nothing was converted is returned exactly as it came.
 */

import { InvalidArgumentError } from '../errors.js';
import type { Model } from '../ir/model.js';
import { CLEANUP_PASSES, sequential } from '../passes/pass.js';
import { commitBlockRewrite, finishRewrittenModel, selectedBlockIndices } from '../rewrite/blocks.js';
import { LINEAR_ANGULAR_MODES, getKernel, hasKernel, kernelNames } from '../../custom-ops/index.js';
import { kernelSite, type FusedAttentionOptions } from './emit.js';
import { analyseAttention } from './find.js';
import type { AttentionBlock, ConvertAttentionOptions } from './types.js';

export interface ConvertAttentionResult {
  /** The converted copy (the input model is not modified). */
  readonly model: Model;
  /** The blocks that were converted, as found before conversion. */
  readonly converted: AttentionBlock[];
  /** Selected blocks that were left as they are, and why. */
  readonly skipped: { readonly block: AttentionBlock; readonly reason: string }[];
}

function describe(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'string' ? JSON.stringify(value) : `${typeof value} ${String(value)}`;
}

function checkOptions(options: unknown): ConvertAttentionOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidArgumentError(`'options' must be an object like { attention: 'hydra' }, got ${describe(options)}`);
  }
  const { attention, blocks, eps, linearAngularMode, cleanup } = options as Record<string, unknown>;
  if (cleanup !== undefined && !(Array.isArray(cleanup) && cleanup.every((p) => typeof p?.run === 'function'))) {
    throw new InvalidArgumentError(`'options.cleanup' must be an array of passes ({ name, inPlace, run }), got ${describe(cleanup)}`);
  }
  if (!hasKernel(attention)) {
    throw new InvalidArgumentError(`'options.attention' must be ${kernelNames().map((name) => `'${name}'`).join(' or ')}, got ${describe(attention)}`);
  }
  if (blocks !== undefined && blocks !== 'all' && !(Array.isArray(blocks) && blocks.every((b) => Number.isInteger(b)))) {
    throw new InvalidArgumentError(`'options.blocks' must be 'all' or an array of block indices (integers), got ${describe(blocks)}`);
  }
  if (eps !== undefined && !(typeof eps === 'number' && Number.isFinite(eps) && eps > 0)) {
    throw new InvalidArgumentError(`'options.eps' must be a positive number, got ${describe(eps)}`);
  }
  if (linearAngularMode !== undefined && !(LINEAR_ANGULAR_MODES as readonly unknown[]).includes(linearAngularMode)) {
    throw new InvalidArgumentError(`'options.linearAngularMode' must be one of ${LINEAR_ANGULAR_MODES.join(', ')}, got ${describe(linearAngularMode)}`);
  }
  return options as ConvertAttentionOptions;
}

/** Why a convertible block still cannot take the requested op, or undefined. */
function optionBlocker(block: AttentionBlock, options: FusedAttentionOptions): string | undefined {
  const reason = getKernel(options.attention).blocker?.(kernelSite(block), options);
  return reason === undefined ? undefined : `block ${block.index}: ${reason}`;
}

/**
 * Replaces softmax attention blocks of `model` with fused linear-attention nodes (with their function
 * bodies for the model's opset and dtype, `ai.vitlin` imported). Returns a converted **copy**; `model`
 * is not modified. Blocks are those of {@link findAttentionBlocks}; `options.blocks` selects by index
 * (out-of-range indices throw InvalidArgumentError). Selected blocks that cannot be converted (a bias
 * or mask, an unsupported dtype, …) are listed in `skipped` with the reason; when none is converted,
 * the copy is identical to the input. The result passes validateRewrittenModel — a failure there is a
 * bug and throws RewriteError naming the node.
 */
export function convertAttention(model: Model, options: ConvertAttentionOptions): ConvertAttentionResult {
  checkOptions(options);
  const copy = model.clone();
  const analysis = analyseAttention(copy);
  const fused: FusedAttentionOptions = {
    attention: options.attention,
    ...(options.eps === undefined ? {} : { eps: options.eps }),
    ...(options.linearAngularMode === undefined ? {} : { linearAngularMode: options.linearAngularMode }),
  };
  const converted: AttentionBlock[] = [];
  const skipped: { block: AttentionBlock; reason: string }[] = [];
  const toConvert: number[] = [];
  for (const index of selectedBlockIndices(options.blocks, analysis.blocks.length, 'attention block')) {
    const block = analysis.blocks[index]!;
    const reason = block.reason ?? optionBlocker(block, fused);
    if (reason !== undefined) skipped.push({ block, reason });
    else toConvert.push(index);
  }
  if (toConvert.length === 0) return { model: copy, converted, skipped };
  for (const index of toConvert) {
    commitBlockRewrite(copy, analysis.matches[index]!, fused, index, 'converting');
    converted.push(analysis.blocks[index]!);
  }
  // The cleanup is a visible list of passes (options.cleanup replaces it); sorting and validation always run.
  const cleaned = sequential('cleanup', options.cleanup ?? CLEANUP_PASSES).run(copy).model;
  finishRewrittenModel(cleaned, 'converted');
  return { model: cleaned, converted, skipped };
}
