/**
 * Shape rules, attribute resolution, opset/IR helpers, and the structure of generated functions and
 * nodes — the contract the rewriter relies on.
 */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../graph-rewrite/errors.js';
import { AttributeType, type FunctionProto } from '../../graph-rewrite/serde/onnx-schema.js';
import {
  VITLIN_DOMAIN,
  VITLIN_OP_SCHEMAS,
  defaultDomainOpset,
  inferOutputShape,
  opFunctionKey,
  requiredIrVersion,
  resolveOpAttributes,
  wiredOptionalInputs,
  withVitlinOpsetImport,
} from '../../custom-ops/index.js';
import { getOpFunction, makeVitlinNode } from '../../graph-rewrite/rewrite/index.js';

describe('inferOutputShape (the shape rules)', () => {
  it('gives Y the shape of Q, symbolic dims included', () => {
    expect(inferOutputShape('HydraAttention', [['B', 197, 768], ['B', 50, 768], ['B', 50, 768]])).toEqual(['B', 197, 768]);
    expect(
      inferOutputShape('LinearAngularAttention', [[1, 'N', 768], [1, 'N', 768], [1, 'N', 768]], { num_heads: 12 }),
    ).toEqual([1, 'N', 768]);
    expect(
      inferOutputShape('LinearAngularAttention', [[2, 9, 64], [2, 30, 64], [2, 30, 64], [4], [4]], {
        num_heads: 4,
        mode: 'kernel_normalized',
      }),
    ).toEqual([2, 9, 64]);
  });

  const violations = [
    { label: 'rank', shapes: [[197, 768], [1, 197, 768], [1, 197, 768]], attributes: { num_heads: 12 }, message: /'Q' must have rank 3/ },
    { label: 'D of K', shapes: [[1, 7, 64], [1, 7, 32], [1, 7, 32]], attributes: { num_heads: 4 }, message: /'K' must match Q's batch and feature dims/ },
    { label: 'batch of V', shapes: [[1, 7, 64], [1, 7, 64], [2, 7, 64]], attributes: { num_heads: 4 }, message: /'V' must match/ },
    { label: 'K/V tokens', shapes: [[1, 7, 64], [1, 7, 64], [1, 8, 64]], attributes: { num_heads: 4, mode: 'kernel_normalized' }, message: /'V' must have as many tokens as 'K'/ },
    { label: 'heads divide D', shapes: [[2, 7, 64], [2, 7, 64], [2, 7, 64]], attributes: { num_heads: 5 }, message: /^'num_heads' must divide D=64, got 5$/ },
    { label: 'reference needs Nq = Nkv', shapes: [[2, 7, 64], [2, 9, 64], [2, 9, 64]], attributes: { num_heads: 4 }, message: /in mode 'reference'/ },
    { label: 'weight length', shapes: [[2, 7, 64], [2, 7, 64], [2, 7, 64], [3]], attributes: { num_heads: 4 }, message: /'value_weight' must have shape \[H=4\]/ },
  ] as const;
  it.each(violations)('rejects: $label', ({ shapes, attributes, message }) => {
    expect(() => inferOutputShape('LinearAngularAttention', shapes, attributes)).toThrow(InvalidArgumentError);
    expect(() => inferOutputShape('LinearAngularAttention', shapes, attributes)).toThrow(message);
  });

  it('checks Hydra scale against D', () => {
    expect(() => inferOutputShape('HydraAttention', [[1, 7, 64], [1, 7, 64], [1, 7, 64], [32]])).toThrow(/'scale' must have shape \[D=64\]/);
    expect(inferOutputShape('HydraAttention', [[1, 7, 64], [1, 7, 64], [1, 7, 64], [64]])).toEqual([1, 7, 64]);
  });
});

describe('attributes', () => {
  it('fills schema defaults and validates', () => {
    expect(resolveOpAttributes('HydraAttention', undefined)).toEqual({ eps: 1e-6 });
    expect(resolveOpAttributes('LinearAngularAttention', { num_heads: 12 })).toEqual({ num_heads: 12, mode: 'reference', eps: 1e-6 });
    expect(() => resolveOpAttributes('LinearAngularAttention', {})).toThrow(/'num_heads' must be an integer >= 1, got undefined/);
    expect(() => resolveOpAttributes('LinearAngularAttention', { num_heads: 2, mode: 'softmax' as never })).toThrow(/'mode' must be one of/);
    expect(() => resolveOpAttributes('HydraAttention', { eps: 0 })).toThrow(/'eps' must be a finite number > 0/);
    expect(() => resolveOpAttributes('Attention' as never, {} as never)).toThrow(/'opType' must be one of/);
  });

  it('schema attribute defaults equal what resolution fills in', () => {
    for (const schema of Object.values(VITLIN_OP_SCHEMAS)) {
      const resolved = resolveOpAttributes(schema.opType, { num_heads: 2 } as never) as unknown as Record<string, unknown>;
      for (const attribute of schema.attributes) {
        if (attribute.defaultValue !== undefined) expect(resolved[attribute.name]).toBe(attribute.defaultValue);
      }
    }
  });
});

describe('opset imports and IR version', () => {
  it('adds ai.vitlin version 1 once and reads the default-domain opset', () => {
    const imports = withVitlinOpsetImport([{ domain: '', version: 17n }, { domain: 'com.microsoft', version: 1n }]);
    expect(imports).toEqual([
      { domain: '', version: 17n },
      { domain: 'com.microsoft', version: 1n },
      { domain: VITLIN_DOMAIN, version: 1n },
    ]);
    expect(withVitlinOpsetImport(imports)).toEqual(imports);
    expect(() => withVitlinOpsetImport([{ domain: VITLIN_DOMAIN, version: 2n }])).toThrow(/only version 1 exists/);
    expect(defaultDomainOpset(imports)).toBe(17);
    expect(defaultDomainOpset([{ domain: 'ai.onnx', version: 13n }])).toBe(13);
    expect(() => defaultDomainOpset([{ domain: VITLIN_DOMAIN, version: 1n }])).toThrow(/no default-domain/);
    expect(requiredIrVersion(7n, false)).toBe(8n);
    expect(requiredIrVersion(9n, true)).toBe(10n);
    expect(requiredIrVersion(11n, true)).toBe(11n);
  });
});

/** Ops every WebGPU build runs on the GPU (native WebGPU EP and onnxruntime-web JSEP), plus Constant. */
const WEBGPU_SAFE_OPS = new Set(['Constant', 'Add', 'Cast', 'Clip', 'Div', 'MatMul', 'Mul', 'Reciprocal', 'ReduceL2', 'ReduceSum', 'Reshape', 'Transpose']);
const AXES_INPUT_SINCE: Readonly<Record<string, number>> = { ReduceSum: 13, ReduceL2: 18 };

function allSpecializations(): { label: string; fn: FunctionProto; opset: number }[] {
  const result: { label: string; fn: FunctionProto; opset: number }[] = [];
  for (const opset of [11, 12, 13, 17, 18, 23]) {
    for (const elemType of ['float', 'float16'] as const) {
      result.push({ label: `Hydra ${opset} ${elemType}`, opset, fn: getOpFunction('HydraAttention', { opset, elemType, optionalInputs: ['scale'] }) });
      for (const mode of ['reference', 'kernel_normalized'] as const) {
        for (const optionalInputs of [[], ['value_weight'], ['angular_weight', 'value_weight']] as const) {
          result.push({
            label: `LinearAngular ${mode} ${opset} ${elemType} [${optionalInputs.join(',')}]`,
            opset,
            fn: getOpFunction('LinearAngularAttention', { opset, elemType, attributes: { num_heads: 4, mode }, optionalInputs }),
          });
        }
      }
    }
  }
  return result;
}

describe('generated FunctionProtos', () => {
  it.each(allSpecializations())('$label: WebGPU-safe ops, axes per opset, consistent fields', ({ fn, opset }) => {
    expect(fn.domain).toBe(VITLIN_DOMAIN);
    expect(fn.opset_import).toEqual([{ domain: '', version: BigInt(opset) }]);
    expect(fn.input).toEqual(VITLIN_OP_SCHEMAS[fn.name as 'HydraAttention'].inputs.map((input) => input.name));
    expect(fn.output).toEqual(['Y']);
    const produced = new Set<string>();
    for (const node of fn.node) {
      expect(WEBGPU_SAFE_OPS.has(node.op_type!), `${node.op_type} is not WebGPU-safe`).toBe(true);
      const axesAttribute = node.attribute.find((attribute) => attribute.name === 'axes');
      const since = AXES_INPUT_SINCE[node.op_type!];
      if (since !== undefined) {
        expect(axesAttribute === undefined, `${node.op_type} axes at opset ${opset}`).toBe(opset >= since);
        expect(node.input.length).toBe(opset >= since ? 2 : 1);
      }
      for (const output of node.output) {
        expect(produced.has(output), `${output} produced twice`).toBe(false);
        produced.add(output);
      }
    }
    expect(produced.has('Y')).toBe(true);
    // Every declared attribute has its baked value as default; none is left without one.
    expect(fn.attribute).toEqual([]);
    const schemaAttributes = VITLIN_OP_SCHEMAS[fn.name as 'HydraAttention'].attributes.map((attribute) => attribute.name);
    expect(fn.attribute_proto.map((attribute) => attribute.name)).toEqual(schemaAttributes);
  });

  it('bakes attribute values and records the specialization key', () => {
    const options = { opset: 17, elemType: 'float16', attributes: { num_heads: 12, mode: 'kernel_normalized', eps: 1e-12 } } as const;
    const fn = getOpFunction('LinearAngularAttention', options);
    const byName = Object.fromEntries(fn.attribute_proto.map((attribute) => [attribute.name, attribute]));
    expect(byName['num_heads']).toMatchObject({ type: AttributeType.INT, i: 12n });
    expect(new TextDecoder().decode(byName['mode']!.s)).toBe('kernel_normalized');
    expect(byName['eps']).toMatchObject({ type: AttributeType.FLOAT, f: 1e-12 });
    expect(fn.metadata_props).toEqual([{ key: 'vitlin.function_key', value: opFunctionKey('LinearAngularAttention', options) }]);
    expect(opFunctionKey('LinearAngularAttention', options)).toBe(
      'LinearAngularAttention|opset=17|float16|eps=1e-12,mode=kernel_normalized,num_heads=12|inputs=',
    );
    // Optional-input order does not change the key.
    expect(opFunctionKey('LinearAngularAttention', { ...options, optionalInputs: ['angular_weight', 'value_weight'] })).toBe(
      opFunctionKey('LinearAngularAttention', { ...options, optionalInputs: ['value_weight', 'angular_weight'] }),
    );
  });

  it('rejects unsupported options with the argument named', () => {
    expect(() => getOpFunction('HydraAttention', { opset: 10, elemType: 'float' })).toThrow(/'opset' must be an integer default-domain opset in \[11, 23\], got 10/);
    expect(() => getOpFunction('HydraAttention', { opset: 24, elemType: 'float' })).toThrow(/'opset'/);
    expect(() => getOpFunction('HydraAttention', { opset: 17, elemType: 'bfloat16' as never })).toThrow(/'elemType' must be/);
    expect(() => getOpFunction('HydraAttention', { opset: 17, elemType: 'float', optionalInputs: ['value_weight' as never] })).toThrow(
      /'optionalInputs' of HydraAttention may name scale/,
    );
    expect(() => getOpFunction('LinearAngularAttention', { opset: 17, elemType: 'float' })).toThrow(/'num_heads'/);
  });
});

describe('makeVitlinNode', () => {
  it('writes every attribute, blanks skipped optional inputs, drops trailing ones', () => {
    const node = makeVitlinNode('LinearAngularAttention', {
      inputs: { Q: 'q', K: 'k', V: 'v', angular_weight: 'b' },
      output: 'y',
      name: 'block0/attn',
      attributes: { num_heads: 12 },
      overload: 'heads12',
    });
    expect(node).toMatchObject({ op_type: 'LinearAngularAttention', domain: VITLIN_DOMAIN, input: ['q', 'k', 'v', '', 'b'], output: ['y'], overload: 'heads12' });
    expect(node.attribute.map((attribute) => attribute.name)).toEqual(['num_heads', 'mode', 'eps']);
    expect(wiredOptionalInputs('LinearAngularAttention', node)).toEqual(['angular_weight']);
    const hydra = makeVitlinNode('HydraAttention', { inputs: { Q: 'q', K: 'k', V: 'v' }, output: 'y' });
    expect(hydra.input).toEqual(['q', 'k', 'v']);
    expect(hydra.attribute).toHaveLength(1);
    expect(() => makeVitlinNode('HydraAttention', { inputs: { Q: 'q', K: '', V: 'v' }, output: 'y' })).toThrow(/'inputs.K' of HydraAttention is required/);
  });
});
