/**
 * Compressed answers: `Accept-Encoding` negotiation (RFC 9110 §12.5.3) for br, gzip and deflate with
 * node:zlib. An answer is compressed only when the client accepts a coding, the answer is at least
 * `minBytes` long (a small one gains nothing and costs a zlib run), and — for the binary tensor extension's
 * answers, whose float data barely compresses — only when the client names the coding itself: `*` alone
 * does not ask for it. The whole body is compressed, the JSON header and the tensor bytes after it, and
 * `Inference-Header-Content-Length` keeps giving the uncompressed JSON's length: what Triton sends and
 * tritonclient reads (it inflates the body, then splits it at the header's length).
 *
 * Requests' `Content-Encoding` (gzip or deflate, tritonclient's request_compression_algorithm, as Triton
 * takes) is undone by {@link decodeContent}, never past the body limit.
 */
import { promisify } from 'node:util';
import { brotliCompress, constants, deflate, gunzip, gzip, inflate } from 'node:zlib';
import { badRequest, HttpError } from './errors.js';

export type Coding = 'br' | 'gzip' | 'deflate';

/** The server's order among codings the client weighs alike: brotli is the smallest, then gzip. */
export const CODINGS: readonly Coding[] = ['br', 'gzip', 'deflate'];

/** Answers below this many bytes go uncompressed (unless the client refuses identity). */
export const DEFAULT_COMPRESS_MIN_BYTES = 1024;

/** An Accept-Encoding header, parsed: each coding's weight (0–1), `*`'s, and identity's. */
export interface AcceptedEncodings {
  /** Weights the client gave by name (lowercase). */
  readonly named: ReadonlyMap<string, number>;
  /** `*`'s weight; undefined when the header has no `*`. */
  readonly any?: number;
}

const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

/** Parses Accept-Encoding; an entry with a malformed weight is ignored (RFC 9110's qvalue: 0 to 1, 3 decimals). */
export function parseAcceptEncoding(header: string | string[] | undefined): AcceptedEncodings {
  if (header === undefined) return { named: new Map() };
  const named = new Map<string, number>();
  let any: number | undefined;
  for (const entry of (Array.isArray(header) ? header.join(',') : header).split(',')) {
    const [rawName, ...params] = entry.split(';');
    const name = rawName!.trim().toLowerCase();
    if (!name) continue;
    let weight = 1;
    for (const param of params) {
      const [key, value] = param.split('=').map((s) => s.trim());
      if (key?.toLowerCase() === 'q') weight = value !== undefined && QVALUE.test(value) ? Number(value) : NaN;
    }
    if (Number.isNaN(weight)) continue;
    if (name === '*') any = weight;
    else named.set(name, weight);
  }
  return { named, ...(any !== undefined ? { any } : {}) };
}

/**
 * Identity's weight: its own entry, else `*`'s (so `*;q=0` refuses it), else the lowest weight the client
 * gave a coding (as the `negotiator` package does): `br;q=0.4, gzip;q=0.8` still prefers both to identity.
 */
function identityWeight(accepted: AcceptedEncodings): number {
  const given = [...accepted.named.values()].filter((q) => q > 0);
  return accepted.named.get('identity') ?? accepted.any ?? Math.min(1, ...given);
}

/**
 * The coding to answer with: the accepted coding of highest weight (ties: br, gzip, deflate), or identity
 * when the client weighs it higher, accepts no coding we have, or the answer is small. `binary` answers take
 * a coding only when it is named (or identity is refused). Throws 406 when nothing the server can send is
 * acceptable (identity refused and no coding offered).
 */
export function chooseCoding(accepted: AcceptedEncodings, answer: { readonly bytes: number; readonly binary: boolean }, minBytes: number): Coding | 'identity' {
  const identity = identityWeight(accepted);
  const weightOf = (coding: Coding) => accepted.named.get(coding) ?? (answer.binary && identity > 0 ? 0 : accepted.any ?? 0);
  let best: Coding | undefined;
  for (const coding of CODINGS) {
    if (weightOf(coding) > 0 && (best === undefined || weightOf(coding) > weightOf(best))) best = coding;
  }
  if (best === undefined || (identity > 0 && (identity > weightOf(best) || answer.bytes < minBytes))) {
    if (identity > 0) return 'identity';
    throw notAcceptable(accepted);
  }
  return best;
}

/** Checked before any work is done: a request that accepts nothing the server can send is refused at once. */
export function checkAcceptable(accepted: AcceptedEncodings): void {
  chooseCoding(accepted, { bytes: Infinity, binary: false }, 0);
}

function notAcceptable(accepted: AcceptedEncodings): HttpError {
  const listed = [...accepted.named].map(([name, q]) => `${name};q=${q}`).concat(accepted.any !== undefined ? [`*;q=${accepted.any}`] : []);
  return new HttpError(406, `Accept-Encoding '${listed.join(', ')}' accepts none of the codings the server sends (${CODINGS.join(', ')}, identity)`);
}

const compressors: Record<Coding, (body: Buffer, binary: boolean) => Promise<Buffer>> = {
  // Quality 2: on a float-array JSON answer as small as gzip's (and as quality 5's) in a fraction of the
  // time (bench/serve.ts); 11, the default, is for static files and far slower.
  br: (body, binary) => promisify(brotliCompress)(body, { params: {
    [constants.BROTLI_PARAM_QUALITY]: 2,
    [constants.BROTLI_PARAM_MODE]: binary ? constants.BROTLI_MODE_GENERIC : constants.BROTLI_MODE_TEXT,
    [constants.BROTLI_PARAM_SIZE_HINT]: body.length,
  } }),
  gzip: (body) => promisify(gzip)(body),
  deflate: (body) => promisify(deflate)(body),
};

/**
 * The body to send for an answer and the headers that say how: `Content-Encoding` when compressed, and
 * `Vary: Accept-Encoding` always (a cache must not hand one client's encoding to another). zlib runs on
 * libuv's thread pool, so a large answer does not stall the other requests.
 */
export async function encodeAnswer(body: Buffer, accepted: AcceptedEncodings, binary: boolean, minBytes: number): Promise<{ body: Buffer; headers: Record<string, string>; coding: Coding | 'identity' }> {
  const coding = chooseCoding(accepted, { bytes: body.length, binary }, minBytes);
  if (coding === 'identity') return { body, headers: { Vary: 'Accept-Encoding' }, coding };
  return { body: await compressors[coding](body, binary), headers: { Vary: 'Accept-Encoding', 'Content-Encoding': coding }, coding };
}

/**
 * Undoes a request's Content-Encoding, never inflating past `maxBytes` (413 as soon as it would), so a small
 * compressed body cannot become a huge one; on the thread pool, so a large one does not stall the server.
 */
export async function decodeContent(body: Buffer, encoding: string | undefined, maxBytes: number): Promise<Buffer> {
  const name = (encoding ?? 'identity').trim().toLowerCase();
  if (name === 'identity' || name === '') return body;
  if (name !== 'gzip' && name !== 'deflate') throw new HttpError(415, `Content-Encoding '${encoding}' is not supported (gzip, deflate or none)`);
  try {
    return await promisify(name === 'gzip' ? gunzip : inflate)(body, { maxOutputLength: maxBytes });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new HttpError(413, `the request body inflates to more than the ${maxBytes} bytes allowed (--max-body)`);
    throw badRequest(`the body is not valid ${name} data: ${(error as Error).message}`);
  }
}
