/**
 * Dynamic batching for one model: requests wait in a queue; one batch runs at a time (onnxruntime already
 * spreads one run over the intra-op threads, so a second concurrent run only competes for the same cores).
 * When the model's batch axis is dynamic, a batch takes the oldest request plus every later one with the
 * same non-batch shapes, up to `maxBatch` rows, waiting at most `maxDelayMs` after the oldest arrived;
 * each request gets its own rows of the outputs back. With preferred batch sizes, a batch of the largest
 * preferred size that can be formed leaves at once instead of waiting. With several instances (sessions),
 * up to that many batches run at a time, one per instance.
 */
import { createTensor, type Feeds, type Tensor } from '../runtime/backend.js';
import { HttpError, QueueFullError } from './errors.js';
import type { RequestTiming } from './stats.js';

export type Outputs = Record<string, Tensor>;

export interface BatcherOptions {
  readonly model: string;
  /** Runs one (possibly batched) set of feeds: a BackendSession's run. */
  readonly run: (feeds: Feeds) => Promise<Outputs>;
  /** Whether every input and output has a dynamic leading (batch) axis. */
  readonly batchable: boolean;
  /** Most rows in one batch; 1 turns batching off. */
  readonly maxBatch: number;
  readonly maxDelayMs: number;
  /** Most requests waiting (not counting the running batch); one more is refused with 503. */
  readonly maxQueue: number;
  /** Batch sizes that leave at once when they can be formed (Triton's preferred_batch_size). */
  readonly preferredBatchSizes?: readonly number[];
  /** Most batches running at once (one per model instance). Default 1. */
  readonly concurrency?: number;
  /** Called after every run: rows in the batch, requests in it, seconds onnxruntime took. */
  readonly onBatch?: (rows: number, requests: number, seconds: number) => void;
  readonly onQueueDepth?: (depth: number) => void;
}

interface Pending {
  readonly feeds: Feeds;
  readonly rows: number;
  /** Requests with equal keys can share a batch: same input types and non-batch dims. */
  readonly key: string;
  readonly enqueued: number;
  readonly timing: RequestTiming | undefined;
  settled: boolean;
  resolve(outputs: Outputs): void;
  reject(error: unknown): void;
}

type TypedArray = Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;

/** Concatenates tensors of one input along axis 0. */
function concatRows(tensors: readonly Tensor[]): Tensor {
  const first = tensors[0]!;
  const rows = tensors.reduce((n, t) => n + t.dims[0]!, 0);
  const dims = [rows, ...first.dims.slice(1)];
  if (first.type === 'string') return createTensor('string', tensors.flatMap((t) => t.data as string[]), dims);
  const total = tensors.reduce((n, t) => n + t.data.length, 0);
  const Kind = (first.data as TypedArray).constructor as new (length: number) => TypedArray;
  const data = new Kind(total);
  let offset = 0;
  for (const tensor of tensors) {
    data.set(tensor.data as never, offset);
    offset += tensor.data.length;
  }
  return createTensor(first.type as 'float32', data as Float32Array, dims);
}

/** Rows [start, start + count) of a tensor, as a view. */
function sliceRows(tensor: Tensor, start: number, count: number): Tensor {
  const perRow = tensor.dims.slice(1).reduce((a, b) => a * b, 1);
  const dims = [count, ...tensor.dims.slice(1)];
  const data = tensor.type === 'string'
    ? (tensor.data as string[]).slice(start * perRow, (start + count) * perRow)
    : (tensor.data as TypedArray).subarray(start * perRow, (start + count) * perRow);
  return createTensor(tensor.type as 'float32', data as Float32Array, dims);
}

export class Batcher {
  private readonly queue: Pending[] = [];
  private running = 0;
  private draining = false;
  private closedBy: Error | undefined;
  private timer: NodeJS.Timeout | undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: BatcherOptions) {}

  /** Requests waiting, not counting the batch that runs. */
  get depth(): number {
    return this.queue.length;
  }

  /**
   * Queues `feeds` (already validated against the model) and resolves with this request's outputs.
   * Rejects with QueueFullError when the queue is full, or with `signal.reason` when aborted first.
   * `timing`, when given, receives the time the request waited and the time of the run it was part of.
   */
  submit(feeds: Feeds, signal?: AbortSignal, timing?: RequestTiming): Promise<Outputs> {
    if (this.closedBy) return Promise.reject(this.closedBy);
    if (this.queue.length >= this.options.maxQueue) return Promise.reject(new QueueFullError(this.options.model, this.options.maxQueue));
    const tensors = Object.entries(feeds).sort(([a], [b]) => (a < b ? -1 : 1));
    const rows = this.options.batchable ? tensors[0]?.[1].dims[0] ?? 1 : 1;
    const key = tensors.map(([name, t]) => `${name}:${t.type}:${t.dims.slice(1).join('x')}`).join('|');
    return new Promise<Outputs>((resolve, reject) => {
      const pending: Pending = {
        feeds, rows, key, enqueued: performance.now(), timing, settled: false,
        resolve: (outputs) => { if (!pending.settled) { pending.settled = true; resolve(outputs); } },
        reject: (error) => { if (!pending.settled) { pending.settled = true; reject(error); } },
      };
      signal?.addEventListener('abort', () => {
        // Still queued: take it out. Running: answer now, drop the result when the batch ends.
        const index = this.queue.indexOf(pending);
        if (index >= 0) this.queue.splice(index, 1);
        this.options.onQueueDepth?.(this.queue.length);
        pending.reject(signal.reason);
      }, { once: true });
      if (signal?.aborted) return pending.reject(signal.reason);
      this.queue.push(pending);
      this.options.onQueueDepth?.(this.queue.length);
      this.schedule();
    });
  }

  /** Stops waiting for batches to fill and resolves once nothing is queued or running. */
  drain(): Promise<void> {
    this.draining = true;
    this.schedule();
    if (this.running === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Refuses new requests with `reason` from now on, and drains what was taken (a model being unloaded). */
  close(reason: Error): Promise<void> {
    this.closedBy = reason;
    return this.drain();
  }

  /**
   * The requests the next batch would take: the head, then every later request with the same key that
   * still fits under maxBatch (greedy, in arrival order). Only the head when batching is off.
   */
  private pick(limit = this.options.maxBatch): { batch: Pending[]; rows: number } {
    const head = this.queue[0]!;
    const batch = [head];
    let rows = head.rows;
    if (!this.options.batchable) return { batch, rows };
    for (let i = 1; i < this.queue.length && rows < limit; i++) {
      const candidate = this.queue[i]!;
      if (candidate.key === head.key && rows + candidate.rows <= limit) {
        batch.push(candidate);
        rows += candidate.rows;
      }
    }
    return { batch, rows };
  }

  /** The batch to run now, or undefined to wait for more requests (at most until the head's delay is up). */
  private ready(waited: number): { batch: Pending[]; rows: number } | undefined {
    const { batchable, maxBatch, maxDelayMs, preferredBatchSizes = [] } = this.options;
    const greedy = this.pick();
    if (this.draining || !batchable || maxBatch <= 1 || waited >= maxDelayMs || greedy.rows >= maxBatch) return greedy;
    // The largest preferred size that the waiting requests fill exactly leaves now.
    for (const size of [...preferredBatchSizes].sort((a, b) => b - a)) {
      if (size > greedy.rows) continue;
      const preferred = size === greedy.rows ? greedy : this.pick(size);
      if (preferred.rows === size) return preferred;
    }
    return undefined;
  }

  private schedule(): void {
    while (this.running < (this.options.concurrency ?? 1)) {
      const head = this.queue[0];
      if (!head) {
        clearTimeout(this.timer);
        this.timer = undefined;
        if (this.running === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
        return;
      }
      const waited = performance.now() - head.enqueued;
      const batch = this.ready(waited);
      if (!batch) {
        this.timer ??= setTimeout(() => {
          this.timer = undefined;
          this.schedule();
        }, Math.max(1, Math.ceil(this.options.maxDelayMs - waited)));
        return;
      }
      clearTimeout(this.timer);
      this.timer = undefined;
      void this.dispatch(batch.batch, batch.rows);
    }
  }

  /** Runs the requests as one batch and hands out their rows. */
  private async dispatch(batch: Pending[], rows: number): Promise<void> {
    const head = batch[0]!;
    for (const taken of batch) this.queue.splice(this.queue.indexOf(taken), 1);
    this.options.onQueueDepth?.(this.queue.length);
    this.running += 1;
    const started = performance.now();
    for (const p of batch) if (p.timing) p.timing.queueNs = (started - p.enqueued) * 1e6;
    try {
      if (batch.length === 1) {
        head.resolve(await this.timedRun(head.feeds, head.rows, [head]));
      } else {
        await this.runBatch(batch, rows);
      }
    } catch (error) {
      for (const p of batch) p.reject(error);
    } finally {
      this.running -= 1;
      this.schedule();
    }
  }

  private async timedRun(feeds: Feeds, rows: number, requests: readonly Pending[]): Promise<Outputs> {
    const start = performance.now();
    const outputs = await this.options.run(feeds);
    const seconds = (performance.now() - start) / 1000;
    for (const p of requests) if (p.timing) p.timing.inferNs = seconds * 1e9;
    this.options.onBatch?.(rows, requests.length, seconds);
    return outputs;
  }

  private async runBatch(batch: readonly Pending[], rows: number): Promise<void> {
    const feeds: Feeds = {};
    for (const name of Object.keys(batch[0]!.feeds)) feeds[name] = concatRows(batch.map((p) => p.feeds[name]!));
    let outputs: Outputs;
    try {
      outputs = await this.timedRun(feeds, rows, batch);
    } catch {
      // One bad request must not fail the others: run them one by one, each with its own error.
      for (const p of batch) {
        try {
          p.resolve(await this.timedRun(p.feeds, p.rows, [p]));
        } catch (error) {
          p.reject(error);
        }
      }
      return;
    }
    for (const [name, tensor] of Object.entries(outputs)) {
      if (tensor.dims[0] !== rows) {
        throw new HttpError(500, `model '${this.options.model}' output '${name}' has ${tensor.dims[0]} rows for a batch of ${rows}; start the server with --max-batch 1`);
      }
    }
    let start = 0;
    for (const p of batch) {
      const mine: Outputs = {};
      for (const [name, tensor] of Object.entries(outputs)) mine[name] = sliceRows(tensor, start, p.rows);
      start += p.rows;
      p.resolve(mine);
    }
  }
}
