/**
 * `vitlin convert`'s quick check, observed from real CLI runs through the runtime layer's session channel
 * (test/support/session-probe.mjs): one input by default, skipped on request, never run for a re-save,
 * sessions created from files one at a time.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Node } from '../../graph-rewrite/ir/index.js';
import { loadModel, saveModel } from '../../src/model-io.js';
import { BUILD_TIMEOUT_MS, MODELS, ensureBuilt, expectOneLineError, manifest, tempFolder, vitlinProbed } from './helpers.js';

const tmp = tempFolder();
const out = (name: string) => join(tmp.path, name);
beforeAll(async () => {
  ensureBuilt();
  // timm_vit with its logits passed through an op onnxruntime does not have: vitlin converts it, onnxruntime refuses it.
  const model = await loadModel(join(MODELS, 'timm_vit.onnx'));
  const logits = model.graph.outputs[0]!;
  const unknown = new Node({ domain: 'com.microsoft', opType: 'NoSuchOp', inputs: [logits], outputs: ['unknown_logits'] });
  model.graph.append(unknown);
  unknown.outputs[0]!.type = logits.type;
  model.graph.replaceOutput(0, unknown.outputs[0]!);
  (model.opsetImports as Map<string, number>).set('com.microsoft', 1);
  await saveModel(model, out('unknown-op.onnx'));
}, BUILD_TIMEOUT_MS);
afterAll(() => tmp.cleanup());

const timm = join(MODELS, 'timm_vit.onnx');

describe('vitlin convert: the quick check', () => {
  it('by default runs one input, from the written file, one session at a time, and reports its cost', async () => {
    const r = await vitlinProbed(['convert', timm, '-o', out('default.onnx'), '--attention', 'hydra', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const { check } = JSON.parse(r.stdout);
    expect(check.items).toBe(1);
    expect(check.inputs).toBe('1 random input (seed 1)');
    expect(check.sessions).toBe(2);
    expect(check.seconds).toBeGreaterThan(0);
    expect(r.sessions.created).toBe(2);
    expect(r.sessions.released).toBe(2);
    expect(r.sessions.maxLive).toBe(1); // each session released before the next is created
    expect(r.sessions.events.filter((e) => e.event === 'create').map((e) => e.from)).toEqual(['file', 'file']);
    expect(r.sessions.events.map((e) => e.label)).toContain(`${timm} (converted)`);
  });

  it('the text report prints the check\'s cost', async () => {
    const r = await vitlinProbed(['convert', timm, '-o', out('text.onnx'), '--attention', 'hydra', '--check-count', '3']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/check\s+3 random inputs \(seed 1\): max \|Δ\| [\d.e+-]+, cosine [\d.-]+.* \([\d.]+ s, 2 onnxruntime sessions\)\n/);
    expect(r.sessions.created).toBe(2);
  });

  it.each([['--no-check'], ['--check-count', '0']])('%s skips it: no session, the model is still written', async (...flags) => {
    const target = out(`skipped${flags.length}.onnx`);
    const r = await vitlinProbed(['convert', timm, '-o', target, '--attention', 'linear-angular', ...flags, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.check).toEqual({ skipped: 'not run (--no-check)' });
    expect(report.converted).toHaveLength(2);
    expect(r.sessions.created).toBe(0);
    expect(existsSync(target)).toBe(true);
  });

  it('with --external-data the check loads the staged model with its side file, then both are moved into place', async () => {
    const r = await vitlinProbed(['convert', join(MODELS, 'hf_vit_op12.onnx'), '-o', out('ext.onnx'), '--attention', 'hydra', '--external-data', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).check.items).toBe(1);
    expect(r.sessions.created).toBe(2);
    expect(tmp.files().filter((f) => f.startsWith('ext.onnx'))).toEqual(['ext.onnx', 'ext.onnx.data']);
    expect(tmp.files().filter((f) => f.endsWith('.tmp'))).toEqual([]); // no staging folder left
  });

  it('a check that fails leaves no file behind; without the check the same model is written', async () => {
    const before = tmp.files();
    const r = await vitlinProbed(['convert', out('unknown-op.onnx'), '-o', out('refused.onnx'), '--attention', 'hydra']);
    expect(r.code).toBe(1);
    expect(expectOneLineError(r)).toMatch(/^vitlin convert: .*unknown-op\.onnx: onnxruntime could not load the model on cpu: .*NoSuchOp/);
    expect(r.sessions.released).toBe(r.sessions.created);
    expect(tmp.files()).toEqual(before); // neither the output nor the staging folder
    const unchecked = await vitlinProbed(['convert', out('unknown-op.onnx'), '-o', out('refused.onnx'), '--attention', 'hydra', '--no-check']);
    expect(unchecked.code, unchecked.stderr).toBe(0);
    expect(existsSync(out('refused.onnx'))).toBe(true);
  });

  it('--no-check with a positive --check-count is a usage error', async () => {
    const r = await vitlinProbed(['convert', timm, '-o', out('x.onnx'), '--attention', 'hydra', '--no-check', '--check-count', '2']);
    expect(r.code).toBe(2);
    expect(expectOneLineError(r)).toMatch(/--no-check and --check-count 2 contradict each other/);
    expect(r.sessions.created).toBe(0);
    expect(existsSync(out('x.onnx'))).toBe(false);
  });
});

describe('vitlin convert: a re-save runs no inference', () => {
  const fixtures = manifest().models.map((m) => [m.name, m.file] as const);
  it.each(fixtures)('%s: --blocks none --no-fuse writes it byte for byte without an onnxruntime session', async (name, file) => {
    const target = out(`resave-${name}.onnx`);
    const r = await vitlinProbed(['convert', join(MODELS, file), '-o', target, '--blocks', 'none', '--no-fuse', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).check.skipped).toMatch(/nothing changed/);
    expect(r.sessions.created).toBe(0);
    expect(readFileSync(target).equals(readFileSync(join(MODELS, file)))).toBe(true);
  });

  it('a model whose blocks cannot be converted is written unchanged, without a session', async () => {
    const r = await vitlinProbed(['convert', join(MODELS, 'bert_mask.onnx'), '-o', out('bert.onnx'), '--attention', 'hydra']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/check\s+not needed: nothing changed/);
    expect(r.sessions.created).toBe(0);
  });
});
