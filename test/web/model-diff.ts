/**
 * How two conversions of the same model differ: weights whose values differ (the refitted ones, when
 * two runtimes sum floats in different orders), and whether anything else does — nodes, attributes,
 * functions, the other initializers — which is checked by giving the second model the first's values
 * for those weights and comparing the encoded bytes.
 */
import type { Model } from '../../graph-rewrite/ir/model.js';
import { modelToBytes } from '../../src/model-io.js';

export interface ModelDiff {
  /** What differs beyond weight values: empty when the graphs are the same. */
  readonly structure: string[];
  /** Initializers whose values differ, with max |a − b| / max |a|. */
  readonly refitted: { readonly name: string; readonly relative: number }[];
  readonly maxRelative: number;
}

export function compareModels(a: Model, b: Model): ModelDiff {
  const structure: string[] = [];
  const refitted: { name: string; relative: number }[] = [];
  const copy = b.clone();
  for (const [name, value] of a.graph.initializers) {
    const other = copy.graph.initializers.get(name);
    if (!other) {
      structure.push(`initializer '${name}' is only in the first model`);
      continue;
    }
    const [x, y] = [value.constValue, other.constValue];
    if (!x || !y || x.dataType !== y.dataType || x.dims.join() !== y.dims.join()) {
      structure.push(`initializer '${name}' differs in type or dims`);
      continue;
    }
    const [u, v] = [x.toNumberArray(), y.toNumberArray()];
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < u.length; i++) {
      diff = Math.max(diff, Math.abs(u[i]! - v[i]!));
      scale = Math.max(scale, Math.abs(u[i]!));
    }
    if (diff === 0) continue;
    refitted.push({ name, relative: diff / (scale || 1) });
    other.constValue = x;
  }
  for (const name of copy.graph.initializers.keys()) if (!a.graph.initializers.has(name)) structure.push(`initializer '${name}' is only in the second model`);
  if (structure.length === 0) {
    const [p, q] = [modelToBytes(a), modelToBytes(copy)];
    const same = p.length === q.length && p.every((byte, i) => byte === q[i]);
    if (!same) {
      const ops = (m: Model) => m.graph.nodes.map((n) => `${n.domain ? `${n.domain}::` : ''}${n.opType}`).join(' ');
      structure.push(ops(a) === ops(copy) ? 'same nodes, but attributes, names or functions differ' : `nodes differ: [${ops(a)}] vs [${ops(copy)}]`);
    }
  }
  return { structure, refitted, maxRelative: Math.max(0, ...refitted.map((r) => r.relative)) };
}
