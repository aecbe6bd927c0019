/**
 * Where a fused attention node's output meets the rest of the block: through layout-only nodes
 * (Reshape, Transpose, …) to the output projection (MatMul with a constant [D, D'] weight, then an
 * Add of a constant bias; or one Gemm), and on to the residual Add that puts the branch into the
 * stream. Calibration refits that projection; the residual Add's other input is the stream the
 * target's drift correction needs.
 */
import { constantTensorOf } from '../../graph-rewrite/analysis/constants.js';
import type { Node } from '../../graph-rewrite/ir/node.js';
import type { Value } from '../../graph-rewrite/ir/value.js';

const LAYOUT_OPS = new Set(['Reshape', 'Transpose', 'Identity', 'Cast', 'Squeeze', 'Unsqueeze', 'Flatten']);
const PASS_THROUGH = new Set(['Identity', 'Dropout', 'Cast']);

export interface OutputProjection {
  /** Layout nodes from the fused output to the projection's input (in order). */
  readonly chain: readonly Node[];
  /** The value the projection multiplies: the fused output, rearranged by `chain`. */
  readonly input: Value;
  readonly node: Node;
  /** MatMul: weight [in, out]; Gemm: with transB, [out, in]. */
  readonly form: 'matmul' | 'gemm';
  readonly weight: Float32Array;
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly transB: boolean;
  /** The bias Add (MatMul form) and its constant input index, if any. */
  readonly biasAdd?: { readonly node: Node; readonly index: number };
  readonly bias?: Float32Array;
  /** The branch output: the projection's result, bias included. */
  readonly output: Value;
  /** The residual Add reading `output` directly (or through Identity / Dropout / Cast), and its other input. */
  readonly residual?: { readonly node: Node; readonly stream: Value; readonly sum: Value };
}

/** The only reader of `value`, or undefined (none, several, or a graph output). */
function soleReader(value: Value): Node | undefined {
  const uses = value.uses();
  if (uses.length !== 1 || value.isGraphOutput()) return undefined;
  return uses[0]!.node;
}

/** A constant's values, looking through Identity nodes (torch shares equal initializers through them). */
function floats(value: Value | undefined): { data: Float32Array; dims: readonly number[] } | undefined {
  let source = value;
  while (source?.producer()?.opType === 'Identity' && source.producer()!.domain === '') source = source.producer()!.inputs[0];
  const tensor = constantTensorOf(source);
  if (!tensor || tensor.storage === 'external') return undefined;
  try {
    return { data: tensor.toFloat32Array(), dims: tensor.dims };
  } catch {
    return undefined;
  }
}

/** The residual Add after `output` (through pass-through nodes), with the stream it adds to. */
function residualAfter(output: Value): OutputProjection['residual'] {
  let value = output;
  for (let reader = soleReader(value); reader; reader = soleReader(value)) {
    if (reader.domain !== '') return undefined;
    if (reader.opType === 'Add') {
      const index = reader.inputs.indexOf(value);
      const stream = reader.inputs[1 - index];
      // The stream is an activation (not a constant): otherwise this Add is a bias, not the residual.
      if (!stream || stream === value || constantTensorOf(stream)) return undefined;
      return { node: reader, stream, sum: reader.outputs[0]! };
    }
    if (!PASS_THROUGH.has(reader.opType)) return undefined;
    value = reader.outputs[0]!;
  }
  return undefined;
}

/**
 * The output projection after `fused` (a vitlin fused node of `model`), or a reason it has none that
 * calibration can refit.
 */
export function findOutputProjection(fused: Node, features: number): OutputProjection | string {
  const chain: Node[] = [];
  let value = fused.outputs[0]!;
  for (;;) {
    const reader = soleReader(value);
    if (!reader) return `its output has ${value.uses().length} readers before any projection`;
    if (reader.domain === '' && LAYOUT_OPS.has(reader.opType)) {
      chain.push(reader);
      value = reader.outputs[0]!;
      continue;
    }
    if (reader.domain !== '' || (reader.opType !== 'MatMul' && reader.opType !== 'Gemm') || reader.inputs[0] !== value) {
      return `its output goes to ${reader.label}, not to a MatMul or Gemm output projection`;
    }
    const w = floats(reader.inputs[1]);
    if (!w || w.dims.length !== 2) return `the weight of ${reader.label} is not a constant matrix`;
    if (reader.opType === 'Gemm') {
      if (reader.getInt('transA', 0) !== 0) return `${reader.label} transposes its input (transA)`;
      const transB = reader.getInt('transB', 0) === 1;
      const [out, inp] = transB ? w.dims : [w.dims[1]!, w.dims[0]!];
      if (inp !== features) return `${reader.label} reads ${inp} features, the fused op gives ${features}`;
      const alpha = reader.getFloat('alpha', 1);
      const beta = reader.getFloat('beta', 1);
      const c = reader.inputs[2] ? floats(reader.inputs[2]) : undefined;
      if (reader.inputs[2] && (!c || c.data.length !== out)) return `the bias of ${reader.label} is not a constant [${out}] vector`;
      const output = reader.outputs[0]!;
      return {
        chain, input: value, node: reader, form: 'gemm', weight: w.data.map((x) => x * alpha), inFeatures: inp!, outFeatures: out!, transB,
        ...(c ? { bias: c.data.map((x) => x * beta) } : {}), output, ...(residualAfter(output) ? { residual: residualAfter(output)! } : {}),
      };
    }
    const [inp, out] = w.dims as [number, number];
    if (inp !== features) return `${reader.label} reads ${inp} features, the fused op gives ${features}`;
    let output = reader.outputs[0]!;
    const next = soleReader(output);
    let biasAdd: OutputProjection['biasAdd'];
    let bias: Float32Array | undefined;
    if (next && next.domain === '' && next.opType === 'Add') {
      const index = next.inputs[0] === output ? 1 : 0;
      const b = floats(next.inputs[index]);
      if (b && b.data.length === out) {
        biasAdd = { node: next, index };
        bias = b.data;
        output = next.outputs[0]!;
      }
    }
    const residual = residualAfter(output);
    return {
      chain, input: value, node: reader, form: 'matmul', weight: w.data, inFeatures: inp, outFeatures: out, transB: false,
      ...(biasAdd ? { biasAdd, bias: bias! } : {}), output, ...(residual ? { residual } : {}),
    };
  }
}

/** The projection as X·W form: W [in + 1, out] with the bias as the last row (zeros when none). */
export function projectionAsRidge(p: OutputProjection): Float64Array {
  const w = new Float64Array((p.inFeatures + 1) * p.outFeatures);
  for (let i = 0; i < p.inFeatures; i++) {
    for (let o = 0; o < p.outFeatures; o++) {
      w[i * p.outFeatures + o] = p.transB ? p.weight[o * p.inFeatures + i]! : p.weight[i * p.outFeatures + o]!;
    }
  }
  if (p.bias) for (let o = 0; o < p.outFeatures; o++) w[p.inFeatures * p.outFeatures + o] = p.bias[o]!;
  return w;
}
