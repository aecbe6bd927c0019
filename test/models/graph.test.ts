/**
 * The graphs, decoded with the project's own ONNX decoder, have what the manifest says: opsets, graph
 * inputs/outputs with their symbolic dims, the node counts, and one attention marker per attention block
 * (Softmax / Attention / MultiHeadAttention nodes, and the norm and conv nodes of decomposed Hydra and
 * linear-angular blocks) — nothing more, nothing less.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeModelProto } from '../../graph-rewrite/serde/decode.js';
import { loadManifest, MARKER_OPS, markersOfBlocks, modelPath, type ModelEntry } from './helpers.js';

const ELEM: Record<number, string> = { 1: 'float32', 10: 'float16', 7: 'int64', 6: 'int32' };
const manifest = loadManifest();

function decode(m: ModelEntry) {
  return decodeModelProto(new Uint8Array(fs.readFileSync(modelPath(m))), { source: m.file });
}

function io(values: { name?: string; type?: { tensor_type?: { elem_type?: number; shape?: { dim: { dim_value?: bigint; dim_param?: string }[] } } } }[]) {
  return values.map((v) => ({
    name: v.name,
    dtype: ELEM[v.type?.tensor_type?.elem_type ?? 0],
    shape: (v.type?.tensor_type?.shape?.dim ?? []).map((d) => (d.dim_param !== undefined ? d.dim_param : Number(d.dim_value))),
  }));
}

describe.each(manifest.models.map((m) => [m.name, m] as [string, ModelEntry]))('%s', (_name, m) => {
  const model = decode(m);
  const graph = model.graph!;
  const counts: Record<string, number> = {};
  for (const n of graph.node) {
    const domain = n.domain === undefined || n.domain === 'ai.onnx' ? '' : n.domain;
    const key = `${domain}::${n.op_type}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }

  it('declares the opsets of the manifest', () => {
    const opsets = Object.fromEntries(model.opset_import.map((o) => [o.domain ? o.domain : 'ai.onnx', Number(o.version)]));
    expect(opsets).toEqual(m.opsets);
  });

  it('has the graph inputs and outputs of the manifest (symbolic dims as dim_param)', () => {
    const inits = new Set(graph.initializer.map((t) => t.name));
    expect(io(graph.input.filter((v) => !inits.has(v.name)))).toEqual(m.inputs);
    expect(io(graph.output)).toEqual(m.outputs);
  });

  it('has one attention marker per declared block', () => {
    const want = markersOfBlocks(m.blocks, m.other_marker_ops ?? {});
    for (const op of MARKER_OPS) expect(counts[op] ?? 0, op).toBe(want[op] ?? 0);
  });

  it('has the node counts recorded in the manifest', () => {
    expect(counts).toEqual(m.op_counts);
  });

  if (m.dtype === 'float16') {
    it('is float16 throughout: no float32 initializer, Softmax on float16', () => {
      expect(graph.initializer.filter((t) => t.data_type === 1).map((t) => t.name)).toEqual([]);
      expect(counts['::Softmax']).toBe(m.attention_blocks);
    });
  }

  if (m.blocks.some((b) => b.kind === 'linear-angular+softmax-aux')) {
    it('multiplies the auxiliary softmax branch by a constant gate of 0', () => {
      const zeroConsts = new Set<string>();
      for (const t of graph.initializer) {
        const v = t.raw_data && t.raw_data.byteLength === 4 ? new DataView(t.raw_data.buffer, t.raw_data.byteOffset, 4).getFloat32(0, true)
          : t.float_data.length === 1 ? t.float_data[0] : undefined;
        if (t.data_type === 1 && t.dims.length === 0 && v === 0) zeroConsts.add(t.name!);
      }
      for (const n of graph.node) {
        if (n.op_type !== 'Constant') continue;
        const t = n.attribute.find((a) => a.name === 'value')?.t;
        if (t && t.data_type === 1 && t.dims.length === 0 && t.raw_data?.byteLength === 4 &&
            new DataView(t.raw_data.buffer, t.raw_data.byteOffset, 4).getFloat32(0, true) === 0) zeroConsts.add(n.output[0]!);
      }
      // torch 1.13 deduplicates identical initializers: later blocks read the gate through Identity nodes.
      for (let grew = true; grew; ) {
        grew = false;
        for (const n of graph.node) {
          if (n.op_type === 'Identity' && zeroConsts.has(n.input[0]!) && !zeroConsts.has(n.output[0]!)) {
            zeroConsts.add(n.output[0]!);
            grew = true;
          }
        }
      }
      const softmaxMatMuls = new Set(
        graph.node.filter((n) => n.op_type === 'MatMul' && n.input.some((i) => graph.node.some((s) => s.op_type === 'Softmax' && s.output[0] === i)))
          .map((n) => n.output[0]!),
      );
      const gated = graph.node.filter((n) => n.op_type === 'Mul' && n.input.some((i) => zeroConsts.has(i)));
      // each one multiplies the branch output softmax(...) @ v
      for (const n of gated) expect(n.input.some((i) => softmaxMatMuls.has(i))).toBe(true);
      expect(gated.length).toBe(m.attention_blocks);
    });
  }
});
