/**
 * Sequential, drift-correcting refit of converted blocks' output projections (issue 11).
 *
 * For each converted block in graph order: the partially converted model (earlier blocks converted and
 * refitted, this one converted with its original projection) gives the projection's input X (the fused
 * op's output, Y) and the residual stream h_conv; the original model gives the residual sum it should
 * produce, h_orig + a_orig. The target T = h_orig + a_orig − h_conv is what the branch must add so that
 * the stream matches the original again, drift from earlier blocks included. Ridge [X 1]·W ≈ T is solved
 * in float64 from normal equations accumulated batch by batch (memory independent of the number of
 * inputs) and written into the projection (write-back.ts). The extended basis adds v, mean_t v and T1
 * to X (basis.ts). A block with no projection to refit gets an added one (write-back.ts), fitted the same
 * way. Intermediates come from real sessions (any runtime backend) on probe copies with extra outputs.
 */
import { InvalidArgumentError } from '../../graph-rewrite/errors.js';
import { VITLIN_DOMAIN } from '../../custom-ops/domain.js';
import { modelFromProto } from '../../graph-rewrite/ir/from-proto.js';
import type { Model } from '../../graph-rewrite/ir/model.js';
import type { Node } from '../../graph-rewrite/ir/node.js';
import { modelToProto } from '../../graph-rewrite/ir/to-proto.js';
import type { Value } from '../../graph-rewrite/ir/value.js';
import { removeDeadNodes } from '../../graph-rewrite/passes/remove-dead-nodes.js';
import { removeUnusedInitializers } from '../../graph-rewrite/passes/remove-unused-initializers.js';
import { topologicalSort } from '../../graph-rewrite/passes/topological-sort.js';
import { batchSizeFor, type InputSet } from '../eval/inputs.js';
import { openSession, type RunTarget } from '../eval/backend-evaluator.js';
import type { BackendSession, Feeds } from '../runtime/backend.js';
import { tensorToFloat32 } from '../runtime/float16.js';
import { addBasisTerms, basisWidth, type CalibrationBasis } from './basis.js';
import { GraphEditor } from './graph-edit.js';
import { findOutputProjection, projectionAsRidge, type OutputProjection } from './projection.js';
import { readoutWeights, tokenReadout, type TokenReadout } from './readout.js';
import { DEFAULT_RIDGE, NormalEquations } from './ridge.js';
import { addIdentityProjection, opsetOf, writeBlockWeights, type BlockWeights } from './write-back.js';

/** Rows per unknown (per output feature) a fit on the readout tokens alone needs; see #readout. */
const READOUT_ONLY_ROWS_PER_UNKNOWN = 2;

/** A converted model for a set of block indices, and the blocks' heads / tokens (as findAttentionBlocks numbers them). */
export interface ConvertedForRefit {
  readonly model: Model;
  readonly blocks: readonly { readonly index: number; readonly heads: number; readonly embedDim: number; readonly tokens: number | string | undefined }[];
}
export type RowWeighting = 'readout' | 'uniform';
export type ConvertBlocks = (blocks: readonly number[]) => ConvertedForRefit;

/** Where the probes run (`backend`, `ep`) and how the refit is made. */
export interface RefitOptions extends RunTarget {
  readonly basis?: CalibrationBasis;
  /** Ridge strength relative to the mean diagonal of XᵀX (default 1e-4). */
  readonly lambda?: number;
  /**
   * How rows count: `readout` (default) weighs the tokens the model's outputs read (readout.ts);
   * `uniform` counts every token the same.
   */
  readonly weighting?: RowWeighting;
  /** What the ridge penalty pulls toward: the block's original projection (default) or zero. */
  readonly shrinkToward?: 'original' | 'zero';
  readonly maxBatch?: number;
  readonly onItems?: (n: number) => void;
  /** Seconds each block spent converting and opening its probes, running them and accumulating, solving (bench/calibration.ts). */
  readonly onPhase?: (block: number, phase: RefitPhase, seconds: number) => void;
}
export type RefitPhase = 'prepare' | 'accumulate' | 'solve';

/** One block's refit and how well it fits, on the fitting inputs. */
export interface BlockRefit extends BlockWeights {
  readonly block: number;
  /** Mean squared error of the branch against its target with the original projection, and refitted. */
  readonly mseBefore: number;
  readonly mseAfter: number;
  /** Mean square of the target (to read the errors relative to it). */
  readonly targetPower: number;
  /** Whether the target corrects drift (a residual Add was found after the projection). */
  readonly driftCorrected: boolean;
  readonly notes: readonly string[];
}

/** The fused nodes of `converted` that `base` does not have (by name), in graph order. */
export function newFusedNodes(base: Model, converted: Model): Node[] {
  const isFused = (n: Node) => n.domain === VITLIN_DOMAIN;
  const existing = new Set(base.graph.nodes.filter(isFused).map((n) => n.name));
  return converted.graph.nodes.filter((n) => isFused(n) && !existing.has(n.name));
}

function copyOf(model: Model): Model {
  return modelFromProto(modelToProto(model));
}

function valueNamed(model: Model, name: string | undefined): Value | undefined {
  if (!name) return undefined;
  for (const v of model.graph.inputs) if (v.name === name) return v;
  for (const node of model.graph.nodes) for (const v of node.outputs) if (v.name === name) return v;
  return undefined;
}

/** Adds `value` as a graph output of its model (once) and returns its name. */
function expose(model: Model, value: Value): string {
  if (!value.isGraphOutput()) model.graph.addOutput(value);
  return value.name!;
}

/** A probe computes only what it captures (`names`): other outputs go, and the nodes only they needed. */
function onlyCaptures(model: Model, names: readonly string[]): void {
  const keep = new Set(names);
  for (let i = model.graph.outputs.length - 1; i >= 0; i--) if (!keep.has(model.graph.outputs[i]!.name!)) model.graph.removeOutput(i);
  removeDeadNodes(model.graph);
  removeUnusedInitializers(model.graph);
}

interface Probe {
  readonly session: BackendSession;
  readonly names: readonly string[];
}

async function openProbe(model: Model, names: readonly string[], target: RunTarget, label: string): Promise<Probe> {
  return { session: await openSession(target, model, label), names };
}

/**
 * Converts `blocks` (graph order is index order) and refits them one after another. `known` holds
 * refits already made for the same prefix of blocks (see {@link SequentialRefitter}).
 */
export class SequentialRefitter {
  readonly #cache = new Map<string, BlockRefit>();

  constructor(readonly base: Model, readonly convert: ConvertBlocks, readonly inputs: InputSet, readonly options: RefitOptions) {}

  /** The refits of `blocks` (sorted), fitting those not yet fitted for the same prefix. */
  async refits(blocks: readonly number[]): Promise<BlockRefit[]> {
    const sorted = [...new Set(blocks)].sort((a, b) => a - b);
    const fits: BlockRefit[] = [];
    for (let i = 0; i < sorted.length; i++) {
      const key = sorted.slice(0, i + 1).join(',');
      let fit = this.#cache.get(key);
      if (!fit) {
        fit = await this.#fitBlock(sorted.slice(0, i + 1), fits);
        this.#cache.set(key, fit);
      }
      fits.push(fit);
    }
    return fits;
  }

  /** The converted model of `blocks` with their refits written. */
  async model(blocks: readonly number[]): Promise<{ model: Model; fits: BlockRefit[] }> {
    const fits = await this.refits(blocks);
    return { model: applyRefits(this.base, this.convert, fits), fits };
  }

  async #fitBlock(prefix: readonly number[], earlier: readonly BlockRefit[]): Promise<BlockRefit> {
    const block = prefix[prefix.length - 1]!;
    let phaseStart = performance.now();
    const phaseDone = (phase: RefitPhase) => {
      const now = performance.now();
      this.options.onPhase?.(block, phase, (now - phaseStart) / 1000);
      phaseStart = now;
    };
    const converted = this.convert(prefix);
    const model = converted.model;
    writeRefits(this.base, converted, earlier);
    const fused = newFusedNodes(this.base, model);
    const info = converted.blocks.find((b) => b.index === block);
    const node = fused[converted.blocks.findIndex((b) => b.index === block)];
    if (!info || !node || fused.length !== converted.blocks.length) throw new InvalidArgumentError(`calibration: block ${block} was not converted`);
    const features = info.embedDim;
    const notes: string[] = [];
    const found = findOutputProjection(node, features);
    let added: { reason: string; counterpart: string | undefined } | undefined;
    if (typeof found === 'string') {
      // No projection to refit: fit a new identity MatMul + Add after the fused op instead (write-back.ts).
      added = { reason: found, counterpart: originalCounterpart(this.base, node) };
      addIdentityProjection(model, node, features);
      notes.push(`added projection: ${found}; a new MatMul + Add after the fused op is fitted instead`);
    }
    const projection = findOutputProjection(node, features);
    if (typeof projection === 'string') throw new InvalidArgumentError(`calibration: block ${block}: ${projection}`);
    let basis = this.options.basis ?? 'plain';
    if (basis === 'extended' && typeof info.tokens !== 'number') {
      notes.push(`plain basis: the token count is symbolic (${info.tokens}), the extended basis needs it static`);
      basis = 'plain';
    }
    if (basis === 'extended' && projection.chain.some((n) => n.opType === 'Transpose')) {
      notes.push(`plain basis: a Transpose between the fused op and the projection reorders tokens`);
      basis = 'plain';
    }
    const tokens = typeof info.tokens === 'number' ? info.tokens : 0;
    const target = this.#targetIn(projection, notes, added);
    if (!target.name) throw new InvalidArgumentError(`calibration: block ${block}: ${added!.reason}, and no value of the original model matches the fused op's output to fit an added projection to`);
    const weighting = this.options.weighting ?? 'readout';
    const readout = this.#readout(model, projection, tokens, weighting, basisWidth(basis, features), notes);

    // The original's side: the residual sum (or the branch output when there is no residual Add).
    const originalProbe = copyOf(this.base);
    const origValue = valueNamed(originalProbe, target.name);
    if (!origValue) throw new InvalidArgumentError(`calibration: block ${block}: ${target.name} is not a value of the original model`);
    const origName = expose(originalProbe, origValue);
    onlyCaptures(originalProbe, [origName]);
    // The partially converted model's side: X, the stream, and the extended basis terms.
    const probe = copyOf(model);
    const probeNode = newFusedNodes(this.base, probe)[fused.indexOf(node)]!;
    const probeProjection = findOutputProjection(probeNode, features) as OutputProjection;
    const names = [expose(probe, probeProjection.input)];
    if (target.drift) names.push(expose(probe, probeProjection.residual!.stream));
    if (basis === 'extended') {
      const editor = new GraphEditor(probe.graph, opsetOf(probe), 'calibration_probe');
      const [q, k, v] = [0, 1, 2].map((i) => probeNode.inputs[i]!);
      const terms = addBasisTerms(editor, q!, k!, v!, info.heads, features, tokens, elemTypeOfWeight(probeProjection));
      topologicalSort(probe.graph);
      names.push(expose(probe, terms.v), expose(probe, terms.meanV), expose(probe, terms.t1));
    }
    onlyCaptures(probe, names);
    const width = basisWidth(basis, features);
    const out = projection.outFeatures;
    const equations = new NormalEquations(width, out);
    const orig = await openProbe(originalProbe, [origName], this.options, 'calibration probe (original)');
    const conv = await openProbe(probe, names, this.options, `calibration probe (block ${block})`);
    phaseDone('prepare');
    try {
      await forEachBatch(this.inputs, [orig.session, conv.session], this.options.maxBatch ?? 32, async (feedsFor, size) => {
        const [o] = await runProbe(orig, feedsFor(orig.session));
        const captured = await runProbe(conv, feedsFor(conv.session));
        const x = captured[0]!;
        const rows = x.length / features;
        if (o!.length !== rows * out) throw new InvalidArgumentError(`calibration: block ${block}: ${rows} rows of projection input but ${o!.length / out} of target`);
        const t = Float64Array.from(o!);
        if (target.drift) {
          const h = captured[1]!;
          if (h.length !== t.length) throw new InvalidArgumentError(`calibration: block ${block}: the residual stream does not match the projection output's shape`);
          for (let i = 0; i < t.length; i++) t[i]! -= h[i]!;
        }
        const extra = basis === 'extended' ? captured.slice(target.drift ? 2 : 1) : [];
        if (extra.length && extra[0]!.length !== x.length) throw new InvalidArgumentError(`calibration: block ${block}: the projection reads ${rows} rows, the fused op gives ${extra[0]!.length / features}`);
        const perItem = rows / size;
        equations.add(rows, (r, row) => {
          for (let f = 0; f < features; f++) row[f] = x[r * features + f]!;
          if (!extra.length) return;
          const [v, meanV, t1] = extra as [Float32Array, Float32Array, Float32Array];
          const item = Math.floor(r / perItem);
          for (let f = 0; f < features; f++) {
            row[features + f] = v[r * features + f]!;
            row[2 * features + f] = meanV[item * features + f]!;
            row[3 * features + f] = t1[r * features + f]!;
          }
        }, t, weighting === 'readout' && perItem === tokens ? readoutWeights(readout, perItem) : undefined);
        this.options.onItems?.(size);
      });
    } finally {
      await orig.session.release();
      await conv.session.release();
    }
    phaseDone('accumulate');
    const before = new Float64Array((width + 1) * out);
    const original = projectionAsRidge(projection);
    before.set(original.subarray(0, features * out));
    before.set(original.subarray(features * out), width * out);
    const weights = equations.solve(this.options.lambda ?? DEFAULT_RIDGE, this.options.shrinkToward === 'zero' ? undefined : before);
    const count = equations.rows * out;
    phaseDone('solve');
    return {
      block, basis, features, outFeatures: out, weights, tokens, heads: info.heads,
      mseBefore: equations.squaredError(before) / count, mseAfter: equations.squaredError(weights) / count,
      targetPower: equations.targetPower / count, driftCorrected: target.drift, notes,
      ...(added ? { addedProjection: added.reason } : {}),
    };
  }

  /**
   * The tokens the model's outputs read of this block's stream (readout.ts), when the rows are
   * [B, N, D] in token order (no Transpose before the projection, static token count).
   */
  #readout(model: Model, p: OutputProjection, tokens: number, weighting: RowWeighting, width: number, notes: string[]): TokenReadout | undefined {
    if (weighting !== 'readout' || !p.residual || !tokens || p.chain.some((n) => n.opType === 'Transpose')) return undefined;
    let readout = tokenReadout(model, p.residual.sum, tokens);
    // Fitting on the readout tokens alone needs enough of them for the unknowns (ViT-B with a few
    // hundred images has not): with fewer, the other tokens keep counting, less.
    if (readout && !readout.mixed && this.inputs.count * readout.tokens.length < READOUT_ONLY_ROWS_PER_UNKNOWN * (width + 1)) readout = { ...readout, mixed: true };
    if (readout) notes.push(readout.mixed ? `rows of token ${readout.tokens.join(', ')} (what the output reads) weigh as much as all others together` : `fitted on token ${readout.tokens.join(', ')} only: the output reads nothing else after this block`);
    return readout;
  }

  /**
   * The value whose original counterpart is the target: the residual sum (drift-correcting) or the branch
   * output; for an added projection without a residual Add after it, the original's attention output.
   */
  #targetIn(p: OutputProjection, notes: string[], added: { counterpart: string | undefined } | undefined): { name: string | undefined; drift: boolean } {
    if (p.residual) return { name: p.residual.sum.name, drift: true };
    if (added) {
      notes.push(`no drift correction: the added projection is fitted to the original attention output`);
      return { name: added.counterpart, drift: false };
    }
    notes.push(`no drift correction: no residual Add reads the projection's output directly`);
    return { name: p.output.name, drift: false };
  }
}

/** Nodes the rewrite may add after a fused op that keep the order of its elements. */
const ORDER_PRESERVING = new Set(['Reshape', 'Identity', 'Flatten', 'Squeeze', 'Unsqueeze', 'Cast']);

/**
 * The name of the value of `base` that the output of `fused` (a node of a converted copy) stands for:
 * the input of the first reader that `base` has too (same name and op), found through order-preserving
 * nodes the rewrite added; undefined when there is none.
 */
function originalCounterpart(base: Model, fused: Node): string | undefined {
  const originals = new Map(base.graph.nodes.filter((n) => n.name).map((n) => [n.name!, n]));
  let value = fused.outputs[0]!;
  for (;;) {
    const uses = value.uses();
    for (const { node, index } of uses) {
      const original = node.name ? originals.get(node.name) : undefined;
      if (original && original.opType === node.opType && original.domain === node.domain) return original.inputs[index]?.name;
    }
    if (uses.length !== 1 || uses[0]!.node.domain !== '' || !ORDER_PRESERVING.has(uses[0]!.node.opType)) return undefined;
    value = uses[0]!.node.outputs[0]!;
  }
}

function elemTypeOfWeight(p: OutputProjection): number {
  const t = p.node.inputs[1];
  return t?.constValue?.dataType ?? 1;
}

/** Runs `probe` on feeds and returns its captured outputs as float32, in `names` order. */
async function runProbe(probe: Probe, feeds: Feeds): Promise<Float32Array[]> {
  const result = await probe.session.run(feeds);
  return probe.names.map((n) => tensorToFloat32(result[n]!));
}

/** Calls `body` for consecutive batches of `inputs`, sized for every session (fixed batch axes respected). */
async function forEachBatch(inputs: InputSet, sessions: readonly BackendSession[], maxBatch: number, body: (feedsFor: (s: BackendSession) => ReturnType<InputSet['feeds']>, size: number) => Promise<void>): Promise<void> {
  const batch = Math.min(...sessions.map((s) => batchSizeFor(s.inputs, maxBatch)));
  const fixed = sessions.some((s) => batchSizeFor(s.inputs, 0) > 0);
  for (let start = 0; start < inputs.count; start += batch) {
    const size = Math.min(batch, inputs.count - start);
    if (fixed && size !== batch) break;
    await body((s) => inputs.feeds(s.inputs, start, size), size);
  }
}

/** Writes `fits` into `converted` (whose new fused nodes are those of `converted.blocks`), in place. */
export function writeRefits(base: Model, converted: ConvertedForRefit, fits: readonly BlockRefit[]): void {
  const fused = newFusedNodes(base, converted.model);
  for (const fit of fits) {
    const i = converted.blocks.findIndex((b) => b.index === fit.block);
    if (i < 0 || !fused[i]) throw new InvalidArgumentError(`calibration: block ${fit.block} is not converted in this model`);
    writeBlockWeights(converted.model, fused[i]!, fit);
  }
}

/** Converts the fits' blocks and writes the fits. */
export function applyRefits(base: Model, convert: ConvertBlocks, fits: readonly BlockRefit[]): Model {
  const converted = convert(fits.map((f) => f.block));
  writeRefits(base, converted, fits);
  return converted.model;
}
