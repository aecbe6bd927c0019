/**
 * A whole model: the main graph, model-local functions and the model-level fields. Fields vitlin
 * does not interpret (training_info, configuration, unknown fields) are kept for a lossless save.
 */

import type { DeviceConfigurationProto, TrainingInfoProto } from '../serde/onnx-schema.js';
import type { Function } from './function.js';
import { Graph } from './graph.js';
import type { Value } from './value.js';
// A module cycle (from-proto builds Models) that is safe: both use each other only inside functions.
import { modelFromProto } from './from-proto.js';
import { modelToProto } from './to-proto.js';

export interface ModelInit {
  readonly graph?: Graph;
  readonly irVersion?: number;
  /** domain → version; '' is the default ONNX domain. */
  readonly opsetImports?: Iterable<readonly [string, number]>;
  readonly producerName?: string;
  readonly producerVersion?: string;
  readonly functions?: readonly Function[];
}

export class Model {
  /** ONNX IR version (`ir_version`). */
  irVersion: number | undefined;
  /** domain → opset version, in file order ('' = default ONNX domain). */
  readonly opsetImports: Map<string, number>;
  producerName: string | undefined;
  producerVersion: string | undefined;
  domain: string | undefined;
  modelVersion: bigint | undefined;
  docString: string | undefined;
  readonly metadataProps = new Map<string, string>();
  graph: Graph;
  /** Model-local functions, in file order. */
  functions: Function[];
  /** Kept as read. */
  trainingInfo: TrainingInfoProto[] = [];
  /** Kept as read. */
  configuration: DeviceConfigurationProto[] = [];
  unknownFields: Uint8Array[] | undefined;
  /** @internal The proto had no graph (a function library); saved without one while the graph stays empty. */
  _graphAbsentInProto = false;

  constructor(init: ModelInit = {}) {
    this.graph = init.graph ?? new Graph();
    this.irVersion = init.irVersion;
    this.opsetImports = new Map(init.opsetImports ?? []);
    this.producerName = init.producerName;
    this.producerVersion = init.producerVersion;
    this.functions = [...(init.functions ?? [])];
  }

  /**
   * A deep, independent copy, through the lossless proto form (every field kept, unknown ones
   * included). What shape inference found on the main graph (`Value.inferred`) comes along, and the
   * copy's facts count as current when the original's do, so the copy need not be inferred again.
   */
  clone(): Model {
    const copy = modelFromProto(modelToProto(this));
    carryInferred(this.graph, copy.graph);
    return copy;
  }

  /** The model-local function a node of (domain, opType, overload) calls, if any. */
  findFunction(domain: string, name: string, overload?: string): Function | undefined {
    return this.functions.find((f) => (f.domain ?? '') === domain && f.name === name && (f.overload ?? '') === (overload ?? ''));
  }
}

/** The main graph's values in a fixed order: inputs, initializers, node outputs (a clone lists its own in the same order). */
function inferableValues(graph: Graph): Value[] {
  return [...graph.inputs, ...graph.initializers.values(), ...graph.nodes.flatMap((node) => node.outputs)];
}

/** Copies `Value.inferred` from `from` to its lossless copy `to`, and the currency of those facts. */
function carryInferred(from: Graph, to: Graph): void {
  const source = inferableValues(from);
  const target = inferableValues(to);
  if (source.length !== target.length) return;
  source.forEach((value, i) => {
    target[i]!.inferred = value.inferred;
  });
  if (from._inferredAt !== undefined && from._inferredAt === from._edits) to._inferredAt = to._edits;
}
