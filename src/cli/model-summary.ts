/** The facts `vitlin inspect` prints about a model as a whole: file size, opsets, parameters, inputs and outputs. */
import { statSync } from 'node:fs';
import { dataTypeName } from '../../graph-rewrite/ir/dtypes.js';
import type { Model } from '../../graph-rewrite/ir/model.js';
import type { Value } from '../../graph-rewrite/ir/value.js';

export interface TensorSignature {
  readonly name: string;
  /** 'float32', 'float16', 'int64', … */
  readonly dtype: string;
  /** Dims: numbers, symbolic names, or '?' when unknown; undefined when the rank is unknown. */
  readonly shape?: readonly (number | string)[];
}

export interface ModelSummary {
  readonly bytes: number;
  readonly irVersion?: number;
  /** Imported opsets by domain ('' shown as 'ai.onnx'). */
  readonly opsets: Readonly<Record<string, number>>;
  readonly producer?: string;
  readonly nodes: number;
  /** Elements of all initializers (the parameters), and how many bytes they take, by dtype. */
  readonly parameters: number;
  readonly parameterBytes: number;
  readonly parameterDtypes: Readonly<Record<string, number>>;
  readonly functions: readonly string[];
  readonly inputs: readonly TensorSignature[];
  readonly outputs: readonly TensorSignature[];
}

/** 'FLOAT' → 'float32', the names onnxruntime and the manifest use. */
export function dtypeName(code: number): string {
  const name = dataTypeName(code).toLowerCase();
  return name === 'float' ? 'float32' : name === 'double' ? 'float64' : name;
}

function signature(value: Value): TensorSignature {
  const type = value.type;
  if (type?.kind !== 'tensor') return { name: value.name ?? '?', dtype: type ? 'non-tensor' : '?' };
  return { name: value.name ?? '?', dtype: dtypeName(type.elemType), ...(type.shape ? { shape: type.shape.map((d) => d ?? '?') } : {}) };
}

/** Summarises a model loaded from `path` (the file's size is read from disk). */
export function summarizeModel(model: Model, path: string): ModelSummary {
  let parameters = 0;
  let parameterBytes = 0;
  const parameterDtypes: Record<string, number> = {};
  for (const [, value] of model.graph.initializers) {
    const tensor = value.constValue;
    if (!tensor) continue;
    parameters += tensor.elementCount;
    parameterBytes += tensor.byteLength;
    const dtype = dtypeName(tensor.dataType);
    parameterDtypes[dtype] = (parameterDtypes[dtype] ?? 0) + tensor.elementCount;
  }
  const opsets: Record<string, number> = {};
  for (const [domain, version] of model.opsetImports) opsets[domain === '' ? 'ai.onnx' : domain] = version;
  return {
    bytes: statSync(path).size,
    ...(model.irVersion !== undefined ? { irVersion: Number(model.irVersion) } : {}),
    opsets,
    ...(model.producerName ? { producer: `${model.producerName}${model.producerVersion ? ` ${model.producerVersion}` : ''}` } : {}),
    nodes: model.graph.nodes.length,
    parameters,
    parameterBytes,
    parameterDtypes,
    functions: model.functions.map((f) => f.identifier),
    inputs: model.graph.inputs.filter((v) => !v.isInitializer()).map(signature), // initializers listed as inputs are parameters
    outputs: model.graph.outputs.map(signature),
  };
}

/** `float32 [batch, 3, 224, 224]`. */
export function formatSignature(s: TensorSignature): string {
  return `${s.dtype} ${s.shape ? `[${s.shape.join(', ')}]` : '[?]'}`;
}
