/**
 * Prometheus metrics (text exposition format, via prom-client). Each server has its own registry, so two
 * servers in one process (tests, benchmarks) do not share counters.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface ServerMetrics {
  readonly registry: Registry;
  /** Requests answered, by model ('' for server-level routes), route and status code. */
  readonly requests: Counter<'model' | 'route' | 'status'>;
  /** Wall time from the first byte to the last byte of the response. */
  readonly latency: Histogram<'model' | 'route'>;
  /** Rows per onnxruntime run (1 when nothing was batched). */
  readonly batchSize: Histogram<'model' | 'version'>;
  /** Requests per onnxruntime run. */
  readonly batchRequests: Histogram<'model' | 'version'>;
  /** Seconds per onnxruntime run. */
  readonly inference: Histogram<'model' | 'version'>;
  readonly queueDepth: Gauge<'model' | 'version'>;
  readonly inFlight: Gauge;
}

const POWERS_OF_TWO = [1, 2, 4, 8, 16, 32, 64, 128, 256];

export function createMetrics(): ServerMetrics {
  const registry = new Registry();
  // Process metrics (resident memory, CPU, event-loop lag) come with prom-client's defaults.
  collectDefaultMetrics({ register: registry, prefix: 'vitlin_' });
  const registers = [registry];
  return {
    registry,
    requests: new Counter({ name: 'vitlin_requests_total', help: 'HTTP requests answered, by model, route and status code', labelNames: ['model', 'route', 'status'], registers }),
    latency: new Histogram({ name: 'vitlin_request_duration_seconds', help: 'HTTP request latency in seconds', labelNames: ['model', 'route'], registers,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] }),
    batchSize: new Histogram({ name: 'vitlin_batch_size', help: 'Rows per onnxruntime run', labelNames: ['model', 'version'], registers, buckets: POWERS_OF_TWO }),
    batchRequests: new Histogram({ name: 'vitlin_batch_requests', help: 'Requests per onnxruntime run', labelNames: ['model', 'version'], registers, buckets: POWERS_OF_TWO }),
    inference: new Histogram({ name: 'vitlin_inference_duration_seconds', help: 'Seconds per onnxruntime run', labelNames: ['model', 'version'], registers,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] }),
    queueDepth: new Gauge({ name: 'vitlin_queue_depth', help: 'Requests waiting for a batch, by model version', labelNames: ['model', 'version'], registers }),
    inFlight: new Gauge({ name: 'vitlin_requests_in_flight', help: 'HTTP requests being handled', registers }),
  };
}
