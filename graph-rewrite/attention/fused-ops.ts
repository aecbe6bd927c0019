/**
 * Rules for attention that exporters already fused into one op: ONNX `Attention` (opset 23),
 * `com.microsoft.MultiHeadAttention` and `com.microsoft.Attention`. The op states heads and scale;
 * the rule checks the inputs it can replace (no mask, bias, KV cache, causality or grouped heads) and
 * describes q, k, v and the output for the shared rewrite. ONNX Attention's 4-D inputs (heads already
 * split) are read back to their projections with the same layout tracing as decomposed attention.
 */

import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import { divideDims, formatShape, type Dim } from '../analysis/dims.js';
import { describeNode, type MatchContext } from '../rewrite/match-context.js';
import type { RewriteRule } from '../rewrite/rule.js';
import { checkAttention } from './check.js';
import { emitFusedAttention, type FusedAttentionOptions } from './emit.js';
import { perHeadNotes, traceOperand } from './operand.js';
import { traceOutput } from './output.js';
import { makeScale } from './scale.js';
import { maskInputEffect } from './score-terms.js';
import type { AttentionMatch, AttentionStyle, OperandView, OutputTarget } from './types.js';

/** The first optional input (by index) that is wired, with what it means; undefined when none is. */
function firstWired(node: Node, meanings: Readonly<Record<number, string>>): { index: number; meaning: string } | undefined {
  for (const [index, meaning] of Object.entries(meanings)) {
    const value = node.inputs[Number(index)];
    if (value !== undefined && value.name !== '') return { index: Number(index), meaning };
  }
  return undefined;
}

/** Why the op cannot become linear attention (a mask, a bias, a cache, causality…), or undefined. */
function blockerOf(m: MatchContext, node: Node, inputs: Readonly<Record<number, string>>, flags: readonly (readonly [string, string])[]): AttentionMatch['blocker'] {
  const wired = firstWired(node, inputs);
  if (wired !== undefined) {
    const shape = formatShape(m.shapeOf(node.inputs[wired.index]));
    return { reason: `${describeNode(node)} has ${wired.meaning} (input ${wired.index}, ${shape}) — no linear-attention equivalent; left alone`, node };
  }
  for (const [attribute, meaning] of flags) {
    const value = node.attribute(attribute);
    const set = value?.kind === 'int' ? value.value !== 0n : value?.kind === 'float' ? value.value !== 0 : false;
    if (set) return { reason: `${describeNode(node)} is ${meaning} (${attribute} set) — no linear-attention equivalent; left alone`, node };
  }
  return undefined;
}

/** A [B, N, D] input used as it is. */
function directView(m: MatchContext, value: Value | undefined, what: string, node: Node): OperandView {
  const shape = m.shapeOf(value);
  m.ensure(value !== undefined && shape?.length === 3, () => `${what} of ${describeNode(node)} is ${value === undefined ? 'absent' : `${formatShape(shape)}`}, not [B, N, D]`, node);
  return { value, batchAxis: 0, tokensAxis: 1, packed: undefined };
}

function mergedOutput(m: MatchContext, node: Node): OutputTarget {
  const value = node.outputs[0]!;
  const shape = m.shapeOf(value);
  m.ensure(shape?.length === 3, () => `the output of ${describeNode(node)} is ${formatShape(shape)}, not [B, N, D]`, node);
  return { value, axes: [['B'], ['N'], ['H', 'd']], shape, elemType: m.elemTypeOf(value) };
}

interface FusedOpFacts {
  readonly style: AttentionStyle;
  readonly node: Node;
  readonly views: readonly [OperandView, OperandView, OperandView];
  readonly heads: number;
  readonly headDim: number;
  readonly tokens: Dim;
  readonly keyTokens: Dim;
  readonly batch: Dim;
  readonly output: OutputTarget;
  readonly interior: readonly Node[];
  readonly blocker: AttentionMatch['blocker'];
  readonly projection?: AttentionMatch['projection'];
}

function toMatch(m: MatchContext, facts: FusedOpFacts): AttentionMatch {
  const scaleAttr = facts.node.attribute('scale');
  const given = scaleAttr?.kind === 'float' && scaleAttr.value !== 0 ? scaleAttr.value : undefined;
  const scale = makeScale(given ?? 1 / Math.sqrt(facts.headDim), 'in-op', facts.headDim);
  const [q, k, v] = facts.views;
  return {
    style: facts.style, anchor: facts.node, q, k, v,
    heads: facts.heads, headDim: facts.headDim, tokens: facts.tokens, keyTokens: facts.keyTokens, batch: facts.batch,
    scale, elemType: m.elemTypeOf(facts.projection?.input ?? v.value), output: facts.output, interior: facts.interior,
    notes: scale.matchesHeadDim ? [] : [`${describeNode(facts.node)} has scale ${given}, not 1/√${facts.headDim}; the linear attention does not use it`],
    ...(facts.projection === undefined ? {} : { projection: facts.projection }),
    ...(facts.blocker === undefined ? {} : { blocker: facts.blocker }),
  };
}

function staticHeadDim(m: MatchContext, width: Dim, heads: number, node: Node): number {
  const headDim = divideDims(width, heads);
  m.ensure(typeof headDim === 'number', () => `${describeNode(node)}: width ${String(width)} is not ${heads} heads of a static size`, node);
  return headDim;
}

function matchOnnxAttention(m: MatchContext, node: Node): AttentionMatch {
  m.bind(node, 'Attention');
  const qShape = m.shapeOf(node.inputs[0]);
  const kShape = m.shapeOf(node.inputs[1]);
  m.ensure(qShape !== undefined && kShape !== undefined && (qShape.length === 3 || qShape.length === 4) && kShape.length === qShape.length,
    () => `q ${formatShape(qShape)} and k ${formatShape(kShape)} of ${describeNode(node)} are not both 3-D or both 4-D`, node);
  // A constant mask that masks nothing (torch's all-True SDPA mask) is no mask.
  const mask = node.inputs[3] !== undefined && node.inputs[3].name !== '' ? node.inputs[3] : undefined;
  const maskReason = mask === undefined ? undefined : maskInputEffect(m, node, mask, 4);
  const blocker = maskReason !== undefined ? { reason: maskReason, node }
    : blockerOf(m, node, { 4: 'a KV cache (past_key)', 5: 'a KV cache (past_value)', 6: 'padded keys (nonpad_kv_seqlen)' }, [['is_causal', 'causal'], ['softcap', 'soft-capped']]);
  if (qShape.length === 3) {
    const heads = node.getInt('q_num_heads', 0);
    const kvHeads = node.getInt('kv_num_heads', 0);
    m.ensure(heads > 0 && kvHeads === heads, () => `${describeNode(node)} has q_num_heads ${heads} and kv_num_heads ${kvHeads}; only equal head counts (no grouped-query attention) convert`, node);
    const views = [0, 1, 2].map((i) => directView(m, node.inputs[i], ['q', 'k', 'v'][i]!, node)) as [OperandView, OperandView, OperandView];
    const headDim = staticHeadDim(m, qShape[2], heads, node);
    m.ensure(m.shapeOf(node.inputs[2])?.[2] === qShape[2], () => `v of ${describeNode(node)} is not as wide as q`, node);
    return toMatch(m, {
      style: 'onnx.Attention', node, views, heads, headDim, tokens: qShape[1], keyTokens: kShape[1], batch: qShape[0],
      output: mergedOutput(m, node), interior: [node], blocker,
    });
  }
  // 4-D: [B, H, N, d] inputs; k is not transposed, so it reads like v.
  const q = traceOperand(m, node.inputs[0]!, 'q', 'q', node);
  const k = traceOperand(m, node.inputs[1]!, 'v', 'k', node);
  const v = traceOperand(m, node.inputs[2]!, 'v', 'v', node);
  for (const [name, trace] of [['k', k], ['v', v]] as const) {
    m.ensure(trace.view.heads === q.view.heads && trace.view.headDim === q.view.headDim,
      () => `q of ${describeNode(node)} has ${q.view.heads} heads × ${q.view.headDim}, ${name} has ${trace.view.heads} × ${trace.view.headDim}`, node);
  }
  const sizes = { batch: q.view.batch, tokens: q.view.tokens, heads: q.view.heads, headDim: q.view.headDim };
  const output = traceOutput(m, node.outputs[0]!, [...v.view.axes.slice(0, -2), ['N'], ['d']], sizes, 'the attention output');
  const interior = [...m.bound].filter(([, role]) => role === 'Attention' || role === 'output chain').map(([n]) => n);
  const match = toMatch(m, {
    style: 'onnx.Attention', node, views: [q.operand, k.operand, v.operand], heads: q.view.heads, headDim: q.view.headDim,
    tokens: q.view.tokens, keyTokens: k.view.tokens, batch: q.view.batch, output, interior, blocker,
  });
  return { ...match, notes: [...perHeadNotes(q, k), ...match.notes] };
}

function matchMsMultiHeadAttention(m: MatchContext, node: Node): AttentionMatch {
  m.bind(node, 'MultiHeadAttention');
  const heads = node.getInt('num_heads', 0);
  const views = [0, 1, 2].map((i) => directView(m, node.inputs[i], ['query', 'key', 'value'][i]!, node)) as OperandView[];
  const [qShape, kShape] = [m.shapeOf(node.inputs[0])!, m.shapeOf(node.inputs[1])!];
  m.ensure(m.shapeOf(node.inputs[2])?.[2] === qShape[2], () => `value of ${describeNode(node)} is not as wide as query`, node);
  const headDim = staticHeadDim(m, qShape[2], heads, node);
  const bias = node.inputs[3];
  const embed = heads * headDim;
  // The packed [3·D] bias is sliced per operand by the rewrite (onnxruntime folds the constant Slices).
  const withBias = bias === undefined || bias.name === '' ? views : views.map((view, part) => ({ ...view, bias: { value: bias, part } }));
  m.ensure(bias === undefined || bias.name === '' || m.shapeOf(bias)?.[0] === 3 * embed,
    () => `the bias of ${describeNode(node)} is ${formatShape(m.shapeOf(bias))}, not [3·${embed}]`, node);
  const blocker = blockerOf(m, node, { 4: 'a key padding mask', 5: 'an attention bias', 6: 'a KV cache (past_key)', 7: 'a KV cache (past_value)' },
    [['unidirectional', 'causal']]);
  return toMatch(m, {
    style: 'com.microsoft.MultiHeadAttention', node, views: withBias as [OperandView, OperandView, OperandView],
    heads, headDim, tokens: qShape[1], keyTokens: kShape[1], batch: qShape[0], output: mergedOutput(m, node), interior: [node], blocker,
  });
}

function matchMsAttention(m: MatchContext, node: Node): AttentionMatch {
  m.bind(node, 'Attention');
  const heads = node.getInt('num_heads', 0);
  const input = node.inputs[0];
  const weight = node.inputs[1];
  const xShape = m.shapeOf(input);
  const wShape = m.shapeOf(weight);
  m.ensure(input !== undefined && weight !== undefined && xShape?.length === 3 && wShape?.length === 2,
    () => `${describeNode(node)} has input ${formatShape(xShape)} and weights ${formatShape(wShape)}, not [B, N, D] and [D, 3·D]`, node);
  const sizes = node.attribute('qkv_hidden_sizes') === undefined ? undefined : node.getInts('qkv_hidden_sizes');
  m.ensure(sizes === undefined || (sizes[0] === sizes[1] && sizes[1] === sizes[2]),
    () => `${describeNode(node)} has unequal qkv_hidden_sizes [${sizes!.join(', ')}]`, node);
  const embed = divideDims(wShape[1], 3);
  m.ensure(typeof embed === 'number', () => `the weights of ${describeNode(node)} (${formatShape(wShape)}) are not [D, 3·D]`, node);
  const headDim = staticHeadDim(m, embed, heads, node);
  const bias = node.inputs[2] !== undefined && node.inputs[2].name !== '' ? node.inputs[2] : undefined;
  const views = [0, 1, 2].map((part) => ({ value: input, batchAxis: 0, tokensAxis: 1, packed: { part, parts: 3 } })) as [OperandView, OperandView, OperandView];
  const blocker = blockerOf(m, node, { 3: 'an attention mask (mask_index)', 4: 'a KV cache (past)', 5: 'an attention bias' },
    [['unidirectional', 'causal'], ['do_rotary', 'rotary']]);
  return toMatch(m, {
    style: 'com.microsoft.Attention', node, views, heads, headDim, tokens: xShape[1], keyTokens: xShape[1], batch: xShape[0],
    output: mergedOutput(m, node), interior: [node], blocker, projection: { input, weight, ...(bias === undefined ? {} : { bias }) },
  });
}

export const onnxAttentionRule: RewriteRule<AttentionMatch, FusedAttentionOptions> = {
  name: 'onnx-attention', anchor: { opType: 'Attention' }, match: matchOnnxAttention, check: checkAttention, rewrite: emitFusedAttention,
};

export const msMultiHeadAttentionRule: RewriteRule<AttentionMatch, FusedAttentionOptions> = {
  name: 'com.microsoft-multiheadattention', anchor: { opType: 'MultiHeadAttention', domain: 'com.microsoft' },
  match: matchMsMultiHeadAttention, check: checkAttention, rewrite: emitFusedAttention,
};

export const msAttentionRule: RewriteRule<AttentionMatch, FusedAttentionOptions> = {
  name: 'com.microsoft-attention', anchor: { opType: 'Attention', domain: 'com.microsoft' },
  match: matchMsAttention, check: checkAttention, rewrite: emitFusedAttention,
};
