/**
 * A served model's `vitlin.json`: the file the CLI reads too (src/data/preprocess-config.ts reads its
 * `preprocess` and `labels` sections, with the same errors), plus the server's own sections — Triton's
 * config.pbtxt knobs, as JSON:
 *
 *     {
 *       "max_batch_size": 8,
 *       "batching": { "max_queue_delay_ms": 2, "preferred_batch_sizes": [4, 8], "max_queue_size": 256 },
 *       "instance_count": 1,
 *       "version_policy": { "latest": { "num_versions": 1 } },
 *       "preprocess": { … }, "labels": …
 *     }
 *
 * Every field is optional; the server's flags give what a model does not set. The format is described once,
 * in docs/model-config.md.
 */
import { existsSync } from 'node:fs';
import {
  ConfigReader, findModelConfig, FOLDER_CONFIG_NAME, MODEL_CONFIG_SUFFIX, ModelConfigError, parseModelConfig as parseSharedConfig, readModelConfig as readSharedConfig,
  type ModelConfig as SharedModelConfig,
} from '../data/preprocess-config.js';
import { withPreprocessDefaults, type PreprocessingConfig } from '../data/preprocess-recipe.js';

export { ModelConfigError, type ImageLayout } from '../data/preprocess-config.js';
export { chwToHwc, configuredImageRecipe, type PreprocessingConfig } from '../data/preprocess-recipe.js';

/** The config in a model's folder; beside a model file `<name>.onnx` it is `<name>.vitlin.json`. */
export const CONFIG_FILE = FOLDER_CONFIG_NAME;
export const CONFIG_SUFFIX = MODEL_CONFIG_SUFFIX;

/** Which versions of a model to serve (Triton's version_policy): the newest n, all, or the ones listed. */
export type VersionPolicy = { readonly latest: number } | { readonly all: true } | { readonly specific: readonly number[] };

export interface ModelConfig {
  /** The file it was read from. */
  readonly file: string;
  readonly maxBatchSize?: number;
  readonly maxQueueDelayMs?: number;
  readonly preferredBatchSizes?: readonly number[];
  readonly maxQueueSize?: number;
  readonly instanceCount: number;
  /** Undefined: the default, the newest version (repository models only). */
  readonly versionPolicy?: VersionPolicy;
  readonly labels?: readonly string[];
  readonly preprocess?: PreprocessingConfig;
}

const BATCHING_KEYS = ['max_queue_delay_ms', 'preferred_batch_sizes', 'max_queue_size'];

function readVersionPolicy(reader: ConfigReader): VersionPolicy | undefined {
  const policy = reader.child('version_policy');
  if (!policy) return undefined;
  const keys = Object.keys(policy.json);
  if (keys.length !== 1) reader.fail('version_policy', `must have exactly one of latest, all, specific, got ${JSON.stringify(policy.json)}`);
  const [kind] = keys as [string];
  const body = policy.child(kind);
  if (kind === 'latest') return { latest: body?.int('num_versions', 1) ?? 1 };
  if (kind === 'all') return { all: true };
  if (kind === 'specific') {
    const versions = body?.ints('versions', 1);
    return versions ? { specific: versions } : policy.fail('specific.versions', 'must list the versions to serve');
  }
  return policy.fail(kind, 'is not a version policy (latest, all, specific)');
}

/**
 * The server's view of a config the shared reader has read: its own sections, checked, and the
 * preprocessing with defaults. The CLI calls it too, to check a file whole.
 */
export function servingConfig(shared: SharedModelConfig): ModelConfig {
  const { file } = shared;
  const reader = new ConfigReader(file, { ...shared.extra });
  const batching = reader.child('batching');
  batching?.only(BATCHING_KEYS);
  const maxBatchSize = reader.int('max_batch_size', 1);
  const preferred = batching?.ints('preferred_batch_sizes', 1);
  if (preferred && maxBatchSize !== undefined && preferred.some((p) => p > maxBatchSize)) {
    batching!.fail('preferred_batch_sizes', `must not exceed max_batch_size ${maxBatchSize}, got ${JSON.stringify(preferred)}`);
  }
  const maxQueueDelayMs = batching?.int('max_queue_delay_ms', 0);
  const maxQueueSize = batching?.int('max_queue_size', 1);
  const versionPolicy = readVersionPolicy(reader);
  return {
    file,
    ...(maxBatchSize !== undefined ? { maxBatchSize } : {}),
    ...(maxQueueDelayMs !== undefined ? { maxQueueDelayMs } : {}),
    ...(preferred ? { preferredBatchSizes: [...preferred].sort((a, b) => a - b) } : {}),
    ...(maxQueueSize !== undefined ? { maxQueueSize } : {}),
    instanceCount: reader.int('instance_count', 1) ?? 1,
    ...(versionPolicy ? { versionPolicy } : {}),
    ...(shared.labels ? { labels: shared.labels } : {}),
    ...(shared.preprocess ? { preprocess: withPreprocessDefaults(shared.preprocess) } : {}),
  };
}

/** Reads and validates a model's config from a JSON value (a file's content, or a load request's). */
export function parseModelConfig(file: string, json: unknown): ModelConfig {
  return servingConfig(parseSharedConfig(json, file));
}

/** Reads a config file; undefined when there is none. */
export function readModelConfig(file: string): ModelConfig | undefined {
  return existsSync(file) ? servingConfig(readSharedConfig(file)) : undefined;
}

/** A model file's or HF folder's config, looked for where the CLI looks (`modelConfigCandidates`); undefined when none. */
export function findServingConfig(modelPath: string, folder?: string): ModelConfig | undefined {
  const shared = findModelConfig(modelPath, folder);
  return shared ? servingConfig(shared) : undefined;
}
