/**
 * The ONNX protos of vitlin's ops, for models written by hand (tests, benchmarks, other tools): the
 * FunctionProto of one specialization and a NodeProto calling it. Both come from the IR builders the
 * rewriter uses, so there is one way of writing a body.
 */

import {
  VITLIN_DOMAIN,
  opFunction,
  vitlinNodeAttributes,
  vitlinNodeInputNames,
  type OpFunctionOptions,
  type VitlinNodeOptions,
  type VitlinOpType,
} from '../../custom-ops/index.js';
import { makeMessage } from '../ir/proto-utils.js';
import { attributeToProto, functionToProto } from '../ir/to-proto.js';
import type { FunctionProto, NodeProto } from '../serde/onnx-schema.js';
import { buildFunction } from './function-builder.js';

/**
 * The model-local FunctionProto implementing `opType` for one specialization (custom-ops'
 * `opFunction`). Add it to ModelProto.functions once per key (`opFunctionKey`); the model must import
 * `ai.vitlin` version 1 (`withVitlinOpsetImport`) and default-domain opset `options.opset`.
 */
export function getOpFunction<Op extends VitlinOpType>(opType: Op, options: OpFunctionOptions<Op>): FunctionProto {
  return functionToProto(buildFunction(opFunction(opType, options)));
}

/**
 * The NodeProto calling a vitlin op, with every attribute written (defaults resolved) and absent
 * optional inputs as '' (trailing ones dropped). Its optional inputs must be the `optionalInputs`
 * of the function it calls: `wiredOptionalInputs` lists them.
 */
export function makeVitlinNode<Op extends VitlinOpType>(opType: Op, options: VitlinNodeOptions<Op>): NodeProto {
  return makeMessage<NodeProto>('NodeProto', {
    input: vitlinNodeInputNames(opType, options.inputs),
    output: [options.output],
    name: options.name,
    op_type: opType,
    domain: VITLIN_DOMAIN,
    overload: options.overload,
    attribute: vitlinNodeAttributes(opType, options.attributes).map(attributeToProto),
  });
}
