/**
 * Every state of the app's run, in Debian's chromium: running (progress within a second of the click),
 * cancelled, failed after a success (nothing stale left), the WebGPU → WASM notice in vitlin's words
 * once per run, a 390 px wide screen without sideways scrolling, and what the page measures beyond one
 * image — the per-block plan, FLOPs before / after (as the CLI counts them) and accuracy on the labelled
 * sample (as onnxruntime-node computes it).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { createSession } from '../../src/runtime/session.js';
import { argmaxRows, imageToInput, parseSampleFile, sampleImage } from '../../src/web/index.js';
import { messageText, openApp, openFixture, recordConsole, REPO, runOn, useBuiltApp } from './harness.js';

const sampleBytes = new Uint8Array(readFileSync(join(REPO, 'models/data/fashion-mnist-test-1000.bin')));
const sample = parseSampleFile(sampleBytes);

const app = useBuiltApp('vitlin-web-states-');

async function newPage(viewport?: { width: number; height: number }): Promise<{ page: Page; log: ReturnType<typeof recordConsole> }> {
  const page = await app.browser.newPage(viewport ? { viewport } : {});
  const log = recordConsole(page);
  await openApp(page, app.url);
  return { page, log };
}

const cardState = (page: Page, which: string) => page.getAttribute(`#result-${which}`, 'data-state');

/** Top-1 accuracy of a model on the first `count` sample images, by onnxruntime-node on the page's own input preparation. */
async function nodeAccuracy(bytes: Uint8Array, count: number): Promise<number> {
  const session = await createSession(bytes, { ep: 'cpu' });
  try {
    const input = session.inputs[0]!;
    const [, c, h, w] = (input as unknown as { shape: number[] }).shape;
    const { mean, std } = sample.header.normalization;
    let correct = 0;
    for (let i = 0; i < count; i++) {
      const pixels = imageToInput(sampleImage(sample, sampleBytes, i), { channels: c!, height: h!, width: w!, mean, std });
      const logits = (await session.run({ [input.name]: new ort.Tensor('float32', pixels, [1, c!, h!, w!]) }))[session.outputs[0]!.name]!.data as Float32Array;
      if (argmaxRows(logits, logits.length)[0] === sample.labels[i]) correct++;
    }
    return correct / count;
  } finally {
    await session.release();
  }
}

describe('run states', () => {
  it('shows progress within a second of Run, and Cancel stops the run with nothing half-shown', async () => {
    const { page, log } = await newPage();
    await openFixture(page, 'fmnist_softmax');
    await page.click('#convert-button');
    await page.waitForSelector('#download-link:not([hidden])');
    await page.selectOption('#ep-select', 'webgpu'); // SwiftShader: slow enough to watch
    const clicked = Date.now();
    await page.click('#run-button');
    await page.waitForSelector('#result-original[data-state="running"] progress', { timeout: 1000 });
    expect(Date.now() - clicked).toBeLessThan(1000);
    expect(await page.textContent('#result-original .step')).toMatch(/^(starting|loading the model on WebGPU|first run)/);
    expect(await cardState(page, 'converted')).toBe('running'); // waiting its turn, not showing old results
    expect(await page.isVisible('#cancel-button')).toBe(true);
    await page.click('#cancel-button');
    await page.waitForSelector('#result-original[data-state="cancelled"]', { timeout: 120_000 });
    expect(await cardState(page, 'converted')).toBe('cancelled');
    expect(await page.getAttribute('#result-original', 'data-logits')).toBeNull();
    expect(await messageText(page)).toBe('Run cancelled.');
    expect(await page.textContent('#comparison')).toBe('');
    expect(await page.isVisible('#cancel-button')).toBe(false);
    // The page still works: a run on WASM completes.
    const results = await runOn(page, 'wasm', ['original', 'converted']);
    expect(results.converted!.logits.length).toBe(10);
    expect(log.pageErrors).toEqual([]);
    await page.close();
  }, 240_000);

  it('a run that fails after one that worked leaves no stale results', async () => {
    const { page } = await newPage();
    await openFixture(page, 'timm_vit');
    await runOn(page, 'wasm', ['original']);
    expect(await cardState(page, 'original')).toBe('done');
    // Upload chosen, but no image given: this run fails.
    await page.check('input[name="image-source"][value="upload"]');
    await page.click('#run-button');
    await page.waitForSelector('#message.error');
    expect(await messageText(page)).toMatch(/^Run failed: choose an image file to upload first/);
    expect(await cardState(page, 'original')).toBe('failed');
    expect(await page.getAttribute('#result-original', 'data-logits')).toBeNull();
    expect(await page.textContent('#result-original')).not.toMatch(/ms|%/);
    expect(await page.textContent('#comparison')).toBe('');
    await page.close();
  }, 120_000);

  it('says a WebGPU → WASM fallback in its own words, once for both models', async () => {
    const { page } = await newPage();
    const hasF16 = await page.evaluate(async () => {
      const gpu = (navigator as { gpu?: { requestAdapter(): Promise<{ features: Set<string> } | null> } }).gpu;
      return (await gpu?.requestAdapter())?.features.has('shader-f16') ?? false;
    });
    await openFixture(page, 'timm_vit_fp16');
    await page.click('#convert-button');
    await page.waitForSelector('#download-link:not([hidden])');
    const results = await runOn(page, 'auto', ['original', 'converted']);
    if (hasF16) {
      expect(results.original!.ep).toBe('webgpu');
      expect(await page.isVisible('#fallback-notice')).toBe(false);
    } else {
      expect([results.original!.ep, results.converted!.ep]).toEqual(['wasm', 'wasm']);
      const notice = (await page.locator('#fallback-notice > span').textContent()) ?? '';
      expect(notice).toBe('WebGPU could not run the original and the converted model, so they ran on WASM (the CPU) instead: ' +
        'this GPU (or its driver) has no float16 shaders (WebGPU feature shader-f16), which a float16 model needs. Results are the same; only speed differs.');
      // onnxruntime's own text is one click away, not the headline.
      expect(await page.isVisible('#fallback-notice details pre')).toBe(false);
      expect((await page.textContent('#fallback-notice details pre'))!.length).toBeGreaterThan(0);
      expect(((await page.textContent('#fallback-notice')) ?? '').match(/WebGPU could not run/g)).toHaveLength(1);
    }
    await page.close();
  }, 240_000);

  it('fits a 390 px wide screen: no sideways scrolling with long reasons, results and the plan', async () => {
    const { page } = await newPage({ width: 390, height: 844 });
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    await openFixture(page, 'swin_window_relpos'); // long "why not" reasons in the table
    expect(await overflow()).toBe(0);
    await openFixture(page, 'fmnist_softmax');
    await page.click('#convert-button');
    await page.waitForSelector('#download-link:not([hidden])');
    await runOn(page, 'wasm', ['original', 'converted']);
    expect(await overflow()).toBe(0);
    // The cards stack rather than squeeze.
    const [a, b] = await Promise.all(['#result-original', '#result-converted'].map((id) => page.locator(id).boundingBox()));
    expect(b!.y).toBeGreaterThan(a!.y + a!.height - 1);
    await page.close();
  }, 180_000);
});

describe('beyond one image', () => {
  it('the per-block plan and FLOPs before / after, as the CLI counts them', async () => {
    const { page } = await newPage();
    await openFixture(page, 'fmnist_softmax');
    const plan = () => page.locator('#plan li').allTextContents();
    expect(await plan()).toEqual(['block 0: → Hydra', 'block 1: → Hydra', 'block 2: → Hydra']);
    // `vitlin inspect models/fmnist_softmax.onnx`: 11.9 MFLOPs as is, 9.97 with Hydra (0.839×).
    expect(await page.textContent('#plan .flops')).toBe('FLOPs per image: 11.9 MFLOPs → 9.97 MFLOPs planned (0.839×); attention 1.95 MFLOPs → 38.4 kFLOPs.');
    await page.uncheck('#blocks-table input.block-select[value="0"]');
    await page.check('input[name="attention"][value="linear-angular"]');
    expect(await plan()).toEqual(['block 0: keep softmax', 'block 1: → linear-angular', 'block 2: → linear-angular']);
    await page.click('#convert-button');
    await page.waitForSelector('#plan h3:text("Converted")');
    expect(await plan()).toEqual(['block 1: converted to linear-angular', 'block 2: converted to linear-angular']);
    // After: the pipeline's report, the line `vitlin convert` prints, counted on the converted graph.
    expect(await page.textContent('#convert-report')).toMatch(/FLOPs +11\.9 MFLOPs → [\d.]+ MFLOPs \(0\.9\d\d×\); attention 1\.95 MFLOPs → [\d.]+ MFLOPs/);
    await page.close();
  }, 120_000);

  it('accuracy on the labelled sample: the page\'s numbers are onnxruntime-node\'s', async () => {
    const { page, log } = await newPage();
    await openFixture(page, 'fmnist_softmax');
    await page.click('#convert-button');
    await page.waitForSelector('#download-link:not([hidden])');
    const href = await page.getAttribute('#download-link', 'href');
    const converted = new Uint8Array(await page.evaluate(async (url) => Array.from(new Uint8Array(await (await fetch(url!)).arrayBuffer())), href));
    await page.selectOption('#ep-select', 'wasm');
    await page.fill('#accuracy-count', '100');
    await page.click('#accuracy-button');
    await page.waitForSelector('#accuracy-result[data-state="running"] progress', { timeout: 1000 });
    await page.waitForSelector('#accuracy-result[data-state="done"]', { timeout: 120_000 });
    const original = Number(await page.getAttribute('#accuracy-result', 'data-original'));
    const hydra = Number(await page.getAttribute('#accuracy-result', 'data-converted'));
    expect(original).toBeCloseTo(await nodeAccuracy(new Uint8Array(readFileSync(join(REPO, 'models/fmnist_softmax.onnx'))), 100), 10);
    expect(hydra).toBeCloseTo(await nodeAccuracy(converted, 100), 10);
    const text = (await page.textContent('#accuracy-result')) ?? '';
    expect(text).toContain(`${(original * 100).toFixed(1)} % (${Math.round(original * 100)} of 100)`);
    expect(text).toMatch(/same top-1 class[\d.]+ % of the images/);
    expect(log.pageErrors).toEqual([]);
    await page.close();
  }, 180_000);
});
