/**
 * The runtime seam (src/runtime/backend.ts) on onnxruntime-web: WebGPU (the default; it falls back to
 * WASM with the reason in `fallbackReason`, as `createWebSession` does for the page) and WASM. vitlin
 * tensors become onnxruntime-web tensors here and nowhere else, so eval and calibration code written on
 * the `Backend` interface runs in the page unchanged.
 */
import { InvalidArgumentError } from '../../graph-rewrite/errors.js';
import { checkFeeds, isTensorType, mapTensors, tensorFromRuntime, type Backend, type BackendSession, type BackendSessionOptions, type Feeds, type Tensor, type ValueInfo } from '../runtime/backend.js';
import { createWebSession, ort, type WebEpChoice, type WebExecutionProvider } from './runtime.js';

export const WEB_BACKEND_EPS: readonly WebExecutionProvider[] = ['webgpu', 'wasm'];

/** A vitlin tensor as an onnxruntime-web tensor (float16 as its raw bits: onnxruntime-web takes a Uint16Array). */
export function toOrtTensor(tensor: Tensor, name = 'tensor'): ort.Tensor {
  if (!isTensorType(tensor?.type)) throw new InvalidArgumentError(`feed '${name}': unknown tensor type ${JSON.stringify(tensor?.type)}`);
  try {
    return new ort.Tensor(tensor.type as 'float32', tensor.data as Float32Array, [...tensor.dims]);
  } catch (cause) {
    throw new InvalidArgumentError(`feed '${name}': not a valid ${tensor.type} tensor of dims [${tensor.dims.join(', ')}]: ${(cause as Error).message}`);
  }
}

/**
 * An onnxruntime-web tensor (already on the CPU) as a vitlin tensor. float16 comes back as raw bits
 * whether onnxruntime-web hands a Uint16Array or, where the browser has one, a Float16Array.
 */
export function fromOrtTensor(tensor: ort.Tensor, name = 'output'): Tensor {
  const converted = tensorFromRuntime(tensor);
  if (!converted) throw new InvalidArgumentError(`output '${name}': tensor type ${tensor.type} is not one vitlin reads`);
  return converted;
}

function valueInfo(meta: ort.InferenceSession.ValueMetadata): ValueInfo {
  if (!meta.isTensor) return { name: meta.name, isTensor: false, shape: [] };
  return {
    name: meta.name, isTensor: true, ...(isTensorType(meta.type) ? { type: meta.type } : {}),
    shape: meta.shape,
  };
}

function epChoice(ep: string | undefined): WebEpChoice {
  if (ep === undefined) return 'auto'; // the default EP, WebGPU, with the page's fallback to WASM
  if (!(WEB_BACKEND_EPS as readonly string[]).includes(ep)) {
    throw new InvalidArgumentError(`'ep' must be one of ${WEB_BACKEND_EPS.join(', ')} for onnxruntime-web, got ${JSON.stringify(ep)}`);
  }
  return ep as WebExecutionProvider;
}

/**
 * onnxruntime-web as a vitlin `Backend`. Call `configureWebRuntime` first (as for `createWebSession`).
 * With no `ep`, sessions try WebGPU and fall back to WASM (saying why); 'webgpu' or 'wasm' never fall back.
 */
export const webBackend: Backend = {
  name: 'onnxruntime-web',
  eps: WEB_BACKEND_EPS,
  async createSession(model: Uint8Array, options: BackendSessionOptions = {}): Promise<BackendSession> {
    const session = await createWebSession(model, { ep: epChoice(options.ep), ...(options.label ? { label: options.label } : {}) });
    const inputs = session.inputs.map(valueInfo);
    return {
      ep: session.ep,
      ...(session.fallbackReason === undefined ? {} : { fallbackReason: session.fallbackReason }),
      inputs,
      outputs: session.outputs.map(valueInfo),
      async run(feeds: Feeds) {
        // The same checks, and the same wording, as every backend: names, types, ranks, fixed dims, lengths.
        const { outputs } = await session.run(mapTensors(checkFeeds(inputs, feeds), toOrtTensor));
        return mapTensors(outputs, fromOrtTensor);
      },
      release: () => session.release(),
    };
  },
};
