/**
 * The routes of the protocol's extensions beyond inference: the model repository (index, load, unload),
 * per-model statistics and the model configuration, as Triton exposes them.
 */
import { badRequest } from './errors.js';
import { decodeContent } from './compression.js';
import { readBody } from './http.js';
import { describePreprocessing, type ServedModel } from './models.js';
import type { Reply, Route, RouteContext } from './routes.js';

/** The extensions the server metadata lists. */
export const EXTENSIONS = ['binary_tensor_data', 'model_repository', 'statistics', 'model_configuration'];

/** A model name from the path, percent-decoded. */
export function decodeName(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw badRequest(`the model name in the path is not valid percent-encoding: ${raw}`);
  }
}

/** The body as a JSON object; an empty body is `{}` (the extension's request objects are all optional fields). */
async function optionalJson(ctx: RouteContext): Promise<Record<string, unknown>> {
  const body = await decodeContent(await readBody(ctx.req, ctx.maxBodyBytes, ctx.signal), ctx.req.headers['content-encoding'], ctx.maxBodyBytes);
  ctx.bodyRead();
  if (body.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw badRequest(`malformed JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badRequest('the request body must be a JSON object');
  return value as Record<string, unknown>;
}

function parameters(body: Record<string, unknown>): Record<string, unknown> {
  if (body.parameters === undefined) return {};
  if (typeof body.parameters !== 'object' || body.parameters === null || Array.isArray(body.parameters)) throw badRequest(`'parameters' must be an object`);
  return body.parameters as Record<string, unknown>;
}

async function index(ctx: RouteContext): Promise<Reply> {
  const body = await optionalJson(ctx);
  if (body.ready !== undefined && typeof body.ready !== 'boolean') throw badRequest(`'ready' must be true or false, got ${JSON.stringify(body.ready)}`);
  return { status: 200, body: ctx.repository.index(body.ready === true) };
}

async function load(ctx: RouteContext, [rawName]: ReadonlyArray<string | undefined>): Promise<Reply> {
  const name = decodeName(rawName!);
  const { config } = parameters(await optionalJson(ctx));
  if (config !== undefined && typeof config !== 'string') throw badRequest(`parameters.config must be a string holding the model's config JSON, got ${typeof config}`);
  await ctx.repository.load(name, config);
  return { status: 200, body: { name, load: true } };
}

async function unload(ctx: RouteContext, [rawName]: ReadonlyArray<string | undefined>): Promise<Reply> {
  const name = decodeName(rawName!);
  await optionalJson(ctx); // unload_dependents has no meaning here: no model depends on another
  await ctx.repository.unload(name);
  return { status: 200, body: { name, unload: true } };
}

function stats(ctx: RouteContext, [rawName, version]: ReadonlyArray<string | undefined>): Reply {
  const models = ctx.repository.select(rawName === undefined ? undefined : decodeName(rawName), version);
  return { status: 200, body: { model_stats: models.map((m) => m.stats.toJson(m.name, m.version)) } };
}

/** The configuration a model version runs with: its vitlin.json's values, else the server's. */
function modelConfig(model: ServedModel): Record<string, unknown> {
  const { maxBatch, maxDelayMs, maxQueue, preferredBatchSizes, instanceCount } = model.settings;
  return {
    name: model.name,
    version: model.version,
    platform: model.metadata.platform,
    ...(model.config ? { file: model.config.file, version_policy: model.config.versionPolicy } : {}),
    max_batch_size: model.batchable ? maxBatch : 0,
    batching: { max_queue_delay_ms: maxDelayMs, preferred_batch_sizes: preferredBatchSizes, max_queue_size: maxQueue },
    instance_count: instanceCount,
    labels: model.labels ?? null,
    preprocessing: describePreprocessing(model) ?? null,
    inputs: model.metadata.inputs,
    outputs: model.metadata.outputs,
  };
}

const MODEL = '/v2/models/([^/]+)(?:/versions/([^/]+))?';

/** Listed before the model routes: `/v2/models/stats` is the statistics of all models, not a model named "stats". */
export const EXTENSION_ROUTES: readonly Route[] = [
  { name: 'repository_index', pattern: /^\/v2\/repository\/index$/, methods: { POST: index } },
  { name: 'repository_load', pattern: /^\/v2\/repository\/models\/([^/]+)\/load$/, methods: { POST: load } },
  { name: 'repository_unload', pattern: /^\/v2\/repository\/models\/([^/]+)\/unload$/, methods: { POST: unload } },
  { name: 'stats', pattern: /^\/v2\/models\/stats$/, methods: { GET: (ctx) => stats(ctx, []) } },
  { name: 'stats', pattern: new RegExp(`^${MODEL}/stats$`), methods: { GET: stats } },
  { name: 'model_config', pattern: new RegExp(`^${MODEL}/config$`), methods: {
    GET: (ctx, [name, version]) => ({ status: 200, body: modelConfig(ctx.repository.resolve(decodeName(name!), version)) }) } },
];
