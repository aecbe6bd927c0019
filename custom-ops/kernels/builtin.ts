/** The descriptors of vitlin's own kernels: HydraAttention and LinearAngularAttention (ai.vitlin). */
import { VITLIN_DOMAIN, VITLIN_OPSET_VERSION } from '../domain.js';
import { opFunction, opFunctionKey, vitlinNodeAttributes } from '../functions/op-function.js';
import { HYDRA_ATTENTION_SCHEMA, LINEAR_ANGULAR_ATTENTION_SCHEMA } from '../schemas.js';
import type { AttentionKernel } from './kernel.js';

const epsOf = (eps: number | undefined) => (eps === undefined ? {} : { eps });

/** Hydra: q̂ ⊙ Σ_t (k̂_t ⊙ v_t); ≈ 4·N·D operations. */
export const hydraKernel: AttentionKernel = {
  name: 'hydra',
  domain: VITLIN_DOMAIN,
  domainVersion: VITLIN_OPSET_VERSION,
  opType: 'HydraAttention',
  schema: HYDRA_ATTENTION_SCHEMA,
  call(_site, options, opset, elemType) {
    const attributes = epsOf(options.eps);
    return {
      attributes: vitlinNodeAttributes('HydraAttention', attributes),
      functionKey: opFunctionKey('HydraAttention', { opset, elemType, attributes }),
      body: (overload) => opFunction('HydraAttention', { opset, elemType, attributes, ...(overload === undefined ? {} : { overload }) }),
    };
  },
  flops: ({ batch, tokens, heads, headDim }) => batch * 4 * tokens * heads * headDim,
  headsOf: (_getInt, features) => features,
};

/** Linear-angular (Castling-ViT): ½ + (1/π)·cos(q, k) per head in linear form; ≈ 2·N·d²·H MACs. */
export const linearAngularKernel: AttentionKernel = {
  name: 'linear-angular',
  domain: VITLIN_DOMAIN,
  domainVersion: VITLIN_OPSET_VERSION,
  opType: 'LinearAngularAttention',
  schema: LINEAR_ANGULAR_ATTENTION_SCHEMA,
  blocker(site, options) {
    if ((options.linearAngularMode ?? 'reference') === 'reference' && !site.sameTokens) {
      return `LinearAngularAttention in 'reference' mode needs as many query as key tokens (${String(site.tokens)} vs ${String(site.keyTokens)}); use linearAngularMode 'kernel_normalized'`;
    }
    return undefined;
  },
  call(site, options, opset, elemType) {
    const attributes = { num_heads: site.heads, ...epsOf(options.eps), ...(options.linearAngularMode === undefined ? {} : { mode: options.linearAngularMode }) };
    return {
      attributes: vitlinNodeAttributes('LinearAngularAttention', attributes),
      functionKey: opFunctionKey('LinearAngularAttention', { opset, elemType, attributes }),
      body: (overload) => opFunction('LinearAngularAttention', { opset, elemType, attributes, ...(overload === undefined ? {} : { overload }) }),
    };
  },
  flops: ({ batch, tokens, heads, headDim }) => batch * 2 * 2 * tokens * headDim * headDim * heads,
  headsOf: (getInt) => getInt('num_heads', 1),
};
