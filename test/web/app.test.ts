/**
 * The built web app in Debian's chromium: runs a bundled fixture on WebGPU and on WASM and checks the
 * page's logits against onnxruntime-node on the same input; WebGPU → WASM fallback with a visible
 * notice; and bad input (not ONNX, too large, a run out of memory, a bad image) shows a clear message
 * while the page keeps working. Conversion in the page: convert.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { argmaxRows, parseSampleFile } from '../../src/web/index.js';
import {
  maxAbsDiff, messageText, openApp, openFixture, recordConsole, REPO, runOn, useBuiltApp,
} from './harness.js';
import { hugeIntermediateModel } from './models.js';
import { nodeLogits } from './node-reference.js';

const sample = parseSampleFile(new Uint8Array(readFileSync(join(REPO, 'models/data/fashion-mnist-test-1000.bin'))));

const app = useBuiltApp('vitlin-web-app-');

async function newPage(query = ''): Promise<{ page: Page; log: ReturnType<typeof recordConsole> }> {
  const page = await app.browser.newPage();
  const log = recordConsole(page);
  await openApp(page, `${app.url}${query}`);
  return { page, log };
}

describe('web app', () => {
  it('is served cross-origin isolated, with WebGPU and multi-threaded WASM', async () => {
    const { page } = await newPage();
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    const status = await page.textContent('#runtime-status');
    expect(status).toContain('WebGPU: available');
    // Threads need cross-origin isolation (SharedArrayBuffer); the page uses every core, up to 8.
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    const threads = Math.max(1, Math.min(cores, 8));
    expect(status).toContain(`WASM: ${threads} thread${threads > 1 ? 's' : ''} (cross-origin isolated)`);
    expect(await page.evaluate(() => typeof SharedArrayBuffer)).toBe('function');
    // Every bundled fixture in the select is a file the page can fetch.
    expect(await page.locator('#fixture-select option').count()).toBeGreaterThanOrEqual(10);
    await page.close();
  });

  it('runs a fixture on WebGPU and on WASM with the same logits as onnxruntime-node', async () => {
    const { page, log } = await newPage();
    await openFixture(page, 'timm_vit');
    await page.fill('#sample-index', '3');
    const expected = await nodeLogits(new Uint8Array(readFileSync(join(REPO, 'models/timm_vit.onnx'))), 3);
    const label = sample.header.classes[argmaxRows(expected, expected.length)[0]!]!;
    for (const ep of ['webgpu', 'wasm'] as const) {
      const { original } = await runOn(page, ep, ['original']);
      expect(original!.ep).toBe(ep);
      expect(maxAbsDiff(original!.logits, expected)).toBeLessThanOrEqual(1e-4);
      expect(original!.text).toContain(label); // the top class is shown…
      expect(original!.text).toMatch(/\d+\.\d\d ms/); // …with the latency
    }
    expect(await page.textContent('#image-label')).toBe(`sample #3: ${sample.header.classes[sample.labels[3]!]}`);
    expect(log.pageErrors).toEqual([]);
    await page.close();
  }, 180_000);

  it('a dropped model and an uploaded image: the page gives onnxruntime-node\'s logits for the same pixels', async () => {
    const { page, log } = await newPage();
    const bytes = readFileSync(join(REPO, 'models/tv_vit_mha.onnx'));
    // A real drop event carrying a File, as dragging one from the desktop delivers.
    await page.evaluate(([name, data]) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([new Uint8Array(data)], name));
      document.getElementById('drop-zone')!.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }, ['dropped.onnx', Array.from(bytes)] as const);
    await page.waitForFunction(() => document.querySelector('#model-info dd')?.textContent?.startsWith('dropped.onnx'));
    // A 40×30 colour PNG made by the browser, and its exact RGBA pixels for the Node side.
    const made = await page.evaluate(async () => {
      const canvas = new OffscreenCanvas(40, 30);
      const context = canvas.getContext('2d')!;
      for (let y = 0; y < 30; y++) {
        for (let x = 0; x < 40; x++) {
          context.fillStyle = `rgb(${x * 6}, ${y * 8}, ${(x * y) % 256})`;
          context.fillRect(x, y, 1, 1);
        }
      }
      const png = new Uint8Array(await (await canvas.convertToBlob({ type: 'image/png' })).arrayBuffer());
      return { png: Array.from(png), rgba: Array.from(context.getImageData(0, 0, 40, 30).data) };
    });
    await page.setInputFiles('#image-file', { name: 'gradient.png', mimeType: 'image/png', buffer: Buffer.from(made.png) });
    await expect.poll(() => page.textContent('#image-label')).toBe('gradient.png');
    const { original } = await runOn(page, 'wasm', ['original']);
    const expected = await nodeLogits(new Uint8Array(bytes), { width: 40, height: 30, channels: 4, pixels: made.rgba });
    expect(maxAbsDiff(original!.logits, expected)).toBeLessThanOrEqual(1e-4);
    expect(await page.textContent('#image-label')).toBe('gradient.png');
    expect(log.pageErrors).toEqual([]);
    await page.close();
  }, 120_000);

  it('falls back to WASM with a visible notice when WebGPU cannot run the model (fp16 without shader-f16)', async () => {
    const { page } = await newPage();
    const hasF16 = await page.evaluate(async () => {
      const gpu = (navigator as { gpu?: { requestAdapter(): Promise<{ features: Set<string> } | null> } }).gpu;
      return (await gpu?.requestAdapter())?.features.has('shader-f16') ?? false;
    });
    await openFixture(page, 'timm_vit_fp16');
    await page.fill('#sample-index', '0');
    const { original } = await runOn(page, 'auto', ['original']);
    const expected = await nodeLogits(new Uint8Array(readFileSync(join(REPO, 'models/timm_vit_fp16.onnx'))), 0);
    expect(maxAbsDiff(original!.logits, expected)).toBeLessThanOrEqual(1e-2); // float16 logits
    if (hasF16) {
      expect(original!.ep).toBe('webgpu'); // a real GPU with f16: nothing to fall back from
    } else {
      expect(original!.ep).toBe('wasm');
      expect(await page.locator('#fallback-notice').isVisible()).toBe(true);
      expect(await page.textContent('#fallback-notice')).toMatch(/WebGPU could not run the original model, so it ran on WASM \(the CPU\) instead: .*shader-f16/);
    }
    await page.close();
  }, 180_000);

  it('bad input: not an ONNX file, then a bad image — a message each time, and the page keeps working', async () => {
    const { page, log } = await newPage();
    await page.setInputFiles('#model-file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('these are not the weights you are looking for\n') });
    await expect.poll(() => messageText(page)).toMatch(/^Could not open notes\.txt: notes\.txt: not an ONNX model/);
    expect(await page.locator('#model-info').isVisible()).toBe(false);

    await openFixture(page, 'tv_vit_mha'); // a valid action afterwards works and clears the message
    expect(await messageText(page)).toBe('');
    // A second bad file leaves the open model in place.
    await page.setInputFiles('#model-file', { name: 'half.onnx', mimeType: 'application/octet-stream',
      buffer: readFileSync(join(REPO, 'models/tv_vit_mha.onnx')).subarray(0, 5000) });
    await expect.poll(() => messageText(page)).toMatch(/^Could not open half\.onnx: half\.onnx: /);
    expect(await page.textContent('#model-info dd')).toMatch(/^tv_vit_mha\.onnx/);

    await page.setInputFiles('#image-file', { name: 'cat.png', mimeType: 'image/png', buffer: Buffer.from('not a png at all') });
    await expect.poll(() => messageText(page)).toBe('cat.png: the browser cannot decode this file as an image');
    const { original } = await runOn(page, 'wasm', ['original']);
    expect(original!.logits).toHaveLength(10);
    expect(log.pageErrors).toEqual([]);
    await page.close();
  }, 120_000);

  it('bad input: a model over the size cap, and one that runs out of GPU memory — clear messages, page keeps working', async () => {
    const { page, log } = await newPage('?maxModelBytes=200000');
    await openFixture(page, 'tv_vit_mha'); // 131 KiB: under the cap
    await page.selectOption('#fixture-select', 'timm_vit'); // 331 KiB: over it
    await page.click('#fixture-open');
    await expect.poll(() => messageText(page)).toMatch(/timm_vit\.onnx: the model is 330\.7 KiB, over this page's limit of 195\.3 KiB/);
    expect(await page.textContent('#model-info dd')).toMatch(/^tv_vit_mha\.onnx/);

    // 1 KiB on disk, but its run needs a 4 GB tensor: more than a WebGPU buffer may hold.
    await page.setInputFiles('#model-file', { name: 'huge.onnx', mimeType: 'application/octet-stream', buffer: Buffer.from(hugeIntermediateModel()) });
    await page.waitForFunction(() => document.querySelector('#model-info dd')?.textContent?.startsWith('huge.onnx'));
    await expect(runOn(page, 'webgpu', ['original'])).rejects.toThrow(/Run failed: huge\.onnx: not enough memory to run the model on webgpu/);

    await openFixture(page, 'tv_vit_mha');
    const { original } = await runOn(page, 'webgpu', ['original']);
    expect(original!.ep).toBe('webgpu');
    expect(original!.logits).toHaveLength(10);
    expect(log.pageErrors).toEqual([]);
    await page.close();
  }, 180_000);
});
