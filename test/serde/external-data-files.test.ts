/**
 * External-data locations that name something other than a plain file inside the model's folder: a FIFO
 * (which would block an open() forever), a socket, a device; paths through `..` resolved by the file
 * system as onnxruntime resolves them; byte counts no file can have.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExternalDataError, VitlinIoError } from '../../graph-rewrite/errors.js';
import { encodeModelProtoToBytes } from '../../graph-rewrite/serde/encode.js';
import { DataLocation } from '../../graph-rewrite/serde/onnx-schema.js';
import { readModelFile } from '../../src/io/model-file.js';
import { f32Bytes, kv, matMulAddModel, runModel } from './fixtures.js';

const W = Array.from({ length: 12 }, (_, i) => (i - 5) * 0.25);
const OTHER_W = W.map((v) => v * 2);

let dir: string;
let socketServer: Server | undefined;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vitlin-external-files-'));
});
afterAll(async () => {
  socketServer?.close();
  await rm(dir, { recursive: true, force: true });
});

/** matMulAddModel with W stored at `location` in a new folder; returns the model's path. */
async function modelWithExternalW(name: string, location: string, entries: Record<string, string> = {}): Promise<string> {
  const folder = join(dir, name);
  await mkdir(folder, { recursive: true });
  const model = matMulAddModel();
  const w = model.graph!.initializer[0]!;
  delete w.raw_data;
  w.data_location = DataLocation.EXTERNAL;
  w.external_data = [kv('location', location), ...Object.entries(entries).map(([k, v]) => kv(k, v))];
  const path = join(folder, 'model.onnx');
  await writeFile(path, encodeModelProtoToBytes(model));
  return path;
}

/** Fails the test instead of hanging it: the bug this file guards against is a hang. */
function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  return Promise.race([promise, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`hung for ${ms} ms`)), ms).unref())]);
}

describe('a location that is not a regular file is refused before it is opened', () => {
  it('a FIFO in the model folder → ExternalDataError at once, not a hang', async () => {
    const path = await modelWithExternalW('fifo', 'weights.bin');
    execFileSync('mkfifo', [join(dir, 'fifo', 'weights.bin')]);
    const error = await within(3_000, readModelFile(path).then(() => undefined, (e: unknown) => e));
    expect(error).toBeInstanceOf(ExternalDataError);
    expect((error as Error).message).toMatch(/tensor 'W' at graph\.initializer\[0\]: external data "weights\.bin" .*weights\.bin is a FIFO \(named pipe\), not a regular file/);
  });

  it('a FIFO as the model file itself → VitlinIoError at once', async () => {
    const path = join(dir, 'fifo', 'pipe.onnx');
    execFileSync('mkfifo', [path]);
    const error = await within(3_000, readModelFile(path).then(() => undefined, (e: unknown) => e));
    expect(error).toBeInstanceOf(VitlinIoError);
    expect((error as Error).message).toBe(`cannot read ${path}: it is a FIFO (named pipe), not a regular file`);
  });

  it('a Unix socket → ExternalDataError naming it', async () => {
    const path = await modelWithExternalW('socket', 'weights.sock');
    socketServer = createServer();
    await new Promise<void>((resolve) => socketServer!.listen(join(dir, 'socket', 'weights.sock'), resolve));
    await expect(within(3_000, readModelFile(path))).rejects.toThrow(/weights\.sock is a socket, not a regular file/);
  });

  it('a device, reached through a symlink → refused (it is outside the folder)', async () => {
    const path = await modelWithExternalW('device', 'zero.bin');
    await symlink('/dev/zero', join(dir, 'device', 'zero.bin'));
    await expect(within(3_000, readModelFile(path))).rejects.toThrow(ExternalDataError);
  });
});

describe('`..` in a location is resolved by the file system, as onnxruntime does', () => {
  it('`sub/../w.bin` with no `sub/` → missing, as in onnxruntime', async () => {
    const path = await modelWithExternalW('no-sub', 'sub/../w.bin');
    await writeFile(join(dir, 'no-sub', 'w.bin'), f32Bytes(W));
    await expect(readModelFile(path)).rejects.toThrow(/external data "w\.bin".*missing: no file .*sub\/\.\.\/w\.bin/);
    await expect(ort.InferenceSession.create(path)).rejects.toThrow();
  });

  it('`sub/../w.bin` through a symlinked `sub/` reads the link target\'s sibling — the file onnxruntime reads', async () => {
    const path = await modelWithExternalW('linked-sub', 'sub/../w.bin');
    const folder = join(dir, 'linked-sub');
    await mkdir(join(folder, 'a', 'b'), { recursive: true });
    await symlink(join(folder, 'a', 'b'), join(folder, 'sub'));
    await writeFile(join(folder, 'w.bin'), f32Bytes(W)); // what a lexical `sub/..` would read
    await writeFile(join(folder, 'a', 'w.bin'), f32Bytes(OTHER_W)); // what the file system reaches
    const model = await readModelFile(path);
    expect(new Float32Array(model.graph!.initializer[0]!.raw_data!.slice().buffer)).toEqual(Float32Array.from(OTHER_W));
    const x = new ort.Tensor('float32', Float32Array.from([1, 0, 0, 0, 1, 0]), [2, 3]);
    const { Y } = await runModel(path, { X: x });
    expect(Array.from(Y!.data as Float32Array).slice(0, 4)).toEqual(OTHER_W.slice(0, 4).map((v, i) => v + [0.5, -1, 2, 0][i]!));
  });
});

describe('byte counts no file can have name their size', () => {
  it.each([
    ['length', '99999999999999999999', 'length 99999999999999999999 is larger than any file can be (over 2^53 − 1 bytes)'],
    ['offset', '9007199254740993', 'offset 9007199254740993 is larger than any file can be'],
    ['length', '1'.repeat(400), `length ${'1'.repeat(12)}…(400 digits) is larger than any file can be`],
    ['length', '-4', 'length "-4" is not a non-negative integer'],
  ])('%s %s', async (key, value, message) => {
    const path = await modelWithExternalW(`count-${key}-${value.length}-${value[0]}`, 'w.bin', { [key]: value });
    await expect(readModelFile(path)).rejects.toThrow(message);
  });
});
