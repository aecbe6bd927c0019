/** `vitlin bench`: latency, ratios and the profiler's attention share, on fixtures. */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, saveModel } from '../../src/model-io.js';
import { MODELS, BUILD_TIMEOUT_MS, ensureBuilt, expectOneLineError, tempFolder, vitlin } from './helpers.js';

const tmp = tempFolder('vitlin-bench-');
beforeAll(() => ensureBuilt(), BUILD_TIMEOUT_MS);
afterAll(() => tmp.cleanup());

describe('vitlin bench', () => {
  it('measures each model, compares them with the first, and attributes time to attention', async () => {
    const r = await vitlin(['bench', join(MODELS, 'timm_vit.onnx'), join(MODELS, 'ms_attention_vit.onnx'), '--runs', '5', '--warmup', '1', '--profile-runs', '3', '--threads', '1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const { rows, options } = JSON.parse(r.stdout);
    expect(options).toMatchObject({ runs: 5, warmup: 1, threads: 1, eps: ['cpu'] });
    expect(rows.map((row: { model: string }) => row.model)).toEqual(['timm_vit', 'ms_attention_vit']);
    for (const row of rows) {
      expect(row.latency.runs).toBe(5);
      expect(row.latency.medianMs).toBeGreaterThan(0);
      expect(row.latency.p90Ms).toBeGreaterThanOrEqual(row.latency.medianMs);
      expect(row.latency.throughput).toBeCloseTo(1000 / row.latency.medianMs, 6);
      // Both models have real attention: Softmax + MatMuls, or com.microsoft.Attention.
      expect(row.profile.attentionShare).toBeGreaterThan(0);
      expect(row.profile.attentionShare).toBeLessThan(1);
      expect(row.profile.runs).toBe(3);
    }
    expect(rows[0].speedup).toBe(1);
    expect(rows[1].speedup).toBeCloseTo(rows[0].latency.medianMs / rows[1].latency.medianMs, 9);
    expect(rows[0].profile.ops.map((o: { opType: string }) => o.opType)).toContain('Softmax');
    expect(rows[1].profile.ops.map((o: { opType: string }) => o.opType)).toContain('Attention');
  });

  it('prints the latency table and the per-op table', async () => {
    const r = await vitlin(['bench', join(MODELS, 'timm_vit.onnx'), '--runs', '3', '--warmup', '0', '--profile-runs', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/model\s+ep\s+median\s+p90\s+throughput\s+vs first\s+attention/);
    expect(r.stdout).toMatch(/timm_vit\s+cpu\s+[\d.]+ ms\s+[\d.]+ ms\s+\d+ \/s\s+1\.00×\s+[\d.]+ %/);
    expect(r.stdout).toMatch(/Softmax\s+[\d.]+ ms/);
    expect(r.stdout).toMatch(/\(attention\)\s+[\d.]+ ms/);
    expect(r.stderr).toBe(''); // no progress bar when stderr is not a TTY
  });

  it('keeps the table intact when a model fails, with a short reason in its own column', async () => {
    // A model vitlin reads but onnxruntime refuses: one node of an op type no runtime implements.
    const model = await loadModel(join(MODELS, 'timm_vit.onnx'));
    model.graph.nodes.find((n) => n.opType === 'Add')!.opType = 'NoSuchOpAnywhere';
    const broken = join(tmp.path, 'broken.onnx');
    await saveModel(model, broken);
    const r = await vitlin(['bench', join(MODELS, 'timm_vit.onnx'), broken, '--runs', '2', '--warmup', '0', '--profile-runs', '0']);
    expect(r.code).toBe(1);
    const lines = r.stdout.split('\n');
    const header = lines.findIndex((l) => l.startsWith('model '));
    expect(lines[header]).toMatch(/^model\s+ep\s+median\s+p90\s+throughput\s+vs first\s+attention\s+note$/);
    const [good, bad] = [lines[header + 2]!, lines[header + 3]!];
    expect(good).toMatch(/^timm_vit\s+cpu\s+[\d.]+ ms\s+[\d.]+ ms\s+\d+ \/s\s+1\.00×\s+—$/);
    // Every column lines up: the failed row's cells end where the good row's do, and the reason is in the last column.
    expect(bad).toMatch(/^broken\s+cpu\s+—\s+—\s+—\s+—\s+—\s+failed: .{1,48}$/);
    expect(bad.indexOf('failed:')).toBeGreaterThan(good.length);
    for (const column of ['median', 'p90', 'throughput']) {
      const end = lines[header]!.indexOf(column) + column.length;
      expect(bad[end - 1]).toBe('—');
    }
    // The whole first line of the reason comes under the table, and once on stderr.
    expect(r.stdout).toMatch(/\nfailed:\n {2}broken on cpu: .*NoSuchOpAnywhere/);
    expect(expectOneLineError(r)).toMatch(/^vitlin bench: 1 of 2 measurements failed: broken on cpu: .*NoSuchOpAnywhere/);
  });

  const bad: [string, string[], number, RegExp][] = [
    ['no model', ['bench'], 2, /missing <model>/],
    ['a missing file', ['bench', 'missing.onnx'], 1, /missing\.onnx: no such file/],
    ['--runs 0', ['bench', join(MODELS, 'timm_vit.onnx'), '--runs', '0'], 2, /--runs: expected an integer ≥ 1, got '0'/],
    ['an unknown ep in a list', ['bench', join(MODELS, 'timm_vit.onnx'), '--ep', 'cpu,cuda'], 2, /--ep: unknown value 'cuda'/],
  ];
  it.each(bad)('fails on %s with a one-line error and the right exit code', async (_, args, code, message) => {
    const r = await vitlin(args);
    expect(r.code).toBe(code);
    expect(expectOneLineError(r)).toMatch(message);
  });
});
