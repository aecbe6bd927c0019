/**
 * The two inference endpoints' request and response bodies: the Open Inference Protocol's inference
 * request / response JSON objects, and vitlin's image classification (`/v1/models/{name}/classify`).
 */
import { preprocessImage } from '../data/images.js';
import { float32ToFloat16Bits } from '../runtime/float16.js';
import { createTensor, type Feeds, type Tensor } from '../runtime/backend.js';
import type { Outputs } from './batcher.js';
import { tensorFromBinary, tensorToBinary, type BinaryReader } from './binary.js';
import { oipDatatype, tensorFromJson, tensorToJson } from './datatypes.js';
import { badRequest } from './errors.js';
import { chwToHwc } from './model-config.js';
import type { ServedModel } from './models.js';

/** A validated inference request. */
export interface InferCall {
  readonly id?: string;
  readonly feeds: Feeds;
  /** Output names to return, in order. */
  readonly outputs: readonly string[];
  /** The outputs to return as binary data (binary tensor data extension). */
  readonly binaryOutputs: ReadonlySet<string>;
  /** Rows in the request (its batch size; 1 for a model without a batch axis). */
  readonly rows: number;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A tensor's `parameters`, checked: an object, without the shared-memory ones vitlin does not offer. */
function tensorParameters(raw: Record<string, unknown>, where: string): Record<string, unknown> {
  if (raw.parameters === undefined) return {};
  if (!isObject(raw.parameters)) throw badRequest(`${where}.parameters must be an object`);
  const shared = Object.keys(raw.parameters).find((key) => key.startsWith('shared_memory_'));
  if (shared) throw badRequest(`${where}.parameters.${shared}: the shared memory extensions are not supported; send the data in the body`);
  return raw.parameters;
}

/** An input's data: JSON `data`, or (binary extension) `parameters.binary_data_size` bytes of the binary part. */
function inputTensor(raw: Record<string, unknown>, ortType: string, dims: number[], where: string, binary: BinaryReader | undefined): Tensor {
  const size = tensorParameters(raw, where).binary_data_size;
  if (size === undefined) return tensorFromJson(ortType, dims, raw.data, where);
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 0) throw badRequest(`${where}.parameters.binary_data_size must be a byte count, got ${JSON.stringify(size)}`);
  if (raw.data !== undefined) throw badRequest(`${where} has both data and parameters.binary_data_size; send one`);
  if (!binary) throw badRequest(`${where}.parameters.binary_data_size needs the Inference-Header-Content-Length header (the JSON's length in the body)`);
  return tensorFromBinary(ortType, dims, binary.take(size, where), where);
}

/**
 * Validates a parsed inference request body against `model`; every failure is a 400 naming the field.
 * `binary` holds the bytes after the JSON when the request uses the binary tensor data extension.
 */
export function parseInferRequest(body: unknown, model: ServedModel, binary?: BinaryReader): InferCall {
  if (!isObject(body)) throw badRequest(`the request body must be a JSON object (an inference request), got ${Array.isArray(body) ? 'an array' : typeof body}`);
  if (body.id !== undefined && typeof body.id !== 'string') throw badRequest(`'id' must be a string, got ${JSON.stringify(body.id)}`);
  if (body.parameters !== undefined && !isObject(body.parameters)) throw badRequest(`'parameters' must be an object`);
  if (!Array.isArray(body.inputs) || body.inputs.length === 0) throw badRequest(`'inputs' must be a non-empty array of tensors`);
  const modelInputs = model.session.inputs;
  const feeds: Feeds = {};
  /** Values seen for each symbolic dim (e.g. batch, sequence): inputs must agree on them. */
  const symbols = new Map<string, { value: number; input: string }>();
  body.inputs.forEach((raw: unknown, index: number) => {
    const at = `inputs[${index}]`;
    if (!isObject(raw)) throw badRequest(`${at} must be an object with name, shape, datatype and data`);
    const { name, shape, datatype } = raw;
    if (typeof name !== 'string') throw badRequest(`${at}.name must be a string`);
    const where = `${at} '${name}'`;
    const meta = modelInputs.find((i) => i.name === name);
    if (!meta) throw badRequest(`${where}: model '${model.name}' has no input '${name}' (inputs: ${modelInputs.map((i) => i.name).join(', ')})`);
    if (feeds[name]) throw badRequest(`${where}: input '${name}' is given twice`);
    if (!meta.isTensor || meta.type === undefined) throw badRequest(`${where}: input '${name}' is not a tensor`);
    const type = meta.type;
    const expected = oipDatatype(type);
    if (typeof datatype !== 'string') throw badRequest(`${where}.datatype must be a string such as ${expected}`);
    if (datatype !== expected) throw badRequest(`${where}.datatype must be ${expected}, got ${datatype}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 1)) {
      throw badRequest(`${where}.shape must be an array of positive integers, got ${JSON.stringify(shape)}`);
    }
    const dims = shape as number[];
    if (dims.length !== meta.shape.length) {
      throw badRequest(`${where}.shape must have rank ${meta.shape.length} ([${meta.shape.join(', ')}]), got [${dims.join(', ')}]`);
    }
    meta.shape.forEach((dim, axis) => {
      if (typeof dim === 'number' && dim > 0 && dims[axis] !== dim) {
        throw badRequest(`${where}.shape[${axis}] must be ${dim} (model shape [${meta.shape.join(', ')}]), got [${dims.join(', ')}]`);
      }
      if (typeof dim === 'string' && dim !== '') {
        const seen = symbols.get(dim);
        if (seen && seen.value !== dims[axis]) throw badRequest(`${where}.shape[${axis}] ('${dim}') is ${dims[axis]}, input '${seen.input}' has ${dim} = ${seen.value}`);
        symbols.set(dim, { value: dims[axis]!, input: name });
      }
    });
    feeds[name] = inputTensor(raw, type, dims, where, binary);
  });
  binary?.finish();
  const missing = modelInputs.filter((i) => !feeds[i.name]).map((i) => i.name);
  if (missing.length > 0) throw badRequest(`'inputs' lacks ${missing.map((n) => `'${n}'`).join(', ')} (model '${model.name}' needs ${modelInputs.map((i) => i.name).join(', ')})`);
  if (model.batchable) {
    // The batch axis has no shared name to check above when exporters name it per input.
    const rows = new Set(Object.values(feeds).map((t) => t.dims[0]));
    if (rows.size > 1) throw badRequest(`inputs disagree on the batch size (dim 0): ${Object.entries(feeds).map(([n, t]) => `${n} ${t.dims[0]}`).join(', ')}`);
  }
  const rows = model.batchable ? Object.values(feeds)[0]?.dims[0] ?? 1 : 1;
  const binaryDefault = binaryFlag(isObject(body.parameters) ? body.parameters.binary_data_output : undefined, 'parameters.binary_data_output') ?? false;
  return { ...(body.id !== undefined ? { id: body.id as string } : {}), feeds, rows, ...parseRequestedOutputs(body.outputs, model, binaryDefault) };
}

function binaryFlag(value: unknown, where: string): boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean') throw badRequest(`${where} must be true or false, got ${JSON.stringify(value)}`);
  return value;
}

/** The requested outputs (all when none are named), and which of them go back as binary data. */
function parseRequestedOutputs(value: unknown, model: ServedModel, binaryDefault: boolean): Pick<InferCall, 'outputs' | 'binaryOutputs'> {
  const names = model.session.outputs.map((o) => o.name);
  const binaryOutputs = new Set<string>();
  if (value !== undefined && !Array.isArray(value)) throw badRequest(`'outputs' must be an array of {"name": ...} objects`);
  const wanted: string[] = [];
  (value ?? []).forEach((raw: unknown, index: number) => {
    const name = isObject(raw) ? raw.name : undefined;
    if (typeof name !== 'string') throw badRequest(`outputs[${index}].name must be a string`);
    if (!names.includes(name)) throw badRequest(`outputs[${index}]: model '${model.name}' has no output '${name}' (outputs: ${names.join(', ')})`);
    if (wanted.includes(name)) throw badRequest(`outputs[${index}]: output '${name}' is asked for twice`);
    const parameters = tensorParameters(raw as Record<string, unknown>, `outputs[${index}]`);
    if (parameters.classification !== undefined && parameters.classification !== 0) {
      throw badRequest(`outputs[${index}].parameters.classification: the classification extension is not supported; use POST /v1/models/${model.name}/classify`);
    }
    if (binaryFlag(parameters.binary_data, `outputs[${index}].parameters.binary_data`) ?? binaryDefault) binaryOutputs.add(name);
    wanted.push(name);
  });
  if (wanted.length > 0) return { outputs: wanted, binaryOutputs };
  return { outputs: names, binaryOutputs: new Set(binaryDefault ? names : []) };
}

/**
 * The inference response object: outputs flat, row-major; those asked for as binary carry
 * `parameters.binary_data_size` instead of `data`, and their bytes come back in `binaries`, in order.
 */
export function inferResponse(model: ServedModel, call: InferCall, outputs: Outputs): { json: Record<string, unknown>; binaries: Buffer[] } {
  const binaries: Buffer[] = [];
  const json = {
    model_name: model.name,
    model_version: model.version,
    ...(call.id !== undefined ? { id: call.id } : {}),
    outputs: call.outputs.map((name) => {
      const tensor = outputs[name]!;
      const described = { name, datatype: oipDatatype(tensor.type), shape: [...tensor.dims] };
      if (!call.binaryOutputs.has(name)) return { ...described, data: tensorToJson(tensor) };
      const bytes = tensorToBinary(tensor);
      binaries.push(bytes);
      return { ...described, parameters: { binary_data_size: bytes.length } };
    }),
  };
  return { json, binaries };
}

export interface Prediction {
  readonly index: number;
  readonly label: string;
  /** Softmax probability. */
  readonly score: number;
  readonly logit: number;
}

/** Turns an image into the model's feeds (recipe from the model's vitlin.json, its HF folder, or defaults). */
export function imageFeeds(model: ServedModel, image: Uint8Array, maxPixels: number): Feeds {
  const recipe = model.imageRecipe();
  const chw = preprocessImage(image, recipe, { maxPixels });
  const [, c, h, w] = chw.dims;
  const { data, dims } = model.imageLayout === 'NHWC' ? { data: chwToHwc(chw.data, c, h, w), dims: [1, h, w, c] } : chw;
  const input = model.session.inputs[0]!;
  const tensor = input.isTensor && input.type === 'float16'
    ? createTensor('float16', Uint16Array.from(data, float32ToFloat16Bits), dims)
    : createTensor('float32', data, dims);
  return { [input.name]: tensor };
}

/** Top-k of the logits output (named `logits`, else the first), softmaxed, labelled from id2label or LABEL_i. */
export function topK(model: ServedModel, outputs: Outputs, k: number): Prediction[] {
  const name = model.session.outputs.some((o) => o.name === 'logits') ? 'logits' : model.session.outputs[0]!.name;
  const values = tensorToJson(outputs[name]!);
  if (!values.every((v) => typeof v === 'number')) throw badRequest(`model '${model.name}' output '${name}' is not numeric; it cannot classify`);
  const logits = values as number[];
  const max = Math.max(...logits);
  const exps = logits.map((v) => Math.exp(v - max));
  const total = exps.reduce((a, b) => a + b, 0);
  const labels = model.labels;
  return logits
    .map((logit, index) => ({ index, label: labels?.[index] ?? `LABEL_${index}`, score: exps[index]! / total, logit }))
    .sort((a, b) => b.score - a.score || a.index - b.index)
    .slice(0, k);
}
