/**
 * Screenshots of the app for docs/web.md: `npx tsx web/scripts/screenshots.ts`. Builds the app into a
 * temporary folder, serves it, drives Debian's chromium through the main flow and the error cases, and
 * writes PNGs to docs/screenshots/.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { buildApp, launchChromium, REPO, serveStatic } from './browser.js';

const OUT = join(REPO, 'docs/screenshots');

async function waitForResults(page: Page, cards: string[]): Promise<void> {
  await page.waitForFunction((ids) => ids.every((id) => document.getElementById(`result-${id}`)?.dataset.logits)
    || !document.getElementById('message')!.hidden, cards, { timeout: 180_000 });
}

async function openModel(page: Page, fixture: string, file?: string): Promise<void> {
  const listed = await page.locator(`#fixture-select option[value="${fixture}"]`).count();
  if (listed || !file) {
    await page.selectOption('#fixture-select', fixture);
    await page.click('#fixture-open');
  } else {
    // Not in the manifest yet (e.g. a trained model still being made): open it as a user would.
    await page.setInputFiles('#model-file', { name: `${fixture}.onnx`, mimeType: 'application/octet-stream', buffer: readFileSync(file) });
  }
  await page.waitForSelector('#run-section:not([hidden])');
}

async function main(): Promise<void> {
  const dist = mkdtempSync(join(tmpdir(), 'vitlin-web-shots-'));
  mkdirSync(OUT, { recursive: true });
  await buildApp(dist);
  const server = await serveStatic(dist);
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1180, height: 900 } });
    await page.goto(`${server.url}?ortlog=verbose`);
    await page.waitForSelector('body[data-ready="true"]');

    // 1. The main flow: a trained Fashion-MNIST ViT when there is one, converted to Hydra, run on WebGPU.
    const trained = join(REPO, 'models/fmnist_softmax.onnx');
    if (existsSync(trained)) await openModel(page, 'fmnist_softmax', trained);
    else await openModel(page, 'timm_vit');
    await page.click('#convert-button');
    await page.waitForSelector('#download-link:not([hidden])');
    await page.fill('#sample-index', '12');
    await page.selectOption('#ep-select', 'auto');
    await page.click('#run-button');
    await waitForResults(page, ['original', 'converted']);
    // Accuracy on 200 labelled images, on WASM (WebGPU on SwiftShader would take minutes here).
    await page.selectOption('#ep-select', 'wasm');
    await page.fill('#accuracy-count', '200');
    await page.click('#accuracy-button');
    await page.waitForSelector('#accuracy-result[data-state="done"]', { timeout: 600_000 });
    await page.screenshot({ path: join(OUT, 'web-convert-and-run.png'), fullPage: true });

    // 1b. The same on a phone-sized screen (390 px): cards stacked, nothing scrolls sideways.
    const narrow = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await narrow.goto(`${server.url}?fixture=fmnist_softmax`);
    await narrow.waitForSelector('#run-section:not([hidden])');
    await narrow.selectOption('#ep-select', 'wasm');
    await narrow.click('#run-button');
    await waitForResults(narrow, ['original']);
    await narrow.screenshot({ path: join(OUT, 'web-narrow.png'), fullPage: true });
    await narrow.close();

    // 1c. Calibration and --blocks auto in the page, on WASM: the split, the report per block, the trade-off chart.
    const calibrated = await browser.newPage({ viewport: { width: 1180, height: 900 } });
    await calibrated.goto(`${server.url}?fixture=fmnist_softmax`);
    await calibrated.waitForSelector('#run-section:not([hidden])');
    await calibrated.selectOption('#ep-select', 'wasm');
    await calibrated.check('input[name="attention"][value="linear-angular"]');
    await calibrated.check('input[name="calibration"][value="plain"]');
    await calibrated.fill('#calibration-count', '128');
    await calibrated.check('input[name="block-choice"][value="auto"]');
    await calibrated.fill('#budget', '5');
    await calibrated.click('#convert-button');
    await calibrated.waitForSelector('#download-link:not([hidden])', { timeout: 600_000 });
    await calibrated.locator('#blocks-section').screenshot({ path: join(OUT, 'web-calibration.png') });
    await calibrated.close();

    // 2. WebGPU → WASM fallback, with its notice: an fp16 model on an adapter without shader-f16.
    await openModel(page, 'timm_vit_fp16');
    await page.click('#run-button');
    await waitForResults(page, ['original']);
    await page.locator('#run-section').screenshot({ path: join(OUT, 'web-wasm-fallback.png') });

    // 3. Attention that cannot be converted: the table says why.
    await openModel(page, 'swin_window_relpos');
    await page.locator('#blocks-section').screenshot({ path: join(OUT, 'web-not-convertible.png') });

    // 4. Bad input: not an ONNX file. The message, and the page keeps the model it had.
    await page.setInputFiles('#model-file', { name: 'holiday.jpg', mimeType: 'image/jpeg', buffer: Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46]) });
    await page.waitForSelector('#message.error');
    await page.screenshot({ path: join(OUT, 'web-bad-input.png'), clip: { x: 0, y: 0, width: 1180, height: 560 } });
  } finally {
    await browser.close();
    await server.close();
    rmSync(dist, { recursive: true, force: true });
  }
  console.log(`screenshots written to ${OUT}`);
}

await main();
