/**
 * A model as one `.onnx` buffer, apart from model-io.ts's file reading and writing: this file imports
 * no Node built-in, so eval and calibration (which hand models to a runtime backend as bytes) run in the
 * browser too.
 */
import { InvalidArgumentError } from '../graph-rewrite/errors.js';
import { Model } from '../graph-rewrite/ir/model.js';
import { modelToProto } from '../graph-rewrite/ir/to-proto.js';
import { encodeModelProtoToBytes } from '../graph-rewrite/serde/encode.js';

/** A value as an error message names it. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return `an object (${Object.getPrototypeOf(value)?.constructor?.name ?? 'no prototype'})`;
  if (typeof value === 'string') return JSON.stringify(value);
  return `${typeof value} ${String(value)}`;
}

/** `model` if it is a Model, else an InvalidArgumentError naming what it is. */
export function checkModel(model: unknown): Model {
  if (!(model instanceof Model)) throw new InvalidArgumentError(`'model' must be a Model (from loadModel or new Model()), got ${describe(model)}`);
  return model;
}

/**
 * The model serialized as one `.onnx` buffer (e.g. for `InferenceSession.create(bytes)` or a browser
 * download). External references are kept as they are; models over 2 GiB cannot be one buffer.
 *
 * @throws {@link InvalidArgumentError} when `model` is not a Model; {@link OnnxEncodeError} when the
 * model is over protobuf's 2 GiB limit (use {@link saveModel} with `externalData`).
 *
 * @example
 * ```ts
 * const session = await ort.InferenceSession.create(modelToBytes(model));
 * ```
 */
export function modelToBytes(model: Model): Uint8Array {
  return encodeModelProtoToBytes(modelToProto(checkModel(model)));
}
