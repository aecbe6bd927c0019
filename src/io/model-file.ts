/**
 * Reading and writing .onnx files in Node: external data resolved next to the model (never outside its
 * folder, symlinks included), and atomic writes (temp file in the same folder + rename), so a crash or
 * an error never leaves a half-written model where a good one was.
 */
import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, readFile, realpath, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { ExternalDataError, VitlinIoError } from '../../graph-rewrite/errors.js';
import { decodeModelProto } from '../../graph-rewrite/serde/decode.js';
import { MAX_MESSAGE_BYTES, encodeModelProto, serializedSize } from '../../graph-rewrite/serde/encode.js';
import {
  DEFAULT_EXTERNAL_SIZE_THRESHOLD, collectTensors, externalizeTensors, isExternalTensor, parseExternalDataInfo,
  resolveExternalData, validateExternalLocation,
} from '../../graph-rewrite/serde/external-data.js';
import type { ModelProto } from '../../graph-rewrite/serde/onnx-schema.js';

export interface ReadModelOptions {
  /** Replace external tensors by their bytes from the side files (default true). */
  loadExternalData?: boolean;
  /** Told what protobuf tolerates in the file (see DecodeOptions.onWarning). */
  onWarning?: (message: string) => void;
}

export interface WriteModelOptions {
  /**
   * Store large initializers in a side file. `true` uses `<model file name>.data` and onnx's 1024-byte
   * threshold. Models over protobuf's 2 GiB limit get external data even when this is not set.
   */
  externalData?: boolean | { location?: string; sizeThreshold?: number };
}

export interface WrittenModel {
  modelPath: string;
  /** The side file, when external data was written. */
  externalDataPath: string | undefined;
}

const REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'it is a directory',
  ENOTDIR: 'a parent of the path is not a directory',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EEXIST: 'already exists',
  ERR_FS_FILE_TOO_LARGE: 'the file is larger than 2 GiB, beyond what protobuf can hold',
};

function ioError(action: 'read' | 'write', path: string, error: unknown): VitlinIoError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const reason = code === 'ENOENT' ? (action === 'read' ? 'no such file' : 'no such directory')
    : (code !== undefined ? REASONS[code] : undefined) ?? (error as Error).message;
  return new VitlinIoError(`cannot ${action} ${path}: ${reason}`, { cause: error });
}

function asUint8Array(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** Reads an ONNX model; external data is loaded from files inside the model's folder. */
export async function readModelFile(path: string, options: ReadModelOptions = {}): Promise<ModelProto> {
  let bytes: Buffer;
  try {
    const stats = await stat(path);
    // A FIFO would block the read forever, a device might never end: refuse before opening.
    if (!stats.isFile() && !stats.isDirectory()) throw new VitlinIoError(`cannot read ${path}: it is ${fileKind(stats)}, not a regular file`);
    bytes = await readFile(path);
  } catch (error) {
    if (error instanceof VitlinIoError) throw error;
    throw ioError('read', path, error);
  }
  const source = basename(path);
  const model = decodeModelProto(asUint8Array(bytes), { source, ...(options.onWarning ? { onWarning: options.onWarning } : {}) });
  if (options.loadExternalData ?? true) {
    const reader = new ExternalFileReader(dirname(resolve(path)));
    try {
      await resolveExternalData(model, (location, offset, length) => reader.read(location, offset, length), { source });
    } finally {
      await reader.close();
    }
  }
  return model;
}

/** Reads side files, keeping one handle per file, and refuses any that resolves outside the model's folder. */
class ExternalFileReader {
  private readonly files = new Map<string, Promise<{ handle: FileHandle; size: number }>>();
  private realFolder: Promise<string> | undefined;

  constructor(private readonly folder: string) {}

  async read(location: string, offset: number, length: number | undefined): Promise<Uint8Array> {
    let opened = this.files.get(location);
    if (opened === undefined) {
      opened = this.openInsideFolder(location);
      this.files.set(location, opened);
    }
    const { handle, size } = await opened;
    if (offset > size) throw new Error(`offset is past the end of the file (${size} bytes)`);
    const count = length ?? size - offset;
    if (offset + count > size) {
      throw new Error(`offset + length = ${offset + count} is past the end of the file (${size} bytes)`);
    }
    const out = new Uint8Array(count);
    for (let done = 0; done < count;) { // read() returns at most 2 GiB per call
      const { bytesRead } = await handle.read(out, done, Math.min(count - done, 1 << 30), offset + done);
      if (bytesRead === 0) throw new Error(`the file ended early at byte ${offset + done}`);
      done += bytesRead;
    }
    return out;
  }

  private async openInsideFolder(location: string): Promise<{ handle: FileHandle; size: number }> {
    // Location is already validated as relative without escaping `..`; a symlink can still point out.
    // Not join(): it would resolve `sub/..` by the text, where onnxruntime lets the file system do it.
    const path = `${this.folder}${sep}${location}`;
    this.realFolder ??= realpath(this.folder);
    const folder = await this.realFolder;
    let real: string;
    try {
      real = await realpath(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new Error(code === 'ENOENT' ? `missing: no file ${path}` : `cannot open ${path}: ${(error as Error).message}`);
    }
    if (!real.startsWith(folder.endsWith(sep) ? folder : folder + sep)) {
      throw new Error(`escapes the model's folder through a symbolic link (${path} resolves to ${real})`);
    }
    // Checked before opening: opening a FIFO blocks until a writer comes (forever), a device may never end.
    const before = await stat(real).catch((error: unknown) => {
      throw new Error(`cannot open ${path}: ${ioError('read', path, error).message}`);
    });
    if (!before.isFile()) throw new Error(notRegularFile(path, before));
    // O_NONBLOCK: should the file be swapped for a FIFO after the check, open still returns (and fstat refuses it).
    const handle = await open(real, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0)).catch((error: unknown) => {
      throw new Error(`cannot open ${path}: ${ioError('read', path, error).message}`);
    });
    const stats = await handle.stat();
    if (!stats.isFile()) {
      await handle.close();
      throw new Error(notRegularFile(path, stats));
    }
    return { handle, size: stats.size };
  }

  async close(): Promise<void> {
    for (const opened of this.files.values()) {
      await opened.then(({ handle }) => handle.close(), () => undefined);
    }
    this.files.clear();
  }
}

function fileKind(stats: Stats): string {
  return stats.isFIFO() ? 'a FIFO (named pipe)' : stats.isSocket() ? 'a socket' : stats.isDirectory() ? 'a directory'
    : stats.isCharacterDevice() || stats.isBlockDevice() ? 'a device' : 'a special file';
}

function notRegularFile(path: string, stats: Stats): string {
  return `${path} is ${fileKind(stats)}, not a regular file; external data must be one`;
}

/** Writes `chunks` to a new file at `path` and syncs it (the data must be on disk before a rename makes it visible). */
async function writeChunks(path: string, chunks: readonly Uint8Array[]): Promise<void> {
  const handle = await open(path, 'wx');
  try {
    for (const chunk of chunks) {
      for (let done = 0; done < chunk.length;) {
        const { bytesWritten } = await handle.write(chunk, done, Math.min(chunk.length - done, 1 << 30));
        done += bytesWritten;
      }
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * A model written completely, under its final file names, into a hidden staging folder next to its
 * destination: `path` can be opened (onnxruntime finds the side file next to it) before `commit`
 * renames the files into place, or `discard` removes them.
 */
export interface StagedModel {
  /** The staged model file. */
  readonly path: string;
  commit(): Promise<WrittenModel>;
  discard(): Promise<void>;
}

/**
 * Encodes a model once and streams it into a staging folder beside `path` (tensor bytes are written
 * from the model's own buffers, never concatenated). See {@link writeModelFile} for the options.
 */
export async function stageModelFile(path: string, model: ModelProto, options: WriteModelOptions = {}): Promise<StagedModel> {
  const request = options.externalData ?? false;
  const wantExternal = request !== false || serializedSize('ModelProto', model) > MAX_MESSAGE_BYTES;
  let modelChunks: Uint8Array[];
  let side: { location: string; chunks: readonly Uint8Array[] } | undefined;
  if (!wantExternal) {
    modelChunks = encodeModelProto(model);
  } else {
    const settings = typeof request === 'object' ? request : {};
    const location = validateSideFileLocation(settings.location ?? `${basename(path)}.data`, path, model);
    const externalized = externalizeTensors(model, { location, sizeThreshold: settings.sizeThreshold ?? DEFAULT_EXTERNAL_SIZE_THRESHOLD });
    modelChunks = encodeModelProto(externalized.model); // throws before anything is written if still too large
    side = { location, chunks: externalized.data };
  }
  const staging = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const discard = (): Promise<void> => rm(staging, { recursive: true, force: true }).catch(() => undefined);
  const stagedModel = join(staging, basename(path));
  try {
    await mkdir(staging);
    if (side) {
      await mkdir(dirname(join(staging, side.location)), { recursive: true });
      await writeChunks(join(staging, side.location), side.chunks);
    }
    await writeChunks(stagedModel, modelChunks);
  } catch (error) {
    await discard();
    throw ioError('write', path, error);
  }
  const dataPath = side ? join(dirname(path), side.location) : undefined;
  return {
    path: stagedModel,
    discard,
    commit: async () => {
      // Data first: a model must never be visible before the data it refers to.
      const dataExisted = dataPath !== undefined && await lstat(dataPath).then(() => true, () => false);
      let step = 'data';
      try {
        if (side && dataPath) await rename(join(staging, side.location), dataPath);
        step = 'model';
        await rename(stagedModel, path);
      } catch (error) {
        // Leave nothing behind; a side file that was there before is already replaced and stays.
        if (step === 'model' && dataPath && !dataExisted) await rm(dataPath, { force: true }).catch(() => undefined);
        throw ioError('write', path, error);
      } finally {
        await discard();
      }
      return { modelPath: path, externalDataPath: dataPath };
    },
  };
}

/**
 * Writes a model atomically. With external data (requested, or needed because the model is over 2 GiB),
 * large initializers go to a side file written the same way, and only the saved model refers to it:
 * the caller's model is not modified.
 */
export async function writeModelFile(path: string, model: ModelProto, options: WriteModelOptions = {}): Promise<WrittenModel> {
  return (await stageModelFile(path, model, options)).commit();
}

function validateSideFileLocation(location: string, modelPath: string, model: ModelProto): string {
  let normalized: string;
  try {
    normalized = validateExternalLocation(location);
  } catch (error) {
    throw new ExternalDataError(`cannot write ${modelPath} with external data: ${(error as Error).message}`);
  }
  if (normalized === basename(modelPath)) {
    throw new ExternalDataError(`cannot write ${modelPath}: the external data location ${JSON.stringify(location)} is the model file itself`);
  }
  // Overwriting a side file that unresolved external tensors still point into would corrupt them.
  for (const { tensor, path } of collectTensors(model)) {
    if (isExternalTensor(tensor) && parseExternalDataInfo(tensor, path).location === normalized) {
      throw new ExternalDataError(`cannot write ${modelPath}: tensor '${tensor.name ?? path}' still refers to ` +
        `${JSON.stringify(normalized)}, which would be overwritten; read the model with loadExternalData: true first`);
    }
  }
  return normalized;
}
