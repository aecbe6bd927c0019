/**
 * Per-model statistics, as Triton's statistics extension reports them (GET /v2/models[/{name}[/versions/{v}]]/stats):
 * cumulative counts and nanoseconds, so a client can sample twice and take the difference.
 *
 * - success / fail: requests that reached the model, from the handler's start to the answer built;
 * - queue: time waiting for a batch; compute_input: parsing and decoding the request into tensors;
 *   compute_infer: the onnxruntime run the request was part of; compute_output: building the answer;
 * - inference_count counts rows (a batch of 8 in one request is 8), execution_count onnxruntime runs;
 * - batch_stats: per batch size actually run, the runs and their time.
 */

export interface DurationStat {
  count: number;
  ns: number;
}

const duration = (): DurationStat => ({ count: 0, ns: 0 });
const add = (stat: DurationStat, ns: number) => {
  stat.count += 1;
  stat.ns += Math.round(ns);
};

/** Where a request's time went, in nanoseconds (the batcher fills queue and infer). */
export interface RequestTiming {
  queueNs: number;
  inferNs: number;
}

export class ModelStats {
  private lastInference = 0;
  private inferenceCount = 0;
  private executionCount = 0;
  private readonly inference = {
    success: duration(), fail: duration(), queue: duration(), compute_input: duration(), compute_infer: duration(), compute_output: duration(), cache_hit: duration(),
  };
  private readonly batches = new Map<number, { compute_input: DurationStat; compute_infer: DurationStat; compute_output: DurationStat }>();

  /** One onnxruntime run of `rows` rows (from the batcher). */
  recordExecution(rows: number, seconds: number): void {
    this.executionCount += 1;
    let batch = this.batches.get(rows);
    if (!batch) this.batches.set(rows, batch = { compute_input: duration(), compute_infer: duration(), compute_output: duration() });
    // Rows are joined and split in place around the run: only the run itself is timed per batch size.
    batch.compute_input.count += 1;
    batch.compute_output.count += 1;
    add(batch.compute_infer, seconds * 1e9);
  }

  recordSuccess(rows: number, phases: { totalNs: number; inputNs: number; outputNs: number; timing: RequestTiming }): void {
    this.lastInference = Date.now();
    this.inferenceCount += rows;
    add(this.inference.success, phases.totalNs);
    add(this.inference.queue, phases.timing.queueNs);
    add(this.inference.compute_input, phases.inputNs);
    add(this.inference.compute_infer, phases.timing.inferNs);
    add(this.inference.compute_output, phases.outputNs);
  }

  recordFailure(totalNs: number): void {
    this.lastInference = Date.now();
    add(this.inference.fail, totalNs);
  }

  /** The extension's `$model_stat` object. */
  toJson(name: string, version: string): Record<string, unknown> {
    const copy = (stat: DurationStat) => ({ ...stat });
    return {
      name,
      version,
      last_inference: this.lastInference,
      inference_count: this.inferenceCount,
      execution_count: this.executionCount,
      inference_stats: Object.fromEntries(Object.entries(this.inference).map(([key, stat]) => [key, copy(stat)])),
      batch_stats: [...this.batches.entries()].sort(([a], [b]) => a - b).map(([size, b]) => ({
        batch_size: size, compute_input: copy(b.compute_input), compute_infer: copy(b.compute_infer), compute_output: copy(b.compute_output),
      })),
    };
  }
}

/** Nanoseconds since `start` (a performance.now() reading). */
export const nsSince = (start: number) => (performance.now() - start) * 1e6;
