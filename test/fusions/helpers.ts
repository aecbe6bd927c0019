/**
 * Shared helpers of the exact-fusion tests: the manifest's `expect: "fuse"` entries (and what each
 * should fuse into), their recorded reference inputs, running models in real onnxruntime-node
 * sessions, and comparing outputs.
 */
import fs from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import type { ExactFusionKind } from '../../graph-rewrite/fusions/index.js';
import type { Model } from '../../graph-rewrite/ir/index.js';
import { loadModel, modelToBytes } from '../../src/model-io.js';
import { createSession, randomFeeds, type ExecutionProvider, type Feeds } from '../../src/runtime/index.js';
import { MODELS_DIR } from '../rewrite/helpers.js';

export { MODELS_DIR };

export interface FuseBlock {
  readonly layer: number;
  readonly kind: string;
  readonly heads: number;
  readonly head_dim: number;
  readonly gate?: number;
  /** Castling forms (castling_forms.py): the linear-angular form, the conv layout and how the gate is written. */
  readonly form?: 'reference' | 'kernel-normalized';
  readonly conv?: 'grid' | 'tokens';
  readonly gate_form?: 'mul0' | 'init';
}

export interface FuseEntry {
  readonly name: string;
  readonly file: string;
  readonly reference: string;
  readonly blocks: readonly FuseBlock[];
  readonly expect: string;
  readonly trained?: Readonly<Record<string, unknown>>;
  readonly same_weights_as?: string;
}

/** What each manifest block kind becomes under exact fusion (absent: not an exact-fusion block). */
const FUSED_KIND: Readonly<Record<string, ExactFusionKind>> = {
  hydra: 'hydra',
  'linear-angular': 'linear-angular',
  'linear-angular+softmax-aux': 'castling-switch',
};

export function loadManifestEntries(): { entries: FuseEntry[]; sample: string } {
  const manifest = JSON.parse(fs.readFileSync(path.join(MODELS_DIR, 'manifest.json'), 'utf8')) as { models: FuseEntry[]; sample: { file: string } };
  return { entries: manifest.models, sample: manifest.sample.file };
}

/** The manifest's `expect: "fuse"` entries whose model file is present. */
export function fuseEntries(): FuseEntry[] {
  return loadManifestEntries().entries.filter((entry) => entry.expect === 'fuse' && fs.existsSync(path.join(MODELS_DIR, entry.file)));
}

/** The kinds the fusion should report for `entry`, in layer order. */
export function expectedKinds(entry: FuseEntry): ExactFusionKind[] {
  return entry.blocks.flatMap((block) => (FUSED_KIND[block.kind] === undefined ? [] : [FUSED_KIND[block.kind]!]));
}

/** Blocks of `entry` that stay softmax attention (not exact-fusion blocks). */
export function softmaxBlocks(entry: FuseEntry): number {
  return entry.blocks.filter((block) => block.kind === 'softmax').length;
}

export async function loadEntry(entry: FuseEntry): Promise<Model> {
  return loadModel(path.join(MODELS_DIR, entry.file));
}

interface RefTensor {
  readonly name: string;
  readonly dtype: string;
  readonly shape: number[];
  readonly data: number[];
}

/** The recorded reference input (as feeds) and PyTorch output of `entry`. */
export function referenceOf(entry: FuseEntry): { feeds: Feeds; output: Float32Array } {
  const reference = JSON.parse(fs.readFileSync(path.join(MODELS_DIR, entry.reference), 'utf8')) as { inputs: RefTensor[]; outputs: RefTensor[] };
  const feeds: Feeds = {};
  for (const input of reference.inputs) feeds[input.name] = new ort.Tensor('float32', Float32Array.from(input.data), input.shape);
  return { feeds, output: Float32Array.from(reference.outputs[0]!.data) };
}

/** Runs `model` on `feeds` and returns its first output as float32. */
export async function runFirstOutput(model: Model | Uint8Array, feeds: Feeds, ep: ExecutionProvider = 'cpu'): Promise<Float32Array> {
  const session = await createSession(model instanceof Uint8Array ? model : modelToBytes(model), { ep });
  try {
    const outputs = await session.run(feeds);
    return Float32Array.from(outputs[session.outputs[0]!.name]!.data as Float32Array);
  } finally {
    await session.release();
  }
}

/** Seeded random feeds for `model`'s inputs (dynamic batch = `batch`). */
export async function seededFeeds(model: Model, seed: number, batch = 3): Promise<Feeds> {
  const session = await createSession(modelToBytes(model));
  try {
    return randomFeeds(session.inputs, { seed, dims: { batch } });
  } finally {
    await session.release();
  }
}

/** Largest |a − b|; NaN counts as infinite; throws when the lengths differ. */
export function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const difference = Math.abs(a[i]! - b[i]!);
    if (Number.isNaN(difference)) return Number.POSITIVE_INFINITY;
    worst = Math.max(worst, difference);
  }
  return worst;
}

/** Nodes per op type of the main graph. */
export function countOps(model: Model): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const node of model.graph.nodes) counts[node.opType] = (counts[node.opType] ?? 0) + 1;
  return counts;
}
