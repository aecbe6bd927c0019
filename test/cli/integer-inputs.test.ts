/**
 * verify and convert's check on models with integer inputs: random inputs respect what they mean (token
 * ids below the vocabulary read from the Gather table, 0/1 attention masks that keep at least one token),
 * and NaN never counts as agreement.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeModelProtoToBytes } from '../../graph-rewrite/serde/encode.js';
import { AttributeType, DataType } from '../../graph-rewrite/serde/onnx-schema.js';
import { randomInputs, TEXT_SEQUENCE_LENGTH } from '../../src/eval/inputs.js';
import { integerInputMeanings } from '../../src/eval/integer-inputs.js';
import { readModelFile } from '../../src/io/model-file.js';
import { compareOutputs } from '../../src/runtime/compare.js';
import { nodeBackend } from '../../src/runtime/node-backend.js';
import { f32Bytes, floatTensor, make, model, node, valueInfo } from '../serde/fixtures.js';
import { MODELS, ROOT } from './helpers.js';

const folder = mkdtempSync(join(tmpdir(), 'vitlin-integer-inputs-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

const int64 = (name: string, dims: number[], values: number[]) =>
  make('TensorProto', { name, data_type: DataType.INT64, dims: dims.map(BigInt), raw_data: new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer) });

/**
 * A tiny text model: ids → Gather from a 7-row table (ids ≥ 7 are an onnxruntime error), summed; masked
 * positions set to −∞ before a Softmax over the sequence (a row with every token masked is NaN).
 */
function textModelBytes(): Uint8Array {
  const table = Array.from({ length: 7 * 4 }, (_, i) => Math.sin(i));
  return encodeModelProtoToBytes(model(make('GraphProto', {
    name: 'text',
    node: [
      node('Cast', ['input_ids'], ['ids32'], [make('AttributeProto', { name: 'to', type: AttributeType.INT, i: BigInt(DataType.INT32) })]),
      node('Gather', ['table', 'ids32'], ['embedded']),
      node('ReduceSum', ['embedded', 'last_axis'], ['score'], [make('AttributeProto', { name: 'keepdims', type: AttributeType.INT, i: 0n })]),
      node('Equal', ['attention_mask', 'zero'], ['masked']),
      node('Where', ['masked', 'minus_inf', 'score'], ['masked_score']),
      node('Softmax', ['masked_score'], ['probabilities'], [make('AttributeProto', { name: 'axis', type: AttributeType.INT, i: -1n })]),
    ],
    initializer: [
      floatTensor('table', [7, 4], table), int64('last_axis', [1], [-1]), int64('zero', [], [0]),
      make('TensorProto', { name: 'minus_inf', data_type: DataType.FLOAT, dims: [], raw_data: f32Bytes([-Infinity]) }),
    ],
    input: [valueInfo('input_ids', DataType.INT64, ['batch', 'sequence']), valueInfo('attention_mask', DataType.INT64, ['batch', 'sequence'])],
    output: [valueInfo('probabilities', DataType.FLOAT, ['batch', 'sequence'])],
  })));
}

const MAIN = "import { main } from './src/cli/main.ts'; process.exitCode = await main(process.argv.slice(1));";
function vitlin(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', MAIN, ...args], { cwd: ROOT, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('random inputs for integer inputs', () => {
  it('infers ids (through a Cast, from the Gather table) and masks', async () => {
    const path = join(folder, 'text.onnx');
    writeFileSync(path, textModelBytes());
    expect(integerInputMeanings(await readModelFile(path))).toEqual({ input_ids: { kind: 'ids', below: 7 }, attention_mask: { kind: 'mask' } });
    expect(integerInputMeanings(await readModelFile(join(MODELS, 'bert_mask.onnx'))))
      .toEqual({ input_ids: { kind: 'ids', below: 100 }, attention_mask: { kind: 'mask' } });
  });

  it('gives valid ids and 0/1 masks keeping 1..n leading tokens, over a sequence long enough to mask', async () => {
    const session = await nodeBackend.createSession(join(MODELS, 'bert_mask.onnx'));
    try {
      const meanings = integerInputMeanings(await readModelFile(join(MODELS, 'bert_mask.onnx')));
      const feeds = randomInputs(64, 3, {}, meanings).feeds(session.inputs, 0, 64);
      expect(feeds.input_ids!.dims).toEqual([64, TEXT_SEQUENCE_LENGTH]);
      const ids = Array.from(feeds.input_ids!.data as BigInt64Array, Number);
      expect(Math.min(...ids)).toBe(0);
      expect(Math.max(...ids)).toBeLessThan(100);
      expect(Math.max(...ids)).toBeGreaterThan(80); // spread over the vocabulary, not stuck in [0, 10)
      const mask = Array.from(feeds.attention_mask!.data as BigInt64Array, Number);
      const kept = new Set<number>();
      for (let row = 0; row < 64; row++) {
        const values = mask.slice(row * TEXT_SEQUENCE_LENGTH, (row + 1) * TEXT_SEQUENCE_LENGTH);
        const ones = values.filter((v) => v === 1).length;
        expect(values).toEqual(values.map((_, j) => (j < ones ? 1 : 0)));
        expect(ones).toBeGreaterThanOrEqual(1);
        kept.add(ones);
      }
      expect(kept.size).toBeGreaterThan(4); // padding of many lengths, including some
      const outputs = await session.run(feeds);
      expect(Array.from(outputs.last_hidden_state!.data as Float32Array).every(Number.isFinite)).toBe(true);
    } finally {
      await session.release();
    }
  });
});

describe('NaN never counts as agreement', () => {
  it('rows with a NaN disagree, and max |Δ| is NaN', () => {
    const comparison = compareOutputs([NaN, 1, 0, 2, 1, 0], [NaN, 1, 0, 2, 1, 0], 3);
    expect(comparison.top1Agreement).toBe(0.5);
    expect(comparison.maxAbsError).toBeNaN();
  });
});

describe('vitlin verify on text models', () => {
  it('verify a a --tolerance 1e-3 passes on the hand-built text model (vocab 7, −∞ masking)', () => {
    const path = join(folder, 'text-verify.onnx');
    writeFileSync(path, textModelBytes());
    const r = vitlin(['verify', path, path, '--tolerance', '1e-3', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ items: 16, maxAbsError: 0, top1Agreement: 1, passed: true });
  });

  it('verify a a --tolerance 1e-3 passes on models/bert_mask.onnx', () => {
    const r = vitlin(['verify', join(MODELS, 'bert_mask.onnx'), join(MODELS, 'bert_mask.onnx'), '--tolerance', '1e-3']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/ok: max \|Δ\| 0 ≤ tolerance 0\.001/);
  });
});
