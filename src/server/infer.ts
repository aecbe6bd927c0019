/**
 * The two inference endpoints' request and response bodies: the Open Inference Protocol's inference
 * request / response JSON objects, and vitlin's image classification (`/v1/models/{name}/classify`).
 */
import ort from 'onnxruntime-node';
import { preprocessImage } from '../data/images.js';
import { float32ToFloat16Bits } from '../runtime/float16.js';
import type { Feeds } from '../runtime/session.js';
import type { Outputs } from './batcher.js';
import { oipDatatype, tensorFromJson, tensorToJson } from './datatypes.js';
import { badRequest } from './errors.js';
import { MODEL_VERSION, type ServedModel } from './models.js';

/** A validated inference request. */
export interface InferCall {
  readonly id?: string;
  readonly feeds: Feeds;
  /** Output names to return, in order. */
  readonly outputs: readonly string[];
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Validates a parsed inference request body against `model`; every failure is a 400 naming the field. */
export function parseInferRequest(body: unknown, model: ServedModel): InferCall {
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
    const { name, shape, datatype, data } = raw;
    if (typeof name !== 'string') throw badRequest(`${at}.name must be a string`);
    const where = `${at} '${name}'`;
    const meta = modelInputs.find((i) => i.name === name);
    if (!meta) throw badRequest(`${where}: model '${model.name}' has no input '${name}' (inputs: ${modelInputs.map((i) => i.name).join(', ')})`);
    if (feeds[name]) throw badRequest(`${where}: input '${name}' is given twice`);
    if (!meta.isTensor) throw badRequest(`${where}: input '${name}' is not a tensor`);
    const expected = oipDatatype(meta.type);
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
    feeds[name] = tensorFromJson(meta.type, dims, data, where);
  });
  const missing = modelInputs.filter((i) => !feeds[i.name]).map((i) => i.name);
  if (missing.length > 0) throw badRequest(`'inputs' lacks ${missing.map((n) => `'${n}'`).join(', ')} (model '${model.name}' needs ${modelInputs.map((i) => i.name).join(', ')})`);
  if (model.batchable) {
    // The batch axis has no shared name to check above when exporters name it per input.
    const rows = new Set(Object.values(feeds).map((t) => t.dims[0]));
    if (rows.size > 1) throw badRequest(`inputs disagree on the batch size (dim 0): ${Object.entries(feeds).map(([n, t]) => `${n} ${t.dims[0]}`).join(', ')}`);
  }
  return { ...(body.id !== undefined ? { id: body.id as string } : {}), feeds, outputs: parseRequestedOutputs(body.outputs, model) };
}

function parseRequestedOutputs(value: unknown, model: ServedModel): string[] {
  const names = model.session.outputs.map((o) => o.name);
  if (value === undefined) return names;
  if (!Array.isArray(value)) throw badRequest(`'outputs' must be an array of {"name": ...} objects`);
  const wanted: string[] = [];
  value.forEach((raw: unknown, index) => {
    const name = isObject(raw) ? raw.name : undefined;
    if (typeof name !== 'string') throw badRequest(`outputs[${index}].name must be a string`);
    if (!names.includes(name)) throw badRequest(`outputs[${index}]: model '${model.name}' has no output '${name}' (outputs: ${names.join(', ')})`);
    if (wanted.includes(name)) throw badRequest(`outputs[${index}]: output '${name}' is asked for twice`);
    wanted.push(name);
  });
  return wanted.length > 0 ? wanted : names;
}

/** The inference response object: outputs flat, row-major. */
export function inferResponse(model: ServedModel, call: InferCall, outputs: Outputs): Record<string, unknown> {
  return {
    model_name: model.name,
    model_version: MODEL_VERSION,
    ...(call.id !== undefined ? { id: call.id } : {}),
    outputs: call.outputs.map((name) => {
      const tensor = outputs[name]!;
      return { name, datatype: oipDatatype(tensor.type), shape: [...tensor.dims], data: tensorToJson(tensor) };
    }),
  };
}

export interface Prediction {
  readonly index: number;
  readonly label: string;
  /** Softmax probability. */
  readonly score: number;
  readonly logit: number;
}

/** Turns an image into the model's feeds (recipe from the model's HF folder, or defaults). */
export function imageFeeds(model: ServedModel, image: Uint8Array, maxPixels: number): Feeds {
  const recipe = model.imageRecipe();
  const { data, dims } = preprocessImage(image, recipe, { maxPixels });
  const input = model.session.inputs[0]!;
  const tensor = input.isTensor && input.type === 'float16'
    ? new ort.Tensor('float16', Uint16Array.from(data, float32ToFloat16Bits), dims)
    : new ort.Tensor('float32', data, dims);
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
  const labels = model.hf?.labels;
  return logits
    .map((logit, index) => ({ index, label: labels?.[index] ?? `LABEL_${index}`, score: exps[index]! / total, logit }))
    .sort((a, b) => b.score - a.score || a.index - b.index)
    .slice(0, k);
}
