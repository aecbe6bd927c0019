/**
 * The routes: the Open Inference Protocol v2 REST endpoints (and the extensions in repository-routes.ts),
 * vitlin's classify endpoint and /metrics.
 * A route is a path pattern plus a handler per method; a known path with another method is a 405.
 */
import type { IncomingMessage } from 'node:http';
import { InvalidArgumentError } from '../../graph-rewrite/errors.js';
import { ImageDecodeError } from '../data/images.js';
import { RuntimeError } from '../runtime/backend.js';
import type { Outputs } from './batcher.js';
import { binaryReply, splitBody } from './binary.js';
import { decodeContent } from './compression.js';
import { badRequest, HttpError, notFound } from './errors.js';
import { readBody } from './http.js';
import { imageFeeds, inferResponse, parseInferRequest, topK } from './infer.js';
import type { ServerMetrics } from './metrics.js';
import type { ServedModel } from './models.js';
import { ModelUnavailableError, type ModelRepository } from './repository.js';
import { decodeName, EXTENSION_ROUTES, EXTENSIONS } from './repository-routes.js';
import { nsSince, type RequestTiming } from './stats.js';

/** What a handler needs from the server. */
export interface RouteContext {
  readonly req: IncomingMessage;
  readonly url: URL;
  readonly models: ReadonlyMap<string, ServedModel>;
  readonly repository: ModelRepository;
  readonly metrics: ServerMetrics;
  readonly serverName: string;
  readonly serverVersion: string;
  readonly maxBodyBytes: number;
  readonly maxImagePixels: number;
  /** Aborted when the request's deadline passes. */
  readonly signal: AbortSignal;
  /** True once the server is draining for shutdown. */
  readonly draining: () => boolean;
  /** Marks the end of body reading: a timeout after this is the server's (504), not the client's (408). */
  readonly bodyRead: () => void;
  /** The model the request addressed (set by the handler; labels metrics and logs). */
  model?: ServedModel;
  /** The inference request's id, for the log. */
  requestId?: string;
}

export interface Reply {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Record<string, string>;
  readonly contentType?: string;
}

/** `params` are the pattern's groups: the model name, then the version (undefined when the path has none). */
type Handler = (ctx: RouteContext, params: ReadonlyArray<string | undefined>) => Promise<Reply> | Reply;

export interface Route {
  readonly name: string;
  readonly pattern: RegExp;
  readonly methods: Readonly<Record<string, Handler>>;
}

const MODEL = '/v2/models/([^/]+)(?:/versions/([^/]+))?';

function findModel(ctx: RouteContext, rawName: string, version: string | undefined): ServedModel {
  const model = ctx.repository.resolve(decodeName(rawName), version);
  ctx.model = model;
  return model;
}

/** Runs feeds through the model's batcher, mapping onnxruntime's complaints to 400 and its failures to 500. */
async function run(ctx: RouteContext, model: ServedModel, feeds: Parameters<ServedModel['batcher']['submit']>[0], timing: RequestTiming): Promise<Outputs> {
  try {
    return await model.batcher.submit(feeds, ctx.signal, timing);
  } catch (error) {
    if (error instanceof HttpError) throw error;
    if (error instanceof InvalidArgumentError) throw new HttpError(400, error.message);
    if (error instanceof RuntimeError) throw new HttpError(500, error.message, {}, { cause: error });
    throw error;
  }
}

function parseJson(bytes: Buffer): unknown {
  if (bytes.length === 0) throw badRequest('the request body is empty; expected an inference request JSON object');
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw badRequest(`malformed JSON: ${(error as Error).message}`);
  }
}

interface Marks {
  /** The body has arrived: what follows until input() is compute_input. */
  read(): void;
  /** The tensors are ready. */
  input(): void;
  /** Inference returned: what follows is compute_output. */
  infer(): void;
  readonly timing: RequestTiming;
}

/**
 * Runs `work` on a model's request and adds it to the model's statistics (see stats.ts); a throw counts
 * as a failure.
 */
async function measured(model: ServedModel, work: (marks: Marks) => Promise<{ rows: number; reply: Reply }>): Promise<Reply> {
  const started = performance.now();
  let read = started;
  let inputNs = 0;
  let inferred = 0;
  const timing: RequestTiming = { queueNs: 0, inferNs: 0 };
  try {
    const marks: Marks = { read: () => { read = performance.now(); }, input: () => { inputNs = nsSince(read); }, infer: () => { inferred = performance.now(); }, timing };
    const { rows, reply } = await work(marks);
    model.stats.recordSuccess(rows, { totalNs: nsSince(started), inputNs, outputNs: nsSince(inferred), timing });
    return reply;
  } catch (error) {
    model.stats.recordFailure(nsSince(started));
    throw error;
  }
}

async function infer(ctx: RouteContext, [rawName, version]: ReadonlyArray<string | undefined>): Promise<Reply> {
  const model = findModel(ctx, rawName!, version);
  return measured(model, async (marks) => {
    const body = await readBody(ctx.req, ctx.maxBodyBytes, ctx.signal);
    ctx.bodyRead();
    marks.read();
    const decoded = await decodeContent(body, ctx.req.headers['content-encoding'], ctx.maxBodyBytes);
    const { json, binary } = splitBody(decoded, ctx.req.headers['inference-header-content-length']);
    const call = parseInferRequest(parseJson(json), model, binary);
    if (call.id !== undefined) ctx.requestId = call.id;
    marks.input();
    const outputs = await run(ctx, model, call.feeds, marks.timing);
    marks.infer();
    const response = inferResponse(model, call, outputs);
    // Serialised here, so that the statistics' compute_output includes it.
    const reply = response.binaries.length > 0 ? binaryReply(response.json, response.binaries) : { status: 200, body: JSON.stringify(response.json) };
    return { rows: call.rows, reply };
  });
}

async function classify(ctx: RouteContext, [rawName]: ReadonlyArray<string | undefined>): Promise<Reply> {
  const model = findModel(ctx, rawName!, undefined);
  const kParam = ctx.url.searchParams.get('k') ?? '5';
  const k = Number(kParam);
  if (!/^\d+$/.test(kParam) || k < 1) throw badRequest(`'k' must be a positive integer, got '${kParam}'`);
  return measured(model, async (marks) => {
    const raw = await readBody(ctx.req, ctx.maxBodyBytes, ctx.signal);
    ctx.bodyRead();
    marks.read();
    const body = await decodeContent(raw, ctx.req.headers['content-encoding'], ctx.maxBodyBytes);
    if (body.length === 0) throw badRequest('the request body is empty; send a PNG or JPEG image');
    let feeds;
    try {
      feeds = imageFeeds(model, body, ctx.maxImagePixels);
    } catch (error) {
      if (error instanceof ImageDecodeError) throw badRequest(`undecodable image: ${error.message}`);
      if (error instanceof InvalidArgumentError) throw badRequest(error.message);
      throw error;
    }
    marks.input();
    const outputs = await run(ctx, model, feeds, marks.timing);
    marks.infer();
    return { rows: 1, reply: { status: 200, body: { model_name: model.name, model_version: model.version, predictions: topK(model, outputs, k) } } };
  });
}

const ROUTES: readonly Route[] = [
  { name: 'server_metadata', pattern: /^\/v2\/?$/, methods: {
    GET: (ctx) => ({ status: 200, body: { name: ctx.serverName, version: ctx.serverVersion, extensions: EXTENSIONS } }) } },
  ...EXTENSION_ROUTES,
  { name: 'live', pattern: /^\/v2\/health\/live$/, methods: { GET: () => ({ status: 200, body: { live: true } }) } },
  { name: 'ready', pattern: /^\/v2\/health\/ready$/, methods: {
    GET: (ctx) => (ctx.draining() ? { status: 503, body: { ready: false } } : { status: 200, body: { ready: true } }) } },
  { name: 'model_metadata', pattern: new RegExp(`^${MODEL}$`), methods: {
    GET: (ctx, [name, version]) => {
      const model = findModel(ctx, name!, version);
      return { status: 200, body: { ...model.metadata, versions: version === undefined ? ctx.repository.readyVersions(model.name) : [model.version] } };
    } } },
  { name: 'model_ready', pattern: new RegExp(`^${MODEL}/ready$`), methods: {
    GET: (ctx, [name, version]) => {
      let model: ServedModel;
      try {
        model = findModel(ctx, name!, version);
      } catch (error) {
        if (error instanceof ModelUnavailableError) {
          return { status: 503, body: { name: decodeName(name!), ready: false, ...(error.loadFailed ? { error: error.reason } : {}) } };
        }
        throw error;
      }
      return ctx.draining() ? { status: 503, body: { name: model.name, ready: false } } : { status: 200, body: { name: model.name, ready: true } };
    } } },
  { name: 'infer', pattern: new RegExp(`^${MODEL}/infer$`), methods: { POST: infer } },
  { name: 'classify', pattern: /^\/v1\/models\/([^/]+)\/classify$/, methods: { POST: classify } },
  { name: 'metrics', pattern: /^\/metrics$/, methods: {
    GET: async (ctx) => ({ status: 200, body: await ctx.metrics.registry.metrics(), contentType: ctx.metrics.registry.contentType }) } },
];

/**
 * Finds the route for a path (404 when none). `handler` is undefined when the path exists but not for this
 * method (the caller answers 405 with `allowed`); HEAD is served by the GET handler (node drops the body).
 */
export function matchRoute(method: string, path: string): { name: string; handler?: Handler; params: ReadonlyArray<string | undefined>; allowed: string[] } {
  for (const route of ROUTES) {
    const match = route.pattern.exec(path);
    if (!match) continue;
    const allowed = Object.keys(route.methods);
    if (allowed.includes('GET')) allowed.push('HEAD');
    return { name: route.name, handler: route.methods[method === 'HEAD' ? 'GET' : method], params: match.slice(1), allowed };
  }
  throw notFound(`no route for ${path} (see GET /v2, /v2/models/{name}, POST /v2/models/{name}/infer, POST /v1/models/{name}/classify, GET /metrics)`);
}
