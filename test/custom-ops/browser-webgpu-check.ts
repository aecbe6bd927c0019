/**
 * Opt-in check (not collected by vitest): runs the function bodies in headless Chromium with
 * onnxruntime-web's two WebGPU builds — `ort.all.mjs` (JSEP) and `ort.webgpu.mjs` (the native WebGPU
 * EP compiled to wasm) — on SwiftShader, and prints per model the max error against the reference
 * kernels and ORT's node-placement lines.
 *
 *   npx tsx test/custom-ops/browser-webgpu-check.ts [/path/to/chromium]
 *
 * Exits 1 if any model errs, exceeds 1e-4, or places a node off the WebGPU EP.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { encodeModelProtoToBytes } from '../../graph-rewrite/serde/encode.js';
import {
  hydraAttentionReference,
  linearAngularAttentionReference,
  type Float32TensorView,
  type LinearAngularMode,
} from '../../custom-ops/index.js';
import { buildOpModel, maxAbsDifference } from './harness.js';

const CHROMIUM = process.argv[2] ?? '/usr/lib/chromium/chromium';
const ORT_WEB_DIST = join(process.cwd(), 'node_modules/onnxruntime-web/dist');
const [BATCH, TOKENS, FEATURES, HEADS] = [2, 9, 16, 4];

interface CheckModel {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly expected: Float32TensorView;
}

/** The page's deterministic inputs: Q/K/V[i] = sin(0.7·i + seed), seeds 1, 2, 3. */
function pageInput(seed: number): Float32TensorView {
  const data = new Float32Array(BATCH * TOKENS * FEATURES);
  for (let index = 0; index < data.length; index++) data[index] = Math.sin(index * 0.7 + seed);
  return { data, dims: [BATCH, TOKENS, FEATURES] };
}

function checkModels(): CheckModel[] {
  const [query, key, value] = [pageInput(1), pageInput(2), pageInput(3)];
  const models: CheckModel[] = [];
  for (const opset of [11, 17, 21, 23]) {
    models.push({
      name: `HydraAttention-opset${opset}`,
      bytes: encodeModelProtoToBytes(buildOpModel('HydraAttention', { opset, elemType: 'float' })),
      expected: hydraAttentionReference(query, key, value),
    });
    for (const mode of ['reference', 'kernel_normalized'] as LinearAngularMode[]) {
      models.push({
        name: `LinearAngularAttention-${mode}-opset${opset}`,
        bytes: encodeModelProtoToBytes(
          buildOpModel('LinearAngularAttention', { opset, elemType: 'float', attributes: { num_heads: HEADS, mode } }),
        ),
        expected: linearAngularAttentionReference(query, key, value, { numHeads: HEADS, mode }),
      });
    }
  }
  return models;
}

function pageSource(bundle: string, modelNames: readonly string[]): string {
  return `<!doctype html><script type="module">
const logs = [];
for (const level of ['log', 'warn', 'error', 'info', 'debug']) {
  const original = console[level];
  console[level] = (...args) => { logs.push(args.map(String).join(' ')); original(...args); };
}
const report = (body) => fetch('/result', { method: 'POST', body: JSON.stringify(body) });
try {
  const ort = await import('/ort/${bundle}');
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = 'verbose';
  const input = (seed) => {
    const data = new Float32Array(${BATCH * TOKENS * FEATURES});
    for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.7 + seed);
    return new ort.Tensor('float32', data, [${BATCH}, ${TOKENS}, ${FEATURES}]);
  };
  const results = {};
  for (const name of ${JSON.stringify(modelNames)}) {
    const start = logs.length;
    try {
      const bytes = new Uint8Array(await (await fetch('/models/' + name)).arrayBuffer());
      const session = await ort.InferenceSession.create(bytes, { executionProviders: ['webgpu'], logSeverityLevel: 0, logVerbosityLevel: 0 });
      const output = await session.run({ Q_in: input(1), K_in: input(2), V_in: input(3) });
      await session.release();
      results[name] = { output: Array.from(output.Y_out.data), placement: logs.slice(start).filter((line) => line.includes('placed on')) };
    } catch (error) {
      results[name] = { error: String(error) };
    }
  }
  await report({ results });
} catch (error) {
  await report({ error: String(error), logs: logs.slice(-20) });
}
</script>`;
}

interface PageResult {
  output?: number[];
  placement?: string[];
  error?: string;
}

async function runBundle(bundle: string, models: readonly CheckModel[]): Promise<Record<string, PageResult>> {
  const byName = new Map(models.map((model) => [model.name, model]));
  let browser: ChildProcess | undefined;
  return new Promise((resolve, reject) => {
    const server = createServer((request, response) => {
      const url = request.url ?? '/';
      if (url === '/page.html') {
        response.setHeader('Content-Type', 'text/html');
        response.end(pageSource(bundle, [...byName.keys()]));
      } else if (url.startsWith('/models/')) {
        response.end(byName.get(url.slice('/models/'.length))?.bytes);
      } else if (url.startsWith('/ort/')) {
        const file = join(ORT_WEB_DIST, url.slice('/ort/'.length).split('?')[0]!);
        response.setHeader('Content-Type', file.endsWith('.wasm') ? 'application/wasm' : 'text/javascript');
        response.end(readFileSync(file));
      } else if (url === '/result') {
        let body = '';
        request.on('data', (chunk: Buffer) => (body += chunk.toString()));
        request.on('end', () => {
          response.end('ok');
          browser?.kill('SIGKILL');
          server.close();
          const parsed = JSON.parse(body) as { results?: Record<string, PageResult>; error?: string; logs?: string[] };
          if (parsed.results === undefined) reject(new Error(`${bundle}: ${parsed.error}\n${(parsed.logs ?? []).join('\n')}`));
          else resolve(parsed.results);
        });
      } else {
        response.statusCode = 404;
        response.end();
      }
    });
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      browser = spawn(CHROMIUM, [
        '--headless=new', '--no-sandbox', '--enable-unsafe-webgpu', '--enable-features=Vulkan',
        '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader', '--use-angle=swiftshader',
        '--disable-dev-shm-usage', `http://127.0.0.1:${port}/page.html`,
      ], { stdio: 'ignore' });
      browser.on('error', (error) => { server.close(); reject(error); });
      setTimeout(() => { browser?.kill('SIGKILL'); server.close(); reject(new Error(`${bundle}: timed out`)); }, 240_000).unref();
    });
  });
}

async function main(): Promise<void> {
  const models = checkModels();
  let failures = 0;
  for (const [bundle, provider] of [['ort.all.mjs', 'JsExecutionProvider'], ['ort.webgpu.mjs', 'WebGpuExecutionProvider']] as const) {
    console.log(`\n${bundle} (expects every node on ${provider})`);
    const results = await runBundle(bundle, models);
    for (const model of models) {
      const result = results[model.name] ?? { error: 'no result' };
      if (result.error !== undefined || result.output === undefined) {
        failures++;
        console.log(`  FAIL ${model.name}: ${result.error}`);
        continue;
      }
      const error = maxAbsDifference({ data: Float32Array.from(result.output), dims: model.expected.dims }, model.expected);
      const placement = (result.placement ?? []).map((line) => line.replace(/^.*VerifyEachNodeIsAssignedToAnEp\]\s*/, '')).join('; ');
      const onGpu = placement.includes(`All nodes placed on [${provider}]`);
      const ok = error <= 1e-4 && onGpu;
      if (!ok) failures++;
      console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${model.name.padEnd(44)} max|Δ| ${error.toExponential(2)}  ${placement}`);
    }
  }
  console.log(failures === 0 ? '\nall ok' : `\n${failures} failure(s)`);
  process.exitCode = failures === 0 ? 0 : 1;
}

await main();
