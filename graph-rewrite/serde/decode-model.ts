/**
 * Decoding a whole model: the wire decoder plus what makes bytes an ONNX model — not empty, an
 * ir_version or a graph, an IR version vitlin can stand behind.
 *
 * The IR version policy follows onnxruntime, which runs IR 1 to 13 models alike: the pre-release
 * versions 1 and 2 are read with a warning, and only versions no ONNX release ever defined are refused.
 */
import { OnnxDecodeError, UnsupportedIrVersionError } from '../errors.js';
import { DecodeWarnings, decodeInto, newMessage, toPlainBytes, type DecodeOptions } from './decode.js';
import type { ModelProto } from './onnx-schema.js';

/**
 * The IR versions vitlin reads: 1 and 2 were ONNX's pre-releases (read with a warning, as onnxruntime
 * runs them); 14 is the newest one defined (ONNX 1.23), and the one onnx-schema.ts describes.
 */
export const MIN_IR_VERSION = 1;
export const MAX_IR_VERSION = 14;
/** The first released IR version; older ones get a warning. */
export const FIRST_RELEASED_IR_VERSION = 3;

function firstBytesHex(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/**
 * Decodes an ONNX model. `source` (e.g. the file name) prefixes every error and warning message.
 * Throws OnnxDecodeError for malformed or non-ONNX bytes and UnsupportedIrVersionError for a missing IR
 * version or one outside {@link MIN_IR_VERSION}..{@link MAX_IR_VERSION}; tolerated oddities go to `onWarning`.
 */
export function decodeModelProto(bytes: Uint8Array, options: DecodeOptions = {}): ModelProto {
  const data = toPlainBytes(bytes, 'bytes');
  const source = options.source ?? '<bytes>';
  if (data.length === 0) throw new OnnxDecodeError(`${source}: not an ONNX model (empty file)`);
  const model = newMessage('ModelProto');
  const warnings = new DecodeWarnings();
  const failure = decodeInto('ModelProto', data, model, source, warnings);
  if (failure !== undefined) {
    // ONNX writers put ir_version first: failing before it (or a graph) means this was never a model.
    if (model.ir_version === undefined && model.graph === undefined) {
      throw new OnnxDecodeError(
        `${source}: not an ONNX model (${failure.detail} in ${failure.path}; first bytes ${firstBytesHex(data)})`);
    }
    throw failure.error;
  }
  if (model.ir_version === undefined && model.graph === undefined) {
    throw new OnnxDecodeError(
      `${source}: not an ONNX model (no ir_version and no graph; first bytes ${firstBytesHex(data)})`);
  }
  checkIrVersion(model.ir_version, source, warnings);
  warnings.report(source, options.onWarning);
  return model;
}

function checkIrVersion(version: bigint | undefined, source: string, warnings: DecodeWarnings): void {
  const supported = `vitlin reads ONNX IR versions ${MIN_IR_VERSION} to ${MAX_IR_VERSION}`;
  if (version === undefined) throw new UnsupportedIrVersionError(`${source}: the model has no ir_version; ${supported}`);
  if (version < BigInt(MIN_IR_VERSION) || version > BigInt(MAX_IR_VERSION)) {
    throw new UnsupportedIrVersionError(`${source}: ONNX IR version ${version} is not supported; ${supported}`);
  }
  if (version < BigInt(FIRST_RELEASED_IR_VERSION)) {
    warnings.add(`ONNX IR version ${version} is a pre-release version`, 'read as it is; onnxruntime runs it too');
  }
}
