/**
 * What a term on the attention scores means, read from its values rather than from the ops around it.
 * Exporters write masks that cannot change anything: HF passes an all-True mask, which torch's dynamo
 * exporter folds into a constant all-zero bias (`Where(mask, 0, −inf)` → `Add`) or hands to ONNX
 * `Attention` as a constant all-True `attn_mask`. Such terms are no mask. A constant that is the same
 * along the keys is no mask either (softmax is shift-invariant per row). Everything else is named by
 * what it is: a bias that varies per (query, key) pair is a relative-position bias; a constant with
 * −∞ / very negative fills is a constant mask; a term computed from graph inputs is an attention mask.
 */

import { DataType } from '../ir/dtypes.js';
import type { Node } from '../ir/node.js';
import type { Tensor } from '../ir/tensor.js';
import type { Value } from '../ir/value.js';
import { constantTensorOf } from '../analysis/constants.js';
import { formatShape } from '../analysis/dims.js';
import { describeNode, isMetadataReader, type MatchContext } from '../rewrite/match-context.js';

/** Scores at or below this are "masked out" fills (HF uses finfo.min, Swin −100, BERT −10000). */
const MASK_FILL = -100;
/** Constants larger than this are not read (a bias is at most heads × N × N). */
const MAX_ELEMENTS = 1 << 22;

/** undefined: the term provably does not change the softmax; otherwise why the block is left alone. */
export type TermEffect = undefined | string;

/**
 * Visits `value` and the values it is computed from (bounded walk). Not through Shape / Size: they read
 * only a shape, so what is computed from them is constant for a given input shape.
 */
function forEachSource(value: Value, visit: (value: Value) => void, limit = 500): void {
  const seen = new Set<Value>();
  const pending = [value];
  while (pending.length > 0 && seen.size < limit) {
    const current = pending.pop()!;
    if (seen.has(current)) continue;
    seen.add(current);
    visit(current);
    const producer = current.producer();
    if (producer === undefined || isMetadataReader(producer)) continue;
    for (const input of producer.inputs) if (input !== undefined) pending.push(input);
  }
}

/** Graph inputs whose values a value depends on: tells a mask (from an input) from a constant. */
export function graphInputsReaching(value: Value): string[] {
  const found = new Set<string>();
  forEachSource(value, (v) => {
    if (v.isGraphInput() && !v.isInitializer()) found.add(v.name ?? '');
  });
  return [...found];
}

function readable(tensor: Tensor | undefined): tensor is Tensor {
  return tensor !== undefined && tensor.storage !== 'external' && tensor.elementCount <= MAX_ELEMENTS && tensor.dataType !== DataType.STRING;
}

/** Values of a constant as rows along its last axis (a rank-0/1 constant is one row). */
function rows(tensor: Tensor): { data: Float32Array; width: number; count: number; queryRows: number } {
  const data = tensor.toFloat32Array();
  const dims = tensor.dims;
  const width = dims.length === 0 ? 1 : dims[dims.length - 1]!;
  const queryRows = dims.length >= 2 ? dims[dims.length - 2]! : 1;
  return { data, width, count: width === 0 ? 0 : data.length / width, queryRows };
}

function rowIsConstant(data: Float32Array, start: number, width: number): boolean {
  for (let j = 1; j < width; j++) if (data[start + j] !== data[start]) return false;
  return true;
}

/** Whether values laid out as [..., queryRows, width] differ between the query rows of some block (a per-pair term, not a per-key one). */
function pairVarying(data: Float32Array, width: number, queryRows: number): boolean {
  const block = queryRows * width;
  for (let start = 0; start + block <= data.length; start += block) {
    for (let r = 1; r < queryRows; r++) {
      for (let j = 0; j < width; j++) if (data[start + r * width + j] !== data[start + j]) return true;
    }
  }
  return false;
}

/** What a constant additive term on the scores does. */
function constantBiasMeaning(tensor: Tensor): { noOp: boolean; what: string } {
  const { data, width, count, queryRows } = rows(tensor);
  let masked = 0;
  let finiteVarying = false;
  for (let i = 0; i < data.length; i++) if (!(data[i]! > MASK_FILL)) masked++;
  if (masked === 0) {
    let rowsConstant = true;
    for (let r = 0; r < count && rowsConstant; r++) rowsConstant = rowIsConstant(data, r * width, width);
    if (rowsConstant) return { noOp: true, what: data.every((x) => x === 0) ? 'all zero' : 'the same for every key' };
    finiteVarying = true;
  }
  if (masked > 0) {
    const share = ((100 * masked) / data.length).toFixed(1);
    const mask = `a constant attention mask (${share} % of the score entries filled with ≤ ${MASK_FILL})`;
    // Swin folds its relative-position bias and its shifted-window mask into one constant.
    const unmasked = Float32Array.from(data, (x) => (x > MASK_FILL ? x : 0));
    const rest = new Set(Array.from(unmasked)).size > 1 ? pairVarying(unmasked, width, queryRows) : false;
    return { noOp: false, what: rest ? `${mask} plus a relative-position bias (it varies per query–key pair)` : mask };
  }
  const perPair = finiteVarying && pairVarying(data, width, queryRows);
  return { noOp: false, what: perPair ? 'a relative-position bias (it varies per query–key pair)' : 'a per-key bias (the same for every query)' };
}

/** The effect of `scores ± term` (`add` is the Add / Sub node) on the Softmax. */
export function additiveTermEffect(m: MatchContext, add: Node, term: Value, scores: Value): TermEffect {
  const shape = formatShape(m.shapeOf(term));
  const inputs = graphInputsReaching(term);
  if (inputs.length > 0) {
    return `the scores have an additive input (${describeNode(add)} with a ${shape} mask computed from graph input '${inputs.join("', '")}') before Softmax — an attention mask; left alone`;
  }
  const tensor = constantTensorOf(term);
  const values = tensor === undefined ? distinctValues(term) : undefined;
  if (values !== undefined && [...values].every((x) => x === 0) && sameShape(m, add.outputs[0], scores)) return undefined;
  if (!readable(tensor)) {
    const parts = computedTermParts(m, term);
    const what = parts.length > 0 ? ` — ${parts.join(' plus ')}` : '';
    return `the scores have an additive input (${describeNode(add)} with a ${shape} bias computed from constants only${what}) before Softmax; no linear-attention equivalent, left alone`;
  }
  if (!sameShape(m, add.outputs[0], scores)) {
    return `${describeNode(add)} broadcasts the scores ${formatShape(m.shapeOf(scores))} to ${formatShape(m.shapeOf(add.outputs[0]))}; left alone`;
  }
  const meaning = constantBiasMeaning(tensor);
  if (meaning.noOp) return undefined;
  const noEquivalent = meaning.what.startsWith('a relative') || meaning.what.startsWith('a per-key') ? '; no linear-attention equivalent' : '';
  return `the scores have an additive input (${describeNode(add)} with a constant ${shape} bias) before Softmax — ${meaning.what}${noEquivalent}, left alone`;
}

/**
 * The effect of `Where(condition, …)` choosing the scores in input `scoresAt` (1 or 2) and a fill in
 * the other: none when the condition is a constant that always picks the scores.
 */
export function whereMaskEffect(m: MatchContext, where: Node, scoresAt: number, scores: Value): TermEffect {
  const condition = where.inputs[0]!;
  const shape = formatShape(m.shapeOf(condition));
  const inputs = graphInputsReaching(condition);
  if (inputs.length > 0) {
    return `the scores are masked (${describeNode(where)} with a ${shape} condition computed from graph input '${inputs.join("', '")}') before Softmax — an attention mask; left alone`;
  }
  const values = distinctValues(condition);
  if (values !== undefined && [...values].every((x) => (x !== 0) === (scoresAt === 1)) && sameShape(m, where.outputs[0], scores)) return undefined;
  const tensor = constantTensorOf(condition);
  if (readable(tensor) && sameShape(m, where.outputs[0], scores)) {
    const data = tensor.toFloat32Array();
    const picked = data.filter((x) => (x !== 0) === (scoresAt === 1)).length;
    if (picked === data.length) return undefined;
    const share = ((100 * (data.length - picked)) / Math.max(data.length, 1)).toFixed(1);
    return `the scores are masked (${describeNode(where)} with a constant ${shape} condition that masks ${share} % of the entries) before Softmax — a constant attention mask; left alone`;
  }
  return `the scores are masked (${describeNode(where)} with a ${shape} condition) before Softmax — an attention mask; left alone`;
}

/** The effect of a fused attention op's mask input (ONNX Attention's attn_mask: boolean or additive). */
/** `maxRank`: the rank of the scores the mask broadcasts against (ONNX Attention: 4). */
export function maskInputEffect(m: MatchContext, node: Node, mask: Value, maxRank: number): TermEffect {
  const shape = formatShape(m.shapeOf(mask));
  const inputs = graphInputsReaching(mask);
  if (inputs.length > 0) return `${describeNode(node)} has an attention mask (${shape}) computed from graph input '${inputs.join("', '")}'; left alone`;
  const values = distinctValues(mask);
  const noOp = m.elemTypeOf(mask) === DataType.BOOL ? (x: number) => x !== 0 : (x: number) => x === 0;
  if (values !== undefined && [...values].every(noOp) && (m.shapeOf(mask)?.length ?? Infinity) <= maxRank) return undefined;
  const tensor = constantTensorOf(mask);
  const maskShape = m.shapeOf(mask);
  if (!readable(tensor) || maskShape === undefined || maskShape.length > maxRank) {
    return `${describeNode(node)} has an attention mask (input 3, ${shape}) — no linear-attention equivalent; left alone`;
  }
  if (tensor.dataType === DataType.BOOL) {
    const data = tensor.toFloat32Array();
    if (data.every((x) => x !== 0)) return undefined;
    return `${describeNode(node)} has a constant attention mask (input 3, ${shape}) that masks ${((100 * data.filter((x) => x === 0).length) / data.length).toFixed(1)} % of the entries; left alone`;
  }
  const meaning = constantBiasMeaning(tensor);
  if (meaning.noOp) return undefined;
  return `${describeNode(node)} has a constant ${shape} attention bias (input 3) — ${meaning.what}; left alone`;
}

function sameShape(m: MatchContext, a: Value | undefined, b: Value | undefined): boolean {
  const [x, y] = [m.shapeOf(a), m.shapeOf(b)];
  return x !== undefined && y !== undefined && x.length === y.length && x.every((dim, i) => dim === y[i]);
}

/**
 * What a constant term that vitlin does not evaluate is made of (TorchScript exports compute biases
 * and masks with Gather / ScatterND / Where chains): a float table gathered by position indices or a
 * constant that varies per query–key pair is a relative-position bias; a Where with a fill ≤ −100 is a mask.
 */
function computedTermParts(m: MatchContext, term: Value): string[] {
  const parts = new Set<string>();
  forEachSource(term, (value) => {
    const tensor = constantTensorOf(value);
    if (readable(tensor) && tensor.dims.length >= 2 && tensor.dataType !== DataType.BOOL && !isIntegral(tensor)) {
      const meaning = constantBiasMeaning(tensor);
      if (!meaning.noOp) parts.add(meaning.what.replace(/ \(.*\)$/, ''));
    }
    const node = value.producer();
    if (node === undefined) return;
    const gathered = m.elemTypeOf(node.outputs[0]);
    if (node.opType === 'Gather' && (gathered === undefined || isFloating(gathered)) && m.staticInts(node.outputs[0]) === undefined) parts.add('a relative-position bias (a table gathered by position index)');
    if (node.opType === 'Where' && [1, 2].some((i) => (m.scalar(node.inputs[i]) ?? 0) <= MASK_FILL)) parts.add('a constant attention mask (Where with a large negative fill)');
  });
  return [...parts].sort();
}

function isIntegral(tensor: Tensor): boolean {
  return !isFloating(tensor.dataType);
}

function isFloating(elemType: number | undefined): boolean {
  return elemType === DataType.FLOAT || elemType === DataType.FLOAT16 || elemType === DataType.DOUBLE || elemType === DataType.BFLOAT16;
}

/** Ops that move or repeat values without changing them. */
const VALUE_PRESERVING = new Set(['Identity', 'Expand', 'Reshape', 'Unsqueeze', 'Squeeze', 'Transpose', 'Tile', 'Flatten']);

/**
 * The distinct values of a tensor computed from constants by ops that only move, repeat, cast or select
 * values (Expand of a constant all-True mask to the batch, `Where(mask, 0, −∞)`), or undefined when
 * it is not such a tensor. Enough to prove a mask all True or a bias all zero, whatever its shape.
 */
export function distinctValues(value: Value | undefined, depth = 24): Set<number> | undefined {
  if (value === undefined || depth === 0) return undefined;
  const tensor = constantTensorOf(value);
  if (tensor !== undefined) return readable(tensor) ? new Set(tensor.toFloat32Array()) : undefined;
  const node = value.producer();
  if (node === undefined || node.domain !== '') return undefined;
  if (VALUE_PRESERVING.has(node.opType)) return distinctValues(node.inputs[0], depth - 1);
  if (node.opType === 'Cast') {
    const values = distinctValues(node.inputs[0], depth - 1);
    const to = node.getInt('to', 0);
    return values && new Set([...values].map((x) => (to === DataType.BOOL ? Number(x !== 0) : x)));
  }
  if (node.opType === 'Where') {
    const condition = distinctValues(node.inputs[0], depth - 1);
    if (condition === undefined) return undefined;
    const picks = [...new Set([...condition].map((x) => (x !== 0 ? 1 : 2)))];
    const parts = picks.map((i) => distinctValues(node.inputs[i], depth - 1));
    return parts.every((part) => part !== undefined) ? new Set(parts.flatMap((part) => [...part!])) : undefined;
  }
  return undefined;
}
