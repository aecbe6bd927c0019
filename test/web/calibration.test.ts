/**
 * Calibration and `--blocks auto` in the page, in Debian's chromium on WASM, against `vitlin convert`
 * with the same images, count and options:
 * - the page runs the CLI's own code (refitCalibrator, backendEvaluator) over onnxruntime-web:
 *   `vitlin convert --calibration-ep wasm` (the same code on onnxruntime-web's WASM, in Node) writes the
 *   page's download byte for byte;
 * - `vitlin convert` on its default, onnxruntime-node's CPU EP, sums floats in another order (the first
 *   Conv's outputs already differ in the last bit): its model has the same graph, the same untouched
 *   weights, the same chosen blocks, and refitted weights within a small relative difference;
 * - what the page says: which images fit, which select, which score; the report per block as the CLI
 *   prints it; the trade-off curve as a chart; progress within a second and Cancel; dropped images.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../src/model-io.js';
import { BUILD_TIMEOUT_MS, ensureBuilt, vitlin } from '../cli/helpers.js';
import { compareModels } from './model-diff.js';
import { messageText, openApp, openFixture, recordConsole, REPO, useBuiltApp } from './harness.js';

const SAMPLE_FILE = join(REPO, 'models/data/fashion-mnist-test-1000.bin');
const MODEL = join(REPO, 'models/fmnist_softmax.onnx');
const app = useBuiltApp('vitlin-web-calibration-');
let scratch: string;

beforeAll(() => {
  ensureBuilt(); // the CLI runs from dist/, as a user's does
  scratch = mkdtempSync(join(tmpdir(), 'vitlin-web-calibration-cli-'));
}, BUILD_TIMEOUT_MS);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Options {
  readonly attention: 'hydra' | 'linear-angular';
  readonly basis: 'plain' | 'extended';
  readonly count: number;
  readonly budgetPercent?: number;
}

/** `vitlin convert` with the same images (the sample file, its first `count`) and options; its bytes and --json report. */
async function cli(o: Options, ep: 'cpu' | 'wasm'): Promise<{ bytes: Uint8Array; report: { auto?: { chosen: number[] } } }> {
  const out = join(scratch, `${o.attention}-${o.basis}-${o.count}-${o.budgetPercent ?? 'all'}-${ep}.onnx`);
  const args = ['convert', MODEL, '-o', out, '--attention', o.attention, '--linear-angular-mode', 'reference',
    '--calibration', SAMPLE_FILE, '--calibration-count', String(o.count), '--calibration-basis', o.basis, '--calibration-ep', ep, '--no-check', '--json',
    ...(o.budgetPercent === undefined ? [] : ['--blocks', 'auto', '--budget', `${o.budgetPercent}%`])];
  const { code, stdout, stderr } = await vitlin(args, { timeoutMs: 400_000 });
  if (code !== 0) throw new Error(`vitlin ${args.join(' ')} failed (${code}): ${stderr}`);
  return { bytes: new Uint8Array(readFileSync(out)), report: JSON.parse(stdout) as never };
}

async function newPage(viewport?: { width: number; height: number }): Promise<{ page: Page; log: ReturnType<typeof recordConsole> }> {
  const page = await app.browser.newPage(viewport ? { viewport } : {});
  const log = recordConsole(page);
  await openApp(page, app.url);
  await openFixture(page, 'fmnist_softmax');
  await page.selectOption('#ep-select', 'wasm'); // calibration runs where Run runs: WASM here (SwiftShader's WebGPU is slow)
  return { page, log };
}

async function setOptions(page: Page, o: Options): Promise<void> {
  await page.check(`input[name="attention"][value="${o.attention}"]`);
  await page.check(`input[name="calibration"][value="${o.basis}"]`);
  await page.fill('#calibration-count', String(o.count));
  if (o.budgetPercent === undefined) {
    await page.check('input[name="block-choice"][value="ticked"]');
  } else {
    await page.check('input[name="block-choice"][value="auto"]');
    await page.fill('#budget', String(o.budgetPercent));
  }
}

/** Clicks Convert, checks the progress line shows within a second, waits for the download and returns its bytes. */
async function convertInPage(page: Page, watchProgress = true): Promise<Uint8Array> {
  const clicked = Date.now();
  await page.click('#convert-button');
  if (watchProgress) {
    await page.waitForSelector('#calibration-progress[data-state="running"] progress', { timeout: 1000 });
    expect(Date.now() - clicked).toBeLessThan(1000);
    expect(await page.isVisible('#convert-cancel')).toBe(true);
  }
  await page.waitForFunction(() => !document.getElementById('download-link')!.hidden || !document.getElementById('message')!.hidden, undefined, { timeout: 240_000 });
  expect(await messageText(page)).toBe('');
  expect(await page.isVisible('#calibration-progress')).toBe(false);
  const href = await page.getAttribute('#download-link', 'href');
  return new Uint8Array(await page.evaluate(async (url) => Array.from(new Uint8Array(await (await fetch(url!)).arrayBuffer())), href));
}

describe('calibration in the page', () => {
  it('extended-basis refit of every block: the CLI\'s report, and the CLI\'s model up to float noise', async () => {
    const o: Options = { attention: 'hydra', basis: 'extended', count: 48 };
    const byCli = cli(o, 'cpu'); // runs beside the page
    byCli.catch(() => undefined); // awaited below; not unhandled if the page fails first
    const { page, log } = await newPage();
    await setOptions(page, o);
    // ¼ of 48 held out, as `--calibration-count 48` splits them.
    expect(await page.textContent('#calibration-split')).toBe('Fit on sample images 0–35; report on sample images 36–47 (held out). ' +
      'Accuracy below is scored on sample images from 48 on — never on an image that fitted or selected.');
    const pageBytes = await convertInPage(page);
    const report = (await page.textContent('#convert-report')) ?? '';
    expect(report).toContain('calibration  extended-basis refit, sequential, on fashion-mnist-test-1000.bin (48 images)');
    expect(report).toContain('fitted on items 0–35 (36) of fashion-mnist-test-1000.bin (48 images); measured on items 36–47 (12)');
    for (const block of [0, 1, 2]) expect(report).toMatch(new RegExp(`#${block} extended: branch error \\(relative\\) [\\d.e+-]+ → [\\d.e+-]+; top-1 on the held-out part [\\d.]+ %`));
    expect(await page.textContent('#accuracy-from')).toBe('from image 48 on (images 0–47 calibrated the converted model)');

    const { bytes } = await byCli;
    const diff = compareModels(await loadModel(pageBytes), await loadModel(bytes));
    expect(diff.structure).toEqual([]);
    expect(diff.refitted.length).toBeGreaterThan(0); // the refitted projections and the basis terms' weights
    expect(diff.maxRelative).toBeLessThan(1e-3);
    console.log(`page (onnxruntime-web WASM) vs vitlin convert (onnxruntime-node CPU), hydra extended-basis refit: ${diff.refitted.length} weights differ, max relative ${diff.maxRelative.toExponential(2)}`);

    // Accuracy is scored after the calibration images.
    await page.fill('#accuracy-count', '10');
    await page.click('#accuracy-button');
    await page.waitForSelector('#accuracy-result[data-state="done"]', { timeout: 120_000 });
    expect(await page.textContent('#accuracy-result')).toContain('sample images 48–57');
    expect(log.pageErrors).toEqual([]);
    await page.close();
  }, 600_000);

  it('--blocks auto with the refit: the bytes of vitlin convert --calibration-ep wasm, the choice of the CPU run, the trade-off chart', async () => {
    const o: Options = { attention: 'linear-angular', basis: 'plain', count: 32, budgetPercent: 10 };
    const [onWasm, onCpu] = [cli(o, 'wasm'), cli(o, 'cpu')]; // beside the page
    for (const run of [onWasm, onCpu]) run.catch(() => undefined); // awaited below
    const { page, log } = await newPage({ width: 390, height: 844 }); // a phone: the chart and tables must fit
    await setOptions(page, o);
    expect(await page.textContent('#calibration-split')).toMatch(/^Fit on sample images 0–15; choose blocks and report on sample images 16–31 \(held out\)\./);
    const pageBytes = await convertInPage(page);
    // The CLI on the page's runtime writes the page's model, byte for byte: refit and choice alike.
    const wasm = await onWasm;
    expect(pageBytes).toEqual(wasm.bytes);
    const { bytes, report } = await onCpu;
    const auto = wasm.report.auto as unknown as { chosen: number[]; rows: unknown[] };
    const chosen = auto.chosen;
    expect(report.auto?.chosen).toEqual(chosen);
    const diff = compareModels(await loadModel(pageBytes), await loadModel(bytes));
    expect(diff.structure).toEqual([]);
    expect(diff.maxRelative).toBeLessThan(1e-3);
    console.log(`page vs vitlin convert, --blocks auto: chose ${chosen.join(',')} both; ${diff.refitted.length} weights differ, max relative ${diff.maxRelative.toExponential(2)}`);
    // The chart: one point per greedy step, the chosen one marked, the budget line; the table beside it.
    expect(await page.locator('#trade-off svg circle.point').count()).toBe(auto.rows.length);
    expect(await page.getAttribute('#trade-off svg circle.chosen', 'data-blocks')).toBe(chosen.join(','));
    expect(await page.locator('#trade-off svg line.budget').count()).toBe(1);
    expect(await page.locator('#trade-off tbody tr').count()).toBe(auto.rows.length);
    expect(await page.textContent('#trade-off h3')).toMatch(/^Trade-off \(greedy, \d+ evaluations; budget 10\.0 % top-1 drop\)$/);
    expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBe(0);
    expect(log.pageErrors).toEqual([]);
    await page.close();
  }, 600_000);

  it('Cancel stops a calibration; dropped images fit and are said to be unlabelled', async () => {
    const { page } = await newPage();
    await setOptions(page, { attention: 'hydra', basis: 'plain', count: 200, budgetPercent: 1 });
    await page.click('#convert-button');
    await page.waitForSelector('#calibration-progress[data-state="running"]', { timeout: 1000 });
    // The fit's arithmetic runs on the page's thread: the click is handled between two steps, and the
    // conversion stops at the next one. (Playwright's click would wait for the page to be idle first.)
    await page.evaluate(() => document.getElementById('convert-cancel')!.click());
    await page.waitForSelector('#message:not([hidden])', { timeout: 120_000 });
    expect(await messageText(page)).toBe('Conversion cancelled: nothing was converted, the previous result (if any) stays.');
    expect(await page.isVisible('#download-link')).toBe(false);
    expect(await page.isVisible('#calibration-progress')).toBe(false);

    const folder = join(REPO, 'models/data/fashion-mnist-png');
    const files = readdirSync(folder).filter((f) => f.endsWith('.png')).slice(0, 8).map((f) => join(folder, f));
    await page.setInputFiles('#calibration-files', files);
    await page.waitForFunction(() => document.getElementById('calibration-dropped')?.textContent?.startsWith('8 images'));
    await setOptions(page, { attention: 'hydra', basis: 'plain', count: 16 });
    expect(await page.textContent('#calibration-split')).toBe('Fit on the 8 images you dropped (unlabelled: used for fitting only); ' +
      'report on sample images 0–15 (held out). Accuracy below is scored on sample images from 16 on — never on an image that fitted or selected.');
    await convertInPage(page, false); // small: it may be done before a poll sees the progress line
    expect(await page.textContent('#convert-report')).toContain('fitted on 8 images you dropped (unlabelled); measured on fashion-mnist-test-1000.bin (16 images) (held out)');
    await page.close();
  }, 600_000);
});
