/**
 * HTTP errors: every failure the server answers carries a status and a message, sent as the Open
 * Inference Protocol's error object `{"error": "..."}`.
 */
import { VitlinError } from '../../graph-rewrite/errors.js';

/** An error with the HTTP status to answer it with; 4xx are the client's to fix, 5xx the server's. */
export class HttpError extends VitlinError {
  readonly status: number;
  /** Extra response headers (Allow for 405, Retry-After for 503). */
  readonly headers: Readonly<Record<string, string>>;
  constructor(status: number, message: string, headers: Record<string, string> = {}, options?: { cause?: unknown }) {
    super(status >= 500 ? 'RUNTIME' : 'INVALID_ARGUMENT', message, options);
    this.status = status;
    this.headers = headers;
  }
}

export const badRequest = (message: string) => new HttpError(400, message);
export const notFound = (message: string) => new HttpError(404, message);

/** The queue of a model is full: retry shortly (RFC 9110 §15.6.4). */
export class QueueFullError extends HttpError {
  constructor(model: string, limit: number) {
    super(503, `model '${model}' has ${limit} requests waiting, the most allowed (--max-queue); retry later`, { 'Retry-After': '1' });
  }
}

/** The server is draining for shutdown and takes no new work. */
export class ShuttingDownError extends HttpError {
  constructor() {
    super(503, 'the server is shutting down', { Connection: 'close' });
  }
}

/**
 * The request's deadline passed. 408 when the client had not finished sending the body (408 is about the
 * client being slow); 504 when the server did not finish inference in time (the server timed out waiting
 * on its own upstream, the inference engine, which is 504's meaning).
 */
export class RequestTimeoutError extends HttpError {
  constructor(phase: 'body' | 'inference', timeoutMs: number) {
    super(phase === 'body' ? 408 : 504, phase === 'body'
      ? `the request body did not arrive within ${timeoutMs} ms (--timeout-ms)`
      : `inference did not finish within ${timeoutMs} ms (--timeout-ms)`, phase === 'body' ? { Connection: 'close' } : {});
  }
}
