/**
 * Symbolic shape inference for the ops Vision Transformer exports use. Seeded from graph inputs,
 * initializers and value_info annotations; symbolic dims (`'batch'`) stay strings and products of them
 * stay canonical (`'4*batch'`, see dims.ts). Alongside shapes it folds the small integer tensors of
 * shape subgraphs (Shape → Gather → Unsqueeze → Concat → Reshape), so a Reshape whose target is
 * computed at run time still has a known — possibly symbolic — target.
 *
 * Unknown ops, and rules that cannot decide, leave their outputs unknown (or as annotated): inference
 * never throws on a valid model.
 */

import { stableTopologicalOrder } from '../passes/dependencies.js';
import { isIntegerType } from '../ir/dtypes.js';
import type { Graph } from '../ir/graph.js';
import type { Node } from '../ir/node.js';
import type { InferredType, Value } from '../ir/value.js';
import { constantTensorOf, integerTensorToNumbers } from './constants.js';
import { canonicalDim, productOfDims, type Dim } from './dims.js';
import { DATA_MOVEMENT_RULES } from './shape-rules-data.js';
import { kernelForOp } from '../../custom-ops/index.js';
import { COMPUTE_RULES, unary } from './shape-rules-compute.js';

/** Element type (a `DataType` code) and shape of a tensor value; either may be unknown. */
export interface TensorInfo {
  readonly elemType: number | undefined;
  /** undefined = unknown rank; dims may be numbers, canonical symbolic strings, or undefined. */
  readonly shape: readonly Dim[] | undefined;
}

const UNKNOWN: TensorInfo = Object.freeze({ elemType: undefined, shape: undefined });

/** Integer tensors up to this many elements have their contents folded. */
export const MAX_FOLDED_ELEMENTS = 64;

/**
 * What shape inference knows about values: a stateless view over `Value.inferred`, for callers that
 * hold a value and want its facts (match and rewrite contexts read `value.inferred` the same way).
 */
export class ShapeInfo {
  typeOf(value: Value | undefined): TensorInfo {
    return value?.inferred ?? UNKNOWN;
  }

  shapeOf(value: Value | undefined): readonly Dim[] | undefined {
    return this.typeOf(value).shape;
  }

  elemTypeOf(value: Value | undefined): number | undefined {
    return this.typeOf(value).elemType;
  }

  /**
   * The contents of a small integer tensor (shape vectors, axes, indices), flattened, when known:
   * constants and folded shape subgraphs. Entries may be symbolic (`'batch'`) or unknown.
   */
  intValues(value: Value | undefined): readonly Dim[] | undefined {
    return value?.inferred?.intValues;
  }

  /** Records what is known about a value: {@link recordInferred}. */
  set(value: Value, info: TensorInfo, intValues?: readonly Dim[]): void {
    recordInferred(value, info, intValues);
  }
}

/** The one view: ShapeInfo holds no state (the facts are on the values). */
const SHAPES = new ShapeInfo();

/**
 * Records what is known about a value on it (`Value.inferred`): used by inference and by rewrites
 * that create values. Folded contents already recorded are kept when `intValues` is not given.
 */
export function recordInferred(value: Value, info: TensorInfo, intValues?: readonly Dim[]): void {
  const shape = info.shape?.map(canonicalDim);
  const folded = intValues !== undefined && (info.elemType === undefined || isIntegerType(info.elemType))
    ? Object.freeze(intValues.map(canonicalDim))
    : value.inferred?.intValues;
  const inferred: InferredType = { elemType: info.elemType, shape: shape && Object.freeze(shape), ...(folded === undefined ? {} : { intValues: folded }) };
  value.inferred = Object.freeze(inferred);
}

let runs = 0;

/** How many times {@link inferShapes} has run in this process (analyses are counted, not timed). */
export function shapeInferenceRuns(): number {
  return runs;
}

/**
 * Whether the facts on `graph`'s values are those of its last inference with no edit since: nodes
 * inserted or removed, inputs re-wired, attributes, inputs or initializers changed (the IR counts
 * them) — or a lossless copy of such a graph (`Model.clone`). Editing a value's annotation (`type`)
 * is not counted: call {@link clearInferredTypes} after it.
 */
export function shapesCurrent(graph: Graph): boolean {
  return graph._inferredAt !== undefined && graph._inferredAt === graph._edits;
}

/** {@link inferShapes} unless the graph's facts are current (see {@link shapesCurrent}). */
export function ensureShapes(graph: Graph): ShapeInfo {
  return shapesCurrent(graph) ? SHAPES : inferShapes(graph);
}

/** Forgets what inference found about the values of `graph` (not its subgraphs): inputs, initializers, node outputs. */
export function clearInferredTypes(graph: Graph): void {
  graph._inferredAt = undefined;
  for (const value of graph.inputs) value.inferred = undefined;
  for (const value of graph.initializers.values()) value.inferred = undefined;
  for (const node of graph.nodes) for (const output of node.outputs) output.inferred = undefined;
}

/** What a shape rule sees of one node. */
export interface ShapeRuleContext {
  readonly node: Node;
  input(index: number): TensorInfo;
  shape(index: number): readonly Dim[] | undefined;
  /** Folded contents of input `index` (see {@link ShapeInfo.intValues}). */
  values(index: number): readonly Dim[] | undefined;
  /** Sets output `index`; `intValues` are kept only for small integer tensors. */
  output(index: number, info: TensorInfo, intValues?: readonly Dim[]): void;
}

export type ShapeRule = (context: ShapeRuleContext) => void;

const RULES: ReadonlyMap<string, ShapeRule> = new Map([...DATA_MOVEMENT_RULES, ...COMPUTE_RULES]);

function annotatedInfo(value: Value): TensorInfo | undefined {
  const type = value.type;
  if (type === undefined || type.kind !== 'tensor') return undefined;
  return { elemType: type.elemType === 0 ? undefined : type.elemType, shape: type.shape };
}

/** Fills unknown parts of `inferred` from an annotation (value_info), which exporters write from their own inference. */
function merged(inferred: TensorInfo | undefined, annotated: TensorInfo | undefined): TensorInfo | undefined {
  if (inferred === undefined) return annotated;
  if (annotated === undefined) return inferred;
  const shape = inferred.shape === undefined
    ? annotated.shape
    : annotated.shape !== undefined && annotated.shape.length === inferred.shape.length
      ? inferred.shape.map((dim, i) => dim ?? annotated.shape![i])
      : inferred.shape;
  return { elemType: inferred.elemType ?? annotated.elemType, shape };
}

function seedConstant(info: ShapeInfo, value: Value): void {
  const tensor = constantTensorOf(value);
  if (tensor === undefined) return;
  const foldable = isIntegerType(tensor.dataType) && tensor.elementCount <= MAX_FOLDED_ELEMENTS && tensor.storage !== 'external';
  info.set(value, { elemType: tensor.dataType, shape: tensor.dims }, foldable ? integerTensorToNumbers(tensor) : undefined);
}

/**
 * Infers element types, shapes and small integer contents for every value of `graph` (not its
 * subgraphs) and writes them on the values (`Value.inferred`), after clearing what an earlier
 * inference wrote. Nodes are visited in dependency order, so an unsorted graph works too.
 */
export function inferShapes(graph: Graph): ShapeInfo {
  runs++;
  clearInferredTypes(graph);
  const info = SHAPES;
  for (const value of graph.inputs) {
    const annotated = annotatedInfo(value);
    if (annotated !== undefined) info.set(value, annotated);
  }
  for (const value of graph.initializers.values()) seedConstant(info, value);
  const order = stableTopologicalOrder(graph).order ?? graph.nodes;
  for (const node of order) {
    const inferred = new Map<number, { info: TensorInfo; values?: readonly Dim[] }>();
    const rule = RULES.get(`${node.domain}::${node.opType}`) ?? (kernelForOp(node.domain, node.opType) ? unary : undefined);
    if (rule !== undefined) {
      try {
        rule(ruleContext(info, node, inferred));
      } catch {
        // A rule that meets something it does not understand leaves the outputs unknown.
      }
    }
    node.outputs.forEach((output, i) => {
      const found = inferred.get(i);
      const best = merged(found?.info, annotatedInfo(output));
      if (best !== undefined) info.set(output, best, found?.values);
    });
  }
  graph._inferredAt = graph._edits;
  return info;
}

function ruleContext(
  info: ShapeInfo,
  node: Node,
  inferred: Map<number, { info: TensorInfo; values?: readonly Dim[] }>,
): ShapeRuleContext {
  return {
    node,
    input: (index) => info.typeOf(node.inputs[index]),
    shape: (index) => info.shapeOf(node.inputs[index]),
    values: (index) => info.intValues(node.inputs[index]),
    output: (index, tensorInfo, intValues) => {
      const count = tensorInfo.shape === undefined ? undefined : productOfDims(tensorInfo.shape);
      const keep = intValues !== undefined && typeof count === 'number' && count <= MAX_FOLDED_ELEMENTS && intValues.length === count;
      inferred.set(index, { info: tensorInfo, ...(keep ? { values: intValues } : {}) });
    },
  };
}
