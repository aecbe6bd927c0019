/**
 * `vitlin serve` load benchmark (not a test): throughput and p50 / p99 latency of
 * POST /v2/models/{name}/infer on loopback, with and without dynamic batching, for the original model and
 * its linear-attention (Hydra) conversion, plus the server's resident memory after loading, after warm-up
 * and after each of two identical rounds of runs (flat: round 2 ends where round 1 did). Then the request
 * encodings: the same image as a JSON float array and as binary tensor data (the binary extension, output
 * binary too), for the model and for an Identity model on a 3×224×224 image (the cost of moving an
 * ImageNet-sized tensor alone), as req/s and the binary / JSON ratio, measured in this same process. Then
 * compressed answers: Accept-Encoding identity, gzip and br for JSON and binary answers, as answer bytes and
 * req/s, each a ratio to identity in the same run.
 *
 *     npx tsx bench/serve.ts [--model fmnist_softmax] [--duration 8] [--connections 16] [--max-batch 16] [--max-delay-ms 2] [--part all|batching|encoding|compression]
 *
 * The server is its own process (`vitlin serve ... --quiet`, from the TypeScript sources) on 127.0.0.1 with
 * a free port; its memory is read from its own /metrics (`vitlin_process_resident_memory_bytes`). The load
 * comes from autocannon in this process: bounded by --duration seconds per run (plus a 3 s warm-up per model) and
 * --connections concurrent connections. Each request is one Fashion-MNIST test image from the bundled
 * sample (or a deterministic random image for a non-28×28 model). The converted model is made with the
 * converter in graph-rewrite/attention when it can be loaded; otherwise the table says so. Results: a table
 * on stdout and bench/out/serve.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { parseSampleFile } from '../src/data/sample-file.js';
import { loadModel, modelToBytes } from '../src/model-io.js';
import { seededRandom } from '../src/runtime/random-feeds.js';
import { writeOneNodeModel } from '../test/server/tiny-models.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'bench', 'out');
const MODELS_DIR = join(OUT, 'serve-models');
const MAIN = "import { main } from './src/cli/main.ts'; process.exitCode = await main(process.argv.slice(1));";

const { values } = parseArgs({ options: {
  model: { type: 'string', default: existsSync(join(ROOT, 'models', 'fmnist_softmax.onnx')) ? 'fmnist_softmax' : 'hf_vit_op17_dyn' },
  duration: { type: 'string', default: '8' },
  connections: { type: 'string', default: '16' },
  'max-batch': { type: 'string', default: '16' },
  'max-delay-ms': { type: 'string', default: '2' },
  part: { type: 'string', default: 'all' },
} });
const DURATION = Math.min(60, Number(values.duration)); // bounded whatever is asked
const CONNECTIONS = Math.min(64, Number(values.connections));

/** Original and (when the converter is there) converted copies in bench/out/serve-models/. */
async function prepareModels(name: string): Promise<{ names: string[]; note: string }> {
  rmSync(MODELS_DIR, { recursive: true, force: true });
  mkdirSync(MODELS_DIR, { recursive: true });
  copyFileSync(join(ROOT, 'models', `${name}.onnx`), join(MODELS_DIR, `${name}.onnx`));
  try {
    // A computed specifier: the converter is optional here, and its absence must not break type-checking.
    const spec = '../graph-rewrite/attention/index.js';
    const attention = (await import(spec)) as { convertAttention(model: unknown, options: { attention: string }): { model: unknown; converted: unknown[] } };
    const result = attention.convertAttention(await loadModel(join(ROOT, 'models', `${name}.onnx`)), { attention: 'hydra' });
    if (result.converted.length === 0) return { names: [name], note: `the converter found no attention block in ${name}` };
    writeFileSync(join(MODELS_DIR, `${name}_hydra.onnx`), modelToBytes(result.model as Parameters<typeof modelToBytes>[0]));
    return { names: [name, `${name}_hydra`], note: `${name}_hydra: ${result.converted.length} softmax attention blocks → HydraAttention (graph-rewrite/attention, not retrained)` };
  } catch (error) {
    return { names: [name], note: `no converted model: the converter could not run (${(error as Error).message})` };
  }
}

/** One image for a model input of `shape`: a Fashion-MNIST test image, or deterministic random values. */
function imageData(shape: number[]): Float32Array {
  const [, channels, height, width] = shape as [number, number, number, number];
  if (channels === 1 && height === 28 && width === 28) {
    const sample = parseSampleFile(readFileSync(join(ROOT, 'models', 'data', 'fashion-mnist-test-1000.bin')));
    return sample.images.slice(0, 784);
  }
  const next = seededRandom(1);
  return Float32Array.from({ length: channels * height * width }, () => next() * 2 - 1);
}

/** A v2 inference request for one image, as JSON. */
function requestBody(shape: number[], input = 'pixel_values'): string {
  return JSON.stringify({ inputs: [{ name: input, shape: [1, ...shape.slice(1)], datatype: 'FP32', data: Array.from(imageData(shape)) }] });
}

/** The same request with binary tensor data in and out: the JSON, then the image's raw float32 bytes. */
function binaryRequest(shape: number[], input = 'pixel_values'): { body: Buffer; headers: Record<string, string> } {
  const data = imageData(shape);
  const json = Buffer.from(JSON.stringify({
    inputs: [{ name: input, shape: [1, ...shape.slice(1)], datatype: 'FP32', parameters: { binary_data_size: data.byteLength } }],
    parameters: { binary_data_output: true },
  }));
  return { body: Buffer.concat([json, Buffer.from(data.buffer, data.byteOffset, data.byteLength)]), headers: { 'inference-header-content-length': String(json.length) } };
}

interface Server {
  readonly url: string;
  readonly child: ChildProcess;
}

async function startServer(args: string[]): Promise<Server> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', MAIN, 'serve', MODELS_DIR, '--port', '0', '--quiet', ...args],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 60_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
  });
  return { url, child };
}

async function stopServer(server: Server): Promise<void> {
  const exited = new Promise((resolve) => server.child.on('exit', resolve));
  server.child.kill('SIGTERM');
  await exited;
}

async function metrics(url: string): Promise<string> {
  return (await fetch(`${url}/metrics`)).text();
}
function sample(text: string, name: string, model?: string): number {
  const line = text.split('\n').find((l) => l.startsWith(name) && (model === undefined || l.includes(`model="${model}"`)));
  return line ? Number(line.split(' ').at(-1)) : NaN;
}
const rssMiB = async (url: string) => sample(await metrics(url), 'vitlin_process_resident_memory_bytes') / 2 ** 20;

interface Row {
  batching: string;
  round: number;
  model: string;
  requests: number;
  reqPerSec: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  meanBatch: number;
  rssMiB: number;
}

async function load(url: string, model: string, body: string | Buffer, seconds: number, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<autocannon.Result> {
  return autocannon({
    url: `${url}/v2/models/${model}/infer`, method: 'POST', body, headers,
    connections: CONNECTIONS, duration: seconds, timeout: 10,
  });
}

/** Identity on a 3×224×224 image: serving it measures moving the tensor in and out, nothing else. */
const ECHO = { name: 'image_echo_224', shape: [1, 3, 224, 224] };
/** Identity on a 3×64×64 image: a ~250 kB JSON answer, small enough for many runs a second. */
const ECHO_64 = { name: 'image_echo_64', shape: [1, 3, 64, 64] };
const isEcho = (name: string) => name === ECHO.name || name === ECHO_64.name;

interface EncodingRow { model: string; imageBytes: number; jsonBodyBytes: number; binaryBodyBytes: number; json: number; binary: number; ratio: number; non2xx: number; errors: number }

interface Variant { readonly label: string; readonly body: string | Buffer; readonly headers: Record<string, string> }

/**
 * Runs each variant of a request against one model, alternating over two rounds (so a drift in machine
 * load hits all alike) after a short warm-up; returns each variant's better round in req/s.
 */
async function alternate(url: string, model: string, variants: readonly Variant[]): Promise<{ best: Record<string, number>; non2xx: number; errors: number }> {
  const runs: Record<string, number[]> = Object.fromEntries(variants.map((v) => [v.label, []]));
  let non2xx = 0;
  let errors = 0;
  for (const v of variants) await load(url, model, v.body, 2, v.headers);
  for (let round = 0; round < 2; round++) {
    for (const v of variants) {
      const result = await load(url, model, v.body, DURATION, v.headers);
      runs[v.label]!.push(result.requests.average);
      non2xx += result.non2xx;
      errors += result.errors;
    }
  }
  return { best: Object.fromEntries(Object.entries(runs).map(([label, xs]) => [label, Math.max(...xs)])), non2xx, errors };
}

/** JSON vs binary requests on one server with batching on, for each model. */
async function compareEncodings(models: { name: string; shape: number[] }[]): Promise<EncodingRow[]> {
  const server = await startServer(['--max-batch', values['max-batch']!, '--max-delay-ms', values['max-delay-ms']!]);
  const rows: EncodingRow[] = [];
  try {
    for (const model of models) {
      const json = requestBody(model.shape, model.name === ECHO.name ? 'x' : 'pixel_values');
      const binary = binaryRequest(model.shape, model.name === ECHO.name ? 'x' : 'pixel_values');
      const { best, non2xx, errors } = await alternate(server.url, model.name, [
        { label: 'json', body: json, headers: { 'content-type': 'application/json' } }, { label: 'binary', ...binary },
      ]);
      rows.push({ model: model.name, imageBytes: model.shape.reduce((a, b) => a * b, 4), jsonBodyBytes: Buffer.byteLength(json), binaryBodyBytes: binary.body.length,
        json: best.json!, binary: best.binary!, ratio: best.binary! / best.json!, non2xx, errors });
    }
  } finally {
    await stopServer(server);
  }
  return rows;
}

interface CompressionRow { model: string; answer: string; acceptEncoding: string; answerBytes: number; sizeRatio: number; reqPerSec: number; speedRatio: number; non2xx: number; errors: number }

/** The bytes of one answer as sent (still compressed): what goes over the network. */
function answerBytes(url: string, model: string, v: Variant): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}/v2/models/${model}/infer`, { method: 'POST', headers: v.headers, agent: false }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => { bytes += chunk.length; });
      res.on('end', () => resolve(bytes));
    });
    req.on('error', reject);
    req.end(v.body);
  });
}

/**
 * Compressed answers: the same request with Accept-Encoding identity, gzip and br, for a JSON answer and a
 * binary one: answer bytes and req/s, each as a ratio to identity. On loopback compression can only cost;
 * the size ratio is what a real network gains.
 */
async function compareCompression(models: { name: string; shape: number[] }[]): Promise<CompressionRow[]> {
  const server = await startServer(['--max-batch', values['max-batch']!, '--max-delay-ms', values['max-delay-ms']!]);
  const rows: CompressionRow[] = [];
  try {
    for (const model of models) {
      const input = isEcho(model.name) ? 'x' : 'pixel_values';
      for (const [answer, request] of [['JSON', { body: requestBody(model.shape, input), headers: { 'content-type': 'application/json' } }], ['binary', binaryRequest(model.shape, input)]] as const) {
        const variants = ['identity', 'gzip', 'br'].map((coding) => ({ label: coding, body: request.body, headers: { ...request.headers, 'accept-encoding': coding } }));
        const { best, non2xx, errors } = await alternate(server.url, model.name, variants);
        const sizes = Object.fromEntries(await Promise.all(variants.map(async (v) => [v.label, await answerBytes(server.url, model.name, v)] as const)));
        for (const v of variants) {
          rows.push({ model: model.name, answer, acceptEncoding: v.label, answerBytes: sizes[v.label]!, sizeRatio: sizes[v.label]! / sizes.identity!,
            reqPerSec: best[v.label]!, speedRatio: best[v.label]! / best.identity!, non2xx, errors });
        }
      }
    }
  } finally {
    await stopServer(server);
  }
  return rows;
}

/** The batching table and the server's memory over the runs. */
function printBatching(rows: Row[], memory: { when: string; rssMiB: number }[], configs: { label: string }[]): void {
  const header = ['batching', 'round', 'model', 'requests', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'errors', 'mean batch', 'server RSS MiB'];
  const table = rows.map((r) => [r.batching, String(r.round), r.model, String(r.requests), r.reqPerSec.toFixed(0), r.p50.toFixed(1), r.p99.toFixed(1),
    String(r.non2xx), String(r.errors), r.meanBatch.toFixed(2), r.rssMiB.toFixed(0)]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(['', line(header), line(widths.map((w) => '-'.repeat(w))), ...table.map(line)].join('\n'));
  console.log('\nserver resident memory (MiB):');
  for (const m of memory) console.log(`  ${m.when.padEnd(72)} ${m.rssMiB.toFixed(0)}`);
  for (const config of configs) {
    // Flat means: the second, identical round ends where the first did (warm-up growth excluded).
    const mine = memory.filter((m) => m.when.startsWith(`batching ${config.label}`));
    const growth = mine.at(-1)!.rssMiB / mine.at(-2)!.rssMiB - 1;
    console.log(`  batching ${config.label}: round 2 vs round 1: ${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)} %${growth > 0.05 ? '  ← not flat' : ' (flat)'}`);
  }
}

async function main(): Promise<void> {
  const { names, note } = await prepareModels(values.model!);
  const shape = (JSON.parse(readFileSync(join(ROOT, 'models', 'manifest.json'), 'utf8')) as { models: { name: string; inputs: { shape: (number | string)[] }[] }[] })
    .models.find((m) => m.name === values.model)?.inputs[0]?.shape.map((d) => (typeof d === 'number' ? d : 1)) ?? [1, 1, 28, 28];
  const body = requestBody(shape);
  writeOneNodeModel(join(MODELS_DIR, `${ECHO.name}.onnx`), { dims: ['batch', 3, 224, 224] });
  writeOneNodeModel(join(MODELS_DIR, `${ECHO_64.name}.onnx`), { dims: ['batch', 3, 64, 64] });
  const configs = [
    { label: 'off (--max-batch 1)', args: ['--max-batch', '1'] },
    { label: `on (--max-batch ${values['max-batch']}, --max-delay-ms ${values['max-delay-ms']})`, args: ['--max-batch', values['max-batch']!, '--max-delay-ms', values['max-delay-ms']!] },
  ];
  const rows: Row[] = [];
  const memory: { when: string; rssMiB: number }[] = [];
  console.log(`vitlin serve load test: ${CONNECTIONS} connections, ${DURATION} s per run, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}`);
  console.log(note);
  for (const config of values.part === 'encoding' || values.part === 'compression' ? [] : configs) {
    const server = await startServer(config.args);
    memory.push({ when: `batching ${config.label}: models loaded`, rssMiB: await rssMiB(server.url) });
    try {
      // Warm-up, not reported: onnxruntime's arena and V8 grow to their working size on the first requests.
      for (const model of names) await load(server.url, model, body, 3);
      memory.push({ when: `batching ${config.label}: after warm-up`, rssMiB: await rssMiB(server.url) });
      // Two identical rounds: the table reports both; memory is flat when round 2 ends where round 1 did.
      for (const round of [1, 2]) {
        for (const model of names) {
          const before = await metrics(server.url);
          const result = await load(server.url, model, body, DURATION);
          const after = await metrics(server.url);
          const runs = sample(after, 'vitlin_batch_size_count', model) - sample(before, 'vitlin_batch_size_count', model);
          const batchRows = sample(after, 'vitlin_batch_size_sum', model) - sample(before, 'vitlin_batch_size_sum', model);
          const rss = sample(after, 'vitlin_process_resident_memory_bytes') / 2 ** 20;
          rows.push({ batching: config.label, round, model, requests: result.requests.total, reqPerSec: result.requests.average, p50: result.latency.p50,
            p99: result.latency.p99, non2xx: result.non2xx, errors: result.errors, meanBatch: batchRows / runs, rssMiB: rss });
        }
        memory.push({ when: `batching ${config.label}: after round ${round}`, rssMiB: sample(await metrics(server.url), 'vitlin_process_resident_memory_bytes') / 2 ** 20 });
      }
    } finally {
      await stopServer(server);
    }
  }
  if (rows.length > 0) printBatching(rows, memory, configs);
  const encodings = values.part === 'batching' || values.part === 'compression' ? [] : await compareEncodings([{ name: names[0]!, shape }, ECHO]);
  if (encodings.length > 0) {
    console.log(`\nrequest encodings (batching on; req/s, the better of 2 alternating runs of ${DURATION} s each):`);
    console.log('| model | image bytes | JSON body bytes | binary body bytes | JSON req/s | binary req/s | binary / JSON |');
    console.log('|---|---|---|---|---|---|---|');
    for (const e of encodings) {
      console.log(`| ${e.model} | ${e.imageBytes} | ${e.jsonBodyBytes} | ${e.binaryBodyBytes} | ${e.json.toFixed(0)} | ${e.binary.toFixed(0)} | ${e.ratio.toFixed(2)}× |`);
    }
  }
  const compression = values.part === 'all' || values.part === 'compression' ? await compareCompression([{ name: names[0]!, shape }, ECHO_64]) : [];
  if (compression.length > 0) {
    console.log(`\ncompressed answers (batching on; req/s, the better of 2 alternating runs of ${DURATION} s each; ratios to identity in the same run):`);
    console.log('| model | answer | Accept-Encoding | answer bytes | size / identity | req/s | req/s / identity |');
    console.log('|---|---|---|---|---|---|---|');
    for (const c of compression) {
      console.log(`| ${c.model} | ${c.answer} | ${c.acceptEncoding} | ${c.answerBytes} | ${c.sizeRatio.toFixed(3)} | ${c.reqPerSec.toFixed(0)} | ${c.speedRatio.toFixed(2)}× |`);
    }
  }
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, 'serve.json'), JSON.stringify({ connections: CONNECTIONS, durationSeconds: DURATION, note, rows, memory, encodings, compression }, null, 2) + '\n');
  if ([...rows, ...encodings, ...compression].some((r) => r.non2xx > 0 || r.errors > 0)) process.exitCode = 1;
}

await main();
