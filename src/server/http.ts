/**
 * Small HTTP helpers on node:http: reading a body under a size limit and a deadline, answering JSON,
 * and the one-line-per-request JSON log.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError } from './errors.js';

/** The client went away before the request was read; nothing can be answered. */
export class ClientGoneError extends Error {}

/**
 * Reads the whole body. Throws 413 as soon as the Content-Length header or the bytes received exceed
 * `maxBytes` (so an oversized body is never buffered), and rejects with `signal.reason` when aborted.
 */
export function readBody(req: IncomingMessage, maxBytes: number, signal: AbortSignal): Promise<Buffer> {
  const tooLarge = (size: string) => new HttpError(413, `the request body is ${size}, more than the ${maxBytes} bytes allowed (--max-body)`, { Connection: 'close' });
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.reject(tooLarge(`${declared} bytes`));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onGone);
      req.off('close', onClose);
      signal.removeEventListener('abort', onAbort);
    };
    const fail = (error: unknown) => {
      cleanup();
      // Stop reading: the connection closes after the error response.
      req.pause();
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) fail(tooLarge(`over ${maxBytes} bytes`));
      else chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onGone = () => fail(new ClientGoneError('the client closed the connection while sending the body'));
    const onClose = () => {
      if (!req.complete) onGone();
    };
    const onAbort = () => fail(signal.reason);
    if (signal.aborted) return onAbort();
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onGone);
    req.on('close', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** A reply body's bytes: JSON for values, text and bytes as they are (/metrics, binary tensor data). */
export function bodyBytes(body: unknown): Buffer {
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return Buffer.from(typeof body === 'string' ? body : JSON.stringify(body), 'utf8');
}

/** Sends `body` (see {@link bodyBytes}) with its Content-Length; returns the bytes sent. */
export function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}, contentType = 'application/json'): number {
  const text = bodyBytes(body);
  const bytes = text.length;
  if (res.headersSent || res.destroyed) return 0;
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': String(bytes), ...headers });
  res.end(text);
  return bytes;
}

/** One line of the request log (JSON on stderr). */
export interface LogEntry {
  readonly time: string;
  readonly level: 'info' | 'warn' | 'error';
  readonly msg: string;
  readonly [field: string]: unknown;
}

export type Logger = (entry: LogEntry) => void;

/** The default logger: one JSON object per line on stderr. */
export const stderrLogger: Logger = (entry) => {
  process.stderr.write(JSON.stringify(entry) + '\n');
};

export function logEntry(level: LogEntry['level'], msg: string, fields: Record<string, unknown> = {}): LogEntry {
  return { time: new Date().toISOString(), level, msg, ...fields };
}
