/**
 * NumPy `.npz` archives: a zip of `.npy` members (np.savez: stored; np.savez_compressed: deflated),
 * read from the central directory, Zip64 extra fields included (NumPy writes them). Each member's CRC
 * is checked. Node-side (node:zlib inflates).
 */
import { inflateRawSync } from 'node:zlib';
import { NpyFormatError, parseNpy, type NpyArray } from './npy.js';

function fail(source: string, why: string): never {
  throw new NpyFormatError(`${source}: not a readable .npz archive (${why})`);
}

const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const CENTRAL_ENTRY = 0x02014b50;
const LOCAL_ENTRY = 0x04034b50;
const ZIP64_EOCD_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;

let crcTable: Uint32Array | undefined;
/** CRC-32 (zip's polynomial); node:zlib has one only from Node 20.15. */
function crc32(data: Uint8Array): number {
  crcTable ??= Uint32Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = crcTable[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** Parses the archive's members whose names end in .npy (the key is the name without .npy). */
export function parseNpz(bytes: Uint8Array, source: string): Map<string, NpyArray> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
    if (view.getUint32(i, true) === END_OF_CENTRAL_DIRECTORY) { eocd = i; break; }
  }
  if (eocd < 0) fail(source, 'no zip end-of-central-directory record');
  let entries = view.getUint16(eocd + 10, true);
  let offset = view.getUint32(eocd + 16, true);
  if ((entries === 0xffff || offset === 0xffffffff) && eocd >= 20 && view.getUint32(eocd - 20, true) === ZIP64_EOCD_LOCATOR) {
    const at = Number(view.getBigUint64(eocd - 12, true));
    if (at + 56 > bytes.length || view.getUint32(at, true) !== ZIP64_EOCD) fail(source, 'a broken Zip64 end-of-central-directory record');
    entries = Number(view.getBigUint64(at + 32, true));
    offset = Number(view.getBigUint64(at + 48, true));
  }
  const arrays = new Map<string, NpyArray>();
  for (let e = 0; e < entries; e++) {
    if (offset + 46 > bytes.length || view.getUint32(offset, true) !== CENTRAL_ENTRY) fail(source, `central directory entry ${e} is missing`);
    const method = view.getUint16(offset + 10, true);
    const crc = view.getUint32(offset + 16, true);
    let compressed = view.getUint32(offset + 20, true);
    let size = view.getUint32(offset + 24, true);
    const nameLength = view.getUint16(offset + 28, true);
    const extraLength = view.getUint16(offset + 30, true);
    const commentLength = view.getUint16(offset + 32, true);
    let local = view.getUint32(offset + 42, true);
    const name = new TextDecoder().decode(bytes.subarray(offset + 46, offset + 46 + nameLength));
    // Zip64: the fields that are 0xFFFFFFFF come, in this order, from the extra field 0x0001.
    for (let x = offset + 46 + nameLength; x + 4 <= offset + 46 + nameLength + extraLength;) {
      const id = view.getUint16(x, true);
      const length = view.getUint16(x + 2, true);
      if (id === 0x0001) {
        let at = x + 4;
        const next = () => { const v = Number(view.getBigUint64(at, true)); at += 8; return v; };
        if (size === 0xffffffff) size = next();
        if (compressed === 0xffffffff) compressed = next();
        if (local === 0xffffffff) local = next();
      }
      x += 4 + length;
    }
    offset += 46 + nameLength + extraLength + commentLength;
    if (!name.endsWith('.npy')) continue;
    if (local + 30 > bytes.length || view.getUint32(local, true) !== LOCAL_ENTRY) fail(source, `member '${name}' has no local header`);
    const start = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    if (start + compressed > bytes.length) fail(source, `member '${name}' runs past the end of the file`);
    const raw = bytes.subarray(start, start + compressed);
    let data: Uint8Array;
    if (method === 0) data = raw;
    else if (method === 8) {
      try {
        data = inflateRawSync(raw);
      } catch (error) {
        fail(source, `member '${name}' does not inflate: ${(error as Error).message}`);
      }
    } else fail(source, `member '${name}' uses zip compression method ${method}; only stored and deflated members are supported`);
    if (data.length !== size || crc32(data) >>> 0 !== crc) fail(source, `member '${name}' is corrupt (size or CRC mismatch)`);
    arrays.set(name.slice(0, -4), parseNpy(data, `${source}:${name}`));
  }
  if (arrays.size === 0) fail(source, 'it holds no .npy members');
  return arrays;
}
