/**
 * The model repository: every model the server knows, the versions it serves and their state, and the
 * repository extension's operations (Triton's model_repository):
 *
 * - index: rescans the folders the server was started with, so models added since show up (not loaded);
 * - load: reads a model from disk again (vitlin.json, versions) and loads it; a loaded model is reloaded
 *   with its new versions ready before the old ones go, and keeps serving if the reload fails;
 * - unload: stops routing to the model, lets queued and running requests finish, releases the sessions.
 *
 * States are Triton's: READY, LOADING, UNLOADING, UNAVAILABLE (with a reason: "unloaded", "not loaded",
 * or why loading failed). `served` maps each ready model to its default version (the newest).
 */
import { InvalidArgumentError } from '../../graph-rewrite/errors.js';
import { HttpError, notFound } from './errors.js';
import { discoverModels, loadModels, type LoadOptions, type ModelSource, type ServedModel } from './models.js';
import { parseModelConfig } from './model-config.js';
import { readRepositoryModel } from './repository-layout.js';

export type ModelState = 'READY' | 'LOADING' | 'UNLOADING' | 'UNAVAILABLE';

/** One row of the index: `$repository_index_response`. */
export interface IndexEntry {
  readonly name: string;
  readonly version?: string;
  readonly state: ModelState;
  readonly reason: string;
}

/** The model is known but has no version ready (unloaded, loading, failed to load). */
export class ModelUnavailableError extends HttpError {
  /** `loadFailed`: the reason is why loading failed (shown by the ready route). */
  constructor(name: string, readonly state: ModelState, readonly reason: string, readonly loadFailed = false) {
    super(503, `model '${name}' is not ready (${state}${reason ? `: ${reason}` : ''}); load it with POST /v2/repository/models/${encodeURIComponent(name)}/load`);
  }
}

interface Entry {
  readonly name: string;
  /** Ready versions, oldest first. */
  versions: ServedModel[];
  state: ModelState;
  reason: string;
  /** UNAVAILABLE because loading failed (the reason is the error), not because it was unloaded. */
  loadFailed?: boolean;
}

function renamed(sources: ModelSource[], name: string | undefined): ModelSource[] {
  if (name === undefined) return sources;
  const names = [...new Set(sources.map((s) => s.name))];
  if (names.length !== 1) throw new InvalidArgumentError(`'name' renames a single model, but ${names.length} were found (${names.join(', ')})`);
  if (name === '' || name.includes('/')) throw new InvalidArgumentError(`'name' must be non-empty and without '/', got ${JSON.stringify(name)}`);
  return sources.map((source) => ({ ...source, name }));
}

const byVersion = (a: ServedModel, b: ServedModel) => Number(a.version) - Number(b.version);

export class ModelRepository {
  /** Ready models by name, each at its default (newest) version: what the routes serve. */
  readonly served = new Map<string, ServedModel>();
  private readonly entries = new Map<string, Entry>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private released = false;

  private constructor(private readonly paths: readonly string[], private readonly rename: string | undefined, private readonly options: LoadOptions) {}

  /**
   * Finds and loads every model under `paths`. One that fails to load (a bad file in a folder) does not
   * stop the others: it stays UNAVAILABLE with the reason. Only when nothing loads does the start fail
   * (with the one error, or all of them).
   */
  static async open(paths: readonly string[], rename: string | undefined, options: LoadOptions): Promise<ModelRepository> {
    const repository = new ModelRepository(paths, rename, options);
    const sources = repository.discover();
    const failures: Error[] = [];
    for (const source of sources) {
      const entry = repository.entry(source.name);
      try {
        const [model] = await loadModels([source], options);
        entry.versions.push(model!);
        entry.state = 'READY';
        options.onLoaded?.(model!);
      } catch (error) {
        failures.push(error as Error);
        if (entry.versions.length === 0) Object.assign(entry, { state: 'UNAVAILABLE', reason: (error as Error).message, loadFailed: true });
      }
    }
    if (sources.length > 0 && failures.length === sources.length) {
      if (failures.length === 1) throw failures[0]!;
      throw new InvalidArgumentError(`no model could be loaded: ${failures.map((e) => e.message).join('; ')}`);
    }
    for (const name of repository.entries.keys()) repository.refresh(name);
    return repository;
  }

  /** Models found at the start that could not be loaded, with the reason. */
  unavailable(): IndexEntry[] {
    return [...this.entries.values()].filter((e) => e.versions.length === 0 && e.state === 'UNAVAILABLE')
      .map(({ name, state, reason }) => ({ name, state, reason }));
  }

  /** Every model name the server knows, loaded or not, in the order they were found. */
  names(): string[] {
    return [...this.entries.keys()];
  }

  /** The ready version `version` of a model, or its newest; 404 for unknown names and versions, 503 when not ready. */
  resolve(name: string, version?: string): ServedModel {
    const entry = this.entries.get(name);
    if (!entry) throw notFound(`unknown model '${name}' (models: ${this.names().join(', ')})`);
    if (entry.versions.length === 0) throw new ModelUnavailableError(name, entry.state, entry.reason, entry.loadFailed);
    if (version === undefined) return entry.versions.at(-1)!;
    const found = entry.versions.find((v) => v.version === version);
    if (!found) throw notFound(`model '${name}' has no version '${version}' (versions: ${this.readyVersions(name).join(', ')})`);
    return found;
  }

  readyVersions(name: string): string[] {
    return (this.entries.get(name)?.versions ?? []).map((v) => v.version);
  }

  /** The ready versions a statistics request covers: all models, one model, or one version. */
  select(name?: string, version?: string): ServedModel[] {
    if (name === undefined) return [...this.entries.values()].flatMap((e) => e.versions);
    const model = this.resolve(name, version);
    return version === undefined ? [...this.entries.get(name)!.versions] : [model];
  }

  /** The repository index; rescans the disk so models added since the start are listed (not loaded). */
  index(readyOnly = false): IndexEntry[] {
    const problems = new Map<string, string>();
    const onDisk = this.rescan((name, error) => problems.set(name, error.message)).map((s) => s.name);
    const names = [...new Set([...this.entries.keys(), ...onDisk, ...problems.keys()])].sort();
    const rows = names.flatMap((name): IndexEntry[] => {
      const entry = this.entries.get(name);
      if (entry && entry.versions.length > 0) return entry.versions.map((v) => ({ name, version: v.version, state: 'READY', reason: '' }));
      if (entry && (entry.state !== 'UNAVAILABLE' || !problems.has(name))) return [{ name, state: entry.state, reason: entry.reason }];
      return [{ name, state: 'UNAVAILABLE', reason: problems.get(name) ?? 'not loaded' }];
    });
    return readyOnly ? rows.filter((row) => row.state === 'READY') : rows;
  }

  /**
   * Loads (or reloads) a model from disk. `configJson`, when given, replaces a repository model's
   * vitlin.json for this load (the extension's `config` parameter). 404 when no such model is on disk,
   * 400 when it cannot be loaded (then a loaded model keeps serving its old versions).
   */
  load(name: string, configJson?: string): Promise<void> {
    return this.exclusive(name, async () => {
      const problems = new Map<string, Error>();
      let sources = this.rescan((found, error) => problems.set(found, error)).filter((s) => s.name === name);
      if (sources.length === 0 && !problems.has(name)) throw notFound(`no model '${name}' in the repository (${this.paths.join(', ')})`);
      const entry = this.entry(name);
      const failed = (error: Error): HttpError => {
        if (entry.versions.length === 0) Object.assign(entry, { state: 'UNAVAILABLE', reason: error.message, loadFailed: true });
        return new HttpError(400, `failed to load '${name}': ${error.message}`, {}, { cause: error });
      };
      const problem = problems.get(name);
      if (problem) throw failed(problem);
      if (configJson !== undefined) {
        try {
          sources = withConfig(sources, configJson);
        } catch (error) {
          throw failed(error as Error);
        }
      }
      if (entry.versions.length === 0) Object.assign(entry, { state: 'LOADING', reason: '', loadFailed: false });
      let loaded: ServedModel[];
      try {
        loaded = await loadModels(sources, this.options);
      } catch (error) {
        throw failed(error as Error);
      }
      if (this.released) {
        await Promise.all(loaded.map((m) => m.release()));
        throw new HttpError(503, 'the server is shutting down');
      }
      const old = entry.versions;
      for (const model of loaded) this.options.onLoaded?.(model);
      Object.assign(entry, { versions: loaded.sort(byVersion), state: 'READY', reason: '', loadFailed: false });
      this.refresh(name);
      await retire(old, `model '${name}' was reloaded; retry`);
    });
  }

  /** Unloads a model: new requests get 503 at once, queued and running ones finish, then the sessions go. */
  unload(name: string): Promise<void> {
    return this.exclusive(name, async () => {
      const entry = this.entries.get(name);
      if (!entry) {
        if (this.rescan(() => {}).some((s) => s.name === name)) return;
        throw notFound(`unknown model '${name}' (models: ${this.names().join(', ')})`);
      }
      const old = entry.versions;
      Object.assign(entry, { versions: [], state: 'UNLOADING', reason: '' });
      this.refresh(name);
      await retire(old, `model '${name}' was unloaded`);
      Object.assign(entry, { state: 'UNAVAILABLE', reason: 'unloaded', loadFailed: false });
    });
  }

  /** Shutdown, step 1: every batcher flushes its queue; resolves when nothing is queued or running. */
  async drain(): Promise<void> {
    await Promise.all([...this.entries.values()].flatMap((e) => e.versions.map((m) => m.batcher.drain())));
  }

  /** Shutdown, step 2: releases every session. */
  async release(): Promise<void> {
    this.released = true;
    await Promise.all([...this.entries.values()].flatMap((e) => e.versions.map((m) => m.release())));
  }

  private discover(onProblem?: (name: string, error: Error) => void): ModelSource[] {
    return renamed(discoverModels(this.paths, onProblem), this.rename);
  }

  /** discover() while serving: the folders themselves unreadable (removed, a name clash) is the server's problem, a 500. */
  private rescan(onProblem: (name: string, error: Error) => void): ModelSource[] {
    try {
      return this.discover(onProblem);
    } catch (error) {
      throw new HttpError(500, `cannot read the model repository: ${(error as Error).message}`, {}, { cause: error });
    }
  }

  private entry(name: string): Entry {
    let entry = this.entries.get(name);
    if (!entry) this.entries.set(name, entry = { name, versions: [], state: 'UNAVAILABLE', reason: 'not loaded' });
    return entry;
  }

  private refresh(name: string): void {
    const newest = this.entries.get(name)?.versions.at(-1);
    if (newest) this.served.set(name, newest);
    else this.served.delete(name);
  }

  /** Runs `task` after every earlier load / unload of the same model. */
  private exclusive<T>(name: string, task: () => Promise<T>): Promise<T> {
    const next = (this.locks.get(name) ?? Promise.resolve()).then(task, task);
    this.locks.set(name, next.catch(() => {}));
    return next;
  }
}

/** The sources of a repository model read again with `configJson` instead of its vitlin.json. */
function withConfig(sources: ModelSource[], configJson: string): ModelSource[] {
  const folder = sources[0]?.folder;
  if (!folder) throw new InvalidArgumentError(`parameters.config applies to models in a repository folder (with version folders), not to ${sources[0]?.path}`);
  let json: unknown;
  try {
    json = JSON.parse(configJson);
  } catch (cause) {
    throw new InvalidArgumentError(`parameters.config is not valid JSON: ${(cause as Error).message}`);
  }
  const model = readRepositoryModel(folder, parseModelConfig('parameters.config', json));
  return model.versions.map((v) => ({ ...sources[0]!, path: v.path, version: v.version, config: model.config }));
}

/** Takes models out of service: refuses new requests, lets taken ones finish, releases the sessions. */
async function retire(models: readonly ServedModel[], why: string): Promise<void> {
  await Promise.all(models.map((m) => m.batcher.close(new HttpError(503, why))));
  await Promise.all(models.map((m) => m.release()));
}
