/**
 * Tiny constructors for the plain ONNX proto objects of `graph-rewrite/serde/onnx-schema.ts`, so the
 * function-body builders read like the math they implement. They fill every repeated field with an
 * empty array and leave absent optional scalars undefined, as the schema's conventions require.
 */
import {
  AttributeType,
  DataType,
  type AttributeProto,
  type NodeProto,
  type OperatorSetIdProto,
  type TensorProto,
} from '../../base/onnx-schema.js';

/** An AttributeProto with every repeated field present and empty. */
function emptyAttribute(name: string, type: number): AttributeProto {
  return {
    name,
    type,
    floats: [],
    ints: [],
    strings: [],
    tensors: [],
    graphs: [],
    sparse_tensors: [],
    type_protos: [],
  };
}

export function floatAttribute(name: string, value: number): AttributeProto {
  return { ...emptyAttribute(name, AttributeType.FLOAT), f: value };
}

export function intAttribute(name: string, value: number | bigint): AttributeProto {
  return { ...emptyAttribute(name, AttributeType.INT), i: BigInt(value) };
}

export function intsAttribute(name: string, values: readonly (number | bigint)[]): AttributeProto {
  return { ...emptyAttribute(name, AttributeType.INTS), ints: values.map((value) => BigInt(value)) };
}

export function floatsAttribute(name: string, values: readonly number[]): AttributeProto {
  return { ...emptyAttribute(name, AttributeType.FLOATS), floats: [...values] };
}

export function stringAttribute(name: string, value: string): AttributeProto {
  return { ...emptyAttribute(name, AttributeType.STRING), s: new TextEncoder().encode(value) };
}

export function tensorAttribute(name: string, value: TensorProto): AttributeProto {
  return { ...emptyAttribute(name, AttributeType.TENSOR), t: value };
}

/**
 * An attribute of a function-body node that takes its value from the calling node's attribute
 * `referencedName` (ONNX `ref_attr_name`); `type` must equal the referenced attribute's type.
 */
export function referenceAttribute(name: string, referencedName: string, type: number): AttributeProto {
  return { ...emptyAttribute(name, type), ref_attr_name: referencedName };
}

/** A NodeProto in the default (ONNX) domain unless `domain` is given. */
export function makeNode(
  opType: string,
  inputs: readonly string[],
  outputs: readonly string[],
  attributes: readonly AttributeProto[] = [],
  domain?: string,
): NodeProto {
  return {
    op_type: opType,
    input: [...inputs],
    output: [...outputs],
    attribute: [...attributes],
    ...(domain === undefined ? {} : { domain }),
    metadata_props: [],
    device_configurations: [],
  };
}

function emptyTensor(dataType: number, dims: readonly number[]): TensorProto {
  return {
    dims: dims.map((dim) => BigInt(dim)),
    data_type: dataType,
    float_data: [],
    int32_data: [],
    string_data: [],
    int64_data: [],
    external_data: [],
    double_data: [],
    uint64_data: [],
    metadata_props: [],
  };
}

/** A float32 tensor; `dims` [] makes a scalar. */
export function floatTensor(values: readonly number[], dims: readonly number[]): TensorProto {
  return { ...emptyTensor(DataType.FLOAT, dims), float_data: [...values] };
}

/** An int64 tensor; `dims` [] makes a scalar. */
export function int64Tensor(values: readonly (number | bigint)[], dims: readonly number[]): TensorProto {
  return { ...emptyTensor(DataType.INT64, dims), int64_data: values.map((value) => BigInt(value)) };
}

/** A `Constant` node (attribute `value`, valid in every opset ≥ 1) producing `output`. */
export function constantNode(output: string, value: TensorProto): NodeProto {
  return makeNode('Constant', [], [output], [tensorAttribute('value', value)]);
}

export function opsetId(domain: string, version: number): OperatorSetIdProto {
  return { domain, version: BigInt(version) };
}
