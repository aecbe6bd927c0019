/**
 * The `ai.vitlin` operator domain: its name and version, the model opsets the function bodies
 * support, and the opset imports / IR version a model needs once it contains vitlin ops.
 */
import { InvalidArgumentError } from '../base/errors.js';
import type { OperatorSetIdProto } from '../base/onnx-schema.js';

/** Domain of every vitlin custom op. */
export const VITLIN_DOMAIN = 'ai.vitlin';
/** The only version of the `ai.vitlin` domain so far. */
export const VITLIN_OPSET_VERSION = 1;

/** Lowest default-domain (ONNX) opset a function body can be generated for. */
export const MIN_SUPPORTED_MODEL_OPSET = 11;
/** Highest default-domain (ONNX) opset a function body can be generated for. */
export const MAX_SUPPORTED_MODEL_OPSET = 23;

/**
 * Lowest model IR version that may hold model-local functions (FunctionProto in ModelProto.functions,
 * IR 8 = ONNX 1.10). A function with an `overload` needs {@link MIN_IR_VERSION_WITH_OVERLOAD}.
 */
export const MIN_IR_VERSION_WITH_FUNCTIONS = 8n;
/** `FunctionProto.overload` / `NodeProto.overload` exist from IR 10 (ONNX 1.16). */
export const MIN_IR_VERSION_WITH_OVERLOAD = 10n;

/** Throws unless `opset` is an integer default-domain opset in [11, 23]. */
export function assertSupportedModelOpset(opset: number): void {
  if (!Number.isInteger(opset) || opset < MIN_SUPPORTED_MODEL_OPSET || opset > MAX_SUPPORTED_MODEL_OPSET) {
    throw new InvalidArgumentError(
      `'opset' must be an integer default-domain opset in [${MIN_SUPPORTED_MODEL_OPSET}, ${MAX_SUPPORTED_MODEL_OPSET}], got ${String(opset)}`,
    );
  }
}

/**
 * The opset imports of a model that uses vitlin ops: its existing imports plus `ai.vitlin` version 1.
 * The default-domain import is kept as is: function bodies are generated for that opset
 * ({@link defaultDomainOpset} reads it). Throws if the model already imports another `ai.vitlin` version.
 */
export function withVitlinOpsetImport(opsetImports: readonly OperatorSetIdProto[]): OperatorSetIdProto[] {
  const existing = opsetImports.find((entry) => entry.domain === VITLIN_DOMAIN);
  if (existing !== undefined) {
    if (existing.version !== BigInt(VITLIN_OPSET_VERSION)) {
      throw new InvalidArgumentError(
        `'opsetImports' already imports ${VITLIN_DOMAIN} version ${String(existing.version)}; only version ${VITLIN_OPSET_VERSION} exists`,
      );
    }
    return [...opsetImports];
  }
  return [...opsetImports, { domain: VITLIN_DOMAIN, version: BigInt(VITLIN_OPSET_VERSION) }];
}

/**
 * The default-domain (ONNX) opset a model imports: the entry whose domain is '' or 'ai.onnx'.
 * Function bodies must be generated for exactly this version, because onnxruntime checks a body's
 * nodes against the model's opset when it inlines the function.
 */
export function defaultDomainOpset(opsetImports: readonly OperatorSetIdProto[]): number {
  const entry = opsetImports.find((candidate) => (candidate.domain ?? '') === '' || candidate.domain === 'ai.onnx');
  if (entry === undefined || entry.version === undefined) {
    throw new InvalidArgumentError(`'opsetImports' has no default-domain (ONNX) opset entry`);
  }
  return Number(entry.version);
}

/** The IR version a model needs to hold vitlin functions: at least its own, at least 8 (10 with overloads). */
export function requiredIrVersion(currentIrVersion: bigint | undefined, usesOverloads: boolean): bigint {
  const minimum = usesOverloads ? MIN_IR_VERSION_WITH_OVERLOAD : MIN_IR_VERSION_WITH_FUNCTIONS;
  return currentIrVersion !== undefined && currentIrVersion > minimum ? currentIrVersion : minimum;
}
