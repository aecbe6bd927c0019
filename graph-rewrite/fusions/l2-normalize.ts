/**
 * The pattern for an L2 normalisation x̂ = x / ‖x‖₂ in the forms exporters write it, as alternatives of
 * one pattern: the norm as ReduceL2, Sqrt(ReduceSum(x·x)), Sqrt(ReduceSum(Pow(x, 2))) or
 * Sqrt(ReduceSumSquare(x)); an optional guard — Clip(min = eps) or Max(‖x‖, eps) (F.normalize's clamp),
 * or ‖x‖ + eps; an optional Expand of the norm to x's shape (F.normalize); then Div(x, norm) or a Mul
 * by its reciprocal. The pattern records axes and eps; whether they make a fusion exact is the
 * rules' check (see exactness.ts).
 */

import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import { dimsEqual } from '../analysis/dims.js';
import { describeNode, type MatchContext } from '../rewrite/match-context.js';
import type { EpsForm, L2Normalization } from './types.js';
import { scalarConstant } from './constants.js';

/** The norm ‖x‖₂ over some axes: which x, which axes, and its form. */
interface Norm {
  readonly input: Value;
  readonly axes: readonly number[] | undefined;
  readonly keepDims: boolean;
  readonly form: string;
}

/** The axes a Reduce* node reduces over: attribute (older opsets) or input 1; undefined = all. */
export function reductionAxes(m: MatchContext, node: Node): readonly number[] | undefined {
  if (node.attribute('axes') !== undefined) return node.getInts('axes');
  const axesInput = node.inputs[1];
  if (axesInput === undefined || axesInput.name === '') {
    m.ensure(node.getInt('noop_with_empty_axes', 0) === 0, () => `${describeNode(node)} has no axes and noop_with_empty_axes set: it reduces nothing`, node);
    return undefined;
  }
  const axes = m.staticInts(axesInput);
  m.ensure(axes !== undefined, () => `the axes of ${describeNode(node)} are not constant`, node);
  return axes;
}

function reduction(m: MatchContext, node: Node, input: Value, form: string): Norm {
  return { input, axes: reductionAxes(m, node), keepDims: node.getInt('keepdims', 1) !== 0, form };
}

/** x·x or Pow(x, 2): returns x. */
function squareOf(m: MatchContext, value: Value | undefined, near: Node): Value {
  const node = m.bind(m.producer(value, ['Mul', 'Pow'], 'the squares summed for the norm', near), 'norm square');
  if (node.opType === 'Mul') {
    m.ensure(node.inputs[0] === node.inputs[1], () => `${describeNode(node)} multiplies two different tensors, not x·x`, node);
  } else {
    m.ensure(scalarConstant(m, node.inputs[1]) === 2, () => `${describeNode(node)} raises to the power ${String(scalarConstant(m, node.inputs[1]))}, not 2`, node);
  }
  return node.inputs[0]!;
}

/** ‖x‖₂ in one of its exported forms. */
function matchNorm(m: MatchContext, value: Value, near: Node): Norm {
  return m.firstOf('the norm', [
    ['ReduceL2', (c) => {
      const node = c.bind(c.producer(value, ['ReduceL2'], 'the norm', near), 'ReduceL2');
      return reduction(c, node, node.inputs[0]!, 'ReduceL2');
    }],
    ['Sqrt(ReduceSum(x·x))', (c) => {
      const sqrt = c.bind(c.producer(value, ['Sqrt'], 'the norm', near), 'norm Sqrt');
      const sum = c.bind(c.producer(sqrt.inputs[0], ['ReduceSum', 'ReduceSumSquare'], 'the sum of squares', sqrt), 'norm sum');
      if (sum.opType === 'ReduceSumSquare') return reduction(c, sum, sum.inputs[0]!, 'Sqrt(ReduceSumSquare(x))');
      const x = squareOf(c, sum.inputs[0], sum);
      return reduction(c, sum, x, `Sqrt(ReduceSum(${sum.inputs[0]?.producer()?.opType === 'Pow' ? 'Pow(x, 2)' : 'x·x'}))`);
    }],
  ]);
}

/** The guard against a zero norm above `value` (or none), and the value holding the norm itself. */
function matchGuard(m: MatchContext, value: Value): { eps: EpsForm; norm: Value } {
  const node = value.producer();
  if (node?.domain === '' && node.graph === m.graph && node.opType === 'Clip') {
    m.bind(node, 'norm clamp');
    const minInput = node.inputs[1];
    const hasMin = node.attribute('min') !== undefined || (minInput !== undefined && minInput.name !== '');
    const min = node.attribute('min') !== undefined ? node.getFloat('min') : hasMin ? scalarConstant(m, minInput) : 0;
    const hasMax = node.attribute('max') !== undefined || (node.inputs[2] !== undefined && node.inputs[2].name !== '');
    m.ensure(min !== undefined, () => `${describeNode(node)} clamps the norm with a bound that is not a constant`, node);
    m.ensure(!hasMax, () => `${describeNode(node)} also clamps the norm from above`, node);
    return { eps: min > 0 ? { kind: 'clamp', value: min, node } : { kind: 'none' }, norm: node.inputs[0]! };
  }
  if (node?.domain === '' && node.graph === m.graph && (node.opType === 'Max' || node.opType === 'Add') && node.inputs.length === 2) {
    const at = [1, 0].find((i) => scalarConstant(m, node.inputs[i]) !== undefined);
    if (at !== undefined) {
      m.bind(node, node.opType === 'Max' ? 'norm clamp' : 'norm + eps');
      const eps = scalarConstant(m, node.inputs[at])!;
      const form: EpsForm = node.opType === 'Max' ? (eps > 0 ? { kind: 'clamp', value: eps, node } : { kind: 'none' }) : { kind: 'add', value: eps, node };
      return { eps: form, norm: node.inputs[1 - at]! };
    }
  }
  return { eps: { kind: 'none' }, norm: value };
}

/** Skips an Expand of the norm (F.normalize expands it to x's shape before the Div), binding it and a Shape feeding it. */
function skipExpand(m: MatchContext, value: Value): { value: Value; expand?: Node } {
  const node = value.producer();
  if (node?.domain !== '' || node.graph !== m.graph || node.opType !== 'Expand') return { value };
  m.bind(node, 'norm Expand');
  const shape = node.inputs[1]?.producer();
  if (shape?.domain === '' && shape.opType === 'Shape' && shape.graph === m.graph) m.bind(shape, 'norm Expand shape');
  return { value: node.inputs[0]!, expand: node };
}

/** Whether an Expand of the norm targets x's own shape (Shape(x), or a known shape equal to x's). */
function expandsToShapeOf(m: MatchContext, expand: Node, x: Value): boolean {
  const source = expand.inputs[1]?.producer();
  if (source?.domain === '' && source.opType === 'Shape' && source.inputs[0] === x && source.attribute('start') === undefined && source.attribute('end') === undefined) return true;
  const [expanded, input] = [m.shapeOf(expand.outputs[0]), m.shapeOf(x)];
  return expanded !== undefined && input !== undefined && expanded.length === input.length && expanded.every((dim, i) => dimsEqual(dim, input[i]));
}

/** x / d, x · (1/d) or x · Reciprocal(d): the numerator x and the denominator d. */
export function matchQuotient(m: MatchContext, value: Value, what: string, near: Node): { node: Node; numerator: Value; denominator: Value } {
  const node = m.bind(m.producer(value, ['Div', 'Mul'], what, near), `${what} division`);
  if (node.opType === 'Div') return { node, numerator: node.inputs[0]!, denominator: node.inputs[1]! };
  return m.firstOf(`${what} as x · (1/‖x‖)`, [0, 1].map((side) => [`1/‖x‖ as input ${side}`, (c: MatchContext) => {
    const reciprocal = c.producer(node.inputs[side], ['Reciprocal', 'Div'], 'the reciprocal norm', node);
    c.ensure(reciprocal.opType === 'Reciprocal' || scalarConstant(c, reciprocal.inputs[0]) === 1, () => `${describeNode(reciprocal)} is not 1 / ‖x‖`, reciprocal);
    c.bind(reciprocal, 'reciprocal norm');
    return { node, numerator: node.inputs[1 - side]!, denominator: reciprocal.inputs[reciprocal.opType === 'Reciprocal' ? 0 : 1]! };
  }] as const));
}

/**
 * Matches `value` as x̂ = x / ‖x‖₂ (any exported form; see the file comment) and binds its nodes.
 * Fails when `value` is not such a quotient or the norm is of another tensor than the numerator.
 */
export function matchL2Normalized(m: MatchContext, value: Value | undefined, what: string, near: Node): L2Normalization {
  m.ensure(value !== undefined, `${what} is missing`, near);
  const quotient = matchQuotient(m, value, what, near);
  const expanded = skipExpand(m, quotient.denominator);
  const { eps, norm } = matchGuard(m, expanded.value);
  const found = matchNorm(m, norm, quotient.node);
  m.ensure(found.input === quotient.numerator,
    () => `${describeNode(quotient.node)} divides ${quotient.numerator.label} by the norm of another tensor (${found.input.label})`, quotient.node);
  const rank = m.shapeOf(found.input)?.length;
  const axes = found.axes === undefined || rank === undefined ? found.axes : found.axes.map((axis) => (axis < 0 ? axis + rank : axis));
  const expandsToInput = expanded.expand === undefined || expandsToShapeOf(m, expanded.expand, found.input);
  return { what, input: found.input, output: value, node: quotient.node, axes, keepDims: found.keepDims, rank, eps, form: found.form, expandsToInput };
}
