/**
 * The rule for decomposed softmax attention, `Softmax(s · q kᵀ [+ bias]) v`, in every exporter style:
 * anchored at the Softmax, it matches the scores (scaled, with an additive bias or mask, or masked by
 * Where — alternatives of one pattern), the weights·v MatMul, and reads q, kᵀ and v as heads of their
 * projections through the layout algebra — so HF's Reshape+Transpose, timm's packed qkv, CLIP's
 * (B·H, N, d) bmm, torch MultiheadAttention's (N, B, E) in_proj and SDPA's √scale on q and kᵀ are one
 * pattern. Biases and masks have no linear-attention equivalent: such blocks are found and rejected.
 */

import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import { dimsEqual, formatShape, type Dim } from '../analysis/dims.js';
import { formatRoles, type Role } from '../analysis/head-layout.js';
import { normalizeAxis } from '../analysis/shape-rules-data.js';
import { VALUE_NEUTRAL_OPS, describeNode, isMetadataReader, type MatchContext } from '../rewrite/match-context.js';
import type { RewriteRule } from '../rewrite/rule.js';
import { checkAttention } from './check.js';
import { emitFusedAttention, type FusedAttentionOptions } from './emit.js';
import { interiorNodes, perHeadNotes, traceOperand, tracedOperands, type OperandTrace, type ScaleFactor } from './operand.js';
import { traceOutput } from './output.js';
import { additiveTermEffect, graphInputsReaching, whereMaskEffect } from './score-terms.js';
import { constantTensorOf } from '../analysis/constants.js';
import { scaleFromFactors, scaleNotes } from './scale.js';
import type { AttentionMatch, AttentionStyle } from './types.js';

/** What feeds the Softmax: the q·kᵀ MatMul, the scale factors on the way, and a bias or mask if any. */
interface Scores {
  readonly matmul: Node;
  readonly factors: ScaleFactor[];
  readonly blocker?: { readonly reason: string; readonly node: Node };
}

/** Walks up through Cast/Identity and scalar Mul/Div (the scale) to the q·kᵀ MatMul. */
function scaledScores(m: MatchContext, value: Value, near: Node): Scores {
  const { value: product, factors } = scaledOrNeutral(m, value);
  const matmul = m.bind(m.producer(product, ['MatMul'], 'the attention scores', near), 'q·kᵀ MatMul');
  return { matmul, factors };
}

/** `Softmax(scores + term)`: attention with a relative-position bias or an additive mask. */
function additiveScores(m: MatchContext, value: Value, near: Node): Scores {
  const outer = scaledOrNeutral(m, value);
  const add = m.bind(m.producer(outer.value, ['Add', 'Sub'], 'the Softmax input', near), 'bias Add');
  const side = m.firstOf('one side of the Add', [0, 1].map((i) => [`input ${i}`, (c: MatchContext) => ({ i, scores: scaledScores(c, add.inputs[i]!, add) })] as const));
  const reason = additiveTermEffect(m, add, add.inputs[1 - side.i]!, add.inputs[side.i]!);
  return { matmul: side.scores.matmul, factors: [...outer.factors, ...side.scores.factors], ...(reason === undefined ? {} : { blocker: { reason, node: add } }) };
}

/** `Softmax(Where(mask, scores, fill))`: masked attention. */
function maskedScores(m: MatchContext, value: Value, near: Node): Scores {
  const outer = scaledOrNeutral(m, value);
  const where = m.bind(m.producer(outer.value, ['Where'], 'the Softmax input', near), 'mask Where');
  const side = m.firstOf('one branch of the Where', [1, 2].map((i) => [`input ${i}`, (c: MatchContext) => ({ i, scores: scaledScores(c, where.inputs[i]!, where) })] as const));
  const reason = whereMaskEffect(m, where, side.i, where.inputs[side.i]!);
  return { matmul: side.scores.matmul, factors: [...outer.factors, ...side.scores.factors], ...(reason === undefined ? {} : { blocker: { reason, node: where } }) };
}

/** Scale factors and neutral ops above a value, stopping at the first other producer. */
function scaledOrNeutral(m: MatchContext, value: Value): { value: Value; factors: ScaleFactor[] } {
  const factors: ScaleFactor[] = [];
  let current = m.skipNeutralUp(value);
  for (let node = current.producer(); node?.domain === '' && (node.opType === 'Mul' || node.opType === 'Div'); node = current.producer()) {
    const at = (node.opType === 'Div' ? [1] : [1, 0]).find((i) => m.scalar(node!.inputs[i]) !== undefined);
    if (at === undefined) break;
    const factor = m.scalar(node.inputs[at])!;
    factors.push({ node, op: node.opType, factor: node.opType === 'Div' ? 1 / factor : factor, on: 'scores', afterHeadSplit: true });
    m.bind(node, 'scale');
    current = m.skipNeutralUp(node.inputs[1 - at]!);
  }
  return { value: current, factors };
}

/**
 * The MatMul(weights, v) reading the attention weights (through Cast / Identity). Other readers of the
 * weights (torch's head-averaged attention output, a debug output) do not stop the match: the check
 * reports them, since they would keep the softmax path alive.
 */
function weightsConsumer(m: MatchContext, softmax: Node): Node {
  let weights = softmax.outputs[0]!;
  for (;;) {
    const guarded = nanGuard(m, weights);
    if (guarded !== undefined) {
      weights = guarded;
      continue;
    }
    const readers = weights.uses().map((use) => use.node).filter((node) => !isMetadataReader(node));
    const product = readers.find((node) => node.domain === '' && node.opType === 'MatMul' && node.inputs[0] === weights);
    if (product !== undefined) return product;
    const neutral = readers.length === 1 && readers[0]!.domain === '' && VALUE_NEUTRAL_OPS.has(readers[0]!.opType) ? readers[0]! : undefined;
    if (neutral === undefined) {
      const found = readers.length === 0 ? 'nothing' : readers.map(describeNode).join(', ');
      m.fail(`expected the attention weights (${weights.label}) to be multiplied with v by MatMul(weights, v), found ${found}`, readers[0] ?? softmax);
    }
    m.bind(neutral, neutral.opType);
    weights = neutral.outputs[0]!;
  }
}

/**
 * `Where(IsNaN(w), c, w)`, the guard torch's exporter puts after the Softmax for rows that are masked
 * entirely. Without a mask (a block with one is left alone) the scores are finite, so w has no NaN and
 * the guard passes w through: it is part of the block. Returns the guard's output, or undefined.
 */
function nanGuard(m: MatchContext, weights: Value): Value | undefined {
  const readers = weights.uses().map((use) => use.node).filter((node) => !isMetadataReader(node));
  const isNaN = readers.find((node) => node.domain === '' && node.opType === 'IsNaN');
  const where = readers.find((node) => node.domain === '' && node.opType === 'Where');
  if (readers.length !== 2 || isNaN === undefined || where === undefined) return undefined;
  const flags = isNaN.outputs[0]!;
  const passesThrough = where.inputs[0] === flags && where.inputs[2] === weights && m.scalar(where.inputs[1]) !== undefined;
  if (!passesThrough || flags.uses().length !== 1 || flags.isGraphOutput()) return undefined;
  m.bind(isNaN, 'NaN guard');
  m.bind(where, 'NaN guard');
  return where.outputs[0]!;
}

/** What a projection reads: `x` of `x·W + b` (MatMul / Gemm by a constant weight, Add of a constant bias). */
function projectedInput(value: Value): Value {
  let current = value;
  for (let node = current.producer(); node?.domain === ''; node = current.producer()) {
    const constantAt = [0, 1].find((i) => node!.inputs[i] !== undefined && (constantTensorOf(node!.inputs[i]) !== undefined || graphInputsReaching(node!.inputs[i]!).length === 0));
    if (node.opType === 'Add' && constantAt !== undefined) current = node.inputs[1 - constantAt]!;
    else if ((node.opType === 'MatMul' || node.opType === 'Gemm') && constantAt === 1) return node.inputs[0]!;
    else return current;
  }
  return current;
}

/**
 * A note when q and k project different tokens (cross-attention): SigLIP's pooling head, where a learned
 * query (computed from constants only) attends over the image tokens. undefined for self-attention.
 */
function crossAttention(qSource: Value, kSource: Value, tokens: Dim, keyTokens: Dim): string | undefined {
  const [queries, keys] = [projectedInput(qSource), projectedInput(kSource)];
  if (queries === keys) return undefined;
  const learned = graphInputsReaching(queries).length === 0;
  const what = learned ? `a learned query (${String(tokens)} token${tokens === 1 ? '' : 's'}, computed from constants only)` : `${String(tokens)} query tokens (${queries.label})`;
  return `cross-attention: ${what} attends over ${String(keyTokens)} tokens (${keys.label})`;
}

function styleOf(q: OperandTrace, placement: string): AttentionStyle {
  if (placement === 'sqrt-on-q-and-kT') return 'sdpa';
  const { batchAxis, tokensAxis } = q.operand;
  if (batchAxis !== undefined && tokensAxis < batchAxis) return 'torch-mha';
  if (q.view.axes.length === 3 && q.view.heads > 1) return 'clip-bmm';
  if (q.view.packed !== undefined) return 'timm-packed';
  return q.view.heads === 1 ? 'single-head' : 'hf';
}

function sameRoles(a: readonly (readonly Role[])[], b: readonly (readonly Role[])[]): boolean {
  return formatRoles(a) === formatRoles(b);
}

function matchSoftmaxAttention(m: MatchContext, softmax: Node): AttentionMatch {
  m.bind(softmax, 'Softmax');
  const scoresShape = m.shapeOf(softmax.inputs[0]);
  m.ensure(scoresShape !== undefined, 'the shape of the Softmax input is not known', softmax);
  const axis = softmax.getInt('axis', (m.onnxOpset ?? 13) < 13 ? 1 : -1);
  m.ensure(scoresShape.length >= 2 && normalizeAxis(axis, scoresShape.length) === scoresShape.length - 1,
    () => `Softmax normalises over axis ${axis} of ${formatShape(scoresShape)}, not the last (keys) axis`, softmax);

  const scores = m.firstOf('the Softmax input', [
    ['s·q·kᵀ', (c) => scaledScores(c, softmax.inputs[0]!, softmax)],
    ['s·q·kᵀ + bias', (c) => additiveScores(c, softmax.inputs[0]!, softmax)],
    ['Where(mask, s·q·kᵀ, fill)', (c) => maskedScores(c, softmax.inputs[0]!, softmax)],
  ]);
  const weightsTimesV = m.bind(weightsConsumer(m, softmax), 'weights·v MatMul');

  const qk = scores.matmul;
  const q = traceOperand(m, qk.inputs[0]!, 'q', 'q', qk);
  const k = traceOperand(m, qk.inputs[1]!, 'kT', 'kᵀ', qk);
  const v = traceOperand(m, weightsTimesV.inputs[1]!, 'v', 'v', weightsTimesV);
  const { heads, headDim } = q.view;
  for (const [name, trace, near] of [['kᵀ', k, qk], ['v', v, weightsTimesV]] as const) {
    m.ensure(trace.view.heads === heads && trace.view.headDim === headDim,
      () => `q has ${heads} heads × ${headDim}, but ${name} has ${trace.view.heads} × ${trace.view.headDim}`, near);
    m.ensure(sameRoles(trace.view.axes.slice(0, -2), q.view.axes.slice(0, -2)),
      () => `the batch axes of q ${formatRoles(q.view.axes.slice(0, -2))} and ${name} ${formatRoles(trace.view.axes.slice(0, -2))} do not line up`, near);
    m.ensure(dimsEqual(trace.view.batch, q.view.batch), () => `q has batch ${String(q.view.batch)}, ${name} has ${String(trace.view.batch)}`, near);
  }
  m.ensure(dimsEqual(k.view.tokens, v.view.tokens), () => `kᵀ has ${String(k.view.tokens)} tokens, v has ${String(v.view.tokens)}`, weightsTimesV);

  const sizes = { batch: q.view.batch, tokens: q.view.tokens, heads, headDim };
  const output = traceOutput(m, weightsTimesV.outputs[0]!, [...v.view.axes.slice(0, -2), ['N'], ['d']], sizes, 'the attention output');
  const factors = [...scores.factors, ...q.scales, ...k.scales];
  const scale = scaleFromFactors(factors, headDim);
  // Per-head transforms (rotary) sit between projection and scores: there is no projection to compare.
  const cross = q.perHead === undefined && k.perHead === undefined ? crossAttention(q.source, k.source, q.view.tokens, k.view.tokens) : undefined;
  return {
    style: cross === undefined ? styleOf(q, scale.placement) : 'cross-attention',
    anchor: softmax,
    ...tracedOperands(q, k, v),
    scale,
    elemType: m.elemTypeOf(v.operand.value),
    output,
    interior: interiorNodes(m),
    notes: [...(cross === undefined ? [] : [cross]), ...perHeadNotes(q, k), ...scaleNotes(scale, headDim, describeNode(qk))],
    ...(scores.blocker === undefined ? {} : { blocker: scores.blocker }),
  };
}

/** Decomposed softmax attention → a fused linear attention op. */
export const softmaxAttentionRule: RewriteRule<AttentionMatch, FusedAttentionOptions> = {
  name: 'softmax-attention',
  anchor: { opType: 'Softmax' },
  match: matchSoftmaxAttention,
  check: checkAttention,
  rewrite: emitFusedAttention,
};
