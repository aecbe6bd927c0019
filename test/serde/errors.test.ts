import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ExternalDataError, OnnxDecodeError, OnnxEncodeError, UnsupportedIrVersionError, VitlinIoError,
} from '../../graph-rewrite/errors.js';
import { decodeModelProto } from '../../graph-rewrite/serde/decode.js';
import { encodeModelProto, encodeModelProtoToBytes } from '../../graph-rewrite/serde/encode.js';
import { DataLocation, DataType, type ModelProto } from '../../graph-rewrite/serde/onnx-schema.js';
import { readModelFile, writeModelFile } from '../../src/io/model-file.js';
import {
  f32Bytes, floatTensor, kv, lenField, make, matMulAddModel, model, stringField, subgraphModel, tag, varintField,
} from './fixtures.js';

function caught(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error, got none');
}

function indexOfBytes(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  throw new Error('needle not found');
}

const IR8 = varintField(1, 8);
const matMulBytes = encodeModelProtoToBytes(matMulAddModel());
const subgraphBytes = encodeModelProtoToBytes(subgraphModel());
const wAt = indexOfBytes(matMulBytes, f32Bytes([-1.25, -1, -0.75]));
const thenScaleAt = indexOfBytes(subgraphBytes, new TextEncoder().encode('then_scale'));
/** A TypeProto nested `levels` times through sequence_type (each level is 2 messages deep). */
const nestedType = (levels: number): number[] => {
  let type: number[] = stringField(6, 'innermost'); // TypeProto.denotation
  for (let i = 0; i < levels; i++) type = lenField(4, lenField(1, type));
  return type;
};

describe('decode errors name the class, the byte and the proto path', () => {
  it.each([
    ['empty file', [], OnnxDecodeError, ['model.onnx: not an ONNX model (empty file)']],
    ['PNG header', [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52], OnnxDecodeError,
      ['model.onnx: not an ONNX model (', 'first bytes 89 50 4e 47 0d 0a 1a 0a']],
    ['a text file', [...new TextEncoder().encode('hello world\nthis is not a model\n')], OnnxDecodeError,
      ['model.onnx: not an ONNX model (']],
    ['JSON', [...new TextEncoder().encode('{"ir_version": 8}')], OnnxDecodeError, ['model.onnx: not an ONNX model (']],
    ['a message without ir_version or graph', stringField(2, 'producer'), OnnxDecodeError,
      ['model.onnx: not an ONNX model (no ir_version and no graph']],
    ['truncated inside an initializer\'s raw_data', [...matMulBytes.subarray(0, wAt + 10)], OnnxDecodeError,
      [`model.onnx: truncated at byte ${wAt + 10} in ModelProto.graph.initializer[0].raw_data`, 'ModelProto.graph has length']],
    ['truncated inside a subgraph of an If node', [...subgraphBytes.subarray(0, thenScaleAt + 3)], OnnxDecodeError,
      [`model.onnx: truncated at byte ${thenScaleAt + 3} in ModelProto.graph.node[4].attribute[0].g.node[0].input[1]`]],
    ['truncated inside a string', [...IR8, ...lenField(7, stringField(2, 'g')).slice(0, 4)], OnnxDecodeError,
      ['model.onnx: truncated at byte 6 in ModelProto.graph.name (ModelProto.graph has length 3 at byte 3 but only 2 bytes follow)']],
    ['truncated between fields', [...IR8, ...lenField(7, stringField(2, 'g')).slice(0, 2)], OnnxDecodeError,
      ['model.onnx: truncated at byte 4 in ModelProto.graph (ModelProto.graph has length 3 at byte 3 but only 0 bytes follow)']],
    ['a length prefix of 0xFFFFFFFF', [...IR8, ...tag(7, 2), 0xff, 0xff, 0xff, 0xff, 0x0f], OnnxDecodeError,
      ['truncated at byte 8 in ModelProto.graph (ModelProto.graph has length 4294967295 at byte 3 but only 0 bytes follow)']],
    ['a length prefix of 2^64 − 1 (named exactly, not rounded)', [...IR8, ...tag(7, 2), ...Array(9).fill(0xff), 0x01], OnnxDecodeError,
      ['ModelProto.graph has length 18446744073709551615 at byte 3 but only 0 bytes follow']],
    ['a bytes length past its enclosing message', [...IR8, ...lenField(7, lenField(5, [...tag(9, 2), 100, 1, 2])), ...varintField(5, 1)], OnnxDecodeError,
      ['truncated at byte 7: length 100 runs past the end of the enclosing field (byte 10) (2 bytes left) in ModelProto.graph.initializer[0].raw_data']],
    ['a varint over 10 bytes', [...IR8, ...tag(5, 0), ...Array(11).fill(0xff), 0x01], OnnxDecodeError,
      ['varint longer than 10 bytes at byte 3 in ModelProto.model_version']],
    ['wire type 7', [...IR8, 0x0f], OnnxDecodeError, ['invalid wire type 7 at byte 2 in ModelProto']],
    ['field number 0', [...IR8, 0x00], OnnxDecodeError, ['invalid field tag at byte 2']],
    ['an end-group tag without a group', [...IR8, ...tag(50, 4)], OnnxDecodeError, ['unexpected end-group tag for field 50 at byte 2']],
    ['packed floats of a length not a multiple of 4', [...IR8, ...lenField(7, lenField(5, lenField(4, [0, 0, 0])))], OnnxDecodeError,
      ['packed float field at byte 7 has length 3, not a multiple of 4 in ModelProto.graph.initializer[0].float_data']],
    ['messages nested 120 deep', [...IR8, ...lenField(7, lenField(11, lenField(2, nestedType(60))))], OnnxDecodeError,
      ['messages nested deeper than 100', 'ModelProto.graph.input[0].type.sequence_type.elem_type.sequence_type']],
    // Invalid UTF-8, a wire-type mismatch, IR versions 2 and 13 are tolerated: see tolerated.test.ts.
    ['IR version 0', varintField(1, 0), UnsupportedIrVersionError,
      ['model.onnx: ONNX IR version 0 is not supported; vitlin reads ONNX IR versions 1 to 14']],
    ['IR version 15', [...varintField(1, 15), ...lenField(7, [])], UnsupportedIrVersionError, ['ONNX IR version 15 is not supported']],
    ['a negative IR version', varintField(1, -1), UnsupportedIrVersionError, ['ONNX IR version -1 is not supported']],
    ['a graph without ir_version', lenField(7, stringField(2, 'g')), UnsupportedIrVersionError, ['model.onnx: the model has no ir_version']],
  ])('%s', (_, bytes, errorClass, messageParts) => {
    const error = caught(() => decodeModelProto(new Uint8Array(bytes), { source: 'model.onnx' }));
    expect(error).toBeInstanceOf(errorClass);
    for (const part of messageParts) expect(error.message).toContain(part);
  });

  it('defaults the source to <bytes>', () => {
    expect(caught(() => decodeModelProto(new Uint8Array(0))).message).toBe('<bytes>: not an ONNX model (empty file)');
  });

  it('accepts deep but sane nesting (45 TypeProto/Sequence pairs: 94 messages deep)', () => {
    const ok = new Uint8Array([...IR8, ...lenField(7, lenField(11, lenField(2, nestedType(45))))]);
    expect(decodeModelProto(ok).graph!.input[0]!.type!.sequence_type).toBeDefined();
  });
});

describe('encode errors name the bad field', () => {
  const withGraph = (edit: (m: ModelProto) => void): ModelProto => {
    const m = matMulAddModel();
    edit(m);
    return m;
  };
  it.each([
    ['a number where int64 is a bigint', withGraph((m) => { (m as { ir_version: unknown }).ir_version = 8; }),
      'cannot encode ModelProto.ir_version: it must be a bigint in int64 range, got number 8'],
    ['an int64 out of range', withGraph((m) => { m.graph!.initializer[0]!.dims[1] = 2n ** 63n; }),
      'cannot encode ModelProto.graph.initializer[0].dims[1]: it must be a bigint in int64 range'],
    ['a negative uint64', withGraph((m) => { m.graph!.initializer[0]!.uint64_data = [1n, -1n]; }),
      'cannot encode ModelProto.graph.initializer[0].uint64_data[1]: it must be a bigint in uint64 range, got bigint -1'],
    ['an int32 out of range', withGraph((m) => { m.graph!.initializer[0]!.data_type = 2 ** 31; }),
      'cannot encode ModelProto.graph.initializer[0].data_type: it must be an integer number in int32 range'],
    ['a repeated field that is not an array', withGraph((m) => { (m.graph!.node[1] as { input: unknown }).input = 'XW'; }),
      'cannot encode ModelProto.graph.node[1].input: it must be an array, got string "XW"'],
    ['a lone surrogate in a string', withGraph((m) => { m.graph!.node[0]!.name = 'bad \ud800'; }),
      'cannot encode ModelProto.graph.node[0].name: it is not valid Unicode (lone UTF-16 surrogate)'],
    ['a message that is not an object', withGraph((m) => { (m.graph!.input as unknown[])[0] = 'X'; }),
      'cannot encode ModelProto.graph.input[0]: it must be a ValueInfoProto object, got string "X"'],
    ['bad raw $unknown bytes', withGraph((m) => { m.graph!.$unknown = [new Uint8Array(0)]; }),
      'cannot encode ModelProto.graph.$unknown[0]: it must be a raw field (tag + payload) as Uint8Array'],
    ['a cycle (a graph containing itself)', withGraph((m) => {
      m.graph!.node[0]!.attribute.push(make('AttributeProto', { name: 'loop', g: m.graph! }));
    }), 'messages nested deeper than 100 (a cycle?)'],
  ])('%s', (_, bad, expected) => {
    const error = caught(() => encodeModelProto(bad));
    expect(error).toBeInstanceOf(OnnxEncodeError);
    expect(error.message).toContain(expected);
  });

  it('refuses a model over 2 GiB and says to use external data', () => {
    // calloc'ed and never written: the kernel maps zero pages lazily, so this costs no real memory.
    const huge = new Uint8Array(2 ** 31);
    const m = model(make('GraphProto', { initializer: [make('TensorProto', { name: 'big', data_type: DataType.UINT8, raw_data: huge })] }));
    const error = caught(() => encodeModelProto(m));
    expect(error).toBeInstanceOf(OnnxEncodeError);
    expect(error.message).toMatch(/it is 2\.00 GiB .* limited to 2 GiB; store its large tensors as external data/);
  });
});

describe('file and external-data errors', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vitlin-serde-errors-'));
    await mkdir(join(dir, 'models'));
    await writeFile(join(dir, 'models', 'short.bin'), new Uint8Array(16));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const externalModel = (entries: [string, string][]): ModelProto => model(make('GraphProto', {
    initializer: [make('TensorProto', {
      name: 'W', data_type: DataType.FLOAT, dims: [4n], data_location: DataLocation.EXTERNAL,
      external_data: entries.map(([k, v]) => kv(k, v)),
    })],
  }));

  it.each([
    ['a location escaping the folder', [['location', '../x']], 'location "../x" escapes the model\'s folder'],
    ['an absolute location', [['location', '/etc/passwd']], 'location "/etc/passwd" is an absolute path'],
    ['a drive letter', [['location', 'C:\\Windows\\win.ini']], 'starts with a drive letter'],
    ['a backslash escape', [['location', 'sub\\..\\..\\x']], 'escapes the model\'s folder'],
    ['a UNC path', [['location', '\\\\server\\share\\w.bin']], 'is an absolute path'],
    ['a NUL character', [['location', 'w.bin\0.txt']], 'contains a NUL character'],
    ['an empty location', [['location', '']], 'is empty'],
    ['no location', [['offset', '0']], 'has no "location" entry'],
    ['a non-numeric offset', [['location', 'short.bin'], ['offset', '-4']], 'offset "-4" is not a non-negative integer'],
    ['a missing side file', [['location', 'absent.bin']], 'external data "absent.bin" (offset 0, length to end of file): missing: no file'],
    ['a length past the end', [['location', 'short.bin'], ['offset', '8'], ['length', '16']],
      'offset + length = 24 is past the end of the file (16 bytes)'],
    ['an offset past the end', [['location', 'short.bin'], ['offset', '17']], 'offset is past the end of the file (16 bytes)'],
  ])('%s → ExternalDataError naming the tensor', async (_, entries, expected) => {
    const path = join(dir, 'models', 'model.onnx');
    await writeModelFile(path, externalModel(entries as [string, string][]));
    const error = await readModelFile(path).then(() => new Error('no error'), (e: Error) => e);
    expect(error).toBeInstanceOf(ExternalDataError);
    expect(error.message).toContain('model.onnx: tensor \'W\'');
    expect(error.message).toContain(expected);
  });

  it.each([
    ['a missing file', (): string => join(dir, 'nope.onnx'), `cannot read ${'${dir}'}/nope.onnx: no such file`],
    ['a directory', (): string => join(dir, 'models'), 'it is a directory'],
  ])('reading %s → VitlinIoError naming the path', async (_, path, expected) => {
    const error = await readModelFile(path()).then(() => new Error('no error'), (e: Error) => e);
    expect(error).toBeInstanceOf(VitlinIoError);
    expect(error.message).toContain(expected.replace('${dir}', dir));
  });

  it('a model file that is not ONNX → OnnxDecodeError named by its file name', async () => {
    await writeFile(join(dir, 'notes.onnx'), 'just some notes\n');
    const error = await readModelFile(join(dir, 'notes.onnx')).then(() => new Error('no error'), (e: Error) => e);
    expect(error).toBeInstanceOf(OnnxDecodeError);
    expect(error.message).toMatch(/^notes\.onnx: not an ONNX model \(/);
  });

  it('an encoded model with a floating tensor still decodes (sanity for the table above)', () => {
    expect(decodeModelProto(encodeModelProtoToBytes(model(make('GraphProto', { initializer: [floatTensor('a', [1], [1])] })))).graph!.initializer).toHaveLength(1);
  });
});
