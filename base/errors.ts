/**
 * Typed errors of vitlin. Every error names what was wrong and where (file, byte offset, proto path,
 * node, argument), so a user can act on the message alone. `code` is stable for programs to switch on.
 */

export type VitlinErrorCode =
  | 'ONNX_DECODE'
  | 'ONNX_ENCODE'
  | 'UNSUPPORTED_IR_VERSION'
  | 'EXTERNAL_DATA'
  | 'GRAPH_INVALID'
  | 'IR_EDIT'
  | 'INVALID_ARGUMENT'
  | 'REWRITE'
  | 'RUNTIME'
  | 'IO';

export class VitlinError extends Error {
  readonly code: VitlinErrorCode;
  constructor(code: VitlinErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The bytes are not a well-formed ONNX ModelProto: `model.onnx: truncated at byte 1234 in GraphProto.node[17]`. */
export class OnnxDecodeError extends VitlinError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ONNX_DECODE', message, options);
  }
}

/** A model cannot be written (e.g. a single message above protobuf's 2 GiB limit without external data). */
export class OnnxEncodeError extends VitlinError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ONNX_ENCODE', message, options);
  }
}

/** The model's IR version is outside what vitlin reads. */
export class UnsupportedIrVersionError extends VitlinError {
  constructor(message: string) {
    super('UNSUPPORTED_IR_VERSION', message);
  }
}

/** An external-data file is missing, too short, or its location escapes the model's folder. */
export class ExternalDataError extends VitlinError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('EXTERNAL_DATA', message, options);
  }
}

/** The graph is not valid ONNX: a cycle, an input nothing produces, a value produced twice, … */
export class GraphValidationError extends VitlinError {
  constructor(message: string) {
    super('GRAPH_INVALID', message);
  }
}

/** An IR edit would leave the graph inconsistent (e.g. removing a node whose outputs are still used). */
export class IrEditError extends VitlinError {
  constructor(message: string) {
    super('IR_EDIT', message);
  }
}

/** A public function got a bad argument: the message names the argument (`'feeds' must be an object`). */
export class InvalidArgumentError extends VitlinError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
  }
}

/** A filesystem read or write failed; the message names the path. */
export class VitlinIoError extends VitlinError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('IO', message, options);
  }
}

/**
 * A graph rewrite produced an invalid model (a bug in a rewrite rule, never the user's fault): the
 * message names the node and what is wrong, e.g. `node '/blocks.0/attn/HydraAttention' calls
 * ai.vitlin::HydraAttention, but the model has no such function`.
 */
export class RewriteError extends VitlinError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('REWRITE', message, options);
  }
}

/** A request that cannot be carried out as asked (a bad `--blocks`, a missing option): the CLI prints it as one line, exit code 2. */
export class UsageError extends VitlinError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
  }
}
