/** Shared by the server tests: a real server on 127.0.0.1:0, fetch helpers, raw sockets, direct onnxruntime runs. */
import { connect } from 'node:net';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { seededRandom } from '../../src/runtime/random-feeds.js';
import { createSession, type Feeds, type RuntimeSession } from '../../src/runtime/session.js';
import type { LogEntry } from '../../src/server/http.js';
import { startServer, type RunningServer, type ServerOptions } from '../../src/server/server.js';

export const ROOT = join(import.meta.dirname, '..', '..');
export const MODELS = join(ROOT, 'models');
export const fixture = (name: string) => join(MODELS, `${name}.onnx`);

export interface TestServer extends RunningServer {
  /** Every log line the server wrote, in order. */
  readonly logs: LogEntry[];
}

/** Starts a real server on an ephemeral loopback port, logging into an array. */
export async function serve(models: string[], options: Partial<ServerOptions> = {}): Promise<TestServer> {
  const logs: LogEntry[] = [];
  const server = await startServer({ host: '127.0.0.1', port: 0, log: (entry) => logs.push(entry), ...options, models });
  return Object.assign(server, { logs });
}

export interface JsonResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON under test
  readonly text: string;
}

export async function request(url: string, init: RequestInit = {}): Promise<JsonResponse> {
  const response = await fetch(url, init);
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: response.status, headers: response.headers, body, text };
}

/** POSTs `body` (JSON-encoded unless it is a string or bytes). */
export function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<JsonResponse> {
  const payload: BodyInit = typeof body === 'string' ? body : body instanceof Uint8Array ? new Uint8Array(body) : JSON.stringify(body);
  return request(url, { method: 'POST', body: payload, headers: { 'Content-Type': 'application/json', ...headers } });
}

/** Deterministic pixel values ~ U(−1, 1). */
export function pixels(seed: number, count = 3 * 32 * 32): number[] {
  const next = seededRandom(seed);
  return Array.from({ length: count }, () => next() * 2 - 1);
}

/** A v2 inference request for the 3×32×32 ViT fixtures. */
export function vitRequest(seed: number, batch = 1, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...extra, inputs: [{ name: 'pixel_values', shape: [batch, 3, 32, 32], datatype: 'FP32', data: pixels(seed, batch * 3072) }] };
}

const sessions = new Map<string, Promise<RuntimeSession>>();
/** Runs the model directly in onnxruntime (a session per file, cached): the reference for server answers. */
export async function directRun(path: string, feeds: Feeds): Promise<Record<string, ort.Tensor>> {
  if (!sessions.has(path)) sessions.set(path, createSession(path));
  return (await sessions.get(path)!).run(feeds);
}

/** The direct onnxruntime logits for one `vitRequest(seed)`. */
export async function directVit(path: string, seed: number): Promise<number[]> {
  const outputs = await directRun(path, { pixel_values: new ort.Tensor('float32', Float32Array.from(pixels(seed)), [1, 3, 32, 32]) });
  return Array.from(Object.values(outputs)[0]!.data as Float32Array);
}

export function maxAbsDiff(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) return Infinity;
  return Math.max(0, ...a.map((v, i) => Math.abs(v - b[i]!)));
}

/** A sample's value in Prometheus text format, e.g. metric(text, 'vitlin_batch_size_count', { model: 'x' }). */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3]);
  }
  return undefined;
}

export async function metricsText(url: string): Promise<string> {
  return (await request(`${url}/metrics`)).text;
}

/** Polls until `check` is true (bounded: fails after `timeoutMs`). */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Writes raw bytes to the server and returns everything it sends back until it closes the connection
 * (or `timeoutMs` passes). `parts` are written `gapMs` apart, for slow-client tests.
 */
export function rawExchange(port: number, parts: string[], options: { gapMs?: number; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('utf8'));
    }, options.timeoutMs ?? 5_000);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    socket.on('connect', async () => {
      for (const [i, part] of parts.entries()) {
        if (i > 0) await new Promise((r) => setTimeout(r, options.gapMs ?? 0));
        if (!socket.destroyed) socket.write(part);
      }
    });
  });
}

export interface RawClient {
  write(text: string): void;
  /** Hangs up without waiting for an answer. */
  destroy(): void;
  /** Everything the server sent, once it closed the connection (or after `timeoutMs`). */
  readonly received: Promise<string>;
}

/** Opens a raw TCP connection to the server, for writing partial requests at chosen moments. */
export function openRaw(port: number, timeoutMs = 10_000): Promise<RawClient> {
  return new Promise((resolveOpen, rejectOpen) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const received = new Promise<string>((resolve) => {
      const timer = setTimeout(() => socket.destroy(), timeoutMs);
      socket.on('data', (chunk) => chunks.push(chunk));
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(Buffer.concat(chunks).toString('utf8'));
      });
    });
    socket.once('error', rejectOpen);
    socket.once('connect', () => resolveOpen({ write: (text) => socket.write(text), destroy: () => socket.destroy(), received }));
  });
}

/** Status code and JSON body of a raw HTTP/1.1 response. */
export function parseRaw(response: string): { status: number; body: any } { // eslint-disable-line @typescript-eslint/no-explicit-any
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1]);
  const text = response.slice(response.indexOf('\r\n\r\n') + 4);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status, body };
}
