/**
 * Shared pieces of the browser tests: the app's build / serve / launch helpers (web/scripts/browser.ts),
 * console recording, and page actions the tests repeat.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, ConsoleMessage, Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { buildApp, launchChromium, serveStatic, type StaticServer } from '../../web/scripts/browser.js';

export { buildApp, CHROMIUM, launchChromium, REPO, serveStatic, type StaticServer } from '../../web/scripts/browser.js';

/** The app built into a temporary folder, served on 127.0.0.1 and a chromium for a test file: set up before its tests, gone after. */
export function useBuiltApp(prefix: string): { readonly url: string; readonly browser: Browser } {
  let outDir: string | undefined;
  let server: StaticServer | undefined;
  let browser: Browser | undefined;
  beforeAll(async () => {
    outDir = mkdtempSync(join(tmpdir(), prefix));
    await buildApp(outDir);
    server = await serveStatic(outDir);
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });
  return { get url() { return server!.url; }, get browser() { return browser!; } };
}

/** Every console line of the page, and uncaught errors, kept for assertions and failure messages. */
export function recordConsole(page: Page): { lines: string[]; pageErrors: string[] } {
  const record = { lines: [] as string[], pageErrors: [] as string[] };
  page.on('console', (message: ConsoleMessage) => record.lines.push(message.text()));
  page.on('pageerror', (error) => record.pageErrors.push(error.message));
  return record;
}

/** Opens the app and waits until it has loaded its fixtures, sample and rewriter. */
export async function openApp(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
}

/** The page's message line: '' when hidden. */
export async function messageText(page: Page): Promise<string> {
  return (await page.locator('#message').isVisible()) ? ((await page.textContent('#message')) ?? '') : '';
}

/** Opens a bundled fixture from the select and waits for its model info. */
export async function openFixture(page: Page, name: string): Promise<void> {
  await page.selectOption('#fixture-select', name);
  await page.click('#fixture-open');
  await page.waitForFunction((file) => document.querySelector('#model-info dd')?.textContent?.startsWith(file), `${name}.onnx`);
}

export interface CardResult {
  readonly ep: string;
  readonly logits: number[];
  readonly text: string;
}

/** Clicks Run on `ep` and waits until every card expected to run shows logits computed on that run. */
export async function runOn(page: Page, ep: 'auto' | 'webgpu' | 'wasm', cards: readonly ('original' | 'converted')[]): Promise<Record<string, CardResult>> {
  await page.selectOption('#ep-select', ep);
  // Clear the previous results' markers so the wait below sees this run's.
  await page.evaluate(() => document.querySelectorAll('.result').forEach((card) => delete (card as HTMLElement).dataset.logits));
  await page.click('#run-button');
  await page.waitForFunction(
    (ids) => ids.every((id) => document.getElementById(`result-${id}`)?.dataset.logits) || !document.getElementById('message')!.hidden,
    cards, { timeout: 180_000 });
  const message = await messageText(page);
  if (message) throw new Error(`the page reported: ${message}`);
  const results: Record<string, CardResult> = {};
  for (const id of cards) {
    const card = page.locator(`#result-${id}`);
    results[id] = {
      ep: (await card.getAttribute('data-ep')) ?? '',
      logits: JSON.parse((await card.getAttribute('data-logits')) ?? '[]') as number[],
      text: (await card.textContent()) ?? '',
    };
  }
  return results;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}
