/**
 * Shared helpers of the models/ fixture tests: the manifest and reference types, reading the Fashion-MNIST
 * sample, and building onnxruntime tensors (float16 included) from the recorded JSON.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../../src/runtime/float16.js';

export const MODELS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../models');

export type Dim = number | string;
export interface IoSpec {
  name: string;
  dtype: 'float32' | 'float16' | 'int64' | 'int32';
  shape: Dim[];
}
export interface BlockSpec {
  layer: number;
  kind:
    | 'softmax'
    | 'hydra'
    | 'linear-angular'
    | 'linear-angular+softmax-aux'
    | 'onnx-attention'
    | 'ms-multiheadattention'
    | 'ms-attention'
    | 'softmax+relpos-bias'
    | 'softmax+mask';
  heads: number;
  head_dim: number;
  norm?: 'ReduceL2' | 'Mul-ReduceSum-Sqrt';
  /** Linear-angular blocks: the form (absent: reference). */
  form?: 'reference' | 'kernel-normalized';
  [k: string]: unknown;
}
export interface ModelEntry {
  name: string;
  file: string;
  exporter: string;
  description: string;
  opset: number;
  opsets: Record<string, number>;
  dtype: 'float32' | 'float16';
  layers: number;
  heads: number;
  head_dim: number;
  embed_dim: number;
  tokens: number | string;
  inputs: IoSpec[];
  outputs: IoSpec[];
  attention_blocks: number;
  blocks: BlockSpec[];
  expect: 'convert' | 'fuse' | 'leave';
  reason?: string;
  reference: string;
  tolerance: number;
  op_counts: Record<string, number>;
  other_marker_ops?: Record<string, number>;
  trained?: { torch_test_accuracy_10k: number; epochs: number; steps: number; [k: string]: unknown };
  [k: string]: unknown;
}
export interface Manifest {
  version: number;
  sample: { file: string; count: number; normalization: { mean: number; std: number } };
  models: ModelEntry[];
}
export interface RefTensor {
  name: string;
  dtype: 'float32' | 'float16' | 'int64';
  shape: number[];
  data: number[];
}
export interface Reference {
  model: string;
  file: string;
  tolerance: number;
  inputs: RefTensor[];
  outputs: RefTensor[];
}

export function readJson<T>(rel: string): T {
  return JSON.parse(fs.readFileSync(path.join(MODELS_DIR, rel), 'utf8')) as T;
}
export const loadManifest = (): Manifest => readJson<Manifest>('manifest.json');
export const modelPath = (m: ModelEntry): string => path.join(MODELS_DIR, m.file);

// ---------------------------------------------------------------------------------------------- tensors

export function toTensor(t: RefTensor): ort.Tensor {
  switch (t.dtype) {
    case 'float32':
      return new ort.Tensor('float32', Float32Array.from(t.data), t.shape);
    case 'float16':
      return new ort.Tensor('float16', Uint16Array.from(t.data, float32ToFloat16Bits), t.shape);
    case 'int64':
      return new ort.Tensor('int64', BigInt64Array.from(t.data, (v) => BigInt(v)), t.shape);
  }
}

/** A tensor's values as numbers (float16 decoded from its bits). */
export function numbers(t: ort.Tensor): number[] {
  if (t.type === 'float16' && t.data instanceof Uint16Array) return Array.from(t.data, float16BitsToFloat32);
  return Array.from(t.data as ArrayLike<number | bigint>, Number);
}

/** max over elements of |got - want| / (1 + |want|): the tolerance measure of the manifest. */
export function maxRelErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`length ${got.length} != ${want.length}`);
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    const e = Math.abs(got[i]! - want[i]!) / (1 + Math.abs(want[i]!));
    if (!(e <= worst)) worst = e; // NaN propagates as the worst
  }
  return worst;
}

// ---------------------------------------------------------------------------------------------- sample

export interface Sample {
  header: {
    format: string;
    count: number;
    height: number;
    width: number;
    pixelOffset: number;
    labelOffset: number;
    classes: string[];
    normalization: { mean: number; std: number };
  };
  pixels: Uint8Array;
  labels: Uint8Array;
}

export function readSample(rel: string): Sample {
  const buf = fs.readFileSync(path.join(MODELS_DIR, rel));
  const hlen = buf.readUInt32LE(0);
  const header = JSON.parse(buf.subarray(4, 4 + hlen).toString('utf8')) as Sample['header'];
  const { count, height, width, pixelOffset, labelOffset } = header;
  return {
    header,
    pixels: new Uint8Array(buf.buffer, buf.byteOffset + pixelOffset, count * height * width),
    labels: new Uint8Array(buf.buffer, buf.byteOffset + labelOffset, count),
  };
}

/** Normalised (n, 1, H, W) float32 batch of images [start, start + n). */
export function sampleBatch(s: Sample, start: number, n: number): ort.Tensor {
  const { height, width, normalization } = s.header;
  const hw = height * width;
  const x = new Float32Array(n * hw);
  for (let i = 0; i < x.length; i++) x[i] = (s.pixels[start * hw + i]! / 255 - normalization.mean) / normalization.std;
  return new ort.Tensor('float32', x, [n, 1, height, width]);
}

export function argmaxRows(data: ArrayLike<number>, rows: number): number[] {
  const cols = data.length / rows;
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (data[r * cols + c]! > data[r * cols + best]!) best = c;
    out.push(best);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------- markers

/** Marker ops ('domain::op_type', '' = ai.onnx) and how many of each one attention block of a kind brings.
 *  Mirrors expected_markers() in models/scripts/common.py, written again here so the two can disagree. */
export const MARKER_OPS = [
  '::Softmax',
  '::Attention',
  'com.microsoft::MultiHeadAttention',
  'com.microsoft::Attention',
  '::ReduceL2',
  '::Sqrt',
  '::Conv',
] as const;

export function markersOfBlocks(blocks: BlockSpec[], other: Record<string, number> = {}): Record<string, number> {
  const m: Record<string, number> = {};
  const add = (k: string, n = 1) => (m[k] = (m[k] ?? 0) + n);
  for (const b of blocks) {
    switch (b.kind) {
      case 'softmax':
      case 'softmax+relpos-bias':
      case 'softmax+mask':
        add('::Softmax');
        break;
      case 'onnx-attention':
        add('::Attention');
        break;
      case 'ms-multiheadattention':
        add('com.microsoft::MultiHeadAttention');
        break;
      case 'ms-attention':
        add('com.microsoft::Attention');
        break;
      case 'hydra':
        add(b.norm === 'ReduceL2' ? '::ReduceL2' : '::Sqrt', 2);
        break;
      case 'linear-angular+softmax-aux':
      case 'linear-angular':
        if (b.kind === 'linear-angular+softmax-aux') add('::Softmax');
        // q, k and (reference form) the output are normalised: F.normalize (ReduceL2) or x.norm() (Sqrt)
        add(b.norm === 'Mul-ReduceSum-Sqrt' ? '::Sqrt' : '::ReduceL2', b.form === 'kernel-normalized' ? 2 : 3);
        add('::Conv'); // the depthwise conv on v
        break;
      default:
        throw new Error(`unknown block kind ${String((b as BlockSpec).kind)}`);
    }
  }
  for (const [k, n] of Object.entries(other)) add(k, n);
  return m;
}
