/**
 * Running the original and the converted model on onnxruntime-web and showing the two side by side:
 * the EP each ran on (with the reason when WebGPU fell back to WASM), latency, the top classes, and how
 * far the converted model's logits are from the original's.
 */
import {
  compareOutputs, createWebSession, describePlacement, float32ToFloat16Bits, isPlacementLine, ort, outputToFloat32,
  parsePlacementLog, topClasses, type WebEpChoice, type WebSession,
} from '../../src/web/index.js';
import { byId, el } from './dom.js';
import type { ImageInput } from './model-view.js';

/** Timed runs after one untimed warm-up (the first WebGPU run compiles shaders). */
export const TIMED_RUNS = 5;

/** Steps of one model's run, for the progress bar: load, first run, timed runs. */
export const STEPS_PER_MODEL = TIMED_RUNS + 2;

/** A run the user can stop: checked between steps (an onnxruntime call in flight finishes first). */
export interface RunControl {
  cancelled: boolean;
  /** Called before each step with what is about to happen. */
  onStep(which: Which, text: string): void;
}

/** Thrown when the user cancelled the run. */
export class RunCancelled extends Error {
  constructor() {
    super('cancelled');
    this.name = 'RunCancelled';
  }
}

function step(control: RunControl | undefined, which: Which, text: string): void {
  if (control?.cancelled) throw new RunCancelled();
  control?.onStep(which, text);
}

export type Which = 'original' | 'converted';

export interface RunOutcome {
  readonly ep: string;
  readonly fallbackReason?: string;
  readonly placement?: string;
  readonly logits: Float32Array;
  readonly medianMs: number;
  readonly firstMs: number;
}

interface CachedSession {
  readonly session: WebSession;
  readonly placement?: string;
}

/** Sessions by model and EP choice; dropped whenever the model or its conversion changes. */
const sessions = new Map<string, Promise<CachedSession>>();

export async function releaseSessions(which?: Which): Promise<void> {
  for (const [key, pending] of [...sessions]) {
    if (which && !key.startsWith(`${which}:`)) continue;
    sessions.delete(key);
    await pending.then(({ session }) => session.release(), () => undefined);
  }
}

/** Placement lines of the session being created, while one is (see {@link watchPlacementLogs}). */
let collecting: string[] | undefined;

/**
 * Reads node placement from onnxruntime's verbose log. onnxruntime-web's WASM binds console.error once,
 * when it starts, so the hook must be in place before the first session and stay: it forwards every
 * line and keeps the placement lines while {@link openSession} is collecting.
 */
export function watchPlacementLogs(): void {
  const original = console.error;
  console.error = (...args: unknown[]) => {
    if (collecting) {
      const line = args.map(String).join(' ');
      if (isPlacementLine(line)) collecting.push(line);
    }
    original.apply(console, args);
  };
}

async function openSession(bytes: Uint8Array, ep: WebEpChoice, label: string, input: ImageInput): Promise<CachedSession> {
  const lines: string[] = [];
  collecting = lines;
  try {
    // The page feeds one image: pinning a symbolic batch to 1 lets onnxruntime fold shape arithmetic.
    const dims = input.batchSymbol ? { [input.batchSymbol]: 1 } : undefined;
    const session = await createWebSession(bytes, { ep, label, ...(dims ? { freeDimensionOverrides: dims } : {}) });
    // Lines are tagged with the session's logId (= label): keep this model's only.
    const placement = parsePlacementLog(lines.filter((line) => line.includes(`onnxruntime:${label},`)));
    return { session, ...(placement ? { placement: describePlacement(placement) } : {}) };
  } finally {
    collecting = undefined;
  }
}

export function getSession(which: Which, bytes: Uint8Array, ep: WebEpChoice, label: string, input: ImageInput): Promise<CachedSession> {
  const key = `${which}:${ep}`;
  let pending = sessions.get(key);
  if (!pending) {
    pending = openSession(bytes, ep, label, input);
    sessions.set(key, pending);
    pending.catch(() => sessions.delete(key)); // a failed load is retried next time, not cached
  }
  return pending;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Runs one model on `pixels` (C×H×W float32), TIMED_RUNS + 1 times, and returns its logits and timing. */
export async function runModel(
  which: Which, bytes: Uint8Array, label: string, ep: WebEpChoice, input: ImageInput, pixels: Float32Array, control?: RunControl,
): Promise<RunOutcome> {
  step(control, which, `loading the model${ep === 'wasm' ? ' on WASM' : ' on WebGPU'}`);
  const { session, placement } = await getSession(which, bytes, ep, label, input);
  const batch = new Float32Array(pixels.length * input.batch);
  for (let i = 0; i < input.batch; i++) batch.set(pixels, i * pixels.length);
  const dims = [input.batch, input.channels, input.height, input.width];
  const tensor = input.type === 'float16'
    ? new ort.Tensor('float16', Uint16Array.from(batch, float32ToFloat16Bits), dims)
    : new ort.Tensor('float32', batch, dims);
  const outputName = session.outputs[0]!.name;
  step(control, which, session.ep === 'webgpu' ? 'first run (compiles the shaders)' : 'first run');
  const first = await session.run({ [input.name]: tensor });
  const times: number[] = [];
  for (let i = 0; i < TIMED_RUNS; i++) {
    step(control, which, `timed run ${i + 1} of ${TIMED_RUNS}`);
    times.push((await session.run({ [input.name]: tensor })).ms);
  }
  const output = first.outputs[outputName]!;
  const classes = output.dims.at(-1) ?? output.size;
  return {
    ep: session.ep,
    ...(session.fallbackReason ? { fallbackReason: session.fallbackReason } : {}),
    ...(placement ? { placement } : {}),
    logits: outputToFloat32(output.type, output.data).slice(0, classes), // first image of the batch
    medianMs: median(times),
    firstMs: first.ms,
  };
}

function className(classNames: readonly string[], index: number, count: number): string {
  return count === classNames.length ? classNames[index]! : `class ${index}`;
}

export function renderOutcome(which: Which, outcome: RunOutcome, classNames: readonly string[], trueClass?: number): void {
  const card = byId(`result-${which}`);
  card.dataset.ep = outcome.ep;
  card.dataset.state = 'done';
  // Full-precision logits for programs (the tests compare them with onnxruntime-node).
  card.dataset.logits = JSON.stringify(Array.from(outcome.logits));
  const top = topClasses(outcome.logits, 3);
  const bars = top.map((score, rank) => {
    const fill = el('div', { className: 'fill' });
    fill.style.width = `${(score.probability * 100).toFixed(1)}%`;
    return el('div', { className: rank === 0 ? 'bar top' : 'bar' },
      el('span', { className: 'class-name' }, className(classNames, score.index, outcome.logits.length), score.index === trueClass ? ' ✓' : ''),
      el('div', {}, fill),
      el('span', {}, `${(score.probability * 100).toFixed(1)} %`));
  });
  const body = el('div', { className: 'body' },
    el('div', { className: 'meta' },
      el('span', { className: 'ep' }, `on ${outcome.ep === 'webgpu' ? 'WebGPU' : 'WASM'}`),
      outcome.placement ? ` · ${outcome.placement}` : '',
      outcome.fallbackReason ? ' · fell back from WebGPU' : ''),
    el('div', { className: 'latency' }, `${outcome.medianMs.toFixed(2)} ms`),
    el('div', { className: 'meta' }, `median of ${TIMED_RUNS} runs; first run ${outcome.firstMs.toFixed(1)} ms`),
    ...bars);
  card.querySelector('.body')!.replaceWith(body);
}

/** The card while its model runs: what is happening now, and a progress bar over the whole run. */
export function renderRunning(which: Which, text: string, done: number, total: number): void {
  const card = byId(`result-${which}`);
  delete card.dataset.logits;
  delete card.dataset.ep;
  card.dataset.state = 'running';
  const bar = el('progress', { max: total, value: done });
  card.querySelector('.body')!.replaceWith(el('div', { className: 'body running' }, el('div', { className: 'step' }, text, '…'), bar));
}

export function renderPlaceholder(which: Which, text: string, state = 'idle'): void {
  const card = byId(`result-${which}`);
  delete card.dataset.logits;
  delete card.dataset.ep;
  card.dataset.state = state;
  card.querySelector('.body')!.replaceWith(el('div', { className: 'body muted' }, text));
}

export function renderComparison(original: RunOutcome | undefined, converted: RunOutcome | undefined): void {
  const line = byId('comparison');
  if (!original || !converted) {
    line.textContent = '';
    return;
  }
  const result = compareOutputs(original.logits, converted.logits, original.logits.length);
  const agree = result.top1Agreement === 1 ? 'same top-1 class' : 'different top-1 class';
  const speed = original.medianMs / converted.medianMs;
  line.textContent = `Converted vs original: ${agree}, max |Δ logit| ${result.maxAbsError.toPrecision(3)}, ` +
    `cosine ${result.cosine.toFixed(4)}; ${speed >= 1 ? `${speed.toFixed(2)}× faster` : `${(1 / speed).toFixed(2)}× slower`}.`;
}

/** onnxruntime's reason for not using WebGPU, said in a sentence a user can act on. */
export function explainFallback(reason: string): string {
  if (/shader-f16|float16|fp16|\bf16\b/i.test(reason)) return 'this GPU (or its driver) has no float16 shaders (WebGPU feature shader-f16), which a float16 model needs';
  if (/not available|no adapter|navigator\.gpu|requestAdapter/i.test(reason)) return 'this browser offers no WebGPU adapter';
  if (/memory|allocat|out of/i.test(reason)) return 'the GPU does not have the memory for it';
  return 'onnxruntime-web could not build a WebGPU session for it';
}

/** One notice for the run, however many models fell back: vitlin's sentence, onnxruntime's text folded away. */
export function renderFallback(reasons: { which: Which; reason: string }[]): void {
  const notice = byId('fallback-notice');
  notice.hidden = reasons.length === 0;
  if (reasons.length === 0) {
    notice.replaceChildren();
    return;
  }
  const models = reasons.length === 1 ? `the ${reasons[0]!.which} model` : 'the original and the converted model';
  const why = [...new Set(reasons.map((r) => explainFallback(r.reason)))].join('; ');
  const raw = [...new Set(reasons.map((r) => r.reason))].join('\n');
  notice.replaceChildren(
    el('span', {}, `WebGPU could not run ${models}, so ${reasons.length === 1 ? 'it' : 'they'} ran on WASM (the CPU) instead: ${why}. Results are the same; only speed differs.`),
    el('details', {}, el('summary', {}, "onnxruntime's message"), el('pre', {}, raw)));
}
