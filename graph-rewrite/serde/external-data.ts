/**
 * ONNX external data (tensors with `data_location = EXTERNAL`, bytes kept in a side file next to the
 * model). Browser-safe: reading goes through a callback, so Node (model-file.ts) and browsers (fetch)
 * plug in their own I/O.
 *
 * A location is untrusted input from the model file: it must be a relative path that stays inside the
 * model's folder, or a downloaded model could read `/etc/passwd` or `../../.ssh/id_rsa`.
 */
import { ExternalDataError, InvalidArgumentError } from '../errors.js';
import {
  DataLocation, ONNX_SCHEMA, type MessageName, type ModelProto, type StringStringEntryProto, type TensorProto,
} from './onnx-schema.js';

export interface ExternalDataInfo {
  /** Normalised relative POSIX path (`weights/model.data`), checked to stay inside the model's folder. */
  location: string;
  /**
   * The location as written, with `/` separators and `..` kept: what to open. The file system resolves it
   * as onnxruntime does (`sub/../w.bin` needs `sub/`; through a symlinked `sub/`, `..` is the link target's
   * parent) — the reader then checks that the file it reaches is inside the folder.
   */
  path: string;
  offset: number;
  /** Undefined: up to the end of the file. */
  length: number | undefined;
  /** SHA1 hex digest if the writer recorded one (not verified here). */
  checksum: string | undefined;
}

/** Side-file offsets are aligned like onnx/onnxruntime do, so the data can be memory-mapped. */
export const EXTERNAL_DATA_ALIGNMENT = 4096;
/** onnx's default: smaller tensors stay inline. */
export const DEFAULT_EXTERNAL_SIZE_THRESHOLD = 1024;

export function isExternalTensor(tensor: TensorProto): boolean {
  return tensor.data_location === DataLocation.EXTERNAL;
}

/**
 * Checks an external-data location and returns it normalised (`a/./b` → `a/b`). Backslashes count as
 * separators, since onnxruntime on Windows treats them so. Throws ExternalDataError (without the tensor
 * name; callers add it) for empty, NUL, absolute, drive-letter / UNC, and `..`-escaping paths.
 */
export function validateExternalLocation(location: string): string {
  const bad = (why: string): never => {
    throw new ExternalDataError(`location ${JSON.stringify(location)} ${why}`);
  };
  if (typeof location !== 'string' || location.length === 0) bad('is empty');
  if (location.includes('\0')) bad('contains a NUL character');
  if (/^[\\/]/.test(location)) bad('is an absolute path; it must be relative to the model\'s folder');
  if (/^[A-Za-z]:/.test(location)) bad('starts with a drive letter; it must be relative to the model\'s folder');
  const segments: string[] = [];
  for (const segment of location.split(/[\\/]+/)) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (segments.length === 0) bad('escapes the model\'s folder (`..`)');
      segments.pop();
    } else segments.push(segment);
  }
  if (segments.length === 0) bad('does not name a file');
  return segments.join('/');
}

function parseByteCount(key: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new ExternalDataError(`${key} ${JSON.stringify(value)} is not a non-negative integer`);
  if (!Number.isSafeInteger(Number(value))) {
    const digits = value.replace(/^0+(?=\d)/, '');
    const shown = digits.length > 24 ? `${digits.slice(0, 12)}…(${digits.length} digits)` : digits;
    throw new ExternalDataError(`${key} ${shown} is larger than any file can be (over 2^53 − 1 bytes)`);
  }
  return Number(value);
}

function readEntries(tensor: TensorProto): ExternalDataInfo {
  const entries = new Map<string, string | undefined>();
  for (const entry of tensor.external_data) if (entry.key !== undefined) entries.set(entry.key, entry.value);
  const location = entries.get('location');
  if (location === undefined) throw new ExternalDataError('has no "location" entry');
  return {
    location: validateExternalLocation(location),
    path: location.split(/[\\/]+/).filter((segment) => segment !== '' && segment !== '.').join('/'),
    offset: parseByteCount('offset', entries.get('offset')) ?? 0,
    length: parseByteCount('length', entries.get('length')),
    checksum: entries.get('checksum'),
  };
}

/**
 * Reads and validates a tensor's `external_data` entries. Throws ExternalDataError
 * `tensor 'W' at graph.initializer[0]: external data location "../x" escapes the model's folder (`..`)`.
 */
export function parseExternalDataInfo(tensor: TensorProto, path?: string): ExternalDataInfo {
  try {
    return readEntries(tensor);
  } catch (error) {
    if (!(error instanceof ExternalDataError)) throw error;
    throw new ExternalDataError(`tensor ${tensorLabel(tensor, path)}: external data ${error.message}`, { cause: error });
  }
}

function tensorLabel(tensor: TensorProto, path?: string): string {
  const name = tensor.name === undefined ? '(unnamed)' : `'${tensor.name}'`;
  return path === undefined ? name : `${name} at ${path}`;
}

// Which messages can (transitively) hold a TensorProto: the walk skips the rest (types, value infos, …).
const holdsTensors = new Map<MessageName, boolean>();
function canHoldTensors(name: MessageName): boolean {
  if (holdsTensors.size === 0) {
    const names = Object.keys(ONNX_SCHEMA) as MessageName[];
    for (const n of names) holdsTensors.set(n, n === 'TensorProto');
    for (let changed = true; changed;) { // fixed point: graphs and attributes refer to each other
      changed = false;
      for (const n of names) {
        if (holdsTensors.get(n)) continue;
        if (Object.values(ONNX_SCHEMA[n]).some((f) => f.message !== undefined && holdsTensors.get(f.message))) {
          holdsTensors.set(n, true);
          changed = true;
        }
      }
    }
  }
  return holdsTensors.get(name) === true;
}

export interface TensorVisit {
  tensor: TensorProto;
  /** Proto path, e.g. `graph.node[3].attribute[0].t`. */
  path: string;
  /** True for GraphProto.initializer entries (of the main graph or any subgraph). */
  isInitializer: boolean;
}

/** Every TensorProto in the model: initializers, sparse tensors, attribute tensors, in subgraphs, functions, training info. */
export function collectTensors(model: ModelProto): TensorVisit[] {
  const found: TensorVisit[] = [];
  const walk = (name: MessageName, msg: Record<string, unknown>, path: string): void => {
    const schema = ONNX_SCHEMA[name];
    for (const spec of Object.values(schema)) {
      if (spec.message === undefined || !canHoldTensors(spec.message)) continue;
      const value = msg[spec.name];
      if (value === undefined || value === null) continue;
      const visit = (child: Record<string, unknown>, childPath: string): void => {
        if (spec.message === 'TensorProto') {
          found.push({ tensor: child as unknown as TensorProto, path: childPath, isInitializer: name === 'GraphProto' && spec.name === 'initializer' });
        }
        walk(spec.message!, child, childPath);
      };
      const prefix = path === '' ? spec.name : `${path}.${spec.name}`;
      if (spec.repeated === true) (value as Record<string, unknown>[]).forEach((child, i) => visit(child, `${prefix}[${i}]`));
      else visit(value as Record<string, unknown>, prefix);
    }
  };
  walk('ModelProto', model as unknown as Record<string, unknown>, '');
  return found;
}

/**
 * Reads an external file's bytes. May return fewer bytes than `length` at the end of the file (reported
 * as "past the end"); throw for a missing file: the error is wrapped with the tensor's name.
 */
export type ExternalDataReader = (location: string, offset: number, length: number | undefined) => Promise<Uint8Array>;

/**
 * Replaces every external tensor of the model (subgraphs, function bodies and training info included)
 * by inline raw_data, in place. Errors are ExternalDataErrors naming the tensor, its location and the problem.
 */
export async function resolveExternalData(
  model: ModelProto, read: ExternalDataReader, options: { source?: string } = {},
): Promise<void> {
  const prefix = options.source === undefined ? '' : `${options.source}: `;
  for (const { tensor, path } of collectTensors(model)) {
    if (!isExternalTensor(tensor)) continue;
    let info: ExternalDataInfo;
    try {
      info = parseExternalDataInfo(tensor, path);
    } catch (error) {
      throw new ExternalDataError(`${prefix}${(error as Error).message}`, { cause: error });
    }
    const where = `${prefix}tensor ${tensorLabel(tensor, path)}: external data ${JSON.stringify(info.location)} ` +
      `(offset ${info.offset}, length ${info.length ?? 'to end of file'})`;
    let bytes: Uint8Array;
    try {
      bytes = await read(info.path, info.offset, info.length);
    } catch (error) {
      throw new ExternalDataError(`${where}: ${(error as Error).message}`, { cause: error });
    }
    if (info.length !== undefined && bytes.length !== info.length) {
      throw new ExternalDataError(`${where}: ${bytes.length < info.length
        ? `offset + length is past the end of the file (only ${bytes.length} bytes there)`
        : `the reader returned ${bytes.length} bytes`}`);
    }
    tensor.raw_data = bytes;
    tensor.external_data = [];
    delete tensor.data_location;
  }
}

export interface ExternalizeOptions {
  /** Side file name, relative to the model's folder. */
  location: string;
  /** Initializers whose raw_data has at least this many bytes move out (default 1024, as onnx). */
  sizeThreshold?: number;
  /** Offset alignment in the side file (default 4096). */
  alignment?: number;
}

export interface ExternalizedModel {
  /** A copy of the model (only the changed path is copied; everything else is shared) referring to the side file. */
  model: ModelProto;
  /** The side file's bytes as chunks: zero padding and the tensors' own raw_data views (no copy). */
  data: Uint8Array[];
  /** Total bytes of `data`. */
  dataLength: number;
}

/**
 * Moves initializers (of every graph, subgraphs included) with raw_data ≥ sizeThreshold into one side
 * file, as onnx's `convert_model_to_external_data` does. Does not modify the given model.
 */
export function externalizeTensors(model: ModelProto, options: ExternalizeOptions): ExternalizedModel {
  const location = validateExternalLocation(options.location);
  const threshold = options.sizeThreshold ?? DEFAULT_EXTERNAL_SIZE_THRESHOLD;
  const alignment = options.alignment ?? EXTERNAL_DATA_ALIGNMENT;
  if (!(threshold >= 0)) throw new InvalidArgumentError(`'options.sizeThreshold' must be a non-negative number, got ${threshold}`);
  if (!Number.isInteger(alignment) || alignment < 1) {
    throw new InvalidArgumentError(`'options.alignment' must be a positive integer, got ${alignment}`);
  }
  const data: Uint8Array[] = [];
  let dataLength = 0;
  let zeros: Uint8Array | undefined; // padding is always shorter than one alignment unit

  const moveOut = (tensor: TensorProto): TensorProto => {
    const raw = tensor.raw_data;
    if (raw === undefined || raw.length < threshold || isExternalTensor(tensor)) return tensor;
    const offset = Math.ceil(dataLength / alignment) * alignment;
    if (offset > dataLength) {
      zeros ??= new Uint8Array(alignment);
      data.push(zeros.subarray(0, offset - dataLength));
    }
    if (raw.length > 0) data.push(raw);
    dataLength = offset + raw.length;
    const { raw_data: _moved, ...rest } = tensor;
    const entries: StringStringEntryProto[] = [
      { key: 'location', value: location }, { key: 'offset', value: String(offset) }, { key: 'length', value: String(raw.length) },
    ];
    return { ...rest, external_data: entries, data_location: DataLocation.EXTERNAL };
  };

  // Copy-on-write walk: a message is copied only when something below it changed.
  const rewrite = (name: MessageName, msg: Record<string, unknown>): Record<string, unknown> => {
    let copy: Record<string, unknown> | undefined;
    for (const spec of Object.values(ONNX_SCHEMA[name])) {
      if (spec.message === undefined) continue;
      if (spec.message === 'TensorProto') {
        if (!(name === 'GraphProto' && spec.name === 'initializer')) continue; // attribute tensors stay inline, as in onnx
      } else if (!canHoldTensors(spec.message)) continue;
      const value = msg[spec.name];
      if (value === undefined || value === null) continue;
      const map = (child: Record<string, unknown>): Record<string, unknown> => (spec.message === 'TensorProto'
        ? moveOut(child as unknown as TensorProto) as unknown as Record<string, unknown>
        : rewrite(spec.message!, child));
      if (spec.repeated === true) {
        const items = value as Record<string, unknown>[];
        let changed: Record<string, unknown>[] | undefined;
        items.forEach((item, i) => {
          const mapped = map(item);
          if (mapped !== item) (changed ??= items.slice())[i] = mapped;
        });
        if (changed !== undefined) (copy ??= { ...msg })[spec.name] = changed;
      } else {
        const mapped = map(value as Record<string, unknown>);
        if (mapped !== value) (copy ??= { ...msg })[spec.name] = mapped;
      }
    }
    return copy ?? msg;
  };

  const rewritten = rewrite('ModelProto', model as unknown as Record<string, unknown>) as unknown as ModelProto;
  return { model: rewritten, data, dataLength };
}
