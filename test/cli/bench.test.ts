/** `vitlin bench`: latency, ratios and the profiler's attention share, on fixtures. */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MODELS, BUILD_TIMEOUT_MS, ensureBuilt, expectOneLineError, vitlin } from './helpers.js';

beforeAll(() => ensureBuilt(), BUILD_TIMEOUT_MS);

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
