/**
 * The check shared by every attention rule: what makes a recognised block convertible. Each failure
 * is a reason users read, naming the node it is about.
 */

import { DataType, dataTypeName } from '../ir/dtypes.js';
import type { Node } from '../ir/node.js';
import { describeNode, isMetadataReader, type MatchContext } from '../rewrite/match-context.js';
import { MAX_SUPPORTED_MODEL_OPSET, MIN_SUPPORTED_MODEL_OPSET } from '../../custom-ops/index.js';
import { outputArrangement } from './emit.js';
import type { AttentionMatch } from './types.js';

const SUPPORTED_TYPES: ReadonlySet<number> = new Set([DataType.FLOAT, DataType.FLOAT16]);

/** Ops of shape subgraphs (computing a Reshape target from a Shape). */
const SHAPE_SUBGRAPH_OPS: ReadonlySet<string> = new Set(['Shape', 'Size', 'Gather', 'Unsqueeze', 'Squeeze', 'Concat', 'Slice', 'Cast',
  'Add', 'Sub', 'Mul', 'Div', 'Identity', 'Reshape', 'Equal', 'Where', 'ConstantOfShape']);

/**
 * Whether `reader` is a Shape / Size node whose result only feeds the block's own nodes (through a
 * shape subgraph): it dies with the block, so it does not keep the softmax path alive.
 */
function shapeReaderStaysInside(reader: Node, interior: ReadonlySet<Node>): boolean {
  if (!isMetadataReader(reader)) return false;
  const pending = [reader];
  const seen = new Set<Node>();
  while (pending.length > 0) {
    const node = pending.pop()!;
    if (seen.has(node)) continue;
    seen.add(node);
    if (seen.size > 200 || node.domain !== '' || !SHAPE_SUBGRAPH_OPS.has(node.opType)) return false;
    for (const output of node.outputs) {
      if (output.isGraphOutput()) return false;
      for (const use of output.uses()) if (!interior.has(use.node)) pending.push(use.node);
    }
  }
  return true;
}

export function checkAttention(m: MatchContext, match: AttentionMatch): void {
  if (match.blocker !== undefined) m.fail(match.blocker.reason, match.blocker.node);

  // Intermediate results read outside the block would keep the quadratic path alive after conversion.
  const interior = new Set(match.interior);
  for (const node of match.interior) {
    for (const output of node.outputs) {
      if (output === match.output.value) continue;
      m.ensure(!output.isGraphOutput(),
        () => `the block's intermediate ${output.label} (from ${describeNode(node)}) is a graph output; converting would keep the softmax path`, node);
      const outside = output.uses().find((use) => !interior.has(use.node) && !shapeReaderStaysInside(use.node, interior));
      m.ensure(outside === undefined,
        () => `the block's intermediate ${output.label} (from ${describeNode(node)}) is also read by ${describeNode(outside!.node)}; converting would keep the softmax path`, outside?.node);
    }
  }

  m.ensure(match.elemType !== undefined && SUPPORTED_TYPES.has(match.elemType),
    () => `the attention runs in ${dataTypeName(match.elemType)}; the fused ops support FLOAT and FLOAT16`, match.anchor);
  const opset = m.onnxOpset;
  m.ensure(opset !== undefined && opset >= MIN_SUPPORTED_MODEL_OPSET && opset <= MAX_SUPPORTED_MODEL_OPSET,
    () => `the model's ONNX opset ${String(opset)} is outside the ${MIN_SUPPORTED_MODEL_OPSET}–${MAX_SUPPORTED_MODEL_OPSET} the fused ops' function bodies support`, match.anchor);
  m.ensure(match.scale.value > 0, () => `the scale on the scores is ${match.scale.value}; a non-positive scale has no linear-attention equivalent`, match.anchor);
  const arrangement = outputArrangement(match);
  if (typeof arrangement === 'string') m.fail(arrangement, match.output.value.producer() ?? match.anchor);
}
