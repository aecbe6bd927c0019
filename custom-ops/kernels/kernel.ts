/**
 * The kernel registry: one descriptor per attention kernel a softmax site can be converted to. The
 * rewriter (emit, option checks), the FLOP counter, shape inference, the planner and the CLI iterate
 * it instead of naming kernels. A new kernel is its folder (schema, function body, reference) plus one
 * registry line in registry.ts — or, for a plug-in or a test, one `registerKernel` call.
 *
 * Descriptors see a site as plain facts (KernelSite) and describe the fused node's function on a
 * node tape (FunctionSpec), so custom-ops depends on nothing but base/.
 */
import { InvalidArgumentError } from '../../base/errors.js';
import type { FunctionSpec } from '../functions/op-function.js';
import type { TapeAttr } from '../functions/node-tape.js';
import type { OpSchema, VitlinElemType } from '../schemas.js';

/** What a kernel sees of a softmax attention site. */
export interface KernelSite {
  readonly heads: number;
  readonly headDim: number;
  /** Query / key tokens: a number or a symbolic dim name. */
  readonly tokens: number | string | undefined;
  readonly keyTokens: number | string | undefined;
  /** Whether query and key tokens are provably the same count. */
  readonly sameTokens: boolean;
}

/** Conversion options a kernel may read (the `--eps`, `--linear-angular-mode` of convert). */
export interface KernelOptions {
  readonly eps?: number;
  readonly linearAngularMode?: 'reference' | 'kernel_normalized';
}

/** The shape a kernel is costed on: [batch, tokens, heads · headDim]. */
export interface KernelDims {
  readonly batch: number;
  readonly tokens: number;
  readonly heads: number;
  readonly headDim: number;
}

/** The fused node for one site: its attributes, and the function body that implements it. */
export interface KernelCall {
  readonly attributes: readonly TapeAttr[];
  /** Call sites with equal keys share one function; different keys get overloads. */
  readonly functionKey: string;
  body(overload: string | undefined): FunctionSpec;
}

export interface AttentionKernel {
  /** What `--attention` and `convertAttention`'s `attention` option name it: 'hydra'. */
  readonly name: string;
  readonly domain: string;
  readonly domainVersion: number;
  readonly opType: string;
  readonly schema?: OpSchema;
  /** Why this kernel cannot replace `site` under `options` (undefined: it can). */
  blocker?(site: KernelSite, options: KernelOptions): string | undefined;
  /** The fused node for `site` in a model of default-domain opset `opset` and element type `elemType`. */
  call(site: KernelSite, options: KernelOptions, opset: number, elemType: VitlinElemType): KernelCall;
  /** FLOPs of the kernel on one site (the cost model of docs/reference.md). */
  flops(dims: KernelDims): number;
  /** Heads of a fused node of this kernel from its attributes, D being its feature width (FLOP counting of converted models). */
  headsOf(getInt: (name: string, fallback: number) => number, features: number): number;
}

const KERNELS = new Map<string, AttentionKernel>();

/** Adds `kernel` to the registry (a name or an op type already registered is an error). */
export function registerKernel(kernel: AttentionKernel): void {
  if (KERNELS.has(kernel.name)) throw new InvalidArgumentError(`kernel '${kernel.name}' is already registered`);
  if (kernelForOp(kernel.domain, kernel.opType)) throw new InvalidArgumentError(`an attention kernel for ${kernel.domain}.${kernel.opType} is already registered`);
  KERNELS.set(kernel.name, kernel);
}

/** Removes a kernel registered by `registerKernel` (tests, plug-ins being unloaded). */
export function unregisterKernel(name: string): void {
  KERNELS.delete(name);
}

/** Every registered kernel, in registration order. */
export function kernels(): readonly AttentionKernel[] {
  return [...KERNELS.values()];
}

export function kernelNames(): string[] {
  return [...KERNELS.keys()];
}

/** The kernel named `name`; InvalidArgumentError naming the registered ones otherwise. */
export function getKernel(name: string): AttentionKernel {
  const kernel = KERNELS.get(name);
  if (!kernel) throw new InvalidArgumentError(`unknown attention kernel '${name}' (registered: ${kernelNames().join(', ')})`);
  return kernel;
}

export function hasKernel(name: unknown): boolean {
  return typeof name === 'string' && KERNELS.has(name);
}

/** The kernel whose fused node is `domain`.`opType`, if any. */
export function kernelForOp(domain: string, opType: string): AttentionKernel | undefined {
  for (const kernel of KERNELS.values()) if (kernel.domain === domain && kernel.opType === opType) return kernel;
  return undefined;
}
