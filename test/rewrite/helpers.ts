/**
 * Shared helpers of the rewrite tests: the models/ manifest, loading fixtures, exposing a converted
 * model's fused nodes (their Q, K, V inputs and Y output) as graph outputs, running models in real
 * onnxruntime-node sessions, comparing a fused op's Y with the custom-ops reference kernels, and building
 * small graphs by hand.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { hydraAttentionReference, linearAngularAttentionReference, type Float32TensorView, type LinearAngularMode } from '../../custom-ops/index.js';
import { Attr, DataType, Graph, Node, Tensor, Value, tensorType, type Model } from '../../graph-rewrite/ir/index.js';
import type { Dim } from '../../graph-rewrite/analysis/index.js';
import { inferShapes } from '../../graph-rewrite/analysis/index.js';
import { modelFromProto, modelToProto } from '../../graph-rewrite/ir/index.js';
import { loadModel, modelToBytes } from '../../src/model-io.js';
import { createSession, float16BitsToFloat32, randomFeeds, type ExecutionProvider, type Feeds } from '../../src/runtime/index.js';

export const MODELS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../models');

export interface ManifestBlock {
  readonly layer: number;
  readonly kind: string;
  readonly heads: number;
  readonly head_dim: number;
  readonly scale?: string;
}

export interface ManifestEntry {
  readonly name: string;
  readonly file: string;
  readonly opset: number;
  readonly dtype: 'float32' | 'float16';
  readonly tokens: number | string;
  readonly embed_dim: number;
  readonly inputs: readonly { readonly name: string; readonly dtype: string; readonly shape: readonly (number | string)[] }[];
  readonly attention_blocks: number;
  readonly blocks: readonly ManifestBlock[];
  readonly expect: 'convert' | 'fuse' | 'leave';
  readonly reason?: string;
  readonly same_weights_as?: string;
}

export function loadManifest(): readonly ManifestEntry[] {
  const manifest = JSON.parse(fs.readFileSync(path.join(MODELS_DIR, 'manifest.json'), 'utf8')) as { models: ManifestEntry[] };
  // Entries whose file is not there yet (trained models still being generated) are left out.
  return manifest.models.filter((entry) => fs.existsSync(path.join(MODELS_DIR, entry.file)));
}

export function fixturePath(entry: ManifestEntry): string {
  return path.join(MODELS_DIR, entry.file);
}

export async function loadFixture(entry: ManifestEntry): Promise<Model> {
  return loadModel(fixturePath(entry));
}

/** A deep copy of a model (the IR's lossless round trip). */
export function copyModel(model: Model): Model {
  return modelFromProto(modelToProto(model));
}

export const VITLIN_DOMAIN = 'ai.vitlin';

export function fusedNodes(model: Model): Node[] {
  return model.graph.nodes.filter((node) => node.domain === VITLIN_DOMAIN);
}

/** Symbolic dims used to feed dynamic models. */
export const FEED_DIMS = { batch: 2, sequence: 7 } as const;

/** Runs a model once on the given EP with seeded random inputs; returns every output. */
export async function runModel(model: Model | Uint8Array, ep: ExecutionProvider = 'cpu', seed = 7): Promise<{ feeds: Feeds; outputs: Record<string, ort.Tensor> }> {
  const bytes = model instanceof Uint8Array ? model : modelToBytes(model);
  const session = await createSession(bytes, { ep });
  try {
    const feeds = randomFeeds(session.inputs, { seed, dims: FEED_DIMS });
    return { feeds, outputs: await session.run(feeds) };
  } finally {
    await session.release();
  }
}

/** A float tensor's values as float32 (float16 decoded). */
export function toFloat32View(tensor: ort.Tensor): Float32TensorView {
  const data = tensor.type === 'float16'
    ? Float32Array.from(tensor.data as Uint16Array, float16BitsToFloat32)
    : Float32Array.from(tensor.data as Float32Array);
  return { data, dims: [...tensor.dims] };
}

/** The fused nodes' Q, K, V and Y value names, per node, in the order of `fusedNodes`. */
export interface ExposedFusedNode {
  readonly node: string;
  readonly opType: string;
  readonly numHeads: number | undefined;
  readonly mode: LinearAngularMode | undefined;
  readonly eps: number;
  readonly names: { readonly Q: string; readonly K: string; readonly V: string; readonly Y: string };
}

/**
 * A copy of `model` whose graph also outputs every fused node's Q, K, V and Y, so a test can run the
 * reference kernel on exactly what the node received.
 */
export function exposeFusedNodes(model: Model): { model: Model; exposed: ExposedFusedNode[] } {
  const copy = copyModel(model);
  const shapes = inferShapes(copy.graph);
  const exposed = fusedNodes(copy).map((node) => {
    const [q, k, v] = node.inputs as [NonNullable<Node['inputs'][number]>, NonNullable<Node['inputs'][number]>, NonNullable<Node['inputs'][number]>];
    const y = node.outputs[0]!;
    for (const value of [q, k, v, y]) {
      if (value.isGraphOutput()) continue;
      value.type ??= tensorType(shapes.elemTypeOf(value) ?? DataType.FLOAT);
      copy.graph.addOutput(value);
    }
    const mode = node.attribute('mode');
    return {
      node: node.name ?? '',
      opType: node.opType,
      numHeads: node.attribute('num_heads') === undefined ? undefined : node.getInt('num_heads'),
      mode: mode === undefined ? undefined : (node.getString('mode') as LinearAngularMode),
      eps: node.getFloat('eps', 1e-6),
      names: { Q: q.name!, K: k.name!, V: v.name!, Y: y.name! },
    };
  });
  return { model: copy, exposed };
}

/** What the reference kernel says the fused node should have output for its Q, K, V. */
export function referenceOutput(node: ExposedFusedNode, outputs: Record<string, ort.Tensor>): Float32TensorView {
  const [q, k, v] = (['Q', 'K', 'V'] as const).map((name) => toFloat32View(outputs[node.names[name]]!));
  return node.opType === 'HydraAttention'
    ? hydraAttentionReference(q!, k!, v!, { eps: node.eps })
    : linearAngularAttentionReference(q!, k!, v!, { numHeads: node.numHeads!, mode: node.mode ?? 'reference', eps: node.eps });
}

/** Largest |a − b| / (1 + |b|) (NaN counts as infinite); throws when the shapes differ. */
export function maxRelativeError(actual: Float32TensorView, expected: Float32TensorView): number {
  if (actual.dims.join(',') !== expected.dims.join(',')) {
    throw new Error(`shape [${actual.dims.join(', ')}] differs from expected [${expected.dims.join(', ')}]`);
  }
  let worst = 0;
  for (let i = 0; i < expected.data.length; i++) {
    const error = Math.abs(actual.data[i]! - expected.data[i]!) / (1 + Math.abs(expected.data[i]!));
    if (Number.isNaN(error)) return Number.POSITIVE_INFINITY;
    worst = Math.max(worst, error);
  }
  return worst;
}

/** Largest |a − b| (NaN counts as infinite). */
export function maxAbsoluteError(actual: Float32TensorView, expected: Float32TensorView): number {
  if (actual.dims.join(',') !== expected.dims.join(',')) {
    throw new Error(`shape [${actual.dims.join(', ')}] differs from expected [${expected.dims.join(', ')}]`);
  }
  let worst = 0;
  for (let i = 0; i < expected.data.length; i++) {
    const error = Math.abs(actual.data[i]! - expected.data[i]!);
    if (Number.isNaN(error)) return Number.POSITIVE_INFINITY;
    worst = Math.max(worst, error);
  }
  return worst;
}

/** Op types per node count, `domain::op` keys like the manifest's op_counts. */
export function opCounts(model: Model): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const node of model.graph.nodes) counts[`${node.domain}::${node.opType}`] = (counts[`${node.domain}::${node.opType}`] ?? 0) + 1;
  return counts;
}

/** A graph builder for the analysis tests: inputs, constants, nodes. */
export class GraphBuilder {
  readonly graph = new Graph({ name: 'test' });
  input(name: string, shape: readonly Dim[], elemType: number = DataType.FLOAT): Value {
    const value = new Value(name, { type: tensorType(elemType, shape) });
    this.graph.addInput(value);
    return value;
  }
  ints(name: string, values: readonly number[], dims: readonly number[] = [values.length]): Value {
    return this.constant(name, Tensor.fromInt64Array(values, dims));
  }
  constant(name: string, tensor: Tensor): Value {
    return this.graph.addInitializer(tensor, name);
  }
  node(opType: string, inputs: readonly (Value | undefined)[], attributes: readonly Attr[] = [], outputs = 1): Value[] {
    const node = new Node({ opType, inputs, attributes, outputs, name: `${opType}_${this.graph.nodes.length}` });
    this.graph.append(node);
    return [...node.outputs];
  }
}
