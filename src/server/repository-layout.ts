/**
 * The model repository layout, as Triton and KServe lay it out: one folder per model, named after it,
 * holding an optional `vitlin.json` (Triton's config.pbtxt; see model-config.ts) and one numeric folder
 * per version:
 *
 *     repo/
 *       fmnist/
 *         vitlin.json
 *         labels.txt
 *         1/model.onnx
 *         2/model.onnx
 *
 * Which versions are served follows the config's version_policy (default: the newest one).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CONFIG_FILE, readModelConfig, ModelConfigError, type ModelConfig } from './model-config.js';

export const VERSION_MODEL_FILE = 'model.onnx';

/** One served version of a repository model. */
export interface RepositoryVersion {
  readonly version: string;
  readonly path: string;
}

const isVersionName = (name: string) => /^[1-9]\d*$/.test(name);

function versionFolders(folder: string): number[] {
  if (!existsSync(folder) || !statSync(folder).isDirectory()) return [];
  return readdirSync(folder, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && isVersionName(entry.name))
    .map((entry) => Number(entry.name))
    .sort((a, b) => a - b);
}

/** A folder is a repository model when it has at least one version folder (`1/`, `2/`, …). */
export function isRepositoryModelFolder(folder: string): boolean {
  return versionFolders(folder).length > 0;
}

/**
 * Reads a repository model folder: its config (or `config`, given instead of its vitlin.json) and the
 * versions its version policy serves, oldest first.
 */
export function readRepositoryModel(folder: string, config = readModelConfig(join(folder, CONFIG_FILE))): { name: string; folder: string; config?: ModelConfig; versions: RepositoryVersion[] } {
  const present = versionFolders(folder);
  const policy = config?.versionPolicy ?? { latest: 1 };
  let chosen: number[];
  if ('latest' in policy) chosen = present.slice(-policy.latest);
  else if ('all' in policy) chosen = present;
  else {
    const missing = policy.specific.filter((v) => !present.includes(v));
    if (missing.length > 0) throw new ModelConfigError(config!.file, 'version_policy.specific.versions', `lists ${missing.join(', ')}, which ${folder} does not have (versions: ${present.join(', ')})`);
    chosen = [...policy.specific].sort((a, b) => a - b);
  }
  const versions = chosen.map((v) => {
    const path = join(folder, String(v), VERSION_MODEL_FILE);
    if (!existsSync(path)) throw new ModelConfigError(join(folder, String(v)), undefined, `is a version folder without ${VERSION_MODEL_FILE}`);
    return { version: String(v), path };
  });
  return { name: basename(folder), folder, ...(config ? { config } : {}), versions };
}
