/**
 * The API the rewriter calls: the function that implements a vitlin op for one model (described as a
 * FunctionSpec), and the attributes and inputs of the node that calls it.
 *
 * Specialization: a body is generated for one default-domain opset, one element type, the optional
 * inputs its call sites wire, and the op's attribute values, which are baked into constants. Why not
 * `ref_attr_name`: at opset 11 no operator turns a float or int attribute into a tensor (Constant's
 * `value_float` / `value_int` arrive in opset 12), and `mode` changes the body's structure anyway.
 * Baking also lets the body precompute eps/a and b/a (see linear-angular-attention.ts). The function
 * still declares every attribute in `attribute_proto`, with the baked value as its default, so a call
 * site that omits an attribute means what the body computes; every call site writes them all
 * ({@link vitlinNodeAttributes}).
 * A model needing two specializations of one op gives each an `overload` (IR ≥ 10).
 *
 * A function is described, not built: {@link FunctionSpec} writes its body on a {@link NodeTape}, which
 * graph-rewrite implements over the IR (`buildFunction`; `getOpFunction` for the FunctionProto).
 */
import { InvalidArgumentError } from '../../base/errors.js';
import type { NodeProto } from '../../base/onnx-schema.js';
import { assertSupportedModelOpset, VITLIN_DOMAIN } from '../domain.js';
import {
  resolveOpAttributes,
  VITLIN_OP_SCHEMAS,
  type HydraAttentionAttributes,
  type LinearAngularAttentionAttributes,
  type PartialOpAttributes,
  type VitlinElemType,
  type VitlinOpAttributes,
  type VitlinOpType,
} from '../schemas.js';
import { dataTypeOf } from './body-builder.js';
import { buildHydraAttentionBody } from './hydra-attention.js';
import { buildLinearAngularAttentionBody } from './linear-angular-attention.js';
import { tapeAttr, type NodeTape, type TapeAttr } from './node-tape.js';

/**
 * A model-local function, described: its signature, and its body written on any node tape. Body
 * values are named by the tape; its nodes are named {@link functionBodyNodeName}.
 */
export interface FunctionSpec {
  readonly name: string;
  readonly domain: string;
  readonly overload?: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  /** Attributes the function accepts, with their defaults (`attribute_proto`). */
  readonly attributeDefaults: readonly TapeAttr[];
  /** The default-domain opset the body is written for. */
  readonly opset: number;
  readonly docString?: string;
  readonly metadata: readonly (readonly [key: string, value: string])[];
  /** Writes the body from the formal inputs (in order); returns the formal outputs (in order). */
  body<V>(tape: NodeTape<V>, inputs: readonly V[]): readonly V[];
}

/** The optional inputs of each op, in schema order. */
export interface VitlinOptionalInputs {
  HydraAttention: 'scale';
  LinearAngularAttention: 'value_weight' | 'angular_weight';
}

export interface OpFunctionOptions<Op extends VitlinOpType> {
  /** The model's default-domain (ONNX) opset, 11–23: the body is checked against it. */
  readonly opset: number;
  /** Element type of Q, K, V and Y at the call sites. */
  readonly elemType: VitlinElemType;
  /** Attribute values (schema defaults fill the rest; LinearAngularAttention needs num_heads). */
  readonly attributes?: PartialOpAttributes<Op>;
  /** The optional inputs the call sites wire; the body only reads these. Default: none. */
  readonly optionalInputs?: readonly VitlinOptionalInputs[Op][];
  /** Sets FunctionProto.overload; call sites must carry the same `overload` (model IR ≥ 10). */
  readonly overload?: string;
}

interface ResolvedOpFunctionOptions<Op extends VitlinOpType> {
  readonly opType: Op;
  readonly opset: number;
  readonly elemType: VitlinElemType;
  readonly attributes: VitlinOpAttributes[Op];
  readonly optionalInputs: readonly VitlinOptionalInputs[Op][];
}

function resolveOptions<Op extends VitlinOpType>(opType: Op, options: OpFunctionOptions<Op>): ResolvedOpFunctionOptions<Op> {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(`'options' must be an object with opset and elemType`);
  }
  assertSupportedModelOpset(options.opset);
  dataTypeOf(options.elemType);
  const attributes = resolveOpAttributes(opType, options.attributes);
  const schema = VITLIN_OP_SCHEMAS[opType];
  const optionalNames = schema.inputs.filter((input) => input.optional).map((input) => input.name);
  const requested = options.optionalInputs ?? [];
  for (const name of requested) {
    if (!optionalNames.includes(name)) {
      throw new InvalidArgumentError(
        `'optionalInputs' of ${opType} may name ${optionalNames.join(', ')}, got ${String(name)}`,
      );
    }
  }
  // Schema order, without duplicates, so equal specializations get equal keys.
  const optionalInputs = optionalNames.filter((name) => (requested as readonly string[]).includes(name)) as VitlinOptionalInputs[Op][];
  if (options.overload !== undefined && options.overload.length === 0) {
    throw new InvalidArgumentError(`'overload' must be a non-empty string when given`);
  }
  return { opType, opset: options.opset, elemType: options.elemType, attributes, optionalInputs };
}

/**
 * A stable key of the specialization {@link opFunction} describes: call sites with equal keys can
 * share one FunctionProto; different keys of one op type in one model need distinct overloads.
 */
export function opFunctionKey<Op extends VitlinOpType>(opType: Op, options: OpFunctionOptions<Op>): string {
  const resolved = resolveOptions(opType, options);
  const attributeText = Object.entries(resolved.attributes)
    .sort(([first], [second]) => (first < second ? -1 : 1))
    .map(([name, value]) => `${name}=${String(value)}`)
    .join(',');
  return `${opType}|opset=${resolved.opset}|${resolved.elemType}|${attributeText}|inputs=${resolved.optionalInputs.join('+')}`;
}

/** The node attributes that carry `attributes` (every one written, defaults included). */
function attributeList<Op extends VitlinOpType>(opType: Op, attributes: VitlinOpAttributes[Op]): TapeAttr[] {
  if (opType === 'HydraAttention') {
    return [tapeAttr.float('eps', (attributes as HydraAttentionAttributes).eps)];
  }
  const { num_heads: numHeads, mode, eps } = attributes as LinearAngularAttentionAttributes;
  return [tapeAttr.int('num_heads', numHeads), tapeAttr.string('mode', mode), tapeAttr.float('eps', eps)];
}

function writeBody<Op extends VitlinOpType, V>(resolved: ResolvedOpFunctionOptions<Op>, tape: NodeTape<V>, inputs: readonly V[]): V {
  const wired = resolved.optionalInputs as readonly string[];
  if (resolved.opType === 'HydraAttention') {
    return buildHydraAttentionBody(tape, {
      elemType: resolved.elemType,
      attributes: resolved.attributes as HydraAttentionAttributes,
      hasScale: wired.includes('scale'),
    }, inputs);
  }
  return buildLinearAngularAttentionBody(tape, {
    elemType: resolved.elemType,
    attributes: resolved.attributes as LinearAngularAttentionAttributes,
    hasValueWeight: wired.includes('value_weight'),
    hasAngularWeight: wired.includes('angular_weight'),
  }, inputs);
}

/**
 * The name of a function-body node: `<function>/<its output>` (`HydraAttention/key_norm`; outputs are
 * unique in a body). onnxruntime names an inlined node `_inlfunc_<function>_<n>_<node name>`, so named
 * body nodes let profiles attribute time to the fused op and to each of its steps.
 */
export function functionBodyNodeName(functionName: string, output: string): string {
  return `${functionName}/${output}`;
}

/**
 * The model-local function implementing `opType` for one specialization (see the file comment).
 * Add it to the model once per key ({@link opFunctionKey}); the model must import `ai.vitlin`
 * version 1 (`withVitlinOpsetImport`) and default-domain opset `options.opset`.
 */
export function opFunction<Op extends VitlinOpType>(opType: Op, options: OpFunctionOptions<Op>): FunctionSpec {
  const resolved = resolveOptions(opType, options);
  const schema = VITLIN_OP_SCHEMAS[opType];
  const key = opFunctionKey(opType, options);
  return {
    name: opType,
    domain: VITLIN_DOMAIN,
    ...(options.overload === undefined ? {} : { overload: options.overload }),
    inputs: schema.inputs.map((input) => input.name),
    outputs: schema.outputs.map((output) => output.name),
    attributeDefaults: attributeList(opType, resolved.attributes),
    opset: resolved.opset,
    docString: `${schema.summary} Generated by vitlin for ${key}.`,
    metadata: [['vitlin.function_key', key]],
    body: (tape, inputs) => [writeBody(resolved, tape, inputs)],
  };
}

/** The attributes of a node calling `opType`, every one written (schema defaults resolved), in schema order. */
export function vitlinNodeAttributes<Op extends VitlinOpType>(opType: Op, attributes?: PartialOpAttributes<Op>): TapeAttr[] {
  return attributeList(opType, resolveOpAttributes(opType, attributes));
}

export interface VitlinNodeOptions<Op extends VitlinOpType> {
  /** Value names of Q, K, V and of any optional inputs (by schema name). */
  readonly inputs: { readonly Q: string; readonly K: string; readonly V: string } & {
    readonly [name in VitlinOptionalInputs[Op]]?: string;
  };
  readonly output: string;
  readonly name?: string;
  readonly attributes?: PartialOpAttributes<Op>;
  /** Must equal the overload of the function the node calls. */
  readonly overload?: string;
}

/**
 * The input names of a node calling `opType`: absent optional inputs as '' (trailing ones dropped).
 * Its optional inputs must be the `optionalInputs` of the function it calls.
 */
export function vitlinNodeInputNames<Op extends VitlinOpType>(opType: Op, inputs: VitlinNodeOptions<Op>['inputs']): string[] {
  const given = inputs as Readonly<Record<string, string | undefined>>;
  const inputNames = VITLIN_OP_SCHEMAS[opType].inputs.map((input) => {
    const value = given[input.name];
    if (!input.optional && (value === undefined || value === '')) {
      throw new InvalidArgumentError(`'inputs.${input.name}' of ${opType} is required`);
    }
    return value ?? '';
  });
  while (inputNames.length > 0 && inputNames[inputNames.length - 1] === '') inputNames.pop();
  return inputNames;
}

/** The optional inputs a vitlin node wires (non-empty names), for {@link OpFunctionOptions.optionalInputs}. */
export function wiredOptionalInputs<Op extends VitlinOpType>(opType: Op, node: NodeProto): VitlinOptionalInputs[Op][] {
  const schema = VITLIN_OP_SCHEMAS[opType];
  return schema.inputs
    .filter((input, index) => input.optional && (node.input[index] ?? '') !== '')
    .map((input) => input.name) as VitlinOptionalInputs[Op][];
}
