/**
 * models/manifest.json agrees with the files: every model and reference file is listed and present, the entries
 * are self-consistent, and onnxruntime-node's session metadata (input/output names, types, shapes with symbolic
 * dims) is what the manifest says.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { loadManifest, MODELS_DIR, modelPath, type ModelEntry } from './helpers.js';

const manifest = loadManifest();
const entries = manifest.models.map((m) => [m.name, m] as [string, ModelEntry]);

describe('manifest', () => {
  it('lists every .onnx and reference file of models/, and nothing else', () => {
    const onnx = fs.readdirSync(MODELS_DIR).filter((f) => f.endsWith('.onnx')).sort();
    expect(manifest.models.map((m) => m.file).sort()).toEqual(onnx);
    const refs = fs.readdirSync(path.join(MODELS_DIR, 'reference')).sort();
    expect(manifest.models.map((m) => path.basename(m.reference)).sort()).toEqual(refs);
    expect(new Set(manifest.models.map((m) => m.name)).size).toBe(manifest.models.length);
  });

  it('covers the required exporter styles and expectations', () => {
    const exporters = new Set(manifest.models.map((m) => m.exporter));
    for (const e of [
      'torchvision', 'huggingface-vit', 'timm', 'sdpa-decomposition', 'clip-vision', 'deit', 'timm-fp16',
      'onnx-attention-23', 'ort-multiheadattention', 'ort-attention', 'swin-window', 'bert',
      'hydra-decomposed', 'castling-decomposed',
    ]) {
      expect(exporters, e).toContain(e);
    }
    const hf = manifest.models.filter((m) => m.exporter === 'huggingface-vit');
    expect(hf.map((m) => m.opset).sort((a, b) => a - b)).toEqual([12, 17]);
    expect(hf.find((m) => m.opset === 17)!.inputs[0]!.shape[0]).toBe('batch');
    expect(manifest.models.filter((m) => m.trained).length).toBeGreaterThanOrEqual(4);
    for (const x of ['convert', 'fuse', 'leave'] as const) expect(manifest.models.some((m) => m.expect === x)).toBe(true);
  });
});

describe.each(entries)('%s', (_name, m) => {
  it('is a self-consistent entry', () => {
    expect(m.file).toBe(`${m.name}.onnx`);
    expect(m.reference).toBe(`reference/${m.name}.json`);
    const size = fs.statSync(modelPath(m)).size;
    expect(size).toBeLessThanOrEqual(5 * 1024 * 1024);
    expect(m.layers).toBeGreaterThanOrEqual(2);
    expect(m.attention_blocks).toBe(m.blocks.length);
    expect(m.attention_blocks).toBe(m.layers);
    expect(m.blocks.map((b) => b.layer)).toEqual([...Array(m.layers).keys()]);
    expect(m.opset).toBe(m.opsets['ai.onnx']);
    for (const b of m.blocks) {
      if (b.kind === 'hydra') {
        expect([b.heads, b.head_dim]).toEqual([m.embed_dim, 1]);
      } else {
        expect(b.heads * b.head_dim).toBe(m.embed_dim);
      }
    }
    expect(m.heads * m.head_dim).toBe(m.embed_dim);
    // expect follows from the block kinds
    const kinds = new Set(m.blocks.map((b) => b.kind));
    const negative = kinds.has('softmax+relpos-bias') || kinds.has('softmax+mask');
    const linear = kinds.has('hydra') || kinds.has('linear-angular') || kinds.has('linear-angular+softmax-aux');
    expect(m.expect).toBe(negative ? 'leave' : linear ? 'fuse' : 'convert');
    if (m.expect === 'leave') expect(m.reason).toMatch(/\S/);
    else expect(m.reason).toBeUndefined();
  });

  it('has the input/output names, types and shapes of its onnxruntime session', async () => {
    const session = await ort.InferenceSession.create(modelPath(m));
    try {
      expect(session.inputNames).toEqual(m.inputs.map((t) => t.name));
      expect(session.outputNames).toEqual(m.outputs.map((t) => t.name));
      const meta = (list: readonly ort.InferenceSession.ValueMetadata[]) =>
        list.map((v) => (v.isTensor ? { name: v.name, dtype: v.type, shape: [...v.shape] } : { name: v.name }));
      expect(meta(session.inputMetadata)).toEqual(m.inputs);
      expect(meta(session.outputMetadata)).toEqual(m.outputs);
    } finally {
      await session.release();
    }
  });
});
