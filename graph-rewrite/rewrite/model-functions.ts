/**
 * Model-local functions in a rewritten model: adding a function (as described by custom-ops, built on
 * the IR by buildFunction) to the model once per specialisation, choosing overloads when one op needs several bodies, and keeping the
 * model's IR version and opset imports what those functions need.
 */

import { RewriteError } from '../errors.js';
import type { FunctionSpec } from '../../custom-ops/index.js';
import type { Model } from '../ir/model.js';
import { buildFunction } from './function-builder.js';

/** Metadata key under which custom-ops records a body's specialisation. */
export const FUNCTION_KEY_METADATA = 'vitlin.function_key';

/** IR version from which FunctionProto.overload exists. */
const IR_VERSION_WITH_OVERLOAD = 10;
/** IR version from which models may hold functions. */
const IR_VERSION_WITH_FUNCTIONS = 8;

/**
 * Makes sure `model` holds the function for one specialisation `key` of `domain::name`, built by
 * `build(overload)` when missing. Returns the overload call sites must carry (undefined for the
 * first specialisation of an op; `k1`, `k2`, … for later ones, which raises the IR version to 10).
 */
export function ensureModelFunction(
  model: Model,
  domain: string,
  name: string,
  key: string,
  build: (overload: string | undefined) => FunctionSpec,
): string | undefined {
  const existing = model.functions.find((fn) => fn.domain === domain && fn.name === name && fn.metadataProps.get(FUNCTION_KEY_METADATA) === key);
  if (existing !== undefined) return existing.overload || undefined;
  const taken = new Set(model.functions.filter((fn) => fn.domain === domain && fn.name === name).map((fn) => fn.overload ?? ''));
  let overload: string | undefined;
  if (taken.has('')) {
    let n = 1;
    while (taken.has(`k${n}`)) n++;
    overload = `k${n}`;
  }
  const fn = buildFunction(build(overload));
  if (fn.metadataProps.get(FUNCTION_KEY_METADATA) === undefined) fn.metadataProps.set(FUNCTION_KEY_METADATA, key);
  model.functions.push(fn);
  const needed = overload === undefined ? IR_VERSION_WITH_FUNCTIONS : IR_VERSION_WITH_OVERLOAD;
  if (model.irVersion === undefined || model.irVersion < needed) model.irVersion = needed;
  return overload;
}

/** Imports `domain` at `version`, or checks that the model already imports that version. */
export function ensureOpsetImport(model: Model, domain: string, version: number): void {
  const current = model.opsetImports.get(domain);
  if (current === undefined) model.opsetImports.set(domain, version);
  else if (current !== version) {
    throw new RewriteError(`the model imports ${domain} version ${current}, but the rewrite needs version ${version}`);
  }
}
