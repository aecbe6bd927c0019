/**
 * A browser runtime over onnxruntime-web's WebGPU build (`onnxruntime-web/webgpu`: the native WebGPU EP,
 * the same kernels Node's onnxruntime uses, plus the WASM CPU EP). Sessions ask for WebGPU and fall back
 * to WASM with a reason a page can show; nothing is fetched from outside the page's own origin.
 */
import * as ort from 'onnxruntime-web/webgpu';
import { InvalidArgumentError, VitlinError } from '../../graph-rewrite/errors.js';
import { isAllocationFailure, ModelTooLargeError } from './model.js';

export { ort };

export type WebExecutionProvider = 'webgpu' | 'wasm';
/** 'auto' = WebGPU when it works, else WASM (with `fallbackReason`). */
export type WebEpChoice = 'auto' | WebExecutionProvider;
export const WEB_EP_CHOICES: readonly WebEpChoice[] = ['auto', 'webgpu', 'wasm'];

/** onnxruntime-web failed to load or run a model. */
export class WebRuntimeError extends VitlinError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('RUNTIME', message, options);
  }
}

export interface WebRuntimeConfig {
  /** URL prefix of onnxruntime-web's `ort-wasm-simd-threaded.asyncify.{mjs,wasm}` (served by the page). */
  readonly wasmPaths: string;
  /** WASM threads; default: every core when the page is cross-origin isolated (threads need it), else 1. */
  readonly numThreads?: number;
  /** onnxruntime's log level; 'verbose' prints node placement lines to the console. Default 'warning'. */
  readonly logLevel?: 'verbose' | 'info' | 'warning' | 'error' | 'fatal';
}

export interface RuntimeInfo {
  readonly crossOriginIsolated: boolean;
  readonly wasmThreads: number;
  readonly logLevel: string;
}

let configured: RuntimeInfo | undefined;

/** Sets onnxruntime-web's global environment; call once before the first session. */
export function configureWebRuntime(config: WebRuntimeConfig): RuntimeInfo {
  if (typeof config?.wasmPaths !== 'string' || config.wasmPaths.length === 0) {
    throw new InvalidArgumentError(`'config.wasmPaths' must be a URL prefix, got ${JSON.stringify(config?.wasmPaths)}`);
  }
  const isolated = globalThis.crossOriginIsolated === true;
  const cores = globalThis.navigator?.hardwareConcurrency ?? 1;
  const wasmThreads = config.numThreads ?? (isolated ? Math.max(1, Math.min(cores, 8)) : 1);
  ort.env.wasm.wasmPaths = config.wasmPaths;
  ort.env.wasm.numThreads = wasmThreads;
  ort.env.logLevel = config.logLevel ?? 'warning';
  configured = { crossOriginIsolated: isolated, wasmThreads, logLevel: ort.env.logLevel };
  return configured;
}

/** Why WebGPU cannot be used here, or undefined when an adapter is available. */
export async function webGpuUnavailableReason(): Promise<string | undefined> {
  const gpu = (globalThis.navigator as { gpu?: { requestAdapter(): Promise<unknown> } } | undefined)?.gpu;
  if (!gpu) return 'this browser has no WebGPU (navigator.gpu is missing; it also needs a secure context such as https or localhost)';
  try {
    const adapter = await gpu.requestAdapter();
    return adapter ? undefined : 'the browser found no WebGPU adapter (GPU blocklisted or disabled)';
  } catch (error) {
    return `requesting a WebGPU adapter failed: ${(error as Error).message}`;
  }
}

export interface WebSessionOptions {
  readonly ep?: WebEpChoice;
  /** Names the model in errors. */
  readonly label?: string;
  /** onnxruntime session log severity (0 verbose … 4 fatal); default: from the runtime's log level. */
  readonly logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
  /**
   * Fix symbolic dims (e.g. { batch: 1 }). With every dim known, onnxruntime folds the model's int64
   * shape arithmetic away; otherwise the WebGPU EP leaves those small nodes on the CPU (it has no int64
   * kernels by default), which costs a GPU↔CPU round trip per run.
   */
  readonly freeDimensionOverrides?: Readonly<Record<string, number>>;
}

export interface WebRunResult {
  readonly outputs: Record<string, ort.Tensor>;
  /** Wall time of session.run, including reading the outputs back to the CPU. */
  readonly ms: number;
}

export interface WebSession {
  /** The EP the session actually runs on. */
  readonly ep: WebExecutionProvider;
  /** Set when 'auto' had to fall back to WASM: why WebGPU was not used. */
  readonly fallbackReason?: string;
  readonly inputs: readonly ort.InferenceSession.ValueMetadata[];
  readonly outputs: readonly ort.InferenceSession.ValueMetadata[];
  run(feeds: Record<string, ort.Tensor>): Promise<WebRunResult>;
  release(): Promise<void>;
}

const SEVERITY: Record<string, 0 | 1 | 2 | 3 | 4> = { verbose: 0, info: 1, warning: 2, error: 3, fatal: 4 };

function failure(label: string, what: string, ep: WebExecutionProvider, cause: unknown): VitlinError {
  const message = cause instanceof Error ? cause.message : String(cause);
  if (isAllocationFailure(cause)) {
    return new ModelTooLargeError(`${label}: not enough memory to ${what} on ${ep} (${message})`, { cause });
  }
  return new WebRuntimeError(`${label}: onnxruntime-web could not ${what} on ${ep}: ${message}`, { cause });
}

async function open(bytes: Uint8Array, ep: WebExecutionProvider, label: string, severity: 0 | 1 | 2 | 3 | 4,
  dims: Readonly<Record<string, number>> | undefined): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(bytes, {
      executionProviders: [ep],
      ...(dims ? { freeDimensionOverrides: { ...dims } } : {}),
      graphOptimizationLevel: 'all',
      logSeverityLevel: severity,
      // onnxruntime prefixes the session's log lines with this ("[V:onnxruntime:<logId>, …]"), so a
      // reader of the console can tell which model a placement line belongs to.
      logId: label,
    });
  } catch (cause) {
    throw failure(label, 'load the model', ep, cause);
  }
}

/**
 * Creates a session for the model's bytes. With 'auto' it tries WebGPU and, when WebGPU is missing or
 * the session cannot be created there (e.g. an fp16 model on a device without shader-f16), creates a
 * WASM session and says why in `fallbackReason`. An explicit 'webgpu' or 'wasm' never falls back.
 */
export async function createWebSession(bytes: Uint8Array, options: WebSessionOptions = {}): Promise<WebSession> {
  if (!configured) throw new InvalidArgumentError('call configureWebRuntime({ wasmPaths }) before creating a session');
  if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError(`'bytes' must be a Uint8Array`);
  const choice = options.ep ?? 'auto';
  if (!WEB_EP_CHOICES.includes(choice)) throw new InvalidArgumentError(`'ep' must be one of ${WEB_EP_CHOICES.join(', ')}, got ${JSON.stringify(choice)}`);
  const label = options.label ?? '<bytes>';
  const severity = options.logSeverityLevel ?? SEVERITY[configured.logLevel] ?? 2;
  let ep: WebExecutionProvider = choice === 'wasm' ? 'wasm' : 'webgpu';
  let fallbackReason: string | undefined;
  let session: ort.InferenceSession;
  if (choice !== 'wasm') {
    const unavailable = await webGpuUnavailableReason();
    if (unavailable && choice === 'webgpu') throw new WebRuntimeError(`${label}: WebGPU is not available: ${unavailable}`);
    if (unavailable) {
      ep = 'wasm';
      fallbackReason = unavailable;
    }
  }
  if (ep === 'webgpu' && choice === 'auto') {
    try {
      session = await open(bytes, 'webgpu', label, severity, options.freeDimensionOverrides);
    } catch (error) {
      // Memory is memory: a model too large for the GPU is reported, not retried on the CPU.
      if (error instanceof ModelTooLargeError) throw error;
      ep = 'wasm';
      fallbackReason = (error as Error).message;
      session = await open(bytes, 'wasm', label, severity, options.freeDimensionOverrides);
    }
  } else {
    session = await open(bytes, ep, label, severity, options.freeDimensionOverrides);
  }
  const created = session;
  const runOn = ep;
  return {
    ep: runOn,
    ...(fallbackReason === undefined ? {} : { fallbackReason }),
    inputs: created.inputMetadata,
    outputs: created.outputMetadata,
    async run(feeds) {
      const start = performance.now();
      try {
        const outputs = await created.run(feeds);
        return { outputs, ms: performance.now() - start };
      } catch (cause) {
        throw failure(label, 'run the model', runOn, cause);
      }
    },
    release: () => created.release(),
  };
}
