/**
 * `startServer`: an Open Inference Protocol v2 (KServe / Triton / MLServer) REST server for ONNX models on
 * node:http. It owns the lifecycle: load every model once, listen, give each request a deadline, answer
 * every failure as `{"error": "..."}`, log one JSON line per request, and shut down gracefully (stop taking
 * work, finish what is in flight, release the sessions).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { InvalidArgumentError } from '../../graph-rewrite/errors.js';
import { DEFAULT_MAX_PIXELS } from '../data/images.js';
import { nodeBackendWith } from '../runtime/node-backend.js';
import type { ExecutionProvider } from '../runtime/node-backend.js';
import { INFERENCE_HEADER_CONTENT_LENGTH } from './binary.js';
import { checkAcceptable, DEFAULT_COMPRESS_MIN_BYTES, encodeAnswer, parseAcceptEncoding, type AcceptedEncodings } from './compression.js';
import { HttpError, RequestTimeoutError, ShuttingDownError } from './errors.js';
import { bodyBytes, ClientGoneError, logEntry, send, stderrLogger, type Logger } from './http.js';
import { createMetrics, type ServerMetrics } from './metrics.js';
import type { BatcherOptions } from './batcher.js';
import { describePreprocessing, type ServedModel } from './models.js';
import { ModelRepository } from './repository.js';
import { matchRoute, type Reply, type RouteContext } from './routes.js';

export interface ServerOptions {
  /** Model files (`x.onnx`), Hugging Face style folders, model repository folders, or folders of them. */
  readonly models: readonly string[];
  /** Serve the one model found under this name instead of its file or folder name (e.g. KServe's `{{.Name}}`). */
  readonly name?: string;
  /** Default 127.0.0.1: listening on all interfaces is a decision, not a default. */
  readonly host?: string;
  /** Default 8080; 0 picks a free port. */
  readonly port?: number;
  readonly ep?: ExecutionProvider;
  readonly intraOpThreads?: number;
  /** Most rows in one onnxruntime run for models with a dynamic batch axis; 1 turns batching off. Default 8. */
  readonly maxBatch?: number;
  /** Longest wait for a batch to fill after its first request arrives. Default 2 ms. */
  readonly maxDelayMs?: number;
  /** Largest request body. Default 32 MiB. */
  readonly maxBodyBytes?: number;
  /** Deadline per request, from its first byte. Default 30 s. */
  readonly timeoutMs?: number;
  /** Most requests waiting per model. Default 256. */
  readonly maxQueue?: number;
  /** Answers shorter than this go uncompressed whatever Accept-Encoding says (unless it refuses identity). Default 1024. */
  readonly compressMinBytes?: number;
  /** Largest image (pixels) the classify endpoint decodes. Default 40 M. */
  readonly maxImagePixels?: number;
  /** Where request logs go; `false` silences them. Default: one JSON line per request on stderr. */
  readonly log?: Logger | false;
}

export interface RunningServer {
  /** `http://host:port`, with the port actually bound. */
  readonly url: string;
  readonly port: number;
  readonly models: readonly string[];
  readonly metrics: ServerMetrics;
  /** Stops accepting, lets in-flight requests finish, releases the sessions. Idempotent. */
  close(): Promise<void>;
}

export const SERVER_NAME = 'vitlin';
export const SERVER_VERSION = '0.1.0';

export const DEFAULTS = {
  host: '127.0.0.1', port: 8080, maxBatch: 8, maxDelayMs: 2, maxBodyBytes: 32 * 2 ** 20, timeoutMs: 30_000, maxQueue: 256,
  compressMinBytes: DEFAULT_COMPRESS_MIN_BYTES,
} as const;

/**
 * The reply's bytes, compressed as the client's Accept-Encoding and the size allow. An error reply goes
 * uncompressed when nothing is acceptable (the 406 that says so, among others): it must reach the client.
 */
async function encodedReply(reply: Reply, accepted: AcceptedEncodings, minBytes: number): Promise<{ body: Buffer; headers: Record<string, string>; coding: string }> {
  const body = bodyBytes(reply.body);
  const binary = reply.headers?.[INFERENCE_HEADER_CONTENT_LENGTH] !== undefined;
  try {
    return await encodeAnswer(body, accepted, binary, minBytes);
  } catch (error) {
    if (error instanceof HttpError && reply.status >= 400) return { body, headers: { Vary: 'Accept-Encoding' }, coding: 'identity' };
    throw error;
  }
}

function positiveInt(name: string, value: number | undefined, fallback: number, min = 1): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min) throw new InvalidArgumentError(`'${name}' must be an integer ≥ ${min}, got ${v}`);
  return v;
}

/** Loads the models and starts listening; resolves once the server is ready. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const maxBatch = positiveInt('maxBatch', options.maxBatch, DEFAULTS.maxBatch);
  const maxDelayMs = positiveInt('maxDelayMs', options.maxDelayMs, DEFAULTS.maxDelayMs, 0);
  const maxBodyBytes = positiveInt('maxBodyBytes', options.maxBodyBytes, DEFAULTS.maxBodyBytes);
  const timeoutMs = positiveInt('timeoutMs', options.timeoutMs, DEFAULTS.timeoutMs);
  const maxQueue = positiveInt('maxQueue', options.maxQueue, DEFAULTS.maxQueue);
  const maxImagePixels = positiveInt('maxImagePixels', options.maxImagePixels, DEFAULT_MAX_PIXELS);
  const compressMinBytes = positiveInt('compressMinBytes', options.compressMinBytes, DEFAULTS.compressMinBytes, 0);
  const port = positiveInt('port', options.port, DEFAULTS.port, 0);
  const host = options.host ?? DEFAULTS.host;
  const log: Logger = options.log === false ? () => {} : options.log ?? stderrLogger;
  const metrics = createMetrics();
  const repository = await ModelRepository.open(options.models, options.name, {
    // The edge where the runtime is chosen: everything below runs models through the Backend interface.
    backend: nodeBackendWith(options.intraOpThreads ? { intraOpThreads: options.intraOpThreads } : {}),
    ep: options.ep ?? 'cpu',
    batching: { maxBatch, maxDelayMs, maxQueue },
    observe: (model, version) => batchObservers(model, version, metrics),
    onLoaded: (model) => warnOnGuessedPreprocessing(model, log),
  });

  let draining = false;
  const inFlight = new Set<Promise<void>>();
  /** Connections accepted plus requests received: close() waits until this stops moving. */
  let arrivals = 0;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    let phase: 'body' | 'inference' = 'body';
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new RequestTimeoutError(phase, timeoutMs)), timeoutMs);
    // A client that hangs up gives its queued request up: it leaves the queue instead of costing a run.
    res.once('close', () => {
      if (!res.writableFinished) controller.abort(new ClientGoneError('the client closed the connection before the answer'));
    });
    const url = new URL(req.url ?? '/', 'http://localhost');
    const ctx: RouteContext = {
      req, url, models: repository.served, repository, metrics, serverName: SERVER_NAME, serverVersion: SERVER_VERSION, maxBodyBytes, maxImagePixels,
      signal: controller.signal, draining: () => draining, bodyRead: () => { phase = 'inference'; },
    };
    let route = 'unknown';
    let reply: Reply;
    const accepted = parseAcceptEncoding(req.headers['accept-encoding']);
    try {
      const matched = matchRoute(req.method ?? 'GET', url.pathname);
      route = matched.name;
      if (!matched.handler) {
        throw new HttpError(405, `${req.method} is not allowed on ${url.pathname} (allowed: ${matched.allowed.join(', ')})`, { Allow: matched.allowed.join(', ') });
      }
      // Refused before any work: an answer the client could not take is not worth computing.
      checkAcceptable(accepted);
      // Health and metrics stay available while draining (probes must see "not ready"); new work does not.
      if (draining && (route === 'infer' || route === 'classify' || route === 'repository_load')) throw new ShuttingDownError();
      reply = await matched.handler(ctx, matched.params);
    } catch (error) {
      if (error instanceof ClientGoneError) {
        reply = { status: 499, body: { error: error.message } };
      } else if (error instanceof HttpError) {
        reply = { status: error.status, body: { error: error.message }, headers: { ...error.headers } };
      } else {
        reply = { status: 500, body: { error: `internal error: ${error instanceof Error ? error.message : String(error)}` } };
      }
    } finally {
      clearTimeout(timer);
    }
    // An error before the body was read (404, 413, 408, shutdown, …): do not spend time reading a body nobody
    // will use; close the connection once the reply is out. Draining: tell keep-alive clients to go away.
    const unread = reply.status >= 400 && !req.complete;
    let encoded: Awaited<ReturnType<typeof encodedReply>>;
    try {
      encoded = await encodedReply(reply, accepted, compressMinBytes);
    } catch (error) {
      reply = { status: 500, body: { error: `internal error: compressing the answer failed: ${(error as Error).message}` } };
      encoded = { body: bodyBytes(reply.body), headers: {}, coding: 'identity' };
    }
    const headers = { ...reply.headers, ...encoded.headers, ...(draining || unread ? { Connection: 'close' } : {}) };
    const bytesOut = send(res, reply.status, encoded.body, headers, reply.contentType);
    if (unread) res.once('finish', () => req.socket.destroySoon());
    // In flight until the answer is handed to the socket: shutdown closes connections only after that.
    await responseFlushed(res);
    const seconds = (performance.now() - started) / 1000;
    const model = ctx.model?.name ?? '';
    metrics.requests.inc({ model, route, status: String(reply.status) });
    metrics.latency.observe({ model, route }, seconds);
    const level = reply.status >= 500 ? 'error' : reply.status >= 400 ? 'warn' : 'info';
    log(logEntry(level, 'request', {
      method: req.method, path: url.pathname, route, model: model || undefined, status: reply.status,
      ms: Math.round(seconds * 10000) / 10, bytes_out: bytesOut, encoding: encoded.coding === 'identity' ? undefined : encoded.coding, id: ctx.requestId,
      error: reply.status >= 400 ? (reply.body as { error?: string }).error : undefined,
    }));
  }

  const server: Server = createServer((req, res) => {
    arrivals++;
    metrics.inFlight.inc();
    const task = handle(req, res).catch((error: unknown) => {
      // handle() answers every error itself; this is the last line against a crash.
      log(logEntry('error', 'unhandled', { error: String(error) }));
      send(res, 500, { error: 'internal error' });
    }).finally(() => {
      metrics.inFlight.dec();
      inFlight.delete(task);
    });
    inFlight.add(task);
  });
  server.on('connection', () => { arrivals++; });
  // Malformed HTTP never reaches the handler: answer it in the protocol's error shape too.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable || (socket as Socket & { _httpMessage?: unknown })._httpMessage) {
      socket.destroy();
      return;
    }
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const body = JSON.stringify({ error: `malformed HTTP request: ${error.message}` });
    socket.end(`HTTP/1.1 ${status} ${status === 400 ? 'Bad Request' : status === 408 ? 'Request Timeout' : 'Request Header Fields Too Large'}\r\n`
      + `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
  // node's own backstop deadlines, above ours so ours answer first.
  server.requestTimeout = timeoutMs + 5_000;
  server.headersTimeout = Math.min(60_000, timeoutMs + 5_000);

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    // e.g. EADDRINUSE: the sessions were loaded for nothing; release them before failing.
    await repository.release();
    throw error;
  }
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  for (const model of repository.unavailable()) log(logEntry('error', 'model not loaded', { model: model.name, error: model.reason }));
  log(logEntry('info', 'listening', { url, models: repository.names(), ep: options.ep ?? 'cpu', max_batch: maxBatch, max_delay_ms: maxDelayMs }));

  let closing: Promise<void> | undefined;
  async function close(): Promise<void> {
    // A request that reached us before the signal is accepted work, even if the event loop was busy and has
    // not read it yet: let the loop accept waiting connections and parse what is buffered, then stop.
    await settleArrivals(() => arrivals);
    draining = true;
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    // In-flight requests finish (their own deadlines bound them; the backstop bounds a stuck run); batchers
    // flush what is queued at once instead of waiting for batches to fill. Requests that arrive meanwhile on
    // open connections get their 503 flushed too.
    const backstop = new Promise<'backstop'>((resolve) => setTimeout(() => resolve('backstop'), timeoutMs + 1_000).unref());
    do {
      if (await Promise.race([Promise.all([repository.drain(), ...inFlight]), backstop]) === 'backstop') break;
    } while (inFlight.size > 0);
    server.closeAllConnections();
    await stopped;
    await repository.release();
    log(logEntry('info', 'stopped', {}));
  }
  return {
    url,
    port: address.port,
    models: repository.names(),
    metrics,
    close: () => (closing ??= close()),
  };
}

/** An image model whose preprocessing is ViTImageProcessor's defaults, or whose config cannot give one, is said in the log. */
/**
 * What close() waits before draining: at least this many event-loop turns and milliseconds, then until a
 * turn passes with no connection accepted and no request received — a connection accepted in one turn is
 * read in a later one, so by then everything sent before the signal has arrived — but never longer than
 * ARRIVALS_MAX_MS under a steady stream of new requests.
 */
const ARRIVALS_MIN_TURNS = 3;
const ARRIVALS_MIN_MS = 10;
const ARRIVALS_MAX_MS = 2_000;

async function settleArrivals(arrivals: () => number): Promise<void> {
  const started = performance.now();
  for (let turns = 0, seen = -1; ; turns++) {
    const elapsed = performance.now() - started;
    if (elapsed > ARRIVALS_MAX_MS) return;
    if (turns >= ARRIVALS_MIN_TURNS && elapsed >= ARRIVALS_MIN_MS && seen === arrivals()) return;
    seen = arrivals();
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** Resolves once the response is handed to the socket (finish) or can no longer be (close). */
function responseFlushed(res: ServerResponse): Promise<void> {
  if (res.writableFinished || res.destroyed) return Promise.resolve();
  return new Promise<void>((resolve) => {
    res.once('finish', resolve);
    res.once('close', resolve);
  });
}

function warnOnGuessedPreprocessing(model: ServedModel, log: Logger): void {
  const pre = describePreprocessing(model);
  if (!pre) return;
  if ('error' in pre) {
    log(logEntry('warn', 'preprocessing', { model: model.name, version: model.version, error: pre.error }));
  } else if (pre.source === 'defaults') {
    log(logEntry('warn', 'preprocessing', {
      model: model.name, version: model.version,
      error: `no vitlin.json preprocess or preprocessor_config.json: classify uses the defaults (mean = std = 0.5, ×1/255); if the model was trained with other statistics its predictions will be off`,
    }));
  }
}

/** A model version's batcher hooks, writing its metrics with the model's name and version as labels. */
function batchObservers(model: string, version: string, metrics: ServerMetrics): Pick<BatcherOptions, 'onBatch' | 'onQueueDepth'> {
  const labels = { model, version };
  metrics.queueDepth.set(labels, 0);
  return {
    onBatch: (rows, requests, seconds) => {
      metrics.batchSize.observe(labels, rows);
      metrics.batchRequests.observe(labels, requests);
      metrics.inference.observe(labels, seconds);
    },
    onQueueDepth: (depth) => metrics.queueDepth.set(labels, depth),
  };
}
