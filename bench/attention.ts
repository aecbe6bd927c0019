/**
 * Benchmark (not a test): the attention block alone on onnxruntime-node CPU, batch 1, D = 768,
 * 12 heads, N ∈ {197, 577, 1025, 2305, 4097} — softmax block vs HydraAttention vs
 * LinearAngularAttention (both modes) vs a memory-bound reference Sum(Q, K, V).
 *
 *   npx tsx bench/attention.ts [--tokens 197,1025] [--rounds 5] [--round-ms 150] [--threads 2] [--clock cpu]
 *
 * Method: one session per variant and N (default session options), Y written into a preallocated
 * tensor (as in a model, where it lives in ORT's arena), 2 warm-up runs each; then
 * `rounds` rounds in which every variant runs back to back for `round-ms` (warm caches, at least one
 * run). Rounds interleave the variants so that load from other processes spreads over all of them.
 * Reported: the median run time, and ratios against the memory-bound reference and the softmax block.
 * `--threads` sets intraOpNumThreads (default: onnxruntime's, one per core); on a loaded machine
 * `--threads 1` is steadier, because multi-op graphs stall at every parallel-for barrier.
 * `--clock cpu` times each run by the process's CPU time (user + system) instead of wall time: with
 * `--threads 1` that is the block's compute time even while other processes compete for the cores
 * (with more threads it would count ORT's spin-waiting too).
 */
import * as ort from 'onnxruntime-node';
import { encodeModelProtoToBytes } from '../graph-rewrite/serde/encode.js';
import { buildAttentionModel, type AttentionVariant } from './attention-models.js';

const FEATURES = 768;
const NUM_HEADS = 12;
const VARIANTS: readonly AttentionVariant[] = ['memory-bound', 'softmax', 'hydra', 'linear-angular', 'linear-angular-kn'];

interface BenchOptions {
  tokenCounts: number[];
  rounds: number;
  roundMs: number;
  threads: number | undefined;
  clock: 'wall' | 'cpu';
}

function parseArguments(argv: readonly string[]): BenchOptions {
  const options: BenchOptions = { tokenCounts: [197, 577, 1025, 2305, 4097], rounds: 5, roundMs: 150, threads: undefined, clock: 'wall' };
  for (let index = 0; index < argv.length; index += 2) {
    const [flag, value] = [argv[index], argv[index + 1]];
    if (value === undefined) throw new Error(`missing value after ${flag}`);
    if (flag === '--tokens') options.tokenCounts = value.split(',').map(Number);
    else if (flag === '--rounds') options.rounds = Number(value);
    else if (flag === '--round-ms') options.roundMs = Number(value);
    else if (flag === '--threads') options.threads = Number(value);
    else if (flag === '--clock' && (value === 'wall' || value === 'cpu')) options.clock = value;
    else throw new Error(`unknown flag or value ${flag} ${value}; use --tokens, --rounds, --round-ms, --threads, --clock wall|cpu`);
  }
  return options;
}

function seededInput(tokens: number, seed: number): ort.Tensor {
  const data = new Float32Array(tokens * FEATURES);
  let state = seed;
  for (let index = 0; index < data.length; index++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    data[index] = state / 2 ** 31 - 1;
  }
  return new ort.Tensor('float32', data, [1, tokens, FEATURES]);
}

function median(values: number[]): number {
  const sorted = [...values].sort((first, second) => first - second);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

async function timeVariants(tokens: number, options: BenchOptions): Promise<Map<AttentionVariant, number[]>> {
  const feeds = { Q: seededInput(tokens, 1), K: seededInput(tokens, 2), V: seededInput(tokens, 3) };
  // A preallocated output: inside a model Y lives in ORT's arena, so fresh output buffers (page
  // faults of the process allocator) are not part of the block's cost.
  const fetches = { Y: new ort.Tensor('float32', new Float32Array(tokens * FEATURES), [1, tokens, FEATURES]) };
  const sessions = new Map<AttentionVariant, ort.InferenceSession>();
  for (const variant of VARIANTS) {
    const bytes = encodeModelProtoToBytes(buildAttentionModel(variant, NUM_HEADS, FEATURES));
    const session = await ort.InferenceSession.create(bytes, {
      logSeverityLevel: 3,
      ...(options.threads === undefined ? {} : { intraOpNumThreads: options.threads }),
    });
    for (let warmUp = 0; warmUp < 2; warmUp++) await session.run(feeds, fetches);
    sessions.set(variant, session);
  }
  const times = new Map<AttentionVariant, number[]>(VARIANTS.map((variant) => [variant, []]));
  for (let round = 0; round < options.rounds; round++) {
    for (const variant of VARIANTS) {
      const session = sessions.get(variant)!;
      const roundStart = performance.now();
      for (let runs = 0; runs < 50 && (runs === 0 || performance.now() - roundStart < options.roundMs); runs++) {
        const [wallStart, cpuStart] = [performance.now(), process.cpuUsage()];
        await session.run(feeds, fetches);
        const cpu = process.cpuUsage(cpuStart);
        times.get(variant)!.push(options.clock === 'cpu' ? (cpu.user + cpu.system) / 1000 : performance.now() - wallStart);
      }
    }
  }
  for (const session of sessions.values()) await session.release();
  return times;
}

const pad = (text: string, width: number): string => text.padStart(width);

async function main(): Promise<void> {
  const options = parseArguments(process.argv.slice(2));
  const threads = options.threads === undefined ? 'default' : String(options.threads);
  console.log(`attention block on onnxruntime-node ${ort.env.versions.common} CPU (intra-op threads: ${threads}): B=1, D=${FEATURES}, H=${NUM_HEADS}`);
  console.log(`median ${options.clock === 'cpu' ? 'CPU' : 'wall'} ms per run; (×mem) = / memory-bound Sum(Q,K,V); (×sm) = / softmax block\n`);
  const header = ['N', 'mem-bound', 'softmax', 'hydra', '', '', 'lin-ang(ref)', '', '', 'lin-ang(kn)', '', ''];
  const widths = [6, 10, 10, 9, 8, 7, 13, 8, 7, 12, 8, 7];
  console.log(header.map((text, index) => pad(text, widths[index]!)).join(' '));
  for (const tokens of options.tokenCounts) {
    const times = await timeVariants(tokens, options);
    const medians = new Map([...times].map(([variant, runs]) => [variant, median(runs)]));
    const memory = medians.get('memory-bound')!;
    const softmax = medians.get('softmax')!;
    const cells = [String(tokens), memory.toFixed(3), softmax.toFixed(3)];
    for (const variant of ['hydra', 'linear-angular', 'linear-angular-kn'] as const) {
      const value = medians.get(variant)!;
      cells.push(value.toFixed(3), `${(value / memory).toFixed(2)}×mem`, `${(value / softmax).toFixed(2)}×sm`);
    }
    const runCounts = VARIANTS.map((variant) => times.get(variant)!.length).join('/');
    console.log(`${cells.map((text, index) => pad(text, widths[index]!)).join(' ')}   runs ${runCounts}`);
  }
}

await main();
