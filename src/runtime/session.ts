/**
 * A thin layer over onnxruntime-node sessions: one place that knows how to ask for the CPU or WebGPU
 * execution provider, validates feeds with errors that name the bad argument, and cleans up.
 */
import { channel } from 'node:diagnostics_channel';
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type ort from 'onnxruntime-node';
import { onnxruntime } from './ort.js';
import { InvalidArgumentError } from '../../graph-rewrite/errors.js';
import { prepareWebGpuEnvironment } from './webgpu-env.js';
import { checkFeeds as checkTensorFeeds, RuntimeError, type TensorType, type ValueInfo } from './backend.js';

export type ExecutionProvider = 'cpu' | 'webgpu';

/**
 * The diagnostics channel (node:diagnostics_channel) on which every session created or released here is
 * published as a {@link SessionEvent}: tools and tests can count onnxruntime sessions without wrapping it.
 */
export const SESSION_CHANNEL = 'vitlin:runtime:session';
export interface SessionEvent {
  readonly event: 'create' | 'release';
  readonly label: string;
  /** What the session was created from: a file path or bytes in memory. */
  readonly from: 'file' | 'bytes';
}
const sessionEvents = channel(SESSION_CHANNEL);
export const EXECUTION_PROVIDERS: readonly ExecutionProvider[] = ['cpu', 'webgpu'];

export interface SessionOptions {
  /** Execution provider; default 'cpu'. */
  readonly ep?: ExecutionProvider;
  /** Intra-op threads (CPU EP); default: onnxruntime's choice. */
  readonly intraOpThreads?: number;
  /** Write an onnxruntime profile (JSON) with this path prefix; see {@link measureNodePlacement}. */
  readonly profileFilePrefix?: string;
  /** onnxruntime log severity: 0 verbose … 4 fatal; default 3 (errors only). */
  readonly logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
  /** Graph optimization level; default 'all'. */
  readonly graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
}

export { RuntimeError } from './backend.js';

export type Feeds = Record<string, ort.Tensor>;

export interface RuntimeSession {
  readonly ep: ExecutionProvider;
  readonly inputs: readonly ort.InferenceSession.ValueMetadata[];
  readonly outputs: readonly ort.InferenceSession.ValueMetadata[];
  run(feeds: Feeds): Promise<Record<string, ort.Tensor>>;
  /** Ends profiling (when enabled) and returns the profile file's path. */
  endProfiling(): string | undefined;
  release(): Promise<void>;
}

function checkEp(ep: unknown): ExecutionProvider {
  if (ep === undefined) return 'cpu';
  if (typeof ep === 'string' && (EXECUTION_PROVIDERS as readonly string[]).includes(ep)) return ep as ExecutionProvider;
  throw new InvalidArgumentError(`'ep' must be one of ${EXECUTION_PROVIDERS.join(', ')}, got ${JSON.stringify(ep)}`);
}

/** A session input or output as the backend interface describes it (non-tensors have no shape). */
export function valueInfoOf(metadata: ort.InferenceSession.ValueMetadata): ValueInfo {
  return metadata.isTensor
    ? { name: metadata.name, isTensor: true, type: metadata.type as TensorType, shape: metadata.shape }
    : { name: metadata.name, isTensor: false, shape: [] };
}

/** Checks `feeds` against the session's inputs: every input present, each an ort.Tensor of the declared type and rank. */
export function checkFeeds(inputs: readonly ort.InferenceSession.ValueMetadata[], feeds: unknown): Feeds {
  return checkTensorFeeds(inputs.map(valueInfoOf), feeds, { test: (value) => value instanceof onnxruntime().Tensor, what: 'an ort.Tensor' }) as unknown as Feeds;
}

/**
 * Creates an onnxruntime-node session on the CPU or WebGPU EP. `model` is a file path or the model's bytes;
 * `label` names the model in errors (defaults to the path).
 */
export async function createSession(model: string | Uint8Array, options: SessionOptions = {}, label?: string): Promise<RuntimeSession> {
  const ep = checkEp(options.ep);
  const name = label ?? (typeof model === 'string' ? model : '<bytes>');
  if (ep === 'webgpu') prepareWebGpuEnvironment();
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    executionProviders: [ep],
    graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
    logSeverityLevel: options.logSeverityLevel ?? 3,
    ...(options.intraOpThreads ? { intraOpNumThreads: options.intraOpThreads } : {}),
    ...(options.profileFilePrefix ? { enableProfiling: true, profileFilePrefix: options.profileFilePrefix } : {}),
  };
  let session: ort.InferenceSession;
  try {
    session = typeof model === 'string'
      ? await onnxruntime().InferenceSession.create(model, sessionOptions)
      : await onnxruntime().InferenceSession.create(model, sessionOptions);
  } catch (cause) {
    throw new RuntimeError(`${name}: onnxruntime could not load the model on ${ep}: ${(cause as Error).message}`, { cause });
  }
  const from = typeof model === 'string' ? 'file' : 'bytes';
  if (sessionEvents.hasSubscribers) sessionEvents.publish({ event: 'create', label: name, from } satisfies SessionEvent);
  let profilePath: string | undefined;
  return {
    ep,
    inputs: session.inputMetadata,
    outputs: session.outputMetadata,
    async run(feeds) {
      const checked = checkFeeds(session.inputMetadata, feeds);
      try {
        return await session.run(checked);
      } catch (cause) {
        throw new RuntimeError(`${name}: onnxruntime run failed on ${ep}: ${(cause as Error).message}`, { cause });
      }
    },
    endProfiling() {
      if (!options.profileFilePrefix) return undefined;
      // onnxruntime-node's endProfiling returns nothing; the file is `<prefix>_<timestamp>.json`.
      session.endProfiling();
      profilePath ??= findProfileFile(options.profileFilePrefix);
      return profilePath;
    },
    async release() {
      await session.release();
      if (sessionEvents.hasSubscribers) sessionEvents.publish({ event: 'release', label: name, from } satisfies SessionEvent);
    },
  };
}

function findProfileFile(prefix: string): string | undefined {
  const folder = dirname(prefix);
  const stem = basename(prefix);
  const candidates = readdirSync(folder).filter((f) => f.startsWith(stem) && f.endsWith('.json')).sort();
  const last = candidates.at(-1);
  return last === undefined ? undefined : join(folder, last);
}
