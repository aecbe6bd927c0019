/**
 * The binary tensor data extension (Triton's `binary_tensor_data`): a request or response body is the JSON
 * object followed by raw tensor bytes; the `Inference-Header-Content-Length` header gives the JSON's length.
 * A tensor sent this way carries `parameters.binary_data_size` instead of `data`; its bytes are row-major,
 * little-endian, in the native size of the datatype (BOOL one byte 0/1, BYTES elements each a 4-byte
 * little-endian length then the bytes), in the order the tensors appear in the JSON.
 *
 * Images as JSON float arrays cost ~10 characters per value to write and parse; as binary they cost 4 bytes
 * and a copy. Little-endian hosts only (x86, ARM), as onnxruntime's typed arrays are in host order.
 */
import { createTensor, type Tensor } from '../runtime/backend.js';
import { badRequest } from './errors.js';
import type { Reply } from './routes.js';

export const INFERENCE_HEADER_CONTENT_LENGTH = 'Inference-Header-Content-Length';

/** Bytes per element of onnxruntime's numeric types. */
const ELEMENT_BYTES: Readonly<Record<string, number>> = {
  bool: 1, uint8: 1, int8: 1, uint16: 2, int16: 2, float16: 2, uint32: 4, int32: 4, float32: 4, uint64: 8, int64: 8, float64: 8,
};

type ArrayKind = new (buffer: ArrayBuffer) => ArrayLike<number | bigint>;
const ARRAY_OF: Readonly<Record<string, ArrayKind>> = {
  bool: Uint8Array, uint8: Uint8Array, int8: Int8Array, uint16: Uint16Array, int16: Int16Array, float16: Uint16Array,
  uint32: Uint32Array, int32: Int32Array, float32: Float32Array, uint64: BigUint64Array, int64: BigInt64Array, float64: Float64Array,
};

/** Splits a request body at the header's length: the JSON object, and the binary data after it. */
export function splitBody(body: Buffer, header: string | string[] | undefined): { json: Buffer; binary?: BinaryReader } {
  if (header === undefined) return { json: body };
  const text = Array.isArray(header) ? header[0]! : header;
  if (!/^\d+$/.test(text.trim())) throw badRequest(`the ${INFERENCE_HEADER_CONTENT_LENGTH} header must be the JSON's length in bytes, got '${text}'`);
  const length = Number(text);
  if (length > body.length) throw badRequest(`the ${INFERENCE_HEADER_CONTENT_LENGTH} header says the JSON is ${length} bytes, the body has only ${body.length}`);
  return { json: body.subarray(0, length), binary: new BinaryReader(body.subarray(length)) };
}

/** Hands out the binary data after the JSON, tensor by tensor, in order. */
export class BinaryReader {
  private offset = 0;
  constructor(private readonly data: Buffer) {}

  take(size: number, where: string): Buffer {
    const left = this.data.length - this.offset;
    if (size > left) throw badRequest(`${where}.parameters.binary_data_size is ${size}, but only ${left} bytes of binary data are left after the JSON`);
    const bytes = this.data.subarray(this.offset, this.offset + size);
    this.offset += size;
    return bytes;
  }

  /** Every byte must belong to a tensor: extra bytes mean the sizes or the header are wrong. */
  finish(): void {
    const left = this.data.length - this.offset;
    if (left > 0) throw badRequest(`the body has ${left} bytes after the JSON that no input's binary_data_size covers (they cover ${this.offset})`);
  }
}

/** BYTES elements: each a 4-byte little-endian length, then that many bytes (here UTF-8 text). */
function decodeStrings(bytes: Buffer, count: number, where: string): string[] {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const out: string[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    if (offset + 4 > bytes.length) throw badRequest(`${where}: BYTES element ${out.length} has a truncated 4-byte length prefix`);
    const length = bytes.readUInt32LE(offset);
    offset += 4;
    if (offset + length > bytes.length) throw badRequest(`${where}: BYTES element ${out.length} says ${length} bytes, only ${bytes.length - offset} are left`);
    const element = bytes.subarray(offset, offset + length);
    // onnxruntime keeps strings as C strings: a NUL would silently cut the element short.
    if (element.includes(0)) throw badRequest(`${where}: BYTES element ${out.length} holds a NUL byte, which onnxruntime string tensors cannot carry`);
    try {
      out.push(decoder.decode(element));
    } catch {
      throw badRequest(`${where}: BYTES element ${out.length} is not UTF-8 text (onnxruntime string tensors hold text)`);
    }
    offset += length;
  }
  if (out.length !== count) throw badRequest(`${where}: the binary data holds ${out.length} BYTES elements, the shape needs ${count}`);
  return out;
}

/** A tensor from an input's binary data, checked against its type and shape. */
export function tensorFromBinary(ortType: string, dims: readonly number[], bytes: Buffer, where: string): Tensor {
  const count = dims.reduce((a, b) => a * b, 1);
  if (ortType === 'string') return createTensor('string', decodeStrings(bytes, count, where), [...dims]);
  const size = ELEMENT_BYTES[ortType];
  if (size === undefined) throw badRequest(`${where}: the model's input type ${ortType} is not supported as binary data`);
  if (bytes.length !== count * size) {
    throw badRequest(`${where}.parameters.binary_data_size is ${bytes.length}, shape [${dims.join(', ')}] of ${ortType} needs ${count} × ${size} = ${count * size} bytes`);
  }
  // A copy: the body's bytes need not be aligned for the typed array, and the tensor outlives the body.
  const copy = new Uint8Array(bytes).buffer;
  if (ortType === 'bool') {
    const bad = new Uint8Array(copy).findIndex((b) => b > 1);
    if (bad >= 0) throw badRequest(`${where}: BOOL element ${bad} is byte ${bytes[bad]}, must be 0 or 1`);
  }
  return createTensor(ortType as 'float32', new ARRAY_OF[ortType]!(copy) as Float32Array, [...dims]);
}

/** A tensor's binary data, as the extension lays it out. */
export function tensorToBinary(tensor: Tensor): Buffer {
  if (tensor.type === 'string') {
    const parts = (tensor.data as string[]).flatMap((text) => {
      const bytes = Buffer.from(text, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32LE(bytes.length);
      return [length, bytes];
    });
    return Buffer.concat(parts);
  }
  const data = tensor.data as unknown as ArrayBufferView;
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** The reply for a response with binary outputs: the JSON, then their bytes, and the header giving the JSON's length. */
export function binaryReply(json: unknown, binaries: readonly Buffer[]): Reply {
  const header = Buffer.from(JSON.stringify(json), 'utf8');
  return {
    status: 200,
    body: Buffer.concat([header, ...binaries]),
    headers: { [INFERENCE_HEADER_CONTENT_LENGTH]: String(header.length) },
    contentType: 'application/octet-stream',
  };
}
