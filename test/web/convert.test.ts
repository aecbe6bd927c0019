/**
 * Converting in the page: the built app finds a fixture's attention blocks, converts them (Hydra, all
 * blocks; linear-angular, one block), and runs original and converted on WebGPU and on WASM. Checked
 * against the same conversion done in Node (findAttentionBlocks / convertAttention, byte-identical
 * download) run by onnxruntime-node on the same input, and against onnxruntime's own placement log:
 * no node of a converted model may run on the CPU under WebGPU. Also: a model with no attention, and
 * one whose attention cannot be converted, say so and the page keeps working.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertAttention, findAttentionBlocks } from '../../graph-rewrite/attention/index.js';
import { runConversion } from '../../graph-rewrite/plan/index.js';
import { formatConversion } from '../../src/cli/conversion-report.js';
import { loadModel, modelToBytes } from '../../src/model-io.js';
import { argmaxRows, parseSampleFile } from '../../src/web/index.js';
import {
  buildApp, launchChromium, maxAbsDiff, messageText, openApp, openFixture, recordConsole, REPO, runOn, serveStatic, type StaticServer,
} from './harness.js';
import { noAttentionModel } from './models.js';
import { nodeLogits } from './node-reference.js';

// Dynamic batch: the page pins it to 1 (freeDimensionOverrides), so even shape arithmetic runs on WebGPU.
const FIXTURE = 'hf_vit_op17_dyn';
const SAMPLE_INDEX = 5;
const classes = parseSampleFile(new Uint8Array(readFileSync(join(REPO, 'models/data/fashion-mnist-test-1000.bin')))).header.classes;
const fixtureBytes = (name: string): Uint8Array => new Uint8Array(readFileSync(join(REPO, 'models', `${name}.onnx`)));

let outDir: string;
let server: StaticServer;
let browser: Browser;
let page: Page;
let log: ReturnType<typeof recordConsole>;

beforeAll(async () => {
  outDir = mkdtempSync(join(tmpdir(), 'vitlin-web-convert-'));
  await buildApp(outDir);
  server = await serveStatic(outDir);
  browser = await launchChromium();
  page = await browser.newPage();
  log = recordConsole(page);
  // Verbose onnxruntime logging: its placement lines are what the WebGPU assertions read.
  await openApp(page, `${server.url}?ortlog=verbose`);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

/** The attention table as the page shows it: one array of cell texts per row. */
async function tableRows(): Promise<string[][]> {
  return page.locator('#blocks-table tbody tr').evaluateAll((rows) =>
    rows.map((row) => Array.from(row.querySelectorAll('td')).slice(1).map((cell) => cell.textContent ?? '')));
}

/** Converts in the page and returns the downloaded model's bytes. */
async function convertInPage(attention: 'hydra' | 'linear-angular', blocks: readonly number[]): Promise<Uint8Array> {
  await page.check(`input[name="attention"][value="${attention}"]`);
  for (const box of await page.locator('input.block-select:not([disabled])').all()) {
    await box.setChecked(blocks.includes(Number(await box.getAttribute('value'))));
  }
  await page.click('#convert-button');
  await page.waitForFunction((a) => document.getElementById('convert-status')?.textContent?.includes(`to ${a}`), attention);
  expect(await messageText(page)).toBe('');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-link')]);
  expect(download.suggestedFilename()).toBe(`${FIXTURE}.${attention}.onnx`);
  return new Uint8Array(readFileSync((await download.path())!));
}

/** Placement lines onnxruntime logged for sessions of `file` since console line `from`. */
function placementLines(file: string, from: number): string[] {
  return log.lines.slice(from).filter((line) => line.includes(`onnxruntime:${file},`) && / placed on \[/.test(line));
}

async function checkRuns(convertedBytes: Uint8Array, convertedFile: string): Promise<void> {
  const original = await nodeLogits(fixtureBytes(FIXTURE), SAMPLE_INDEX);
  const converted = await nodeLogits(convertedBytes, SAMPLE_INDEX);
  for (const ep of ['webgpu', 'wasm'] as const) {
    const from = log.lines.length;
    const results = await runOn(page, ep, ['original', 'converted']);
    for (const [card, expected] of [['original', original], ['converted', converted]] as const) {
      const result = results[card]!;
      expect(result.ep, `${card} on ${ep}`).toBe(ep);
      expect(maxAbsDiff(result.logits, expected), `${card} on ${ep}: page vs onnxruntime-node`).toBeLessThanOrEqual(1e-4);
      expect(result.text).toContain(classes[argmaxRows(expected, expected.length)[0]!]!);
      expect(result.text).toMatch(/\d+\.\d\d ms/);
    }
    expect(await page.textContent('#comparison')).toMatch(/^Converted vs original: (same|different) top-1 class, max \|Δ logit\| /);
    if (ep === 'webgpu') {
      // The converted session was created during this run: onnxruntime logged where each node went.
      const lines = placementLines(convertedFile, from);
      expect(lines.length, 'placement lines of the converted model').toBeGreaterThan(0);
      for (const line of lines) expect(line).toMatch(/(All nodes|Node\(s\)) placed on \[WebGpuExecutionProvider\]/);
      expect(lines.join('\n')).not.toContain('CPUExecutionProvider');
      expect(await page.textContent('#result-converted .meta')).toMatch(/all \d+ nodes on WebGpuExecutionProvider/);
    }
  }
}

describe('converting in the page', () => {
  it('a model with no attention: the page says so, and running it still works', async () => {
    const bytes = noAttentionModel();
    await page.setInputFiles('#model-file', { name: 'no-attention.onnx', mimeType: 'application/octet-stream', buffer: Buffer.from(bytes) });
    await expect.poll(() => messageText(page)).toBe('no-attention.onnx has no attention blocks: there is nothing to convert (you can still run it).');
    expect(await page.isDisabled('#convert-button')).toBe(true);
    await page.fill('#sample-index', String(SAMPLE_INDEX));
    const { original } = await runOn(page, 'wasm', ['original']);
    expect(maxAbsDiff(original!.logits, await nodeLogits(bytes, SAMPLE_INDEX))).toBeLessThanOrEqual(1e-4);
  }, 120_000);

  it('a model whose attention cannot be converted: the table gives the reasons, convert is off', async () => {
    await openFixture(page, 'swin_window_relpos');
    const { blocks } = findAttentionBlocks(await loadModel(fixtureBytes('swin_window_relpos')));
    expect(blocks.length).toBe(2);
    expect(await messageText(page)).toBe('swin_window_relpos.onnx: none of its 2 attention blocks can be converted (see the table for why).');
    const rows = await tableRows();
    expect(rows.map((row) => row.at(-1))).toEqual(blocks.map((block) => `no: ${block.reason}`));
    expect(await page.isDisabled('#convert-button')).toBe(true);
  });

  it(`${FIXTURE}: the table matches findAttentionBlocks in Node`, async () => {
    await openFixture(page, FIXTURE);
    expect(await messageText(page)).toBe('');
    const { blocks } = findAttentionBlocks(await loadModel(fixtureBytes(FIXTURE)));
    expect(blocks.length).toBe(2);
    expect(await tableRows()).toEqual(blocks.map((b) => [
      String(b.index), b.style, String(b.heads), String(b.headDim), String(b.tokens), b.convertible ? 'yes' : `no: ${b.reason}`,
    ]));
  });

  it('Hydra, every block: the download equals Node\'s conversion; WebGPU and WASM match onnxruntime-node', async () => {
    const expected = modelToBytes(convertAttention(await loadModel(fixtureBytes(FIXTURE)), { attention: 'hydra', blocks: [0, 1] }).model);
    const downloaded = await convertInPage('hydra', [0, 1]);
    expect(downloaded).toEqual(expected);
    // The page shows the pipeline's report, the lines `vitlin convert` prints for the same conversion.
    const outcome = await runConversion(await loadModel(fixtureBytes(FIXTURE)), {
      attention: 'hydra', selection: { kind: 'list', indices: [0, 1] }, linearAngularMode: 'reference', fuse: true, fit: false, inlineFunctions: false,
    });
    expect(await page.textContent('#convert-report')).toBe(formatConversion(outcome, 'hydra', 'reference').join('\n'));
    expect(await page.textContent('#convert-report')).toMatch(/2 of 2 softmax blocks converted to hydra: 0, 1/);
    await checkRuns(downloaded, `${FIXTURE}.hydra.onnx`);
  }, 240_000);

  it('linear-angular, block 1 only: the same checks', async () => {
    const expected = modelToBytes(convertAttention(await loadModel(fixtureBytes(FIXTURE)), { attention: 'linear-angular', blocks: [1] }).model);
    const downloaded = await convertInPage('linear-angular', [1]);
    expect(downloaded).toEqual(expected);
    expect(await page.textContent('#convert-status')).toMatch(/^Converted block 1 to linear-angular/);
    await checkRuns(downloaded, `${FIXTURE}.linear-angular.onnx`);
    expect(log.pageErrors).toEqual([]);
  }, 240_000);
});
